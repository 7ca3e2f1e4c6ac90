"""The light node on an injected clock: a Dijon night, operator overrides, persistence, presence, faults, telemetry.

The gear is the :class:`SimulatedDriver` (what a DALI bus would show: ramps, meters, faults), the sky is the real
astro clock at Dijon. Expected levels are written out from the programs in :data:`DIJON_YAML`, never computed by
the engine under test; the switch-on and switch-off times are checked against the almanac (sunset 17:15 on 14
January 2025, sunrise 08:22 on the 15th, Dijon).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

import vigie_wire as wire
from edge_agent.lighting.build import astro_sun, build_engine
from edge_agent.lighting.control import Decision, EngineState, LightingEngine
from edge_agent.lighting.drivers import LampFault, SimulatedDriver, build_driver
from edge_agent.lighting.node import LightNode, handle_command
from edge_agent.lighting.telemetry import FaultTracker
from vigie_config.calendar import Calendar
from vigie_config.errors import ConfigError
from vigie_config.lighting import LightingConfig

PARIS = ZoneInfo("Europe/Paris")

#: A cabinet on rue A: two plain Dijon luminaires, one in a commune sector that switches off from midnight to
#: 05:00, three in presence-sensor sectors fed by two neighbour camera boxes.
DIJON_YAML = """
lighting:
  driver: simulated
  lat: 47.322
  lon: 5.041
  tz: Europe/Paris
  decision_interval_s: 1
  telemetry_interval_s: 60
  night_floor_pct: 10
  failsafe_ramp_s: 30
  luminaires:
    - {id: l01, rated_w: 60, groups: [rue-a]}
    - {id: l02, rated_w: 60, groups: [rue-a]}
    - {id: l03, rated_w: 40, groups: [quartier-b]}
    - {id: l04, rated_w: 80, groups: [rue-a, sector-n], lat: 47.3231, lon: 5.0402}
    - {id: l05, rated_w: 80, groups: [rue-a, sector-n]}
    - {id: l06, rated_w: 80, groups: [rue-a, sector-s]}
  calendar:
    - name: fete-nationale
      dates: ["2025-07-14"]
      program: {kind: astro}
    - name: sensor-sectors
      groups: [sector-n, sector-s]
      program:
        kind: sensor
        base: {kind: astro, on_level: 30}
        boost_level: 100
        hold_s: 120
        boost_ramp_s: 2
    - name: extinction-b
      groups: [quartier-b]
      days: [1, 2, 3, 4, 5, 6, 7]
      program:
        kind: astro
        steps: [{at: "22:00", level: 70}, {at: "00:00", level: 0}, {at: "05:00", level: 100}]
    - name: dijon
      program:
        kind: astro
        sunset_offset_min: 0
        sunrise_offset_min: 0
        ramp_s: 60
        steps: [{at: "22:00", level: 70}, {at: "05:00", level: 100}]
  presence:
    - {device: cam-nord-01, zone: trottoir, groups: [sector-n]}
    - {device: cam-sud-02, cam: 0, zone: parvis, groups: [sector-s]}
"""

LUMS = ("l01", "l02", "l03", "l04", "l05", "l06")


def local(day: int, h: int, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(2025, 1, day, h, mi, s, tzinfo=PARIS)


#: 23:00 on Tuesday 14 January 2025: the Dijon rule has lights at 70 %.
LATE = local(14, 23)


def ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


class Clock:
    """The node's clock, moved by the test."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def raw_config(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(DIJON_YAML)["lighting"]
    raw.update(changes)
    return raw


def config(tmp_path: Path, **changes: Any) -> LightingConfig:
    return LightingConfig.model_validate(raw_config(state_file=str(tmp_path / "state.json"), **changes))


def new_node(cfg: LightingConfig, clock: Clock) -> tuple[LightNode, SimulatedDriver]:
    driver = SimulatedDriver(cfg.specs())
    return LightNode.restore(cfg, driver, clock), driver


@pytest.fixture
def clock() -> Clock:
    return Clock(LATE)


@pytest.fixture
def cfg(tmp_path: Path) -> LightingConfig:
    return config(tmp_path)


