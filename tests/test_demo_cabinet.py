"""The demo's DALI box with a Modbus cabinet: the committed config, the demo's rewrite, and both simulators.

``light-fontaine-01`` drives its luminaires over DALI and polls its cabinet's controller and SDM630 meter over
Modbus TCP. ``make demo`` runs it on the DALI simulator (in the box) and the cabinet simulator (a real pymodbus
server on 127.0.0.1), whose meter follows what the simulated gear report: the box then reports the energy
measured at the cabinet next to the energy its D4i gear meter.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from coordinator.demo.run import FIRMWARE_CONFIGS, Children, field_config, has_cabinet
from edge_agent.agent import Agent
from edge_agent.cli import main
from edge_agent.lighting.drivers.dali_sim import forget_simulators
from edge_agent.simulation.cabinet_sim import LINE_LOSS, DemoCabinet, DoorSim, cabinet_model, circuit_loads, circuits_of
from tests.lighting_helpers import running_clock
from tests.mqtt_helpers import Mosquitto, Recorder, wait_until
from vigie_config import load_config
from vigie_wire import Kind, Telemetry, device_topic

SRC = FIRMWARE_CONFIGS / "light-fontaine-01.yaml"
#: 22:30 in Fontaine-lès-Dijon: the streets at 70 %, the town hall at 50 % (no luminaire off yet).
EVENING = dt.datetime(2026, 11, 25, 21, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fresh_simulators() -> Iterator[None]:
    forget_simulators()
    yield
    forget_simulators()


def _demo_config(tmp_path: Path, mqtt_port: int, **lighting: Any) -> Path:
    """The demo's rewrite of the committed box, its cabinet polled every second for a test."""
    path = field_config(tmp_path, mqtt_port, SRC)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["lighting"]["cabinet"]["poll_interval_s"] = 1
    raw["lighting"].update(lighting)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_the_committed_box_uses_dali_and_a_modbus_cabinet_and_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SRC)]) == 0, capsys.readouterr().err
    box = load_config(SRC)
    assert box.lighting is not None and box.lighting.driver.kind == "dali"
    cabinet = box.lighting.cabinet
    assert cabinet is not None and cabinet.controller is not None and cabinet.meter is not None
    assert (cabinet.controller.map, cabinet.meter.map) == ("cabinet-generic", "sdm630")
    fed = sorted(lum for c in cabinet.circuits for lum in c.luminaires)
    assert fed == sorted(lum.id for lum in box.lighting.luminaires)  # every luminaire is on a metered circuit


def test_the_demo_points_the_cabinet_at_a_local_simulator(tmp_path: Path) -> None:
    path = field_config(tmp_path, 18830, SRC)
    box = load_config(path)
    assert box.lighting is not None and box.lighting.cabinet is not None
    assert box.lighting.cabinet.host == "127.0.0.1" and box.lighting.cabinet.port != 502
    assert box.lighting.driver.transport == "fake:5?rated_w=40,40,40,40,60"  # type: ignore[union-attr]
    assert has_cabinet(path)
    assert not has_cabinet(field_config(tmp_path, 18830, FIRMWARE_CONFIGS / "light-darcy-01.yaml"))


