"""Benchmark of a district broker bridged to the central broker, against a box connected to the central one.

Two private Mosquittos run with the configuration ``broker-config --district`` deploys (generated ACLs, hashed
passwords, the district's two bridge connections): a district of ``--boxes`` boxes (its bridge carries all their
topics), a central broker where a QoS 1 persistent subscriber stands for an ingest worker. One box's publisher
sends event-sized QoS 1 messages, either to the central broker (*direct*) or to its district broker (*bridged*),
in interleaved rounds, so load from other work on the machine falls on both alike:

1. throughput: ``--messages`` messages as fast as a window of 100 in flight allows, timed from the first publish
   to the last message received by the subscriber;
2. latency: ``--latency-messages`` messages at ``--rate`` per second, publish-to-receive p50 / p99;
3. catch-up after an outage (bridged only): the central broker stopped, ``--messages`` messages queued by the
   district broker, the central broker restarted; time from its restart to the last message received.

Run: ``.venv/bin/python bench/bridge_bench.py --write bench/RESULTS.md``
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import platform
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import vigie_wire as wire  # noqa: E402
from bench.results import write_section  # noqa: E402
from coordinator.broker import LocalBroker  # noqa: E402
from coordinator.broker.acl import render_acl  # noqa: E402
from coordinator.broker.bridge import BridgeSettings, bridge_user, district_topics  # noqa: E402
from vigie_config import BoxConfig  # noqa: E402

SITE = "dijon"
HEADING = "## Bridged district broker (issue 18)"


def _boxes(n: int) -> list[BoxConfig]:
    return [BoxConfig.model_validate({"device_id": f"cam-bench-{i:03d}", "site": SITE,
                                      "mqtt": {"username": f"cam-bench-{i:03d}"}}) for i in range(n)]


def _payload() -> bytes:
    """A batch of 10 detections as a camera box sends it (the brokers never look inside)."""
    dets = tuple(wire.EventRecord(n, 1_790_000_000_000, wire.Detection(cam=0, track=n, cls=0, conf=80,
                                                                       box=(412, 230, 61, 188))) for n in range(10))
    return wire.encode(wire.EventBatch(wire.Header(1, "cam-bench-000", 1, 1, 1_790_000_000_000), 1, False, dets))


def _passwd(path: Path, users: list[str]) -> Path:
    path.write_text("".join(f"{u}:{u}-pw\n" for u in users))
    subprocess.run(["mosquitto_passwd", "-U", str(path)], check=True, capture_output=True)
    return path


class Topology:
    """The central broker and one district broker bridged to it, with the generated ACLs."""

    def __init__(self, tmp: Path, boxes: list[BoxConfig]) -> None:
        topics = district_topics(boxes)
        users = [b.device_id for b in boxes]
        # The central ACL also lists the boxes, so that the direct contender may publish there as the same box.
        (tmp / "central.acl").write_text(render_acl(boxes, coordinator="coordinator", bridges=[
            bridge_user("bridge-bench", "bench", topics, len(boxes))]))
        self.central = LocalBroker(tmp / "central", allow_anonymous=False, acl_file=tmp / "central.acl",
                                   password_file=_passwd(tmp / "central.passwd",
                                                         ["coordinator", "bridge-bench", *users]))
        self.central.start()
        (tmp / "district.acl").write_text(render_acl(boxes, coordinator=None))
        bridge = BridgeSettings("bench", f"127.0.0.1:{self.central.port}", "bridge-bench", "bridge-bench-pw",
                                topics, keepalive_s=10, restart_timeout_s=(1, 1))
        self.district = LocalBroker(tmp / "district", allow_anonymous=False, acl_file=tmp / "district.acl",
                                    bridges=(bridge,), password_file=_passwd(tmp / "district.passwd", users))
        self.district.start()

    def stop(self) -> None:
        self.district.stop()
        self.central.stop()


class Subscriber:
    """The ingest worker's stand-in: a persistent QoS 1 session on the central broker, recording arrival times."""

    def __init__(self, port: int, topic: str) -> None:
        self.arrivals: dict[int, float] = {}
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-ingest",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set("coordinator", "coordinator-pw")
        self.client.max_inflight_messages_set(1000)
        ready = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.connect("127.0.0.1", port, clean_start=False, properties=props)
        self.client.loop_start()
        if not ready.wait(10):
            raise RuntimeError("the subscriber did not subscribe")

    def _on_message(self, _c: object, _u: object, m: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        (seq,) = struct.unpack_from(">Q", m.payload)
        with self.changed:
            self.arrivals.setdefault(seq, now)
            self.changed.notify_all()

    def reset(self) -> None:
        with self.lock:
            self.arrivals = {}

    def wait_for(self, count: int, timeout: float) -> float:
        """Time the ``count``-th distinct message arrived."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.arrivals) < count:
                if not self.changed.wait(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError(f"{len(self.arrivals)} of {count} messages arrived in {timeout} s")
            return max(self.arrivals.values())

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _publisher(port: int, user: str) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{user}-{time.time_ns()}",
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(user, f"{user}-pw")
    client.max_inflight_messages_set(100)
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not connected.wait(10):
        raise RuntimeError("the publisher did not connect")
    return client


def throughput(port: int, sub: Subscriber, topic: str, body: bytes, n: int) -> float:
    """Messages/s from the first publish to the last arrival at the central subscriber."""
    pub = _publisher(port, "cam-bench-000")
    sub.reset()
    try:
        start = time.perf_counter()
        for seq in range(n):
            pub.publish(topic, struct.pack(">Q", seq) + body, qos=1)
        end = sub.wait_for(n, 120)
    finally:
        pub.loop_stop()
        pub.disconnect()
    return n / (end - start)


def latency(port: int, sub: Subscriber, topic: str, body: bytes, n: int, rate: float) -> tuple[float, float]:
    """Publish-to-receive p50 and p99 (ms) at ``rate`` messages/s."""
    pub = _publisher(port, "cam-bench-000")
    sub.reset()
    sent: dict[int, float] = {}
    try:
        start = time.perf_counter()
        for seq in range(n):
            due = start + seq / rate
            while (now := time.perf_counter()) < due:
                time.sleep(min(0.001, due - now))
            sent[seq] = time.perf_counter()
            pub.publish(topic, struct.pack(">Q", seq) + body, qos=1)
        sub.wait_for(n, 60)
    finally:
        pub.loop_stop()
        pub.disconnect()
    lat = sorted((sub.arrivals[s] - sent[s]) * 1000 for s in sent)
    return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]


def catch_up(topo: Topology, sub: Subscriber, topic: str, body: bytes, n: int) -> tuple[float, float]:
    """After a central outage during which the district queued ``n`` messages: seconds from the central broker's
    restart to the first arrival (the bridge's reconnection), and messages/s from the first to the last arrival."""
    topo.central.stop()
    pub = _publisher(topo.district.port, "cam-bench-000")
    sub.reset()
    try:
        infos = [pub.publish(topic, struct.pack(">Q", seq) + body, qos=1) for seq in range(n)]
        for info in infos:
            info.wait_for_publish(60)  # the district broker holds them all
    finally:
        pub.loop_stop()
        pub.disconnect()
    topo.central.start()
    start = time.perf_counter()
    end = sub.wait_for(n, 180)
    first = min(sub.arrivals.values())
    return first - start, n / (end - first)


def machine() -> str:
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    mosq = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True, check=False).stdout.splitlines()[0]
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"paho-mqtt {importlib.metadata.version('paho-mqtt')}, {mosq}")


