"""The Modbus cabinet against a real pymodbus TCP server: register maps, the link's failures, the contactor driver."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from pymodbus.client import ModbusTcpClient
from pymodbus.constants import ExcCodes

import vigie_wire as wire
from coordinator.analytics.energy import delta as energy_delta
from coordinator.analytics.energy import readings as energy_readings
from edge_agent.lighting.cabinet.cabinet import (
    BREAKER_TRIP,
    CABINET,
    CONTROLLER_COMM_FAILURE,
    DOOR_OPEN,
    METER_COMM_FAILURE,
    Cabinet,
    retry_delay,
)
from edge_agent.lighting.cabinet.errors import Failure, ModbusCommError
from edge_agent.lighting.cabinet.link import ModbusLink
from edge_agent.lighting.cabinet.registers import MAX_REGISTERS_PER_READ, decode, plan_reads
from edge_agent.lighting.cabinet.simulator import METER_UNIT, CabinetServer
from edge_agent.lighting.drivers import LampFault
from edge_agent.lighting.role import LightRole
from tests.boxes import write_box
from tests.lighting_helpers import running_clock
from vigie_config import load_config
from vigie_config.cabinet import CabinetConfig
from vigie_config.errors import ConfigError, RegisterMapError
from vigie_config.register_maps import Point, RegisterMap, Table, known_maps, load_map

NIGHT = dt.datetime(2026, 11, 25, 22, 30, tzinfo=dt.UTC)  # 23:30 in Dijon: the 70 % step of the calendar
DAY = dt.datetime(2026, 11, 25, 11, 0, tzinfo=dt.UTC)


@pytest.fixture
def server() -> Iterator[CabinetServer]:
    with CabinetServer() as srv:
        yield srv


def cabinet_section(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1", "port": port, "timeout_s": 0.3, "poll_interval_s": 1,
        "controller": {"unit": 1, "map": "cabinet-generic"},
        "meter": {"unit": 2, "map": "sdm630"},
        "circuits": [
            {"id": "north", "output": 0, "phase": 1, "luminaires": ["n1", "n2"]},
            {"id": "south", "output": 1, "phase": 2, "luminaires": ["s1"]},
        ],
        **extra,
    }


def lighting_section(port: int, tmp: Path, driver: Any = "contactor", **cab: Any) -> dict[str, Any]:
    return {
        "driver": driver,
        "luminaires": [{"id": "n1", "rated_w": 250}, {"id": "n2", "rated_w": 150}, {"id": "s1", "rated_w": 300}],
        "calendar": [{"name": "dijon", "program": {"kind": "astro", "steps": [{"at": "22:00", "level": 70},
                                                                               {"at": "05:00", "level": 100}]}}],
        "cabinet": cabinet_section(port, **cab),
        "state_file": str(tmp / "state.json"),
        "failsafe_ramp_s": 0,
    }


class Events:
    """The role's event port, recording what it emits (the broker path is in test_cabinet_end_to_end)."""

    def __init__(self) -> None:
        self.events: list[wire.Event] = []

    def emit(self, body: wire.Event, ts_ms: int | None = None) -> tuple[int, int]:
        self.events.append(body)
        return (0, len(self.events))

    def emit_many(self, bodies: Sequence[wire.Event], ts_ms: int | None = None) -> list[tuple[int, int]]:
        return [self.emit(b) for b in bodies]

    def publish_snapshot(self, cam: int, event_id: tuple[int, int], jpeg: bytes) -> bool:
        return False

    def cabinet(self) -> list[tuple[str, str, bool]]:
        return [(e.part, e.fault, e.active) for e in self.events if isinstance(e, wire.CabinetFault)]

    def lamps(self) -> list[tuple[str, str, bool]]:
        return [(e.lum, e.fault, e.active) for e in self.events if isinstance(e, wire.LampFault)]


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def tick(light: LightRole) -> None:
    """One round of both loops, as their threads run them: the cabinet's poll, then the node's step."""
    light.poll_cabinet()
    light.step()


def role(tmp: Path, server: CabinetServer, start: dt.datetime = NIGHT, **lighting: Any) -> tuple[LightRole, Events,
                                                                                                    Clock]:
    box, _ = write_box(tmp, 1883, "light-cab-01", lighting={**lighting_section(server.port, tmp), **lighting})
    clock, sink = Clock(start), Events()
    return LightRole(box, sink, clock), sink, clock


