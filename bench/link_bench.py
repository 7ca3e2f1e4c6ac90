"""Benchmark of the edge link (outbox + QoS 1) against a bare paho publish loop.

Measured in one run, on one private Mosquitto started with the project's configuration:

1. bare paho: QoS 1 publishes of a one-event payload, in-flight window W, until all PUBACKed;
2. the link, one event per message (no batching), same window: events/s until drained, with
   the producer in the link's process (``Link.emit``) and in its own process (an
   ``OutboxSink`` over the same outbox file, as the camera role runs);
3. the link with batching (default window, 500 events max per message);
4. bytes of a detection event message vs a typical NVR JSON event (``data/nvr_event.json``);
5. publish-to-receive latency (p50/p99) at 1,000 events/s, with and without a batch window.

The one-event-per-message contenders and bare paho run in interleaved rounds (``--rounds``);
the table gives the median of each and of each round's ratio, with the range over rounds.

Run: ``.venv/bin/python bench/link_bench.py --write bench/RESULTS.md``
"""

from __future__ import annotations

import argparse
import importlib.metadata
import multiprocessing
import multiprocessing.synchronize
import os
import platform
import queue
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import vigie_wire as wire  # noqa: E402
from bench.results import write_section  # noqa: E402
from coordinator.broker import LocalBroker  # noqa: E402
from edge_agent.link import Link, Outbox, OutboxSink, OutboxWriter  # noqa: E402
from vigie_config import BoxConfig  # noqa: E402

DEVICE, SITE = "cam-darcy-01", "dijon"
DETECTION = wire.Detection(cam=0, track=1742, cls=0, conf=84, box=(412, 230, 61, 188))


def _client(cid: str) -> mqtt.Client:
    return mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)


def bare_paho(port: int, n: int, payload: bytes, window: int) -> float:
    """Messages/s of a plain QoS 1 loop: publish as fast as paho takes them, wait for all PUBACKs."""
    done = threading.Event()
    acked = [0]

    def on_publish(*_: Any) -> None:
        acked[0] += 1
        if acked[0] == n:
            done.set()

    c = _client("bench-bare")
    c.max_inflight_messages_set(window)
    c.max_queued_messages_set(0)
    c.on_publish = on_publish
    c.connect("127.0.0.1", port)
    c.loop_start()
    topic = wire.device_topic(SITE, "bench-bare", wire.Kind.EVENT)
    t0 = time.perf_counter()
    for _ in range(n):
        c.publish(topic, payload, qos=1)
    done.wait(300)
    elapsed = time.perf_counter() - t0
    c.loop_stop()
    c.disconnect()
    return n / elapsed


def _link(port: int, tmp: Path, name: str, window_ms: int, max_events: int, inflight: int) -> Link:
    cfg = BoxConfig.model_validate({
        "device_id": name, "site": SITE,
        "mqtt": {"port": port},
        "outbox": {"path": str(tmp / f"{name}.sqlite3")},
        "batch": {"window_ms": window_ms, "max_events": max_events, "inflight": inflight},
    })
    link = Link(cfg, Outbox(cfg.outbox.path, cfg.outbox.max_events))
    link.start()
    if not link.connected.wait(10):
        raise RuntimeError("link did not connect")
    return link


def link_rate(port: int, tmp: Path, name: str, n: int, window_ms: int, max_events: int, inflight: int,
              burst: int = 1) -> float:
    """Events/s through emit (one durable commit per call) -> outbox -> QoS 1 -> PUBACK -> delete.

    ``burst`` events are emitted per call, as the vision pipeline does for one frame.
    """
    link = _link(port, tmp, name, window_ms, max_events, inflight)
    t0 = time.perf_counter()
    if burst == 1:
        for _ in range(n):
            link.emit(DETECTION)
    else:
        frame = [DETECTION] * burst
        for _ in range(n // burst):
            link.emit_many(frame)
    if not link.wait_drained(600):
        raise RuntimeError("link did not drain")
    elapsed = time.perf_counter() - t0
    link.stop()
    return n / elapsed


def _produce(path: str, boot: int, n: int, max_events: int,
             ready: multiprocessing.synchronize.Event, go: multiprocessing.synchronize.Event) -> None:
    """Body of the producer process: ``n`` events, one durable append (one transaction) each."""
    sink = OutboxSink(OutboxWriter(path, max_events), boot)
    ready.set()
    go.wait(60)
    for _ in range(n):
        sink.emit_many([DETECTION])
    sink.writer.close()


def process_rate(port: int, tmp: Path, name: str, n: int, inflight: int) -> float:
    """Events/s with the producer in its own process: emit -> outbox file -> link process -> PUBACK.

    Timed from the moment the (already started) producer is released until the link has had
    every event acknowledged.
    """
    link = _link(port, tmp, name, 0, 1, inflight)
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_produce, name="vigie-bench-producer",
                       args=(str(link.outbox.path), link.boot, n, link.outbox.max_events, ready, go))
    proc.start()
    if not ready.wait(60):
        raise RuntimeError("producer process did not start")
    t0 = time.perf_counter()
    go.set()
    deadline = time.monotonic() + 600
    while link.stats.events_acked < n and time.monotonic() < deadline:
        time.sleep(0.002)
    elapsed = time.perf_counter() - t0
    proc.join(60)
    if link.stats.events_acked < n or proc.exitcode != 0:
        raise RuntimeError(f"producer process: {link.stats.events_acked} of {n} acked, exit {proc.exitcode}")
    link.stop()
    return n / elapsed