def _median_range(values: list[float], fmt: Callable[[float], str]) -> str:
    return f"{fmt(statistics.median(values))} ({fmt(min(values))} to {fmt(max(values))})"


def _section(args: argparse.Namespace, rounds: dict[str, list[float]], size: int,
             load: tuple[tuple[float, float, float], tuple[float, float, float]]) -> str:
    """The results section: medians of the rounds, with their range."""
    load_before, load_after = load

    def num(v: float) -> str:
        return f"{v:,.0f}"

    def ms(v: float) -> str:
        return f"{v:.2f}"

    def ratio(v: float) -> str:
        return f"{v:.2f}"

    added50 = [b - d for b, d in zip(rounds["p50_bridged"], rounds["p50_direct"], strict=True)]
    lat_ratio = [b / d for b, d in zip(rounds["p50_bridged"], rounds["p50_direct"], strict=True)]
    catch_ratio = [c / t for c, t in zip(rounds["catch_up"], rounds["tp_bridged"], strict=True)]
    command = (f".venv/bin/python bench/bridge_bench.py --boxes {args.boxes} --messages {args.messages} "
               f"--latency-messages {args.latency_messages} --rate {args.rate:g} --rounds {args.rounds} "
               "--write bench/RESULTS.md")
    def med(key: str) -> float:
        return statistics.median(rounds[key])

    rate = f"{args.rate:g}"
    rows = [
        (f"direct: box on the central broker, QoS 1, window 100 (msg/s of {size} bytes)",
         _median_range(rounds["tp_direct"], num)),
        ("bridged: box on its district broker, bridged to the central one (msg/s)",
         _median_range(rounds["tp_bridged"], num)),
        ("bridged / direct throughput", _median_range(rounds["tp_ratio"], ratio)),
        (f"latency at {rate} msg/s, direct: p50 / p99 (ms)", f"{ms(med('p50_direct'))} / {ms(med('p99_direct'))}"),
        (f"latency at {rate} msg/s, bridged: p50 / p99 (ms)",
         f"{ms(med('p50_bridged'))} / {ms(med('p99_bridged'))}"),
        ("bridged / direct p50 latency", _median_range(lat_ratio, ratio)),
        ("added by the bridge, p50 (ms)", _median_range(added50, ms)),
        ("after a central outage: central restart to the first queued message delivered (s)",
         _median_range(rounds["reconnect"], ms)),
        (f"then {args.messages:,} queued messages drained (msg/s, first to last arrival)",
         _median_range(rounds["catch_up"], num)),
        ("drain / live bridged throughput", _median_range(catch_ratio, ratio)),
    ]
    loads = " / ".join(f"{v:.2f}" for v in load_before), " / ".join(f"{v:.2f}" for v in load_after)
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    section = f"""{HEADING}

Machine: {machine()}. Load average (1/5/15 min) {loads[0]} before, {loads[1]} after: other work was running
on the machine. Command: `{command}` ({dt.date.today().isoformat()}). Median of {args.rounds} interleaved rounds
(min to max).

| measure | value |
|---|---|
{table}

- Both brokers and all clients share this machine's 2 cores, so a bridged message costs two brokers' work on
  the same CPUs. In the field each broker has its own host, and the bridge adds the WAN's latency (not measured here).
- The district's bridge carries the topics of {args.boxes} boxes ({6 * args.boxes} up, {args.boxes + 1} down); the
  subscriber holds the ingest workers' shared subscription, QoS 1, persistent session.
- Catch-up: the central broker stopped (SIGTERM), the messages published to the district broker (each
  acknowledged there), the central broker started again. The first figure is the bridge's reconnection
  (`restart_timeout 1 1` here; 2 to 30 s with jitter as deployed), the second the queue's drain rate.
"""
    return section


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--boxes", type=int, default=50, help="boxes of the district (its bridge carries their topics)")
    p.add_argument("--messages", type=int, default=20000)
    p.add_argument("--latency-messages", type=int, default=2000)
    p.add_argument("--rate", type=float, default=200.0, help="messages/s of the latency runs")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--write", type=Path, help="rewrite this section of the results file")
    args = p.parse_args()

    body = _payload()
    topic = wire.device_topic(SITE, "cam-bench-000", wire.Kind.EVENT)
    load_before = os.getloadavg()
    rounds: dict[str, list[float]] = {k: [] for k in ("tp_direct", "tp_bridged", "tp_ratio", "p50_direct",
                                                      "p50_bridged", "p99_direct", "p99_bridged", "catch_up",
                                                      "reconnect")}
    with tempfile.TemporaryDirectory(prefix="vigie-bridge-bench-") as tmp:
        topo = Topology(Path(tmp), _boxes(args.boxes))
        sub = Subscriber(topo.central.port, f"$share/vigie-ingest/{wire.subscription(wire.Kind.EVENT)}")
        try:
            time.sleep(1.0)  # both bridge connections up
            for r in range(args.rounds):
                direct = throughput(topo.central.port, sub, topic, body, args.messages)
                bridged = throughput(topo.district.port, sub, topic, body, args.messages)
                rounds["tp_direct"].append(direct)
                rounds["tp_bridged"].append(bridged)
                rounds["tp_ratio"].append(bridged / direct)
                d50, d99 = latency(topo.central.port, sub, topic, body, args.latency_messages, args.rate)
                b50, b99 = latency(topo.district.port, sub, topic, body, args.latency_messages, args.rate)
                rounds["p50_direct"].append(d50)
                rounds["p50_bridged"].append(b50)
                rounds["p99_direct"].append(d99)
                rounds["p99_bridged"].append(b99)
                reconnect, drain = catch_up(topo, sub, topic, body, args.messages)
                rounds["reconnect"].append(reconnect)
                rounds["catch_up"].append(drain)
                print(f"round {r + 1}: direct {direct:,.0f} msg/s, bridged {bridged:,.0f} msg/s; p50 {d50:.2f} / "
                      f"{b50:.2f} ms, p99 {d99:.2f} / {b99:.2f} ms; catch-up {rounds['catch_up'][-1]:,.0f} msg/s")
        finally:
            sub.close()
            topo.stop()
    load_after = os.getloadavg()
    section = _section(args, rounds, len(body) + 8, (load_before, load_after))
    print(section)
    if args.write:
        write_section(args.write, HEADING, section)


if __name__ == "__main__":
    main()
