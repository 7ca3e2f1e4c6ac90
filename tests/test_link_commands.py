"""A flood of commands a box cannot use: every one counted in telemetry, the box's journal bounded by kinds."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import msgpack
import paho.mqtt.client as mqtt
import pytest

import vigie_wire as wire
from edge_agent.link import Link, Outbox
from edge_agent.link.commands import HANDLER_FAILED, QUEUE_FULL, CommandInbox
from tests.boxes import write_box
from tests.mqtt_helpers import Mosquitto, Recorder, wait_until

DEV = "light-flood-01"
LINK_LOGGER = "vigie.link"


def _command(target: str, cmd_id: str, level: int) -> bytes:
    now = int(time.time() * 1000)
    return wire.encode(wire.Command(wire.Header(1, "coordinator", 0, 1, now), target, cmd_id, now, now + 60_000,
                                    "light.override", {"level": level}))


#: One hostile payload per kind the decoder refuses, with that kind.
HOSTILE = {
    "msgpack": b"\xc1",
    "schema": msgpack.packb({"not": "a command"}),
    "mismatch": _command("light-other-box", "c-other", 50),  # another box's command on this box's topic
    "size": b"\x00" * (wire.MAX_PAYLOAD_BYTES + 1),
}


def _link_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LINK_LOGGER and r.levelno >= logging.WARNING]


def test_a_flood_of_invalid_commands_is_counted_in_telemetry_and_logged_once_per_kind(
        broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LINK_LOGGER)
    cfg, _ = write_box(tmp_path, broker.port, DEV)
    link = Link(cfg, Outbox(cfg.outbox.path, cfg.outbox.max_events), config_hash="ab" * 32, capabilities=("light",))
    seen: list[str] = []

    def handler(cmd: wire.Command) -> tuple[str, str, dict[str, object]]:
        seen.append(cmd.cmd_id)
        if cmd.args["level"] == 13:
            raise RuntimeError("a handler bug this command triggers")
        return wire.AckResult.APPLIED, "", {}

    link.set_command_handler(handler)
    link.start()
    telemetry = Recorder(broker.port, wire.device_topic("dijon", DEV, wire.Kind.TELEMETRY))
    acks = Recorder(broker.port, wire.device_topic("dijon", DEV, wire.Kind.ACK))
    ops = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    try:
        wait_until(link.connected.is_set, 10, "connected")
        ops.connect("127.0.0.1", broker.port)
        ops.loop_start()
        topic = wire.device_topic("dijon", DEV, wire.Kind.CMD)
        rounds = 50
        for i in range(rounds):
            for payload in HOSTILE.values():
                ops.publish(topic, payload, qos=1)
            ops.publish(topic, _command(DEV, f"bug-{i}", 13), qos=1)
        ops.publish(topic, _command(DEV, "good", 70), qos=1).wait_for_publish(10)
        wait_until(lambda: "good" in seen, 30, "the flood handled, in order, up to the good command")
        invalid = rounds * len(HOSTILE)
        assert link.commands_invalid == invalid

        assert link.publish_telemetry(link.link_metrics())
        wait_until(lambda: telemetry.decoded(wire.Kind.TELEMETRY), 10, "telemetry")
        metrics = telemetry.decoded(wire.Kind.TELEMETRY)[-1].metrics
        assert metrics["link.commands_invalid"] == invalid
        assert metrics["link.commands_refused"] == {**dict.fromkeys(HOSTILE, rounds), HANDLER_FAILED: rounds}
        assert metrics["link.commands"] == invalid + rounds + 1

        # The good command and every one the handler failed on were acknowledged, nothing else was.
        wait_until(lambda: len(acks.decoded(wire.Kind.ACK)) == rounds + 1, 10, "acks")
        results = [a.result for a in acks.decoded(wire.Kind.ACK)]
        assert results.count(wire.AckResult.FAILED) == rounds and results[-1] == wire.AckResult.APPLIED
    finally:
        ops.loop_stop()
        ops.disconnect()
        link.stop()
        telemetry.close()
        acks.close()
    records = _link_records(caplog)
    kinds = [*HOSTILE, HANDLER_FAILED]
    assert len(records) == len(kinds), [r.getMessage() for r in records]  # one per kind, not one per command
    for kind in kinds:
        assert sum(f"({kind})" in r.getMessage() for r in records) == 1
    failed = next(r for r in records if f"({HANDLER_FAILED})" in r.getMessage())
    assert failed.exc_info is not None  # the one record of a handler bug carries its traceback


def test_commands_dropped_with_the_queue_full_are_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    acked: list[str] = []
    inbox = CommandInbox(lambda cmd, result, *_: acked.append(result), maxsize=10)
    topic = wire.device_topic("dijon", DEV, wire.Kind.CMD)
    for i in range(1000):  # nobody serves the queue: a stalled bus and a flood
        inbox.put(topic, _command(DEV, f"c-{i}", 50))
    assert inbox.rejects.by_kind() == {QUEUE_FULL: 990}
    assert inbox.invalid == 990
    assert len(_link_records(caplog)) == 1
    assert f"({QUEUE_FULL})" in _link_records(caplog)[0].getMessage()
