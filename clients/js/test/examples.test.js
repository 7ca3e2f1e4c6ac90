// Every example of docs/asyncapi.yaml, from its MessagePack hex vector, through this client.
import assert from "node:assert/strict";
import { test } from "node:test";

import { contract, decode, SeqTracker, unpack, WholeFloat, WireError } from "../src/index.js";
import { Validator } from "../src/validate.js";

const bytes = (hex) => Buffer.from(hex, "hex");

/** The JSON rendering of a position as the client returns it (base64 text of a bin becomes bytes). */
function expected(value, schema) {
  while (schema && schema.$ref) schema = contract.schemas[schema.$ref.split("/").pop()];
  if (schema && schema["x-msgpack-bin"]) return new Uint8Array(Buffer.from(value, "base64"));
  return value;
}

for (const ex of contract.examples) {
  test(`${ex.message} example ${ex.name} decodes on ${ex.topic}`, () => {
    const msg = decode(ex.topic, bytes(ex.hex));
    assert.equal(msg.kind, ex.kind);
    const schema = contract.schemas[contract.payloads[ex.kind]];
    schema.prefixItems.forEach((position, i) => {
      let sub = position;
      while (sub.$ref) sub = contract.schemas[sub.$ref.split("/").pop()];
      if (i >= ex.payload.length || sub.title === "events") return;
      const got = msg[sub.title];
      const want = expected(ex.payload[i], sub);
      if (Array.isArray(want) && sub.items && sub.items.$ref) return; // rows are keyed: compared below
      assert.deepEqual(got instanceof Uint8Array ? new Uint8Array(got) : got, want, `${sub.title}`);
    });
    if (ex.kind === "event") {
      assert.equal(msg.events.length, ex.payload[7].length);
      msg.events.forEach((e, i) => {
        const [n, dt, code] = ex.payload[7][i];
        assert.deepEqual([e.n, e.dt, e.code, e.ts], [n, dt, code, msg.ts + dt]);
        assert.equal(e.type, contract.schemas[contract.events[code]]?.["x-event-name"] ?? "unknown");
      });
    }
  });
}

test("every event type of the document has an example", () => {
  const codes = new Set(contract.examples.filter((e) => e.kind === "event").flatMap((e) => e.payload[7].map((r) => r[2])));
  for (const code of Object.keys(contract.events)) assert.ok(codes.has(Number(code)), `no example of event ${code}`);
});

test("an unknown event type is kept with its fields, an extra trailing field ignored", () => {
  const ex = contract.examples.find((e) => e.name === "from-a-newer-agent");
  const msg = decode(ex.topic, bytes(ex.hex));
  assert.deepEqual(msg.events[0].box, { x: 300, y: 300, w: 50, h: 120 });
  assert.deepEqual(msg.events[1], { n: 1047, dt: -12, code: 77, ts: 1764086402000 - 12, type: "unknown", fields: ["zone-3", 12] });
});

test("occupancy pairs and count rows are named", () => {
  const ex = contract.examples.find((e) => e.name === "live-camera-analytics");
  const events = decode(ex.topic, bytes(ex.hex)).events;
  assert.deepEqual(events.find((e) => e.type === "occupancy").counts, [{ cls: 0, count: 2 }, { cls: 1, count: 1 }]);
  assert.deepEqual(events.find((e) => e.type === "counts").rows[0], { target: "bus-stop", cls: 0, inbound: 5, outbound: 4 });
});

const state = (fields) => Buffer.concat([Buffer.from([0x96]), ...fields]);
const str = (s) => Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s)]);
const OK = [Buffer.from([1]), str("coord-01"), Buffer.from([5]), Buffer.from([0]), Buffer.from("cf0000019abbb7c400", "hex"), Buffer.from([0xc3])];

function refused(topic, payload, reason, pattern) {
  assert.throws(() => decode(topic, payload), (e) => e instanceof WireError && e.reason === reason && pattern.test(e.message));
}