def advance(node: LightNode, clock: Clock, seconds: float, every: float = 1.0) -> None:
    """Run the node's loop for ``seconds``, a step every ``every`` seconds, as the box's loop would."""
    end = clock.now + dt.timedelta(seconds=seconds)
    while clock.now < end:
        clock.now = min(clock.now + dt.timedelta(seconds=every), end)
        node.step(clock.now)


def settled(cfg: LightingConfig, clock: Clock) -> tuple[LightNode, SimulatedDriver]:
    """A node that has been running at ``clock.now`` long enough for the program's ramps to end."""
    node, driver = new_node(cfg, clock)
    node.step(clock.now)
    advance(node, clock, 65, every=5)
    return node, driver


def levels(driver: SimulatedDriver) -> dict[str, float]:
    return {lum: round(driver.read(lum).level_pct, 1) for lum in LUMS}


def override(cmd_id: str, cseq: int, level: float | None, expires: dt.datetime, **extra: Any) -> dict[str, Any]:
    """An override's fields as the link gives them (wire times in ms)."""
    fields = {"cmd_id": cmd_id, "issuer": "coord-1", "cseq": cseq, "scope": "luminaire", "target": "l01"}
    return {**fields, "level": level, "expires": ms(expires), **extra}


# ------------------------------------------------------------------------------------------------ the night


def test_dijon_night_drives_each_program_at_its_times(cfg: LightingConfig) -> None:
    clock = Clock(local(14, 15, 0))
    node, driver = new_node(cfg, clock)
    node.step(clock.now)
    switched: dict[str, list[dt.datetime]] = {"on": [], "off": []}
    checks = {
        local(14, 16, 45): {"l01": 0, "l02": 0, "l03": 0, "l04": 0, "l05": 0, "l06": 0},
        local(14, 17, 45): {"l01": 100, "l02": 100, "l03": 100, "l04": 30, "l05": 30, "l06": 30},
        local(14, 23, 0): {"l01": 70, "l02": 70, "l03": 70, "l04": 30, "l05": 30, "l06": 30},
        local(15, 3, 0): {"l01": 70, "l02": 70, "l03": 0, "l04": 30, "l05": 30, "l06": 30},
        local(15, 6, 0): {"l01": 100, "l02": 100, "l03": 100, "l04": 30, "l05": 30, "l06": 30},
        local(15, 8, 45): {"l01": 0, "l02": 0, "l03": 0, "l04": 0, "l05": 0, "l06": 0},
    }
    for instant, expected in checks.items():
        while clock.now < instant:
            clock.now = min(clock.now + dt.timedelta(seconds=30), instant)
            for change in node.step(clock.now):
                if change.lum_id == "l01" and change.level in (0.0, 100.0):
                    switched["on" if change.level else "off"].append(clock.now)
        assert levels(driver) == expected, instant
    # The almanac gives the minute (sunset 17:15, sunrise 08:22), the loop steps every 30 s.
    on, again = switched["on"]
    (off,) = switched["off"]
    assert local(14, 17, 15) <= on <= local(14, 17, 16, 30)
    assert again == local(15, 5, 0)
    assert local(15, 8, 22) <= off <= local(15, 8, 23, 30)
    metrics = node.telemetry(clock.now)
    table = metrics["light.lum"]
    # l01 (60 W, 0.5 W standby): 17:15-22:00 and 05:00-08:22 at 100 % (8.12 h x 60 W), 22:00-05:00 at 70 %
    # (7 h x (0.5 + 59.5 x (0.8 x 0.7 + 0.2 x 0.49)) W) and 2.63 h on standby: 487.2 + 277.6 + 1.3 Wh.
    energy = dict(zip(table["ids"], table["energy_wh"], strict=True))
    assert energy["l01"] == pytest.approx(487.2 + 277.6 + 1.3, abs=3)
    assert table["switch_ons"] == [1, 1, 2, 1, 1, 1]  # l03 is off from midnight to 05:00
    assert metrics["light.on"] == 0
    assert metrics["light.fallbacks"] == 0


# ------------------------------------------------------------------------------------------------ overrides


