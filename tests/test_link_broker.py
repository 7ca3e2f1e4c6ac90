"""The edge link against a real Mosquitto: birth/death, outages, restarts, nothing lost."""

from __future__ import annotations

import gc
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

import vigie_wire as wire
from edge_agent.link import Link, Outbox
from tests.boxes import write_box
from tests.mqtt_helpers import Mosquitto, Recorder, first_seen_in_order, wait_until

ROOT = Path(__file__).resolve().parents[1]


def _agent_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "edge_agent.cli", *args]


def _start_link(tmp: Path, port: int, device: str = "cam-test-01", **sections: object) -> Link:
    cfg, _ = write_box(tmp, port, device, **sections)
    link = Link(cfg, Outbox(cfg.outbox.path, cfg.outbox.max_events), config_hash="ab" * 32, capabilities=("vision",))
    link.start()
    return link


def test_birth_is_retained_and_clean_stop_publishes_death(broker: Mosquitto, tmp_path: Path) -> None:
    link = _start_link(tmp_path, broker.port)
    wait_until(link.connected.is_set, 10, "link connected")
    link.stop()
    rec = Recorder(broker.port)  # a late subscriber still learns the box's state from retained messages
    wait_until(lambda: len(rec.decoded()) >= 2, 5, "retained birth and death")
    msgs = {type(m).__name__: m for m in rec.decoded()}
    birth, death = msgs["Birth"], msgs["Death"]
    assert birth.header.dev == "cam-test-01" and birth.header.seq == 0
    assert birth.caps == ("vision",) and birth.config_hash == "ab" * 32
    assert death.header.bd == birth.header.bd, "the death names the session of the birth"
    assert all(r.retain for r in rec.snapshot())
    rec.close()


def test_will_fires_on_sigkill_and_reconnect_makes_it_stale(broker: Mosquitto, tmp_path: Path) -> None:
    _, path = write_box(tmp_path, broker.port, "light-test-01")
    rec = Recorder(broker.port)
    proc = subprocess.Popen(_agent_cmd("run", "--config", str(path)), cwd=ROOT)
    try:
        wait_until(lambda: rec.decoded(wire.Kind.BIRTH), 20, "birth of the agent")
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        wait_until(lambda: rec.decoded(wire.Kind.DEATH), 30, "death (will) after SIGKILL")
        first_birth = rec.decoded(wire.Kind.BIRTH)[-1]
        death = rec.decoded(wire.Kind.DEATH)[-1]
        assert death.header.bd == first_birth.header.bd
        # Restarted, the box announces a newer bdSeq: the retained death is now recognisably stale.
        proc = subprocess.Popen(_agent_cmd("run", "--config", str(path)), cwd=ROOT)
        wait_until(lambda: len(rec.decoded(wire.Kind.BIRTH)) >= 2, 20, "second birth")
        assert rec.decoded(wire.Kind.BIRTH)[-1].header.bd > death.header.bd
    finally:
        proc.kill()
        proc.wait(5)
        rec.close()


