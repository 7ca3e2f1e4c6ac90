"""Benchmark of the keyed-JSON bridge against a bare decoding subscriber, on one private Mosquitto.

Both drain the same backlog of event batches queued at the broker for their persistent session (QoS 1), as in
``bench/ingest_bench.py``: the bare contender receives and decodes every message with ``vigie_wire.decode``
(automatic acks); the bridge, as ``vigie-coordinator bridge`` runs it (:class:`coordinator.json_bridge.service.Bridge`),
receives, decodes, republishes each as keyed JSON at QoS 1 and acknowledges the original once the broker has the
copy. The clock runs from the contender's connection to its last message decoded (bare) or last JSON copy
acknowledged by the broker (bridge); the CPU time of this process over the same span is the contender's (the
broker is another process). Contenders are interleaved round by round, medians reported. A first, untimed round
checks that a JSON reader gets exactly one copy of every message. Then, without the network, the CPU per message
of ``decode`` alone and of ``decode`` + the JSON mapping over the same payloads.

Run: ``.venv/bin/python bench/json_bridge_bench.py --write bench/RESULTS.md``
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import vigie_wire as wire  # noqa: E402
from bench.results import write_section  # noqa: E402
from coordinator.broker import LocalBroker  # noqa: E402
from coordinator.json_bridge.keyed import ROOT as JSON_ROOT  # noqa: E402
from coordinator.json_bridge.keyed import subscriptions, to_json  # noqa: E402
from coordinator.json_bridge.service import Bridge, BridgeSettings  # noqa: E402

SITE = "dijon"
DEVICES = [f"cam-bench-{i:02d}" for i in range(10)]
RECEIVE_MAXIMUM = 1000


def _client(cid: str) -> mqtt.Client:
    return mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)


def _props() -> Properties:
    p = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    p.SessionExpiryInterval = 3600
    p.ReceiveMaximum = RECEIVE_MAXIMUM
    return p


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def backlog(messages: int, per_message: int, epoch: int) -> list[tuple[str, bytes]]:
    """Event batches of a camera (detections and a zone entry), numbered per device, encoded once."""
    items: list[tuple[str, bytes]] = []
    seq = dict.fromkeys(DEVICES, 0)
    n = dict.fromkeys(DEVICES, 0)
    det = wire.Detection(cam=0, track=1, cls=0, conf=84, box=(412, 230, 61, 188))
    ts = 1_790_000_000_000
    for i in range(messages):
        dev = DEVICES[i % len(DEVICES)]
        seq[dev] += 1
        recs = tuple(wire.EventRecord(n[dev] + k, ts, det) for k in range(per_message))
        n[dev] += per_message
        batch = wire.EventBatch(wire.Header(1, dev, epoch, seq[dev], ts), epoch, False, recs)
        items.append((wire.device_topic(SITE, dev, wire.Kind.EVENT), wire.encode(batch)))
    return items


def preload(port: int, cid: str, filters: list[str], items: list[tuple[str, bytes]]) -> None:
    """Create ``cid``'s persistent session subscribed to ``filters``, leave, queue ``items`` at the broker."""
    c = _client(cid)
    done = threading.Event()
    c.on_subscribe = lambda *_: done.set()
    c.connect("127.0.0.1", port, clean_start=True, properties=_props())
    c.loop_start()
    c.subscribe([(f, 1) for f in filters])
    done.wait(10)
    c.disconnect()
    c.loop_stop()
    pub = _client(f"pub-{cid}")
    pub.max_inflight_messages_set(200)
    acked = [0]
    all_acked = threading.Event()

    def on_publish(*_: Any) -> None:
        acked[0] += 1
        if acked[0] == len(items):
            all_acked.set()

    pub.on_publish = on_publish
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    for topic, payload in items:
        pub.publish(topic, payload, qos=1)
    if not all_acked.wait(600):
        raise RuntimeError("backlog not acknowledged by the broker")
    pub.disconnect()
    pub.loop_stop()


