"""A light box against a real broker: group commands, acks, presence from a camera, STATE, faults."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import vigie_wire as wire
from edge_agent.agent import Agent
from edge_agent.lighting.drivers import LampFault
from tests.boxes import write_box
from tests.mqtt_helpers import Mosquitto, Recorder, wait_until

NIGHT = dt.datetime(2026, 11, 25, 22, 30, tzinfo=dt.UTC)  # 23:30 in Dijon: the 70 % step of the calendar

LIGHTING: dict[str, Any] = {
    "luminaires": [
        {"id": "l01", "rated_w": 60, "groups": ["rue-liberte"]},
        {"id": "l02", "rated_w": 60, "groups": ["rue-liberte"]},
        {"id": "l03", "rated_w": 40, "groups": ["place-darcy"]},
    ],
    "calendar": [
        {"name": "darcy-sensor", "groups": ["place-darcy"],
         "program": {"kind": "sensor", "base": {"kind": "astro", "on_level": 30}, "boost_level": 100,
                     "hold_s": 60, "boost_ramp_s": 0.2, "release_hold_s": 1, "release_ramp_s": 0.5}},
        {"name": "dijon", "program": {"kind": "astro", "steps": [{"at": "22:00", "level": 70},
                                                                  {"at": "05:00", "level": 100}]}},
    ],
    "presence": [{"device": "cam-darcy-01", "zone": "crosswalk", "groups": ["place-darcy"]}],
    "decision_interval_s": 0.5,
}


def running_clock(start: dt.datetime) -> Callable[[], dt.datetime]:
    t0 = time.monotonic()
    return lambda: start + dt.timedelta(seconds=time.monotonic() - t0)


@pytest.fixture
def box(broker: Mosquitto, tmp_path: Path) -> Iterator[Agent]:
    lighting = {**LIGHTING, "state_file": str(tmp_path / "light-state.json")}
    cfg, path = write_box(tmp_path, broker.port, "light-darcy-01", lighting=lighting)
    agent = Agent(cfg, path, light_clock=running_clock(NIGHT))
    agent.start()
    wait_until(agent.link.connected.is_set, 10, "light box connected")
    yield agent
    agent.shutdown(drain_s=1)


def _ops(port: int) -> mqtt.Client:
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="ops-test", protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def _command(target: str, cmd_id: str, cseq: int, level: float | None, issuer: str = "coordinator") -> wire.Command:
    now = int(time.time() * 1000)
    return wire.Command(wire.Header(1, issuer, 0, cseq, now), target, cmd_id, cseq, now + 60_000,
                        "light.override", {"level": level, "ramp_up_s": 0, "ramp_down_s": 0})


def _targets(agent: Agent) -> dict[str, float]:
    assert agent.light is not None
    return {lum: agent.light.driver.read(lum).target_pct for lum in agent.light.driver.luminaires()}


def test_calendar_runs_and_a_group_command_reaches_every_luminaire_of_the_group(broker: Mosquitto,
                                                                              box: Agent) -> None:
    rec = Recorder(broker.port)
    wait_until(lambda: _targets(box) == {"l01": 70.0, "l02": 70.0, "l03": 30.0}, 5, "calendar levels at 23:30")
    ops = _ops(broker.port)
    topic = wire.group_command_topic("dijon", "rue-liberte")
    ops.publish(topic, wire.encode(_command("rue-liberte", "ovr-1", 10, 40)), qos=1).wait_for_publish(5)
    wait_until(lambda: rec.decoded(wire.Kind.ACK), 5, "ack")
    ack = rec.decoded(wire.Kind.ACK)[0]
    assert (ack.cmd_id, ack.result) == ("ovr-1", "applied")
    wait_until(lambda: _targets(box)["l01"] == _targets(box)["l02"] == 40.0, 5, "group at 40 %")
    assert _targets(box)["l03"] == 30.0, "another group is untouched"
    # An older command from the same issuer, arriving late, is refused and says why.
    ops.publish(topic, wire.encode(_command("rue-liberte", "ovr-0", 9, 100)), qos=1).wait_for_publish(5)
    wait_until(lambda: len(rec.decoded(wire.Kind.ACK)) >= 2, 5, "second ack")
    assert rec.decoded(wire.Kind.ACK)[1].result == "stale"
    assert _targets(box)["l01"] == 40.0
    ops.loop_stop()
    ops.disconnect()
    rec.close()


def test_presence_from_a_neighbour_camera_raises_its_lights_within_300_ms(broker: Mosquitto, box: Agent) -> None:
    wait_until(lambda: _targets(box)["l03"] == 30.0, 5, "base level")
    cam = _ops(broker.port)
    now = int(time.time() * 1000)
    batch = wire.EventBatch(wire.Header(1, "cam-darcy-01", 0, 1, now), 7, False,
                            (wire.EventRecord(0, now, wire.ZoneEnter(0, "crosswalk", 12, 0)),))
    sent = time.monotonic()
    cam.publish(wire.device_topic("dijon", "cam-darcy-01", wire.Kind.EVENT), wire.encode(batch), qos=1)
    wait_until(lambda: _targets(box)["l03"] == 100.0, 2, "boost", step=0.005)
    assert time.monotonic() - sent < 0.3
    assert _targets(box)["l01"] == 70.0, "only the zone's group is boosted"
    cam.loop_stop()
    cam.disconnect()


def test_a_zone_reported_empty_drops_the_boost_after_the_release_hold_not_the_60_s_hold(broker: Mosquitto,
                                                                                        box: Agent) -> None:
    wait_until(lambda: _targets(box)["l03"] == 30.0, 5, "base level")
    cam = _ops(broker.port)
    topic = wire.device_topic("dijon", "cam-darcy-01", wire.Kind.EVENT)

    def send(seq: int, *bodies: wire.Event) -> None:
        now = int(time.time() * 1000)
        records = tuple(wire.EventRecord(i, now, body) for i, body in enumerate(bodies))
        batch = wire.EventBatch(wire.Header(1, "cam-darcy-01", 0, seq, now), seq, False, records)
        cam.publish(topic, wire.encode(batch), qos=1).wait_for_publish(5)

    send(1, wire.ZoneEnter(0, "crosswalk", 12, 0), wire.Occupancy(0, "crosswalk", ((0, 1),)))
    wait_until(lambda: _targets(box)["l03"] == 100.0, 2, "boost", step=0.005)
    time.sleep(1.5)  # occupied: renewed at every step, whatever the hold
    assert _targets(box)["l03"] == 100.0
    send(2, wire.ZoneLeave(0, "crosswalk", 12, 0, 1500), wire.Occupancy(0, "crosswalk", ()))
    emptied = time.monotonic()
    wait_until(lambda: _targets(box)["l03"] == 30.0, 5, "released", step=0.01)
    waited = time.monotonic() - emptied
    assert 0.9 < waited < 3.0, f"released {waited:.2f} s after the empty report (release hold 1 s, hold 60 s)"
    assert _targets(box)["l01"] == 70.0, "another group is untouched"
    cam.loop_stop()
    cam.disconnect()


def test_the_node_keeps_its_calendar_when_the_coordinator_is_offline(broker: Mosquitto, box: Agent) -> None:
    wait_until(lambda: _targets(box)["l01"] == 70.0, 5, "calendar")
    ops = _ops(broker.port)
    state = wire.State(wire.Header(1, "coordinator", 3, 0, int(time.time() * 1000)), False)
    ops.publish(wire.state_topic("coordinator"), wire.encode(state), qos=1, retain=True).wait_for_publish(5)
    assert box.light is not None
    wait_until(lambda: box.light is not None and box.light.health()["light.coordinator"] == "offline", 5, "STATE")
    time.sleep(1.0)  # two decision rounds
    assert _targets(box) == {"l01": 70.0, "l02": 70.0, "l03": 30.0}
    ops.loop_stop()
    ops.disconnect()


def test_a_lamp_fault_is_sent_once_as_an_event_when_it_appears_and_when_it_clears(broker: Mosquitto,
                                                                                box: Agent) -> None:
    rec = Recorder(broker.port)
    assert box.light is not None
    driver = box.light.driver
    driver.inject("l02", LampFault.LAMP_FAILURE)  # type: ignore[attr-defined]

    def faults() -> list[wire.LampFault]:
        return [r.body for b in rec.decoded(wire.Kind.EVENT) for r in b.events if isinstance(r.body, wire.LampFault)]

    wait_until(lambda: len(faults()) >= 1, 5, "fault event")
    driver.clear("l02", LampFault.LAMP_FAILURE)  # type: ignore[attr-defined]
    wait_until(lambda: len(faults()) >= 2, 5, "cleared event")
    time.sleep(1.0)
    assert [(f.lum, f.fault, f.active) for f in faults()] == [("l02", "lampFailure", True),
                                                            ("l02", "lampFailure", False)]
    rec.close()


def test_a_pushed_calendar_and_an_override_survive_a_restart_of_the_box(broker: Mosquitto, tmp_path: Path) -> None:
    lighting = {**LIGHTING, "state_file": str(tmp_path / "light-state.json")}
    cfg, path = write_box(tmp_path, broker.port, "light-darcy-01", lighting=lighting)
    rec = Recorder(broker.port)
    ops = _ops(broker.port)
    agent = Agent(cfg, path, light_clock=running_clock(NIGHT))
    agent.start()
    try:
        wait_until(agent.link.connected.is_set, 10, "connected")
        now = int(time.time() * 1000)
        calendar = {"entries": [{"name": "extinction", "program": {
            "kind": "astro", "steps": [{"at": "23:00", "level": 0}, {"at": "05:00", "level": 100}]}}]}
        push = wire.Command(wire.Header(1, "coordinator", 0, 1, now), "light-darcy-01", "cal-1", 20, now + 60_000,
                            "light.calendar", {"calendar": calendar})
        topic = wire.device_topic("dijon", "light-darcy-01", wire.Kind.CMD)
        ops.publish(topic, wire.encode(push), qos=1).wait_for_publish(5)
        wait_until(lambda: _targets(agent) == {"l01": 0.0, "l02": 0.0, "l03": 0.0}, 5, "switched off at 23:30")
        override = wire.Command(wire.Header(1, "coordinator", 0, 2, now), "light-darcy-01", "ovr-9", 21,
                                now + 600_000, "light.override", {"group": "place-darcy", "level": 50})
        ops.publish(topic, wire.encode(override), qos=1).wait_for_publish(5)
        wait_until(lambda: _targets(agent)["l03"] == 50.0, 5, "override")
        wait_until(lambda: len(rec.decoded(wire.Kind.ACK)) == 2, 5, "both acks")
        assert [a.result for a in rec.decoded(wire.Kind.ACK)] == ["applied", "applied"]
        # An older calendar push arriving late is refused: it must not undo the newer one.
        older = wire.Command(wire.Header(1, "coordinator", 0, 3, now), "light-darcy-01", "cal-0", 19,
                             now + 60_000, "light.calendar", {"calendar": None})
        ops.publish(topic, wire.encode(older), qos=1).wait_for_publish(5)
        wait_until(lambda: len(rec.decoded(wire.Kind.ACK)) == 3, 5, "third ack")
        assert rec.decoded(wire.Kind.ACK)[2].result == "stale"
    finally:
        agent.shutdown(drain_s=1)
    again = Agent(cfg, path, light_clock=running_clock(NIGHT))
    again.start()
    try:
        wait_until(lambda: _targets(again) == {"l01": 0.0, "l02": 0.0, "l03": 50.0}, 5, "state restored")
    finally:
        again.shutdown(drain_s=1)
        ops.loop_stop()
        ops.disconnect()
        rec.close()


COORDINATOR = """
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
import vigie_wire as wire
port = int(sys.argv[1])
def state(online):
    return wire.encode(wire.State(wire.Header(1, "coord-a", 4, 0, int(time.time() * 1000)), online))
c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="coord-a", protocol=mqtt.MQTTv5)
c.will_set(wire.state_topic("coord-a"), state(False), qos=1, retain=True)
c.connect("127.0.0.1", port, keepalive=5)
c.loop_start()
c.publish(wire.state_topic("coord-a"), state(True), qos=1, retain=True).wait_for_publish(5)
print("online", flush=True)
time.sleep(60)
"""


def test_a_killed_coordinator_is_seen_offline_and_the_calendar_goes_on(broker: Mosquitto, box: Agent) -> None:
    assert box.light is not None
    light = box.light
    proc = subprocess.Popen([sys.executable, "-c", COORDINATOR, str(broker.port)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "online"
        wait_until(lambda: light.health()["light.coordinator"] == "online", 5, "coordinator online")
        before = _targets(box)
        proc.send_signal(signal.SIGKILL)  # its will publishes STATE offline
        wait_until(lambda: light.health()["light.coordinator"] == "offline", 10, "coordinator offline")
        time.sleep(1.0)
        assert _targets(box) == before == {"l01": 70.0, "l02": 70.0, "l03": 30.0}
    finally:
        proc.kill()
        proc.wait(5)