# ---------------------------------------------------------------------------------------- register maps


def test_the_sdm630_map_is_read_in_five_requests_around_its_gaps() -> None:
    reads = plan_reads(load_map("sdm630").points)
    assert [(r.address, r.count) for r in reads] == [(0x00, 18), (0x34, 2), (0x3E, 2), (0x46, 6), (0x156, 2)]
    assert {"sdm630", "cabinet-generic"} <= set(known_maps())


def test_an_unknown_map_or_a_bad_map_file_is_refused_with_its_reason(tmp_path: Path) -> None:
    with pytest.raises(RegisterMapError, match=r"unknown register map 'sdm360'; known maps: .*sdm630"):
        load_map("sdm360")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"model": "bad", "points": [
        {"name": "a", "table": "input_register", "address": 0, "type": "float32"},
        {"name": "b", "table": "input_register", "address": 1, "type": "float32"},
    ]}))
    with pytest.raises(RegisterMapError, match="points 'a' and 'b' overlap in table input_register"):
        load_map(str(bad))
    bad.write_text(yaml.safe_dump({"model": "bad2", "points": [
        {"name": "a", "table": "coil", "address": 0x10000, "type": "bool"}]}))
    with pytest.raises(RegisterMapError, match=r"points\.0\.address: .*less than or equal to 65535"):
        load_map(str(bad))


def test_a_short_answer_is_an_error_not_a_half_decoded_reading() -> None:
    read = plan_reads(load_map("sdm630").points)[0]
    with pytest.raises(RegisterMapError, match="asked 18, answer has 4"):
        decode(read, [0, 0, 0, 0])


_tables = st.sampled_from(list(Table))


@st.composite
def _points(draw: st.DrawFn) -> list[Point]:
    out, used = [], {t: set[int]() for t in Table}
    for i in range(draw(st.integers(1, 30))):
        table = draw(_tables)
        kind = "bool" if table.bits else draw(st.sampled_from(["uint16", "float32"]))
        count = draw(st.integers(1, 8))
        p = Point(name=f"p{i}", table=table, address=draw(st.integers(0, 400)), type=kind, count=count)
        span = set(range(p.address, p.end))
        if span & used[table]:
            continue
        used[table] |= span
        out.append(p)
    return out


@given(_points())
@example([Point(name="a", table=Table.INPUT_REGISTER, address=0, type="float32", count=8)] + [
    Point(name=f"b{i}", table=Table.INPUT_REGISTER, address=16 + 16 * i, type="uint16", count=8) for i in range(8)])
def test_read_plans_cover_every_point_once_without_spanning_a_gap_or_a_protocol_limit(points: list[Point]) -> None:
    reads = plan_reads(points)
    assert sorted(p.name for r in reads for p in r.points) == sorted(p.name for p in points)
    for r in reads:
        assert r.count <= (2000 if r.table.bits else MAX_REGISTERS_PER_READ)
        assert all(p.table is r.table for p in r.points)
        ordered = sorted(r.points, key=lambda p: p.address)
        assert ordered[0].address == r.address and ordered[-1].end == r.address + r.count
        assert all(a.end == b.address for a, b in itertools.pairwise(ordered))


@given(st.lists(st.floats(width=32, allow_nan=False), min_size=1, max_size=8), st.sampled_from(["big", "little"]))
@example([230.5, -0.0, 3.4028234663852886e38], "little")
def test_float32_points_decode_what_a_device_encodes_in_either_word_order(values: list[float], order: str) -> None:
    words = [w for v in values for w in ModbusTcpClient.convert_to_registers(
        v, ModbusTcpClient.DATATYPE.FLOAT32, word_order=order)]  # type: ignore[arg-type]
    regmap = RegisterMap.model_validate({"model": "m", "word_order": order, "points": [
        {"name": "v", "table": "input_register", "address": 10, "type": "float32", "count": len(values)}]})
    (read,) = plan_reads(regmap.points)
    decoded = decode(read, words, regmap.word_order)
    assert [decoded[f"v.{i}"] if len(values) > 1 else decoded["v"] for i in range(len(values))] == values