def bare(port: int, cid: str, items: list[tuple[str, bytes]]) -> tuple[float, float]:
    """(seconds, CPU seconds) for a bare subscriber to receive and decode the backlog."""
    preload(port, cid, [wire.subscription(wire.Kind.EVENT)], items)
    got = [0]
    done = threading.Event()
    want = len(items)

    def on_message(_c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        wire.decode(m.topic, m.payload)
        got[0] += 1
        if got[0] == want:
            done.set()

    c = _client(cid)
    c.on_message = on_message
    t0, cpu0 = time.perf_counter(), _cpu()
    c.connect("127.0.0.1", port, clean_start=False, properties=_props())
    c.loop_start()
    if not done.wait(600):
        raise RuntimeError(f"bare subscriber got {got[0]}/{want}")
    elapsed, cpu = time.perf_counter() - t0, _cpu() - cpu0
    c.disconnect()
    c.loop_stop()
    return elapsed, cpu


def bridge(port: int, cid: str, items: list[tuple[str, bytes]]) -> tuple[float, float]:
    """(seconds, CPU seconds) for the bridge to republish the backlog, every copy acknowledged by the broker."""
    preload(port, cid, subscriptions(), items)
    b = Bridge(BridgeSettings(mqtt_port=port, client_id=cid, receive_maximum=RECEIVE_MAXIMUM))
    want = len(items)
    t0, cpu0 = time.perf_counter(), _cpu()
    b.start()
    deadline = time.monotonic() + 600
    while b.published < want:
        if time.monotonic() > deadline:
            raise RuntimeError(f"bridge published {b.published}/{want}")
        time.sleep(0.002)
    elapsed, cpu = time.perf_counter() - t0, _cpu() - cpu0
    b.stop()
    if b.rejects.total:
        raise RuntimeError(f"bridge refused {b.rejects.by_kind()}")
    return elapsed, cpu


def check_copies(port: int, items: list[tuple[str, bytes]]) -> None:
    """Untimed: a JSON reader gets one keyed copy of every message of the backlog."""
    got: list[str] = []
    lock = threading.Lock()
    reader = _client("bench-json-reader")
    ready = threading.Event()
    reader.on_subscribe = lambda *_: ready.set()

    def on_message(_c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        with lock:
            got.append(m.topic)

    reader.on_message = on_message
    reader.connect("127.0.0.1", port)
    reader.loop_start()
    reader.subscribe(f"{JSON_ROOT}/#", qos=1)
    ready.wait(10)
    bridge(port, "bench-bridge-check", items)
    deadline = time.monotonic() + 60
    while len(got) < len(items) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    reader.disconnect()
    reader.loop_stop()
    if len(got) != len(items):
        raise RuntimeError(f"a JSON reader got {len(got)} copies of {len(items)} messages")


def codec_costs(items: list[tuple[str, bytes]], repeat: int = 3) -> tuple[float, float]:
    """CPU microseconds per message: decode alone, decode + JSON mapping (best of ``repeat``)."""
    best_bare = best_json = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        for topic, payload in items:
            wire.decode(topic, payload)
        best_bare = min(best_bare, time.process_time() - t)
        t = time.process_time()
        for topic, payload in items:
            to_json(topic, wire.decode(topic, payload), False)
        best_json = min(best_json, time.process_time() - t)
    return best_bare / len(items) * 1e6, best_json / len(items) * 1e6


def _med(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=10_000, help="event batches per drain")
    ap.add_argument("--events", type=int, default=5, help="events per batch")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", type=Path, help="rewrite the bridge section of this results file")
    args = ap.parse_args()
    load_before = os.getloadavg()
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="vigie-bridge-bench-"))
    broker = LocalBroker(tmp / "broker", autosave_interval_s=3600)
    broker.start()
    rate: dict[str, list[float]] = {"bare": [], "bridge": []}
    cpu: dict[str, list[float]] = {"bare": [], "bridge": []}
    try:
        check_copies(broker.port, backlog(2000, args.events, 1))
        bare(broker.port, "bench-bare-warm", backlog(2000, args.events, 2))
        epoch = 2
        for r in range(args.rounds):
            for who in ("bare", "bridge") if r % 2 == 0 else ("bridge", "bare"):
                epoch += 1
                items = backlog(args.messages, args.events, epoch)
                run = bare if who == "bare" else bridge
                seconds, cpu_s = run(broker.port, f"bench-{who}-{epoch}", items)
                rate[who].append(args.messages / seconds)
                cpu[who].append(cpu_s / args.messages * 1e6)
                print(f"round {r + 1} {who}: {args.messages / seconds:,.0f} msg/s, "
                      f"{cpu_s / args.messages * 1e6:.1f} us CPU/msg", flush=True)
        pure_bare, pure_json = codec_costs(backlog(args.messages, args.events, 99))
    finally:
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()

    def runs(xs: list[float], fmt: str) -> str:
        return ", ".join(format(x, fmt) for x in xs)

    lines = [
        "## Keyed-JSON bridge (coordinator)",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared with the broker and "
        f"with other work), Python {platform.python_version()}, paho-mqtt {importlib.metadata.version('paho-mqtt')}, "
        f"orjson {importlib.metadata.version('orjson')}, Mosquitto 2.0 (project config).",
        f"Command: `.venv/bin/python bench/json_bridge_bench.py --rounds {args.rounds} --messages {args.messages} "
        f"--events {args.events} --write bench/RESULTS.md` ({datetime.date.today().isoformat()}, {elapsed:.0f} s; "
        f"load average 1/5/15 min {' / '.join(f'{x:.2f}' for x in load_before)} before, "
        f"{' / '.join(f'{x:.2f}' for x in load_after)} after).",
        f"Each contender drains a backlog of {args.messages} event batches ({args.events} detections each, "
        f"{len(DEVICES)} devices) queued at the broker for its persistent session (QoS 1, Receive Maximum "
        f"{RECEIVE_MAXIMUM}); bare = receive and `vigie_wire.decode` each (automatic acks); bridge = the service "
        "(receive, decode, keyed JSON, QoS 1 republish, ack after the copy's PUBACK). CPU is this process's over "
        "the drain, per message. A JSON reader got exactly one copy of each of 2,000 messages (checked untimed).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| bare decoding subscriber (msg/s) | {_med(rate['bare']):,.0f} (runs: {runs(rate['bare'], ',.0f')}) |",
        f"| bridge (msg/s republished) | {_med(rate['bridge']):,.0f} (runs: {runs(rate['bridge'], ',.0f')}) |",
        f"| **bridge / bare, throughput** | **{_med(rate['bridge']) / _med(rate['bare']):.2f}x** |",
        f"| bare, CPU per message (us) | {_med(cpu['bare']):.1f} (runs: {runs(cpu['bare'], '.1f')}) |",
        f"| bridge, CPU per message (us) | {_med(cpu['bridge']):.1f} (runs: {runs(cpu['bridge'], '.1f')}) |",
        f"| **bridge / bare, CPU per message** | **{_med(cpu['bridge']) / _med(cpu['bare']):.2f}x** |",
        f"| without the network: decode / decode + JSON (us CPU per message) | {pure_bare:.1f} / {pure_json:.1f} "
        f"({pure_json / pure_bare:.2f}x) |",
        "",
        f"Of the bridge's extra CPU per message over the bare decoder ({_med(cpu['bridge']) - _med(cpu['bare']):.0f} "
        f"us), the JSON mapping accounts for {pure_json - pure_bare:.0f} us; the rest is its second MQTT exchange (a "
        "QoS 1 publish, its PUBACK, and the ordered acknowledgement of the original). The bridge is opt-in and runs "
        "as its own process, apart from the ingest workers.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        write_section(args.write, "## Keyed-JSON bridge", text)


if __name__ == "__main__":
    main()