def test_override_with_ramp_is_applied_then_expires_back_to_the_program(cfg: LightingConfig, clock: Clock) -> None:
    node, driver = settled(cfg, clock)
    expires = clock.now + dt.timedelta(minutes=10)
    result, detail, applied = node.command(override("o1", 10, 20, expires, ramp_down_s=120), clock.now)
    assert (result, detail) == (wire.AckResult.APPLIED, "")
    assert applied == {"scope": "luminaire", "target": "l01", "level": 20.0, "luminaires": 1}
    advance(node, clock, 60)
    assert driver.read("l01").level_pct == pytest.approx(45.0, abs=0.6)  # halfway down 70 -> 20 over 120 s
    assert driver.read("l01").fading
    advance(node, clock, 61)
    assert levels(driver) == {"l01": 20, "l02": 70, "l03": 70, "l04": 30, "l05": 30, "l06": 30}
    assert node.telemetry(clock.now)["light.override"] == 1
    advance(node, clock, (expires - clock.now).total_seconds() + 61, every=10)
    assert levels(driver)["l01"] == 70  # back on the program, with its own ramp
    assert node.telemetry(clock.now)["light.override"] == 0
    assert EngineState.from_json((cfg.state_file).read_text()).overrides == ()  # the expired one is pruned


def test_stale_expired_and_duplicate_commands_are_refused(cfg: LightingConfig, clock: Clock) -> None:
    node, driver = settled(cfg, clock)
    later = clock.now + dt.timedelta(hours=1)
    assert node.command(override("o1", 10, 50, later), clock.now)[0] == wire.AckResult.APPLIED
    result, detail, applied = node.command(override("o0", 9, 90, later), clock.now)
    assert (result, applied) == (wire.AckResult.REJECTED_STALE, {})
    assert "not newer" in detail
    result, _, _ = node.command(override("o2", 11, 90, clock.now - dt.timedelta(seconds=1)), clock.now)
    assert result == wire.AckResult.REJECTED_EXPIRED
    assert node.command(override("o1", 10, 50, later), clock.now)[0] == wire.AckResult.DUPLICATE
    assert node.command(override("o3", 12, 50, later, target="nope"), clock.now)[0] == wire.AckResult.INVALID
    advance(node, clock, 5)
    assert driver.read("l01").target_pct == 50  # none of the refused ones touched the gear


def test_group_override_from_a_wire_command_reaches_every_luminaire_of_the_group(
    cfg: LightingConfig, clock: Clock
) -> None:
    node, driver = settled(cfg, clock)
    header = wire.Header(wire.SCHEMA_VERSION, "coord-1", 0, 3, ms(clock.now))
    expires = ms(clock.now + dt.timedelta(hours=1))
    group_cmd = wire.Command(header, "sector-n", "g1", 20, expires, "light.override", {"level": 90, "ramp_up_s": 4})
    result, _, applied = handle_command(node, group_cmd, device_id="light-rue-a", now=clock.now)
    assert (result, applied["luminaires"]) == (wire.AckResult.APPLIED, 2)
    advance(node, clock, 2)
    assert 30 < driver.read("l04").level_pct < 90  # on its 4 s ramp
    advance(node, clock, 3)
    assert levels(driver) == {"l01": 70, "l02": 70, "l03": 70, "l04": 90, "l05": 90, "l06": 30}
    own = wire.Command(header, "light-rue-a", "d1", 21, expires, "light.override", {"lum": "l06", "level": 5})
    assert handle_command(node, own, device_id="light-rue-a", now=clock.now)[0] == wire.AckResult.APPLIED
    both = wire.Command(header, "light-rue-a", "d2", 22, expires, "light.override", {"lum": "l06", "group": "x"})
    assert handle_command(node, both, device_id="light-rue-a", now=clock.now)[0] == wire.AckResult.INVALID
    other = wire.Command(header, "light-rue-a", "d3", 23, expires, "light.reboot", {})
    assert handle_command(node, other, device_id="light-rue-a", now=clock.now)[0] == wire.AckResult.UNSUPPORTED
    advance(node, clock, 2)
    assert levels(driver)["l06"] == 5  # an operator override may go below the night floor


# ------------------------------------------------------------------------------------------------ persistence