def test_ten_thousand_events_survive_three_broker_restarts(broker: Mosquitto, tmp_path: Path) -> None:
    rec = Recorder(broker.port)
    link = _start_link(tmp_path, broker.port, batch={"window_ms": 5, "max_events": 50, "inflight": 10})
    wait_until(link.connected.is_set, 10, "link connected")
    total, restarts = 10_000, 3
    produced: list[tuple[int, int]] = []

    def produce() -> None:
        for i in range(total):
            produced.append(link.emit(wire.Detection(0, i, i % 80, 50, (1, 2, 3, 4))))
            if i % 50 == 0:
                time.sleep(0.025)  # ~5 s of production, so the outages fall in the middle of it

    producer = threading.Thread(target=produce)
    producer.start()
    for k in range(restarts):
        wait_until(lambda k=k: len(produced) >= (k + 1) * total // (restarts + 1), 60, "production")
        wait_until(link.connected.is_set, 10, "link back up")
        broker.stop()
        time.sleep(0.3)  # the box keeps producing into its outbox meanwhile
        broker.start()
    assert len(produced) < total, "the outages must happen while events are being produced"
    producer.join(120)
    assert link.wait_drained(60), f"outbox not drained: {len(link.outbox)} left"
    expected = [("cam-test-01", b, n) for b, n in produced]
    wait_until(lambda: len(set(rec.event_ids())) >= total, 60, "all events at the subscriber")
    unique, ordered = first_seen_in_order(rec.event_ids())
    assert unique == expected, "every id exactly once, in production order"
    assert ordered
    assert link.stats.disconnects >= restarts
    assert any(b.historical for b in rec.decoded(wire.Kind.EVENT)), "outage events are flagged historical"
    link.stop()
    rec.close()


def test_agent_killed_during_outage_loses_nothing(broker: Mosquitto, tmp_path: Path) -> None:
    _, path = write_box(tmp_path, broker.port, "cam-test-02")
    rec = Recorder(broker.port)
    proc = subprocess.Popen(_agent_cmd("selftest", "--config", str(path), "--events", "3000", "--rate", "1000"),
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    accepted: list[tuple[int, int]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("accepted"):
            _, boot, n = line.split()
            accepted.append((int(boot), int(n)))
        if len(accepted) == 1000:
            broker.stop()  # outage: the agent keeps accepting events into its outbox
        if len(accepted) == 2000:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(10)
    broker.start()
    again = subprocess.Popen(_agent_cmd("run", "--config", str(path)), cwd=ROOT)
    try:
        want = {("cam-test-02", b, n) for b, n in accepted}
        try:
            wait_until(lambda: want <= set(rec.event_ids()), 30, "replay after restart")
        except AssertionError:
            missing = sorted(want - set(rec.event_ids()))
            raise AssertionError(f"{len(missing)} missing, from {missing[:3]} to {missing[-3:]}") from None
        _, ordered = first_seen_in_order(rec.event_ids())
        assert ordered
        births = rec.decoded(wire.Kind.BIRTH)
        restarted_bd = births[-1].header.bd
        assert restarted_bd > births[0].header.bd
        replayed = [b for b in rec.decoded(wire.Kind.EVENT) if b.header.bd == restarted_bd]
        assert replayed, "the restarted agent replays its outbox"
        assert all(b.historical and b.boot == accepted[0][0] for b in replayed)
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(10)
        rec.close()


def test_outbox_overflow_drops_oldest_and_reports_it(broker: Mosquitto, tmp_path: Path) -> None:
    broker.stop()
    link = _start_link(tmp_path, broker.port, outbox={"max_events": 100})
    ids = [link.emit(wire.Detection(0, i, 0, 50, (1, 1, 1, 1))) for i in range(250)]
    assert len(link.outbox) == 100
    assert link.link_metrics()["link.outbox_dropped"] == 150
    broker.start()
    rec = Recorder(broker.port)
    wait_until(link.connected.is_set, 10, "link reconnected")
    wait_until(lambda: len(set(rec.event_ids())) >= 100 or link.drained(), 20, "replay")
    wait_until(lambda: len(set(rec.event_ids())) >= 100, 10, "subscriber has the newest 100")
    got = sorted({n for _, _, n in rec.event_ids()})
    assert got == [n for _, n in ids[150:]], "the oldest were dropped, the newest kept"
    link.publish_telemetry(link.link_metrics())
    wait_until(lambda: rec.decoded(wire.Kind.TELEMETRY), 10, "telemetry")
    assert rec.decoded(wire.Kind.TELEMETRY)[-1].metrics["link.outbox_dropped"] == 150
    link.stop()
    rec.close()


@pytest.mark.parametrize("window_ms", [0, 50])
def test_events_are_batched_within_the_window(broker: Mosquitto, tmp_path: Path, window_ms: int) -> None:
    rec = Recorder(broker.port)
    link = _start_link(tmp_path, broker.port, batch={"window_ms": window_ms, "max_events": 500})
    wait_until(link.connected.is_set, 10, "connected")
    for i in range(300):
        link.emit(wire.Detection(0, i, 0, 50, (1, 1, 1, 1)))
    assert link.wait_drained(10)
    wait_until(lambda: len(rec.event_ids()) >= 300, 10, "events")
    batches = rec.decoded(wire.Kind.EVENT)
    if window_ms:
        assert len(batches) <= 10, f"{len(batches)} messages for 300 events in a 50 ms window"
    assert sum(len(b.events) for b in batches) == 300
    link.stop()
    rec.close()


def test_every_command_is_acknowledged_with_its_result(broker: Mosquitto, tmp_path: Path) -> None:
    rec = Recorder(broker.port)
    link = _start_link(tmp_path, broker.port, "light-cmd-01")
    seen: list[wire.Command] = []

    def handler(cmd: wire.Command) -> tuple[str, str, dict[str, object]]:
        seen.append(cmd)
        return wire.AckResult.APPLIED, "", {"level": cmd.args["level"]}

    link.set_command_handler(handler)
    wait_until(link.connected.is_set, 10, "connected")

    ops = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    ops.connect("127.0.0.1", broker.port)
    ops.loop_start()
    topic = wire.device_topic("dijon", "light-cmd-01", wire.Kind.CMD)
    now = int(time.time() * 1000)
    cmd = wire.Command(wire.Header(1, "coordinator", 0, 1, now), "light-cmd-01", "c-1", 1, now + 60_000,
                       "light.override", {"level": 70})
    ops.publish(topic, wire.encode(cmd), qos=1).wait_for_publish(5)
    ops.publish(topic, b"\x93garbage", qos=1).wait_for_publish(5)  # undecodable: counted, no ack possible
    wait_until(lambda: rec.decoded(wire.Kind.ACK), 10, "ack")
    ack = rec.decoded(wire.Kind.ACK)[0]
    assert (ack.cmd_id, ack.result, ack.applied) == ("c-1", "applied", {"level": 70})
    assert seen == [cmd]
    wait_until(lambda: link.commands_invalid == 1, 5, "invalid command counted")
    ops.loop_stop()
    ops.disconnect()
    link.stop()
    rec.close()


def test_a_link_works_with_descriptors_past_1024(broker: Mosquitto, tmp_path: Path) -> None:
    """A process holding many files or links (the city simulation hosts hundreds) gets socket numbers past
    select()'s FD_SETSIZE: the link still connects, sends and hears commands' topics."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1300:
        pytest.skip(f"the open-file limit ({hard}) is below 1300")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1300), hard))
    rec = Recorder(broker.port, topic="vigie/v1/+/+/event")  # paho's own loop selects: its socket stays low
    wait_until(rec.subscribed.is_set, 10, "recorder subscribed")
    gc.collect()  # a socket of an earlier test closed by the collector later would free a low number
    held = [os.open(os.devnull, os.O_RDONLY)]
    while held[-1] < 1100:  # every number below is taken, whatever holes the process had
        held.append(os.open(os.devnull, os.O_RDONLY))
    try:
        link = _start_link(tmp_path, broker.port)
        wait_until(link.connected.is_set, 10, "link connected")
        assert link._client.socket().fileno() > 1024  # type: ignore[union-attr]
        link.emit(wire.ZoneEnter(0, "crossing", 1, 0))
        wait_until(lambda: len(rec.decoded()) >= 1, 10, "the event delivered")
        assert isinstance(rec.decoded()[0], wire.EventBatch)
        link.stop()
    finally:
        rec.close()
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