def test_register_maps_load_only_valid_points() -> None:
    with pytest.raises(ValueError, match="type float32 does not fit table coil"):
        RegisterMap.model_validate({"model": "x", "points": [{"name": "a", "table": "coil", "address": 0,
                                                               "type": "float32"}]})


# ---------------------------------------------------------------------------------------- the link


def test_the_full_sdm630_map_reads_what_the_meter_measures(server: CabinetServer) -> None:
    server.model.coils[:3] = [True, True, False]
    link = ModbusLink("127.0.0.1", server.port, timeout_s=1)
    values = link.read_map(load_map("sdm630"), METER_UNIT)
    assert set(values) == {p.name for p in load_map("sdm630").points}
    assert values["power_l1"] == 400.0 and values["power_l2"] == 300.0 and values["power_l3"] == 0.0
    assert values["power_total"] == 700.0 and values["voltage_l2"] == 230.0 and values["frequency"] == 50.0
    assert values["import_energy"] == pytest.approx(1234.5, abs=0.01)
    assert link.requests == 5 and not link.errors


def test_a_wrong_unit_an_exception_and_a_timeout_are_named_and_counted(server: CabinetServer) -> None:
    link = ModbusLink("127.0.0.1", server.port, timeout_s=0.3, attempts=2)
    sdm = load_map("sdm630")
    with pytest.raises(ModbusCommError, match=r"/7: wrong_unit: .*0x0b") as wrong:
        link.read_map(sdm, 7)
    assert wrong.value.failure is Failure.WRONG_UNIT
    server.model.fail[METER_UNIT] = ExcCodes.DEVICE_FAILURE
    with pytest.raises(ModbusCommError, match=r"exception 0x04 \(device failure\)"):
        link.read_map(sdm, METER_UNIT)
    server.model.fail.clear()
    server.model.delay_s = 0.6
    with pytest.raises(ModbusCommError, match=r"timeout: no answer to input_register within 0.3 s") as late:
        link.read_map(sdm, METER_UNIT)
    assert late.value.failure is Failure.TIMEOUT
    assert link.errors == {"wrong_unit": 1, "exception": 1, "timeout": 2}  # a timeout is retried once
    server.model.delay_s = 0.0
    assert link.read_map(sdm, METER_UNIT)["voltage_l1"] == 230.0  # the late answers were not taken for this one


def test_a_server_restart_is_one_counted_failure_then_the_link_reconnects(server: CabinetServer) -> None:
    link = ModbusLink("127.0.0.1", server.port, timeout_s=0.5)
    sdm = load_map("sdm630")
    link.read_map(sdm, METER_UNIT)
    server.stop()
    with pytest.raises(ModbusCommError) as down:
        link.read_map(sdm, METER_UNIT)
    assert down.value.failure is Failure.REFUSED
    server.start()
    assert link.read_map(sdm, METER_UNIT)["voltage_l3"] == 230.0
    assert link.errors["refused"] >= 1


# ---------------------------------------------------------------------------------------- the cabinet


def test_coil_writes_change_the_measured_power_and_a_tripped_breaker_zeroes_its_circuit(
    server: CabinetServer,
) -> None:
    cab = Cabinet(CabinetConfig.model_validate(cabinet_section(server.port)))
    north, south = cab.config.circuits
    cab.poll(NIGHT)
    assert cab.circuit_on(north) is False and cab.phase_power_w(1) == 0.0
    cab.switch(north, True)
    cab.switch(south, True)
    assert server.model.coils[:2] == [True, True]
    cab.poll(NIGHT, force=True)
    assert (cab.phase_power_w(1), cab.phase_power_w(2)) == (400.0, 300.0)
    server.model.tripped[0] = True
    server.model.door_open = True
    cab.poll(NIGHT, force=True)
    assert cab.phase_power_w(1) == 0.0 and cab.breaker_tripped(north) and not cab.breaker_tripped(south)
    assert cab.drain_faults() == [(CABINET, DOOR_OPEN, True), ("north", BREAKER_TRIP, True)]
    server.model.door_open = False
    cab.poll(NIGHT, force=True)
    assert cab.drain_faults() == [(CABINET, DOOR_OPEN, False)]
    t = cab.telemetry()
    assert t["cabinet.circuits"] == {"ids": ["north", "south"], "on": [True, True], "tripped": [True, False]}
    assert t["cabinet.meter.power_l2"] == 300.0 and t["cabinet.door_open"] is False