def test_state_survives_a_restart_calendar_and_overrides(cfg: LightingConfig, clock: Clock) -> None:
    node, _ = settled(cfg, clock)
    later = clock.now + dt.timedelta(hours=2)
    assert node.command(override("o1", 10, 20, later), clock.now)[0] == wire.AckResult.APPLIED
    works = {"entries": [{"name": "works", "program": {"kind": "fixed", "steps": [{"at": "12:00", "level": 50}]}}]}
    assert node.set_calendar(works, clock.now)[0] == wire.AckResult.APPLIED

    node2, driver2 = new_node(cfg, clock)  # a power cut: new process, same state file, gear back at 0
    node2.step(clock.now)
    advance(node2, clock, 65, every=5)
    assert levels(driver2) == {"l01": 20, "l02": 50, "l03": 50, "l04": 50, "l05": 50, "l06": 50}
    assert node2.telemetry(clock.now)["light.calendar"] == "command"
    assert node2.command(override("o1", 10, 20, later), clock.now)[0] == wire.AckResult.DUPLICATE
    assert node2.command(override("o0", 9, 20, later), clock.now)[0] == wire.AckResult.REJECTED_STALE

    assert node2.set_calendar(None, clock.now)[0] == wire.AckResult.APPLIED  # back to the config's calendar
    assert json.loads(cfg.state_file.read_text())["calendar"] is None
    node3, driver3 = new_node(cfg, clock)
    node3.step(clock.now)
    advance(node3, clock, 65, every=5)
    assert levels(driver3) == {"l01": 20, "l02": 70, "l03": 70, "l04": 30, "l05": 30, "l06": 30}
    assert node3.telemetry(clock.now)["light.calendar"] == "config"


def test_corrupt_state_file_is_set_aside_and_the_node_runs_on_the_config(cfg: LightingConfig, clock: Clock) -> None:
    cfg.state_file.write_bytes(b'{"version": 1, "overrides": [{"cmd_id": ')
    node, driver = settled(cfg, clock)
    assert levels(driver) == {"l01": 70, "l02": 70, "l03": 70, "l04": 30, "l05": 30, "l06": 30}
    assert node.telemetry(clock.now)["light.state_corrupt"] == 1
    aside = list(cfg.state_file.parent.glob("state.json.corrupt-*"))
    assert [p.read_bytes() for p in aside] == [b'{"version": 1, "overrides": [{"cmd_id": ']
    assert not cfg.state_file.exists()
    assert node.command(override("o1", 1, 40, clock.now + dt.timedelta(hours=1)), clock.now)[0] == "applied"
    assert [o.cmd_id for o in EngineState.from_json(cfg.state_file.read_bytes()).overrides] == ["o1"]


def test_unwritable_state_is_counted_and_the_command_still_applies(tmp_path: Path, clock: Clock) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state directory should be")
    cfg = LightingConfig.model_validate(raw_config(state_file=str(blocker / "state.json")))
    node, driver = settled(cfg, clock)
    result, detail, _ = node.command(override("o1", 1, 40, clock.now + dt.timedelta(hours=1)), clock.now)
    assert result == wire.AckResult.APPLIED
    assert "not persisted" in detail
    advance(node, clock, 2)
    assert levels(driver)["l01"] == 40
    assert node.telemetry(clock.now)["light.persist_errors"] >= 1


# ------------------------------------------------------------------------------------------------ presence


def test_presence_in_a_neighbour_zone_boosts_exactly_its_groups(cfg: LightingConfig, clock: Clock) -> None:
    node, driver = settled(cfg, clock)
    assert node.presence("cam-nord-01", "unknown-zone", clock.now) == frozenset()
    assert node.presence("cam-sud-02", "parvis", clock.now, cam=1) == frozenset()  # another camera of that box
    assert node.presence("cam-nord-01", "trottoir", clock.now + dt.timedelta(seconds=30)) == {"sector-n"}
    node.step(clock.now)
    advance(node, clock, 1)
    assert 30 < driver.read("l04").level_pct < 100  # on its 2 s boost ramp
    advance(node, clock, 1.5)
    assert levels(driver) == {"l01": 70, "l02": 70, "l03": 70, "l04": 100, "l05": 100, "l06": 30}
    assert node.telemetry(clock.now)["light.presence"] == 2
    advance(node, clock, 120 + 61, every=5)  # hold time, then the base program's ramp
    assert levels(driver) == {"l01": 70, "l02": 70, "l03": 70, "l04": 30, "l05": 30, "l06": 30}


