// Against a live broker fed by real Vigie boxes (run by tests/test_js_client.py during `make test`).
// VIGIE_LIVE_PORT: the broker; VIGIE_LIVE_READY: a file written once subscribed; the feeder then publishes
// `vigie-test/done` with what it made the boxes send, and this test checks it all arrived, decoded and in order.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { test } from "node:test";

import mqtt from "mqtt";

import { CONTENT_TYPE, decode, SeqTracker } from "../src/index.js";

const port = process.env.VIGIE_LIVE_PORT;

test("messages of real boxes decode, validate and arrive without a sequence gap", { skip: !port && "VIGIE_LIVE_PORT not set", timeout: 120_000 }, async () => {
  const client = mqtt.connect({ host: "127.0.0.1", port: Number(port), protocolVersion: 5, clientId: `js-live-${process.pid}`, reconnectPeriod: 0 });
  const tracker = new SeqTracker();
  const decoded = [];
  const failures = [];
  const contentTypes = new Set();
  const done = new Promise((resolve, reject) => {
    client.on("error", reject);
    client.on("message", (topic, payload, packet) => {
      if (topic === "vigie-test/done") {
        resolve(JSON.parse(payload.toString()));
        return;
      }
      contentTypes.add(packet.properties?.contentType);
      try {
        const msg = decode(topic, payload);
        decoded.push(msg);
        tracker.observe(msg);
      } catch (e) {
        failures.push(`${topic}: ${e.message}`);
      }
    });
  });
  await client.subscribeAsync(["vigie/v1/#", "vigie-test/done"], { qos: 1 });
  writeFileSync(process.env.VIGIE_LIVE_READY, "subscribed\n");
  const sent = await done;
  await client.endAsync();

  assert.deepEqual(failures, []);
  assert.deepEqual([...contentTypes], [CONTENT_TYPE]);
  const events = decoded.filter((m) => m.kind === "event").flatMap((m) => m.events.map((e) => ({ dev: m.dev, ...e })));
  for (const [dev, n] of Object.entries(sent.events)) {
    assert.equal(new Set(events.filter((e) => e.dev === dev).map((e) => e.n)).size, n, `events of ${dev}`);
  }
  const types = new Set(events.map((e) => e.type));
  for (const type of sent.types) assert.ok(types.has(type), `no ${type} event decoded`);
  for (const kind of sent.kinds) assert.ok(decoded.some((m) => m.kind === kind), `no ${kind} message decoded`);
  assert.equal(tracker.counts.gaps, 0, JSON.stringify(tracker.counts));
  assert.ok(tracker.counts.ok > 0);
  console.log(`live: ${decoded.length} messages, ${events.length} events, 0 failures, seq ${JSON.stringify(tracker.counts)}`);
});