def test_probe_of_the_rewritten_config_passes_on_both_simulators(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = field_config(tmp_path, 18830, SRC)
    cabinet = DemoCabinet(path, mqtt_port=1).start()  # no broker needed: the probe reads the devices only
    try:
        code = main(["probe", "--config", str(path)])
    finally:
        cabinet.stop()
    out = capsys.readouterr().out.splitlines()
    assert code == 0, out
    passed = [line for line in out if line.startswith("PASS")]
    assert sum(1 for line in passed if "dali gear" in line) == 5
    assert any("controller" in line for line in passed) and any("meter" in line for line in passed)
    assert out[-1].endswith("0 failed")


def test_the_demo_box_reports_cabinet_energy_next_to_d4i_energy(tmp_path: Path, broker: Mosquitto) -> None:
    path = _demo_config(tmp_path, broker.port, decision_interval_s=0.2)
    box = load_config(path)
    recorder = Recorder(broker.port, device_topic(box.site, box.device_id, Kind.TELEMETRY))
    cabinet = DemoCabinet(path, broker.port).start()
    cabinet.door.next_at = float("inf")  # no visit during the test
    start_kwh = cabinet.model.import_kwh
    agent = Agent(box, path, light_clock=running_clock(EVENING))
    agent.start()

    def settled() -> dict[str, Any] | None:
        """The latest telemetry whose cabinet reading follows the gear's power reported just before it."""
        agent.link.publish_telemetry(agent.metrics())  # what the box's main loop does every interval
        cabinet.step(0.0)
        sent = [m.metrics for m in recorder.decoded(Kind.TELEMETRY) if isinstance(m, Telemetry)]
        for before, after in itertools.pairwise(sent):
            gear_w = [w or 0.0 for w in before["light.lum"]["power_w"]]
            if sum(gear_w) > 50 and after.get("cabinet.meter.power_total") == pytest.approx(
                    sum(gear_w) * (1 + LINE_LOSS), rel=0.01) and after["light.lum"]["power_w"] == gear_w:
                return after
        return None

    try:
        wait_until(lambda: settled() is not None, 40, "the cabinet's meter to follow the gear", step=0.5)
        metrics = settled()
        assert metrics is not None
    finally:
        agent.shutdown(drain_s=1)
        cabinet.stop()
        recorder.close()
    lum = metrics["light.lum"]
    assert lum["level"] == pytest.approx([70, 70, 70, 70, 50], abs=1)  # the DALI curve's nearest steps
    assert all(isinstance(wh, int | float) for wh in lum["energy_wh"])  # each gear's D4i energy counter
    power = dict(zip(lum["ids"], lum["power_w"], strict=True))
    assert metrics["cabinet.meter.power_l3"] == pytest.approx(power["mairie-01"] * (1 + LINE_LOSS), rel=0.01)
    assert metrics["cabinet.meter.power_l1"] == pytest.approx(
        (power["carrois-01"] + power["carrois-02"]) * (1 + LINE_LOSS), rel=0.01)
    assert metrics["cabinet.meter.import_energy"] >= start_kwh
    assert cabinet.model.import_kwh > start_kwh  # the meter counts what the street draws
    assert metrics["cabinet.circuits"]["on"] == [True, True, True]  # DALI gear keep their supply
    assert metrics["cabinet.door_open"] is False and metrics["cabinet.controller.ok"] is True
    assert cabinet.feed.bad == 0


def test_circuit_loads_sum_the_gear_of_each_circuit_and_ignore_silent_gear() -> None:
    raw = yaml.safe_load(SRC.read_text(encoding="utf-8"))
    circuits = circuits_of(raw["lighting"])
    table = {"ids": ["carrois-01", "carrois-02", "faubourg-01", "faubourg-02", "mairie-01"],
             "power_w": [20.0, None, 10, 10.0, 30.0]}
    loads = circuit_loads({"light.lum": table}, circuits)
    assert loads == {0: pytest.approx(20.6), 1: pytest.approx(20.6), 2: pytest.approx(30.9)}
    assert circuit_loads({"link.connected": True}, circuits) == {}  # no table: keep the last load
    model = cabinet_model(circuits)
    model.set_loads(loads)
    meter = model.meter()
    assert (meter["power_l1"], meter["power_l3"]) == (pytest.approx(20.6), pytest.approx(30.9))
    model.coils[2] = False  # a contactor opened by a coil write cuts its circuit
    assert model.meter()["power_l3"] == 0.0


def test_the_door_opens_now_and_then_and_closes_after_a_while() -> None:
    model = cabinet_model([])
    door = DoorSim(model, random.Random(1), every_s=600, open_for_s=180, first_s=(45, 120), now=0.0)
    door.step(44.0)
    assert model.door_open is False
    door.step(121.0)
    assert model.door_open is True
    opened_at = 121.0
    door.step(opened_at + 179)
    assert model.door_open is True
    door.step(opened_at + 181)
    assert model.door_open is False and door.next_at > opened_at + 180


def test_the_demo_stops_the_cabinet_only_after_the_boxes(tmp_path: Path) -> None:
    """A box still polls its cabinet while it drains: the cabinet must not leave before it."""
    on_term = ("import signal, sys, time\n"
               "def bye(*_):\n"
               "    time.sleep(float(sys.argv[2]))\n"
               "    open(sys.argv[1], 'w').write(repr(time.time()))\n"
               "    sys.exit(0)\n"
               "signal.signal(signal.SIGTERM, bye)\n"
               "open(sys.argv[1] + '.up', 'w').close()\n"
               "time.sleep(60)\n")
    children = Children(tmp_path / "logs")
    box, cab = tmp_path / "box", tmp_path / "cabinet"
    children.start("cabinet", [sys.executable, "-c", on_term, str(cab), "0"], dict(os.environ), last=True)
    children.start("box", [sys.executable, "-c", on_term, str(box), "1"], dict(os.environ))
    wait_until(lambda: Path(f"{cab}.up").exists() and Path(f"{box}.up").exists(), 20, "both processes up")
    children.stop_all()
    assert float(cab.read_text()) >= float(box.read_text())  # told to stop once the box (1 s to drain) had left