def test_occupied_zone_keeps_its_boost_until_it_empties(cfg: LightingConfig, clock: Clock) -> None:
    node, driver = settled(cfg, clock)
    assert node.occupancy("cam-sud-02", "parvis", True, clock.now, cam=0) == {"sector-s"}
    advance(node, clock, 300, every=5)  # longer than the 120 s hold: still occupied
    assert levels(driver)["l06"] == 100
    node.occupancy("cam-sud-02", "parvis", False, clock.now, cam=0)
    advance(node, clock, 100, every=5)
    assert levels(driver)["l06"] == 100
    advance(node, clock, 85, every=5)
    assert levels(driver)["l06"] == 30


def test_a_zone_reported_empty_ends_the_boost_after_release_hold_s_not_hold_s(tmp_path: Path, clock: Clock) -> None:
    raw = raw_config(state_file=str(tmp_path / "state.json"))
    raw["calendar"][1]["program"].update(release_hold_s=3, release_ramp_s=10)
    node, driver = settled(LightingConfig.model_validate(raw), clock)
    node.occupancy("cam-sud-02", "parvis", True, clock.now, cam=0)
    advance(node, clock, 30)
    assert levels(driver)["l06"] == 100
    # Stamped by the camera before the node's last renewal of the zone: it still counts, from that renewal.
    node.occupancy("cam-sud-02", "parvis", False, clock.now - dt.timedelta(seconds=0.5), cam=0)
    advance(node, clock, 2)
    assert levels(driver)["l06"] == 100  # within the 3 s release hold
    advance(node, clock, 6)
    assert 30 < levels(driver)["l06"] < 100  # on the 10 s release ramp
    advance(node, clock, 6)
    assert levels(driver)["l06"] == 30  # 14 s after the report, against 120 s of hold without it


# ------------------------------------------------------------------------------------------------ failures


def test_comm_failure_leaves_the_others_controlled_and_is_reported(cfg: LightingConfig) -> None:
    clock = Clock(local(14, 16, 30))
    node, driver = settled(cfg, clock)
    node.telemetry(clock.now)
    driver.inject("l02", LampFault.CONTROL_GEAR_COMM_FAILURE)
    clock.now = local(14, 17, 30)
    node.step(clock.now)
    advance(node, clock, 65, every=5)
    driver.clear("l02")  # only to look at the gear: the node saw a silent bus
    assert levels(driver) == {"l01": 100, "l02": 0, "l03": 100, "l04": 30, "l05": 30, "l06": 30}
    driver.inject("l02", LampFault.CONTROL_GEAR_COMM_FAILURE)
    metrics = node.telemetry(clock.now)
    assert node.drain_faults() == [["l02", "controlGearCommFailure", True]]
    assert "light.faults" not in metrics, "faults travel as events, not in telemetry"
    assert metrics["light.lum"]["level"][1] is None
    assert metrics["light.comm_errors"] > 0
    assert metrics["light.answering"] == 5
    advance(node, clock, 10)
    assert node.drain_faults() == []
    driver.clear("l02", LampFault.CONTROL_GEAR_COMM_FAILURE)
    advance(node, clock, 61)
    assert levels(driver)["l02"] == 100
    assert node.drain_faults() == [["l02", "controlGearCommFailure", False]]


class BrokenEngine(LightingEngine):
    """An engine that fails at run time (a bug, corrupt memory): the node must not leave the street dark."""

    def level_at(self, now: dt.datetime, current: Any = None) -> dict[str, Decision]:
        raise RuntimeError("corrupt engine")


def broken_node(cfg: LightingConfig, clock: Clock) -> tuple[LightNode, SimulatedDriver]:
    engine = BrokenEngine({lum.id: lum.groups for lum in cfg.luminaires}, astro_sun(cfg), cfg.zone)
    driver = SimulatedDriver(cfg.specs())
    return LightNode(cfg, driver, engine, clock), driver