def replay_rate(port: int, broker: LocalBroker, tmp: Path, name: str, n: int, inflight: int) -> float:
    """Events/s of the sender alone: a backlog of ``n`` events, one per message, after an outage."""
    link = _link(port, tmp, name, 0, 1, inflight)
    link.stop()
    broker.stop()
    link = Link(link.config, Outbox(link.config.outbox.path))
    link.start()
    for _ in range(n):
        link.emit(DETECTION)
    broker.start()
    if not link.connected.wait(30):
        raise RuntimeError("link did not reconnect")
    t0 = time.perf_counter()
    if not link.wait_drained(600):
        raise RuntimeError("link did not drain")
    elapsed = time.perf_counter() - t0
    link.stop()
    return n / elapsed


def latency(port: int, tmp: Path, name: str, rate: int, seconds: float, window_ms: int) -> tuple[float, float, int]:
    """p50/p99 ms from emit to a subscriber's receive, at ``rate`` events/s."""
    arrivals: queue.SimpleQueue[tuple[float, bytes, str]] = queue.SimpleQueue()
    sub = _client(f"bench-sub-{name}")
    sub.on_message = lambda _c, _u, m: arrivals.put((time.time(), bytes(m.payload), m.topic))
    ready = threading.Event()
    sub.on_subscribe = lambda *_: ready.set()
    sub.on_connect = lambda c, *_: c.subscribe(wire.device_topic(SITE, name, wire.Kind.EVENT), qos=1)
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    ready.wait(10)
    link = _link(port, tmp, name, window_ms, 500, 20)
    total = int(rate * seconds)
    t0 = time.monotonic()
    for i in range(total):
        link.emit(DETECTION)
        pause = t0 + (i + 1) / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    link.wait_drained(30)
    time.sleep(0.5)
    link.stop()
    sub.loop_stop()
    sub.disconnect()
    lat = []
    while not arrivals.empty():
        at, payload, topic = arrivals.get()
        batch = wire.decode(topic, payload)
        assert isinstance(batch, wire.EventBatch)
        lat += [at * 1000 - r.ts for r in batch.events]
    q = statistics.quantiles(lat, n=100)
    return q[49], q[98], len(lat)


def sizes() -> dict[str, float]:
    now = int(time.time() * 1000)
    header = wire.Header(1, DEVICE, 3, 1234, now)
    one = wire.encode(wire.EventBatch(header, int(time.time()), False, (wire.EventRecord(48_213, now, DETECTION),)))
    many = wire.encode(wire.EventBatch(header, int(time.time()), False, tuple(
        wire.EventRecord(48_213 + i, now - 100 + i, DETECTION) for i in range(100))))
    nvr = (Path(__file__).parent / "data" / "nvr_event.json").read_bytes().strip()
    return {"single": len(one), "per_event_in_100": len(many) / 100, "nvr_json": len(nvr),
            "ratio": len(nvr) / len(one), "one_payload": one}  # type: ignore[dict-item]


def machine() -> str:
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    mosq = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True, check=False).stdout.splitlines()[0]
    paho_version = importlib.metadata.version("paho-mqtt")
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, paho-mqtt {paho_version}, "
            f"{mosq}, SQLite {sqlite3.sqlite_version}")