test("what the reference decoder refuses, this one refuses with the same reason", () => {
  const topic = "vigie/v1/STATE/coord-01";
  assert.equal(decode(topic, state(OK)).online, true);
  refused(topic, state([Buffer.from([2]), ...OK.slice(1)]), "version", /version 2/);
  refused("vigie/v1/STATE/coord-02", state(OK), "mismatch", /coord-01/);
  const whole = Buffer.from("cb402c000000000000", "hex"); // 14.0 as a float64
  refused(topic, state([...OK.slice(0, 3), whole, ...OK.slice(4)]), "field", /\[3\]: expected integer, got a float \(14\.0\)/);
  refused(topic, state(OK).subarray(0, 12), "msgpack", /truncated/);
  refused(topic, Buffer.from([]), "size", /empty payload/);
  refused(topic, Buffer.from([0xc7, 0x01, 0x01, 0x00]), "msgpack", /extension/);
  refused("vigie/v1/dijon/cam-darcy-01/telemetry", Buffer.concat([Buffer.from([0x96]), ...OK.slice(0, 1), str("cam-darcy-01"), ...OK.slice(2, 5),
    Buffer.from([0x82]), str("x"), Buffer.from([1]), str("x"), Buffer.from([2])]), "msgpack", /repeats the key "x"/);
  refused("vigie/v1/dijon/x/y", state(OK), "topic", /unexpected topic/);
});

test("integers above 2^53 - 1 stay exact as BigInt, whole floats are told from integers", () => {
  assert.equal(unpack(Buffer.from("cf0020000000000001", "hex")), 2n ** 53n + 1n);
  assert.equal(unpack(Buffer.from("cf001fffffffffffff", "hex")), Number.MAX_SAFE_INTEGER);
  assert.ok(unpack(Buffer.from("cb402c000000000000", "hex")) instanceof WholeFloat);
  const seq = Buffer.from("cffffffffffffffffe", "hex");
  const msg = decode("vigie/v1/STATE/coord-01", state([...OK.slice(0, 3), seq, ...OK.slice(4)]));
  assert.equal(msg.seq, 2n ** 64n - 2n);
});

test("the sequence tracker tells gaps, duplicates, stale sessions and new sessions apart", () => {
  const t = new SeqTracker();
  const m = (kind, bd, seq) => ({ kind, dev: "cam-darcy-01", bd, seq });
  assert.deepEqual([m("birth", 3, 0), m("event", 3, 1), m("event", 3, 1), m("telemetry", 3, 4), m("death", 3, 0),
    m("birth", 4, 0), m("ack", 3, 5)].map((x) => t.observe(x)), ["new-session", "ok", "duplicate", "gap", "skipped", "new-session", "stale"]);
  assert.equal(t.counts.missing, 2);
  const events = new SeqTracker({ numbered: ["birth", "event"] }); // telemetry not read: its seqs are not gaps
  assert.deepEqual([m("birth", 3, 0), m("event", 3, 3)].map((x) => events.observe(x)), ["new-session", "ok"]);
});

test("a box's site metadata is a keyed map", () => {
  const ex = contract.examples.find((e) => e.kind === "meta" && e.name === "camera-box");
  const msg = decode(ex.topic, bytes(ex.hex));
  assert.equal(msg.info.kind, "camera");
  assert.deepEqual(msg.info.cameras[0].lines[0], {
    id: "liberte-east", a: [0.5, 0.2], b: [0.5, 0.95], inbound: "a_to_b",
    geo: { a: [5.0353, 47.3228], b: [5.0353, 47.3226], in_side: "right" },
  });
  const ring = msg.info.cameras[0].zones[0].geo; // GeoJSON order, closed: a Polygon's coordinates as they are
  assert.deepEqual(ring[0], ring[ring.length - 1]);
  assert.deepEqual(ring[0], [5.0351, 47.3227]);
  assert.equal(msg.info.cameras[0].classes.car, 2);
});

test("a line's ground position outside the métropole is refused by the document's schema", () => {
  const ex = contract.examples.find((e) => e.kind === "meta" && e.name === "camera-box");
  const validator = new Validator(contract.schemas);
  const schema = contract.schemas[contract.payloads.meta];
  const payload = structuredClone(ex.payload);
  validator.check(payload, schema, ""); // as documented
  payload[6].cameras[0].lines[0].geo.a = [47.3228, 5.0353]; // latitude and longitude swapped
  assert.throws(() => validator.check(payload, schema, ""), (err) => err instanceof WireError && /cameras/.test(err.path));
});