def test_a_silent_cabinet_is_a_fault_and_is_retried_at_growing_intervals(server: CabinetServer) -> None:
    cab = Cabinet(CabinetConfig.model_validate(cabinet_section(server.port, poll_interval_s=10, backoff_max_s=60)))
    cab.poll(NIGHT)
    server.stop()
    attempts, t = [], NIGHT
    for _ in range(60):
        t += dt.timedelta(seconds=5)
        before = cab.controller.polls if cab.controller else 0
        cab.poll(t)
        if cab.controller and cab.controller.polls > before:
            attempts.append((t - NIGHT).total_seconds())
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[:4] == [10, 20, 40, 60] and set(gaps[4:]) == {60}
    assert cab.drain_faults() == [(CABINET, CONTROLLER_COMM_FAILURE, True), (CABINET, METER_COMM_FAILURE, True)]
    server.start()
    cab.poll(t + dt.timedelta(seconds=60))
    assert cab.drain_faults() == [(CABINET, CONTROLLER_COMM_FAILURE, False), (CABINET, METER_COMM_FAILURE, False)]
    assert cab.telemetry()["cabinet.controller.failures"]["refused"] >= 6


@given(st.integers(0, 100), st.floats(1, 3600), st.floats(1, 3600))
@example(1, 10.0, 5.0)
def test_retry_delays_grow_from_the_poll_interval_to_the_cap(failures: int, interval: float, cap: float) -> None:
    d = retry_delay(failures, interval, cap)
    assert interval <= d <= max(interval, cap)
    assert retry_delay(failures + 1, interval, cap) >= d


# ---------------------------------------------------------------------------------------- the contactor driver


def test_the_calendar_switches_the_circuits_and_luminaires_read_their_share_of_the_meter(
    tmp_path: Path, server: CabinetServer
) -> None:
    light, sink, clock = role(tmp_path, server)
    tick(light)
    assert server.model.coils[:2] == [True, True]  # 70 % at 23:30 on a contactor: on
    clock.advance(1)
    tick(light)
    n1, n2, s1 = (light.driver.read(lum) for lum in ("n1", "n2", "s1"))
    assert (n1.level_pct, n1.power_w, n2.power_w, s1.power_w) == (100.0, 250.0, 150.0, 300.0)
    clock.advance(3600)
    tick(light)
    assert light.driver.read("n1").energy_wh == pytest.approx(250.0, rel=0.01)
    metrics = light.health()
    assert metrics["light.power_w"] == 700 and metrics["cabinet.meter.power_total"] == 700.0
    assert sink.lamps() == [] and sink.cabinet() == []


def test_by_day_the_circuits_open_and_a_tripped_breaker_is_a_supply_loss(tmp_path: Path, server: CabinetServer) -> None:
    server.model.coils[:2] = [True, True]
    light, sink, clock = role(tmp_path, server, start=DAY)
    tick(light)
    assert server.model.coils[:2] == [False, False]
    clock.now = NIGHT
    tick(light)
    server.model.tripped[1] = True
    clock.advance(2)
    tick(light)
    assert light.driver.read("s1").level_pct == 0.0
    assert sink.cabinet() == [("south", BREAKER_TRIP, True)]
    assert ("s1", LampFault.SUPPLY_LOSS, True) in sink.lamps()


def test_a_dead_controller_never_crashes_the_node_and_its_decision_is_applied_when_it_returns(
    tmp_path: Path, server: CabinetServer
) -> None:
    light, sink, clock = role(tmp_path, server)
    tick(light)
    server.stop()
    server.model.coils[:2] = [False, False]  # the controller reboots with its contactors open
    for _ in range(5):
        clock.advance(1)
        tick(light)
    assert light.node.stats.comm_errors > 0
    assert (CABINET, CONTROLLER_COMM_FAILURE, True) in sink.cabinet()
    assert ("n1", LampFault.CONTROL_GEAR_COMM_FAILURE, True) in sink.lamps()
    server.start()
    for _ in range(8):  # back-off: 1, 2, 4 s
        clock.advance(1)
        tick(light)
    assert server.model.coils[:2] == [True, True]  # lit again at night
    assert ("n1", LampFault.CONTROL_GEAR_COMM_FAILURE, False) in sink.lamps()
    assert (CABINET, CONTROLLER_COMM_FAILURE, False) in sink.cabinet()