NOTES = """\
- Producer in its own process: a spawned process (as the agent starts a camera) appends each event
  through an `OutboxSink` (pack, one SQLite transaction, one wake datagram to the link); the link
  process only reads the outbox file, publishes and deletes. Timed from the release of the already
  started producer to the PUBACK of its last event; the producer's start-up is not timed.
- In-process: `Link.emit()` in the link's interpreter, so the producer's commits and the sender share
  one GIL. Sender alone: the same backlog already on disk, replayed after an outage.
- Ratios are taken within a round (bare paho, own process, in-process, sender alone, in that order),
  so load from other work on the machine falls on all contenders of a round alike.
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--window", type=int, default=20, help="in-flight window (messages)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the one-per-message contenders")
    ap.add_argument("--write", type=Path, help="update this RESULTS.md section")
    args = ap.parse_args()
    n, w = args.events, args.window
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        broker = LocalBroker(tmp / "broker")
        broker.start()
        try:
            s = sizes()
            rounds: dict[str, list[float]] = {"bare": [], "link": [], "proc": [], "replay": []}
            for r in range(args.rounds):  # interleaved: a noisy neighbour hits every contender alike
                rounds["bare"].append(bare_paho(broker.port, n, s["one_payload"], w))  # type: ignore[arg-type]
                rounds["proc"].append(process_rate(broker.port, tmp, f"bench-proc-{r}", n, w))
                rounds["link"].append(link_rate(broker.port, tmp, f"bench-link-{r}", n, 0, 1, w))
                rounds["replay"].append(replay_rate(broker.port, broker, tmp, f"bench-replay-{r}", n, w))
                print(" ".join(f"{k} {v[-1]:,.0f}" for k, v in rounds.items()), file=sys.stderr, flush=True)
            bare, per_msg, proc, replay = (statistics.median(rounds[k]) for k in ("bare", "link", "proc", "replay"))
            batched = link_rate(broker.port, tmp, "bench-link-b", n * 2, 100, 500, w)
            burst = link_rate(broker.port, tmp, "bench-link-f", n * 10, 100, 500, w, burst=50)
            p50_0, p99_0, c0 = latency(broker.port, tmp, "bench-lat-0", 1000, 5, 0)
            p50_b, p99_b, cb = latency(broker.port, tmp, "bench-lat-b", 1000, 5, 100)
        finally:
            broker.stop()
    def ratio(key: str) -> str:
        per_round = [a / b for a, b in zip(rounds[key], rounds["bare"], strict=True)]
        return f"{statistics.median(per_round):.2f} ({min(per_round):.2f} to {max(per_round):.2f})"

    rows = {
        "bare paho QoS 1, one event per message (msg/s)": f"{bare:,.0f}",
        "link, producer in its own process, one event per message (events/s)": f"{proc:,.0f}",
        "producer in its own process / bare (goal >= 0.7)": ratio("proc"),
        "link, one event per message, one emit() per event in the link's process (events/s)": f"{per_msg:,.0f}",
        "link in-process / bare": ratio("link"),
        "link sender alone: outbox backlog replayed one event per message (events/s)": f"{replay:,.0f}",
        "sender alone / bare": ratio("replay"),
        "link batched (100 ms, <= 500 per message), one emit() per event (events/s)": f"{batched:,.0f}",
        "batched, emit_many() of 50 events per call as per video frame (events/s)": f"{burst:,.0f}",
        "batched with frame bursts / bare per-message rate": f"{burst / bare:.1f}x",
        "detection event message, bytes (goal <= 64)": f"{s['single']}",
        "per event in a batch of 100, bytes": f"{s['per_event_in_100']:.1f}",
        "typical NVR JSON event, bytes": f"{s['nvr_json']}",
        "NVR JSON / Vigie single event (goal >= 30)": f"{s['ratio']:.1f}x",
        f"latency at 1,000 ev/s, window 0 ms: p50 / p99 (ms, {c0} events)": f"{p50_0:.1f} / {p99_0:.1f}",
        f"latency at 1,000 ev/s, window 100 ms: p50 / p99 (ms, {cb} events)": f"{p50_b:.1f} / {p99_b:.1f}",
    }
    table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows.items())
    section = (f"## Link (issue 2)\n\nMachine: {machine()}.\n"
               f"Command: `.venv/bin/python bench/link_bench.py --events {n} --window {w} --write bench/RESULTS.md`"
               f" ({time.strftime('%Y-%m-%d')}). One-event-per-message rows: median of {args.rounds} interleaved"
               f" rounds; ratios are per round, median (min to max).\n\n{table}\n\n{NOTES}")
    print(section)
    if args.write:
        write_section(args.write, "## Link (issue 2)", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
