/**
 * Decoder of the Vigie v1 wire contract (docs/asyncapi.yaml) for JavaScript integrators.
 *
 *   import { decode, SeqTracker } from "@vigie/wire";
 *   const msg = decode(topic, payload);   // payload: Uint8Array (a Node Buffer is one)
 *   msg.kind, msg.dev, msg.seq, msg.events[0].type ...
 *
 * A payload is a positional MessagePack array; `decode` validates it against the document's schema for its
 * topic (contract.json, exported from the document), then names every position by its documented title.
 * Any bad input throws a WireError; nothing else is thrown for input.
 */
import { readFileSync } from "node:fs";

import { WireError } from "./errors.js";
import { unpack, WholeFloat } from "./msgpack.js";
import { parseTopic } from "./topics.js";
import { Validator } from "./validate.js";

export { WireError } from "./errors.js";
export { parseTopic } from "./topics.js";
export { unpack, WholeFloat } from "./msgpack.js";
export { SeqTracker } from "./seq.js";

export const contract = JSON.parse(readFileSync(new URL("../contract.json", import.meta.url), "utf-8"));
export const CONTENT_TYPE = contract.contentType;
const SCHEMA_VERSION = 1;
const validator = new Validator(contract.schemas);

/** WholeFloat -> number, everywhere (once validated, a number is a number). */
function plain(v) {
  if (v instanceof WholeFloat) return v.value;
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object" && !(v instanceof Uint8Array)) {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}

/** A positional array as an object keyed by the documented titles; extra trailing items are ignored. */
function keyed(v, schema) {
  schema = validator.resolve(schema);
  if (!Array.isArray(v) || typeof schema !== "object") return v;
  if (schema.prefixItems) {
    const out = {};
    schema.prefixItems.forEach((sub, i) => {
      if (i < v.length) out[validator.resolve(sub).title] = keyed(v[i], sub);
    });
    return out;
  }
  if (schema.items && typeof schema.items === "object" && !schema.items.allOf) return v.map((x) => keyed(x, schema.items));
  return v;
}

function event(raw, headerTs) {
  const [n, dt, code] = raw;
  const name = contract.events[String(code)];
  const ts = typeof headerTs === "bigint" || typeof dt === "bigint" ? BigInt(headerTs) + BigInt(dt) : headerTs + dt;
  if (name === undefined) return { n, dt, code, ts, type: "unknown", fields: raw.slice(3) };
  const schema = contract.schemas[name];
  return { ...keyed(raw, schema), ts, type: schema["x-event-name"] };
}

function consistent(t, msg) {
  if (t.kind === "cmd") {
    const expected = t.group ?? t.device;
    if (msg.target !== expected) throw new WireError("mismatch", `command target ${msg.target} but the topic names ${expected}`, "target");
    return;
  }
  if (t.kind === "dispatch") {
    if (msg.team !== t.team) throw new WireError("mismatch", `dispatch for team ${msg.team} but the topic names ${t.team}`, "team");
    return;
  }
  const expected = t.kind === "state" ? t.host : t.team ?? t.device;
  if (msg.dev !== expected) throw new WireError("mismatch", `payload from ${msg.dev} on the topic of ${expected}`, "dev");
}

/**
 * Decode and validate one message received on `topic`.
 * @returns {object} `{kind, topic: {kind, site, device|group|team|host}, v, dev, bd, seq, ts, ...fields}`;
 *   event batches carry `events: [{n, dt, ts, code, type, ...fields}]` (`type: "unknown"` with `fields` for a
 *   code this version does not know: keep it). Integers above 2^53 - 1 are BigInt.
 */
export function decode(topic, payload) {
  const t = parseTopic(topic);
  const raw = unpack(payload);
  if (!Array.isArray(raw) || raw.length < 5) throw new WireError("schema", "expected an array starting with the 5 header fields");
  if (raw[0] !== SCHEMA_VERSION) throw new WireError("version", `unsupported schema version ${String(plain(raw[0]))} (this decoder reads ${SCHEMA_VERSION})`);
  const schema = contract.schemas[contract.payloads[t.kind]];
  const min = schema.minItems;
  if (raw.length < min) throw new WireError("schema", `${schema.title} needs at least ${min} fields, got ${raw.length}`);
  validator.check(raw, schema, "");
  const values = plain(raw);
  const msg = keyed(values, schema);
  if (t.kind === "event") msg.events = values[7].map((e) => event(e, msg.ts));
  consistent(t, msg);
  return { kind: t.kind, topic: t, ...msg };
}