def test_a_cabinet_beside_another_driver_is_polled_and_reports_its_door(tmp_path: Path, server: CabinetServer) -> None:
    light, sink, clock = role(tmp_path, server, driver="simulated")
    server.model.door_open = True
    clock.advance(1)  # the next poll
    tick(light)
    assert sink.cabinet() == [(CABINET, DOOR_OPEN, True)]
    assert light.health()["cabinet.door_open"] is True
    assert server.model.coils[:2] == [False, False]  # circuits are only switched by the contactor driver


# ---------------------------------------------------------------------------------------- config


def _write(tmp: Path, lighting: dict[str, Any]) -> Path:
    path = tmp / "box.yaml"
    path.write_text(yaml.safe_dump({"device_id": "light-cab-01", "site": "dijon", "lighting": lighting}))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"meter": {"unit": 2, "map": "sdm360"}}, r"lighting\.cabinet\.meter\.map: .*unknown register map 'sdm360'"),
        ({"circuits": [{"id": "north", "output": 9, "luminaires": ["n1", "n2", "s1"]}]},
         r"lighting\.cabinet: .*circuits\.0\.output: 9 is past the 8 circuits of map 'cabinet-generic'"),
        ({"controller": {"unit": 300, "map": "cabinet-generic"}}, r"lighting\.cabinet\.controller\.unit: .*255"),
        ({"circuits": [{"id": "north", "output": 0, "luminaires": ["n1", "n9"]}]},
         r"lighting: .*cabinet\.circuits\.0\.luminaires: unknown luminaire\(s\) n9"),
    ],
)
def test_validate_names_the_file_the_field_and_the_reason(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    lighting = lighting_section(502, tmp_path)
    lighting["cabinet"] = {**lighting["cabinet"], **change}
    path = _write(tmp_path, lighting)
    with pytest.raises(ConfigError, match=f"{path}: {message}"):
        load_config(path)


def test_the_contactor_driver_needs_every_luminaire_on_a_circuit(tmp_path: Path) -> None:
    lighting = lighting_section(502, tmp_path)
    lighting["cabinet"]["circuits"] = lighting["cabinet"]["circuits"][:1]
    with pytest.raises(ConfigError, match="the contactor driver switches circuits; on no circuit: s1"):
        load_config(_write(tmp_path, lighting))
    del lighting["cabinet"]
    with pytest.raises(ConfigError, match=r"the contactor driver needs lighting.cabinet with a controller"):
        load_config(_write(tmp_path, lighting))


def test_contactor_luminaires_feed_the_coordinators_energy_analytics_with_metered_energy(
    tmp_path: Path, server: CabinetServer
) -> None:
    light, _, clock = role(tmp_path, server)
    tick(light)
    first = {r.lum_id: r for r in energy_readings("light-cab-01", 0, light.health())}
    server.model.load_w[0] = 200.0  # the north circuit draws half what its nameplates say
    clock.advance(2)
    tick(light)
    clock.advance(3600)
    tick(light)
    later = {r.lum_id: r for r in energy_readings("light-cab-01", 3_600_000, light.health())}
    used = {lum: energy_delta(first[lum], later[lum]) for lum in later}
    assert used["n1"] is not None and used["n1"].energy_wh == pytest.approx(125.0, rel=0.01)  # 250/400 of 200 W
    assert used["s1"] is not None and used["s1"].energy_wh == pytest.approx(300.0, rel=0.01)
    assert used["n1"].lit_h == pytest.approx(1.0, rel=0.01)


def test_the_documented_cabinet_telemetry_is_what_the_cabinet_reports(server: CabinetServer) -> None:
    doc = yaml.safe_load((Path(__file__).resolve().parents[1] / "docs" / "asyncapi.yaml").read_text())
    text = doc["components"]["messages"]["Telemetry"]["description"]
    documented = set()
    for line in text.splitlines():
        if line.startswith("| `cabinet."):
            documented |= {name.strip("` ") for name in line.split("|")[1].split(",")}
    cab = Cabinet(CabinetConfig.model_validate(cabinet_section(server.port)))
    cab.poll(NIGHT)
    reported = set(cab.telemetry())
    meter = {n for n in reported if n.startswith("cabinet.meter.") and n.split(".")[2] in {
        p.name for p in load_map("sdm630").points}}
    assert reported - meter == documented - {"cabinet.meter.<point>"}
    assert len(meter) == 15


def test_the_documented_cabinet_example_is_a_valid_lighting_section(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "firmware-configs.md").read_text()
    part = doc.split("## A street-lighting cabinet on Modbus", 1)[1]
    example = yaml.safe_load(part.split("```yaml\n", 1)[1].split("```", 1)[0])
    lighting = {**example["lighting"], "state_file": str(tmp_path / "state.json")}
    box = load_config(_write(tmp_path, lighting))
    assert box.lighting is not None and box.lighting.cabinet is not None
    assert [c.luminaires for c in box.lighting.cabinet.circuits] == [("rue-a-01", "rue-a-02"), ("rue-b-01",)]


def test_a_meter_answering_nan_leaves_energy_on_the_nameplate_not_poisoned(tmp_path: Path,
                                                                            server: CabinetServer) -> None:
    server.model.lies = {"power_l1": float("nan"), "power_l2": float("inf")}
    light, _, clock = role(tmp_path, server)
    tick(light)
    clock.advance(3600)
    tick(light)
    readings = {lum: light.driver.read(lum) for lum in ("n1", "n2", "s1")}
    assert [r.power_w for r in readings.values()] == [250.0, 150.0, 300.0]  # nameplates at 100 %
    assert readings["n1"].energy_wh == pytest.approx(250.0, rel=0.01)
    metrics = light.health()
    assert metrics["light.energy_wh"] == 700
    assert (metrics["cabinet.meter.power_l1"], metrics["cabinet.meter.power_l2"]) == (None, None)


def test_a_hung_cabinet_does_not_hold_the_luminaires_decisions(tmp_path: Path, server: CabinetServer) -> None:
    clock = running_clock(NIGHT)
    lighting = {**lighting_section(server.port, tmp_path), "driver": "simulated", "decision_interval_s": 0.1}
    lighting["cabinet"] = {**lighting["cabinet"], "timeout_s": 2.0}
    box, _ = write_box(tmp_path, 1883, "light-cab-01", lighting=lighting)
    light = LightRole(box, Events(), clock)
    server.model.delay_s = 5.0  # every answer comes after the timeout: each poll waits 2 x 2 s per device
    light.start()
    try:
        steps = light.node.stats.steps
        time.sleep(3.0)
        assert light.node.stats.steps - steps >= 15  # ~30 steps of 0.1 s while the cabinet thread waits
        assert light.health()["light.step_age_s"] < 0.5
    finally:
        light.stop()
    assert light.cabinet is not None and light.cabinet.controller is not None
    assert light.cabinet.controller.link.errors["timeout"] >= 1


def test_a_dead_controller_costs_no_bus_traffic_per_step_until_a_poll_finds_it_again(
    tmp_path: Path, server: CabinetServer
) -> None:
    many = {"luminaires": [{"id": f"n{i}", "rated_w": 100} for i in range(40)] + [{"id": "s1", "rated_w": 300}]}
    cabinet = cabinet_section(server.port) | {"circuits": [
        {"id": "north", "output": 0, "phase": 1, "luminaires": [f"n{i}" for i in range(40)]},
        {"id": "south", "output": 1, "phase": 2, "luminaires": ["s1"]}]}
    light, _, clock = role(tmp_path, server, **many, cabinet=cabinet)
    tick(light)
    assert server.model.coils[:2] == [True, True]
    server.model.delay_s = 1.0  # the controller hangs: every answer after the 0.3 s timeout
    clock.advance(1)
    light.poll_cabinet()
    assert light.cabinet is not None and light.cabinet.controller is not None
    link = light.cabinet.controller.link
    clock.now = DAY + dt.timedelta(days=1)  # by day: 41 luminaires to switch off
    before = link.requests
    light.step()
    assert link.requests == before  # 41 commands, no request: the poll's back-off paces the attempts
    assert light.node.stats.comm_errors >= 41
    server.model.delay_s = 0.0
    for _ in range(10):
        clock.advance(1)
        tick(light)
    assert server.model.coils[:2] == [False, False]
