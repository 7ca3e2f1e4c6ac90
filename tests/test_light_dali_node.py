"""A light node and a light box on DALI: the real driver on python-dali's fake bus under the node, the box, the
broker and the coordinator's ingest, as in the field but for the gear.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import vigie_wire as wire
from coordinator.ingest.config import IngestSettings
from coordinator.ingest.worker import IngestWorker
from coordinator.ingest_hooks import default_hooks
from coordinator.storage import interventions as interventions_store
from coordinator.storage.schema import light_meters
from edge_agent.agent import Agent
from edge_agent.lighting.build import build_engine
from edge_agent.lighting.drivers import DaliDriver, LampFault
from edge_agent.lighting.drivers.dali_bus import parse_transport
from edge_agent.lighting.drivers.dali_curve import arc_level
from edge_agent.lighting.drivers.dali_sim import SimBus, SimGear, SimInterface, forget_simulators, simulated_bus
from edge_agent.lighting.node import LightNode
from tests.boxes import write_box
from tests.ingest_helpers import register
from tests.mqtt_helpers import Mosquitto, Recorder, wait_until
from tests.test_light_dali import Line
from vigie_config.lighting import LightingConfig

CALENDAR = [{"name": "dijon", "program": {"kind": "astro", "steps": [{"at": "22:00", "level": 70},
                                                                      {"at": "05:00", "level": 100}]}}]


def node_on(line: Line, tmp_path: Path) -> LightNode:
    cfg = LightingConfig.model_validate({
        "driver": {"kind": "dali", "transport": f"fake:{len(line.bus.gear)}"},
        "luminaires": [{"id": s.id, "rated_w": s.rated_w} for s in line.specs],
        "calendar": CALENDAR, "state_file": str(tmp_path / "state.json"), "failsafe_ramp_s": 0,
    })
    return LightNode(cfg, line.driver, build_engine(cfg), line.now)


def steps(node: LightNode, line: Line, seconds: int) -> None:
    for _ in range(seconds):
        line.t += 1.0
        node.step(line.now())


def test_the_node_drives_dali_gear_by_its_calendar_and_reports_a_missing_one(tmp_path: Path) -> None:
    line = Line(3, lums=4)
    node = node_on(line, tmp_path)
    steps(node, line, 70)
    assert [g.level for g in line.bus.gear] == [arc_level(70.0)] * 3
    assert node.drain_faults() == [["l3", "controlGearCommFailure", True]]
    metrics = node.telemetry(line.now())
    assert metrics["light.answering"] == 3 and metrics["dali.present"] == 3 and metrics["dali.silent"] == 1
    assert metrics["light.lum"]["energy_wh"][:3] == [round(line.driver.read(f"l{i}").energy_wh) for i in range(3)]
    assert metrics["dali.metered"] == 3


def test_a_calendar_step_reaches_each_dali_group_in_one_frame(tmp_path: Path) -> None:
    line = Line(6, groups={0: {0, 1, 2}, 1: {3, 4, 5}})
    line.bus.gear.append(SimGear(9, 60.0, groups={1}, clock=lambda: line.t))  # another box's gear in group 1
    line.driver.close()
    line.driver = DaliDriver(line.driver.config, line.specs, opener=lambda _t, _s: SimInterface(line.bus),
                             start=line.now())
    node = node_on(line, tmp_path)
    before = line.bus.frames.forward
    node.step(line.now())  # 22:00: the calendar's 70 % for all six
    assert [g.level for g in line.bus.gear] == [arc_level(70.0)] * 6 + [0]
    sent = line.bus.frames.forward - before
    assert line.driver.stats.shared_frames == 1  # group 0 in one frame; group 1 has a gear the box does not drive
    assert sent <= 4 * 4 + 24  # group 0 and three short addresses (fade time and DAPC each), and the polling budget


def test_a_lamp_failure_on_a_gear_becomes_a_lampFailure_change(tmp_path: Path) -> None:  # noqa: N802
    line = Line(3)
    node = node_on(line, tmp_path)
    steps(node, line, 10)
    assert node.drain_faults() == []
    line.gear(2).lamp_failed = True
    steps(node, line, 10)
    assert node.drain_faults() == [["l2", "lampFailure", True]]
    line.gear(2).lamp_failed = False
    steps(node, line, 10)
    assert node.drain_faults() == [["l2", "lampFailure", False]]


def test_an_unplugged_interface_is_reported_and_the_street_is_lit_again_when_it_returns(tmp_path: Path) -> None:
    line = Line(3)
    node = node_on(line, tmp_path)
    steps(node, line, 10)
    line.bus.unplugged = True
    for gear in line.bus.gear:  # the line's power supply sits in the interface: the gear go to their
        gear.line_failure()  # system failure level, 100 % (the probe checks it), the hardware's own fail-safe
    steps(node, line, 30)
    assert sorted(node.drain_faults()) == [[f"l{i}", "controlGearCommFailure", True] for i in range(3)]
    metrics = node.telemetry(line.now())
    assert metrics["dali.bus"] == "down" and metrics["dali.bus_errors"] >= 1 and metrics["light.comm_errors"] > 0
    assert [g.level for g in line.bus.gear] == [254] * 3  # lit meanwhile
    line.bus.unplugged = False
    steps(node, line, 70)
    assert sorted(node.drain_faults()) == [[f"l{i}", "controlGearCommFailure", False] for i in range(3)]
    assert [g.level for g in line.bus.gear] == [arc_level(70.0)] * 3  # the calendar's level, commanded again
    assert node.telemetry(line.now())["dali.reconnects"] == 1


# ------------------------------------------------------------------------------------------------ a box


@pytest.fixture
def fresh_simulators() -> Iterator[None]:
    forget_simulators()
    yield
    forget_simulators()


def _running_clock(start: dt.datetime) -> Any:
    t0 = time.monotonic()
    return lambda: start + dt.timedelta(seconds=time.monotonic() - t0)


NIGHT = dt.datetime(2026, 11, 25, 22, 30, tzinfo=dt.UTC)


def test_a_lamp_failure_on_a_dali_gear_opens_an_intervention_through_the_broker(
        broker: Mosquitto, tmp_path: Path, engine: Engine, db_url: str, fresh_simulators: None) -> None:
    device = "light-dali-01"
    register(engine, (device, "dijon"))
    now_ms = int(time.time() * 1000)
    with engine.begin() as conn:
        interventions_store.create_rule(conn, "Pannes d'éclairage", "dijon", True, {
            "type": "light_fault", "faults": ["lampFailure"], "skill": "eclairage"}, "test", now_ms)
    worker = IngestWorker(IngestSettings(database_url=db_url, mqtt_port=broker.port,  # type: ignore[call-arg]
                                         client_id="vigie-ingest-dali", batch_ms=20, storage_process=False),
                          engine, hooks=default_hooks())
    worker.start()
    wait_until(worker.client.subscribed.is_set, 10, "worker subscribed")
    lighting = {"driver": {"kind": "dali", "transport": "fake:3"},
                "luminaires": [{"id": f"rue-{i}", "rated_w": 60, "groups": ["rue-liberte"]} for i in range(3)],
                "calendar": CALENDAR, "state_file": str(tmp_path / "light-state.json"), "decision_interval_s": 0.2}
    for i, gear in enumerate(simulated_bus(parse_transport("fake:3")).gear):
        gear.energy_wh = 1234.4 + i  # gear in service for years: their meters do not start at 0
    cfg, path = write_box(tmp_path, broker.port, device, lighting=lighting)
    agent = Agent(cfg, path, light_clock=_running_clock(NIGHT))
    rec = Recorder(broker.port)
    try:
        agent.start()
        wait_until(agent.link.connected.is_set, 10, "light box connected")
        assert agent.light is not None and isinstance(agent.light.driver, DaliDriver)
        bus: SimBus = simulated_bus(parse_transport("fake:3"))
        wait_until(lambda: all(g.level == arc_level(70.0) for g in bus.gear), 10, "the calendar's 70 % on the gear")
        bus.by_address(1).lamp_failed = True

        def opened() -> list[interventions_store.InterventionRow]:
            with engine.connect() as conn:
                return interventions_store.search(conn, interventions_store.Filter(kind="light_fault"))

        wait_until(lambda: len(opened()) == 1, 20, "a light_fault intervention")
        row = opened()[0]
        assert "rue-1" in row.title and LampFault.LAMP_FAILURE.value in row.title

        def telemetry() -> dict[str, Any]:
            found = [m.metrics for m in rec.decoded(wire.Kind.TELEMETRY) if "dali.bus" in m.metrics]
            return found[-1] if found else {}

        agent.link.publish_telemetry(agent.metrics())  # what the box's run loop does every interval
        wait_until(lambda: telemetry().get("dali.metered") == 3, 10, "DALI metrics in telemetry")
        assert telemetry()["dali.d4i"]["ids"] == ["rue-0", "rue-1", "rue-2"] and telemetry()["dali.bus"] == "up"
        sent = telemetry()["light.lum"]

        def meters() -> dict[str, float]:
            with engine.connect() as conn:
                rows = conn.execute(sa.select(light_meters.c.lum_id, light_meters.c.energy_wh)).all()
            return {r.lum_id: r.energy_wh for r in rows}

        wait_until(lambda: len(meters()) == 3, 10, "meter readings")
        # the coordinator's meter readings are the gear's own D4i energy counters, as the box sent them
        assert meters() == dict(zip(sent["ids"], sent["energy_wh"], strict=True))
        assert meters() == {"rue-0": 1234, "rue-1": 1235, "rue-2": 1236}  # measured, not modelled from 0
    finally:
        rec.close()
        agent.shutdown(drain_s=1)
        worker.stop()