def test_engine_that_raises_falls_back_to_full_light_at_night(cfg: LightingConfig, clock: Clock) -> None:
    node, driver = broken_node(cfg, clock)
    node.step(clock.now)
    advance(node, clock, 31, every=5)  # failsafe_ramp_s: 30
    assert set(levels(driver).values()) == {100.0}
    metrics = node.telemetry(clock.now)
    assert metrics["light.fallbacks"] == node.stats.steps
    assert "corrupt engine" in metrics["light.last_fallback"]


def test_engine_that_raises_by_day_leaves_the_lights_as_they_are(cfg: LightingConfig) -> None:
    clock = Clock(local(15, 12, 0))
    node, driver = broken_node(cfg, clock)
    assert node.step(clock.now) == []
    advance(node, clock, 60, every=5)
    assert set(levels(driver).values()) == {0.0}
    assert node.stats.fallbacks == node.stats.steps


class CommandBugEngine(LightingEngine):
    """An engine with a bug that every override command triggers: a flood of them must not flood the journal."""

    def command(self, fields: Any, now: dt.datetime) -> Any:
        raise RuntimeError("corrupt override table")


def test_a_flood_of_commands_the_engine_fails_on_is_acked_failed_counted_and_logged_once(
        cfg: LightingConfig, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    engine = CommandBugEngine({lum.id: lum.groups for lum in cfg.luminaires}, astro_sun(cfg), cfg.zone)
    node = LightNode(cfg, SimulatedDriver(cfg.specs()), engine, clock)
    expires = clock.now + dt.timedelta(hours=1)
    results = {node.command(override(f"o{i}", i, 50, expires), clock.now)[0] for i in range(500)}
    assert results == {wire.AckResult.FAILED}
    assert node.telemetry(clock.now)["light.command_errors"] == 500
    logged = [r for r in caplog.records if r.name == "vigie.lighting" and r.levelno >= logging.WARNING]
    assert len(logged) == 1 and "corrupt override table" in logged[0].getMessage()
    assert logged[0].exc_info is not None


def test_faults_are_reported_once_when_they_appear_and_once_when_they_clear(cfg: LightingConfig, clock: Clock) -> None:
    node, driver = settled(cfg, clock)
    assert node.drain_faults() == []
    driver.inject("l03", LampFault.LAMP_FAILURE)
    driver.inject("l05", LampFault.LAMP_POWER_TOO_HIGH)  # inferred from the meter by diagnose()
    driver.inject("l06", LampFault.CONTROL_GEAR_COMM_FAILURE)  # silent while nothing is commanded to it
    advance(node, clock, 5)
    first = {**node.telemetry(clock.now), "light.faults": node.drain_faults()}
    assert first["light.faults"] == [
        ["l03", "lampFailure", True],
        ["l05", "lampPowerTooHigh", True],
        ["l06", "controlGearCommFailure", True],
    ]
    assert first["light.faulty"] == 3
    advance(node, clock, 30, every=5)
    assert node.drain_faults() == []
    for lum in ("l03", "l05", "l06"):
        driver.clear(lum)
    advance(node, clock, 5)
    last = {**node.telemetry(clock.now), "light.faults": node.drain_faults()}
    assert last["light.faults"] == [
        ["l03", "lampFailure", False],
        ["l05", "lampPowerTooHigh", False],
        ["l06", "controlGearCommFailure", False],
    ]
    assert last["light.faulty"] == 0


# ------------------------------------------------------------------------------------------------ telemetry


def test_telemetry_of_200_luminaires_is_compact_and_round_trips(tmp_path: Path, clock: Clock) -> None:
    lums = [{"id": f"lum-{i:03d}", "rated_w": 40 + i % 5 * 20, "groups": ["rue-a"]} for i in range(200)]
    cfg = config(
        tmp_path, luminaires=lums, presence=[], calendar=[yaml.safe_load(DIJON_YAML)["lighting"]["calendar"][-1]]
    )
    driver = build_driver(cfg.driver, cfg.specs())
    assert isinstance(driver, SimulatedDriver)
    node = LightNode.restore(cfg, driver, clock)
    node.step(clock.now)
    advance(node, clock, 30, every=10)  # mid-ramp: fractional levels and power
    for i in range(0, 200, 20):
        driver.inject(f"lum-{i:03d}", LampFault.LAMP_FAILURE)
    advance(node, clock, 40, every=10)
    metrics = node.telemetry(clock.now)
    assert metrics["light.lum"]["ids"][:2] == ["lum-000", "lum-001"]
    assert len(node.drain_faults()) == 10
    assert metrics["light.on"] == 190
    msg = wire.Telemetry(wire.Header(wire.SCHEMA_VERSION, "light-rue-a", 1, 7, ms(clock.now)), metrics)
    payload = wire.encode(msg)
    assert len(payload) < 8_000, len(payload)  # ~6.4 kB: 32 bytes a luminaire (unrounded floats: 11.5 kB)
    decoded = wire.decode(wire.device_topic("dijon", "light-rue-a", wire.Kind.TELEMETRY), payload)
    assert isinstance(decoded, wire.Telemetry)
    assert decoded.metrics == metrics


# ------------------------------------------------------------------------------------------------ config


def test_config_example_builds_an_engine_on_the_config_calendar(cfg: LightingConfig) -> None:
    engine = build_engine(cfg)
    assert engine.state.calendar == Calendar(entries=cfg.calendar)
    assert engine.level_at(LATE)["l01"].level == 70.0
    assert [s.key for s in cfg.presence] == ["cam-nord-01/*/trottoir", "cam-sud-02/0/parvis"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"luminaires": [{"id": "l01", "rated_w": 60}, {"id": "l01", "rated_w": 40}]}, "duplicate luminaire ids: l01"),
        (
            {"calendar": [{"name": "a", "groups": ["sector-z"], "program": {"kind": "astro"}}]},
            "calendar.0.groups: no luminaire is in group(s) sector-z",
        ),
        ({"presence": [{"device": "cam-1", "zone": "z", "groups": ["nowhere"]}]}, "presence.0.groups"),
        (
            {"calendar": [{"name": "a", "program": {"kind": "astro", "steps": [{"at": 1320, "level": 70}]}}]},
            "calendar.0.program.steps.0.at: clock times must be quoted",
        ),
        ({"tz": "Europe/Dijon"}, "unknown IANA time zone"),
        ({"driver": "dali"}, "driver"),
    ],
)
def test_inconsistent_configs_name_the_field(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        config(tmp_path, **changes)
    assert message in str(info.value)


def test_build_engine_rechecks_what_model_copy_skipped(cfg: LightingConfig) -> None:
    bad = cfg.model_copy(update={"presence": (cfg.presence[0].model_copy(update={"groups": ("gone",)}),)})
    with pytest.raises(ConfigError, match=r"lighting\.presence\.0\.groups: no luminaire is in group\(s\) gone"):
        build_engine(bad)


def test_node_refuses_a_driver_with_other_luminaires(cfg: LightingConfig, clock: Clock) -> None:
    driver = SimulatedDriver(cfg.specs()[:-1])
    with pytest.raises(ConfigError, match="config only: \\['l06'\\]"):
        LightNode(cfg, driver, build_engine(cfg), clock)


def test_fault_flood_is_reported_as_net_changes_in_bounded_messages() -> None:
    tracker = FaultTracker(max_pending=8)
    for _ in range(10):  # a flapping supply: 20 edges on l01, more than the queue holds
        tracker.observe("l01", {LampFault.SUPPLY_LOSS})
        tracker.observe("l01", set())
    tracker.observe("l02", {LampFault.LAMP_FAILURE})
    assert tracker.overflows == 1
    assert tracker.drain() == [["l02", "lampFailure", True]]  # l01 ended as the centre last knew it: no edge
    for i in range(5):
        tracker.observe(f"x{i}", {LampFault.LAMP_FAILURE})
    assert tracker.drain(limit=3) == [[f"x{i}", "lampFailure", True] for i in range(3)]
    assert tracker.drain(limit=3) == [[f"x{i}", "lampFailure", True] for i in (3, 4)]
    assert tracker.drain() == []
