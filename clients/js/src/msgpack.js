/**
 * A MessagePack decoder for the subset Vigie uses, written for what generic decoders do not tell:
 *
 * - an integer and a whole float differ on the wire (`14` and `14.0`); the contract refuses a float where it
 *   expects an integer, so whole floats come out as `WholeFloat` for the validator to judge;
 * - integers beyond 2^53 - 1 come out as exact BigInt instead of rounded numbers;
 * - `bin` comes out as Uint8Array, `str` as string (the contract tells them apart);
 * - bounds are checked before anything is allocated, maps refuse a repeated key, extension types are refused.
 */
import { WireError } from "./errors.js";

/** A float whose value is whole (e.g. 14.0): a number where a number is expected, refused where an integer is. */
export class WholeFloat {
  constructor(value) {
    this.value = value;
  }
}

export const LIMITS = Object.freeze({
  payloadBytes: 262144, strBytes: 2048, binBytes: 262144, arrayItems: 1040, mapEntries: 256, depth: 16,
});

const decoder = new TextDecoder("utf-8", { fatal: true });

function int(big) {
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

/** Decode one MessagePack value that must fill `bytes` exactly; throws WireError("msgpack" | "size", ...). */
export function unpack(bytes, limits = LIMITS) {
  if (!(bytes instanceof Uint8Array)) throw new WireError("size", "payload must be bytes");
  if (bytes.length === 0) throw new WireError("size", "empty payload (a cleared retained message)");
  if (bytes.length > limits.payloadBytes) {
    throw new WireError("size", `payload of ${bytes.length} bytes exceeds ${limits.payloadBytes}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;

  const need = (n) => {
    if (pos + n > bytes.length) throw new WireError("msgpack", `truncated at byte ${pos}`);
  };
  const u8 = () => { need(1); return bytes[pos++]; };
  const u16 = () => { need(2); const v = view.getUint16(pos); pos += 2; return v; };
  const u32 = () => { need(4); const v = view.getUint32(pos); pos += 4; return v; };
  const float = (v) => (Number.isInteger(v) ? new WholeFloat(v) : v);

  const str = (n) => {
    if (n > limits.strBytes) throw new WireError("msgpack", `string of ${n} bytes exceeds ${limits.strBytes}`);
    need(n);
    try {
      return decoder.decode(bytes.subarray(pos, (pos += n)));
    } catch {
      throw new WireError("msgpack", `invalid UTF-8 in a string at byte ${pos - n}`);
    }
  };
  const bin = (n) => {
    if (n > limits.binBytes) throw new WireError("msgpack", `binary of ${n} bytes exceeds ${limits.binBytes}`);
    need(n);
    return bytes.slice(pos, (pos += n));
  };
  const array = (n, depth) => {
    if (n > limits.arrayItems) throw new WireError("msgpack", `array of ${n} items exceeds ${limits.arrayItems}`);
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = value(depth + 1);
    return out;
  };
  const map = (n, depth) => {
    if (n > limits.mapEntries) throw new WireError("msgpack", `map of ${n} entries exceeds ${limits.mapEntries}`);
    const out = Object.create(null);
    for (let i = 0; i < n; i++) {
      const key = value(depth + 1);
      if (typeof key !== "string") throw new WireError("msgpack", `map keys must be strings, got ${typeof key}`);
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new WireError("msgpack", `a map repeats the key ${JSON.stringify(key)}`);
      out[key] = value(depth + 1);
    }
    return out;
  };

  function value(depth) {
    if (depth > limits.depth) throw new WireError("msgpack", `nested deeper than ${limits.depth} levels`);
    const b = u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return map(b & 0x0f, depth);
    if ((b & 0xf0) === 0x90) return array(b & 0x0f, depth);
    if ((b & 0xe0) === 0xa0) return str(b & 0x1f);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return bin(u8());
      case 0xc5: return bin(u16());
      case 0xc6: return bin(u32());
      case 0xca: { need(4); const v = view.getFloat32(pos); pos += 4; return float(v); }
      case 0xcb: { need(8); const v = view.getFloat64(pos); pos += 8; return float(v); }
      case 0xcc: return u8();
      case 0xcd: return u16();
      case 0xce: return u32();
      case 0xcf: { need(8); const v = view.getBigUint64(pos); pos += 8; return int(v); }
      case 0xd0: { need(1); return view.getInt8(pos++); }
      case 0xd1: { need(2); const v = view.getInt16(pos); pos += 2; return v; }
      case 0xd2: { need(4); const v = view.getInt32(pos); pos += 4; return v; }
      case 0xd3: { need(8); const v = view.getBigInt64(pos); pos += 8; return int(v); }
      case 0xd9: return str(u8());
      case 0xda: return str(u16());
      case 0xdb: return str(u32());
      case 0xdc: return array(u16(), depth);
      case 0xdd: return array(u32(), depth);
      case 0xde: return map(u16(), depth);
      case 0xdf: return map(u32(), depth);
      case 0xc1: throw new WireError("msgpack", `reserved byte 0xc1 at ${pos - 1}`);
      default: throw new WireError("msgpack", `extension types are not used by Vigie (byte 0x${b.toString(16)} at ${pos - 1})`);
    }
  }

  const out = value(0);
  if (pos !== bytes.length) throw new WireError("msgpack", `${bytes.length - pos} bytes after the value`);
  return out;
}
