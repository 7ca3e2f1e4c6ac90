"""The ``dali`` driver against python-dali's own fake bus and gear (with the D4i banks and QUERY STATUS they lack).

Every test drives the real driver code, frame by frame, through :class:`dali.tests.fakes.Bus`; only the gear
behind it is simulated (:mod:`edge_agent.lighting.drivers.dali_sim`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dali.address import GearShort
from dali.gear import general
from dali.sequences import QueryDeviceTypes
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edge_agent.lighting.drivers import (
    DRIVERS,
    DaliDriver,
    DaliDriverConfig,
    DriverCommError,
    DriverError,
    LampFault,
    LuminaireDriver,
    LuminaireSpec,
    build_driver,
    diagnose,
)
from edge_agent.lighting.drivers.dali_bus import FrameCounter, LoopBus, Transport, counted, parse_transport, single
from edge_agent.lighting.drivers.dali_curve import MAX_FADE_S, arc_level, fade_code, fade_time_s, level_pct
from edge_agent.lighting.drivers.dali_sim import SimBus, SimGear, SimInterface
from edge_agent.lighting.drivers.errors import DriverBusError
from vigie_config.lighting import LightingConfig

T0 = dt.datetime(2026, 11, 25, 21, 0, tzinfo=dt.UTC)
LIGHTING_MIN: dict[str, Any] = {"luminaires": [{"id": "a", "rated_w": 30}],
                                "calendar": [{"name": "night", "program": {"kind": "astro"}}]}


class Line:
    """A DALI line of simulated gear, the driver on it, and one clock for both."""

    def __init__(self, n: int = 4, *, lums: int | None = None, d4i: Any = True,
                 groups: dict[int, set[int]] | None = None, **config: Any) -> None:
        self.t = 0.0
        member = {a: {g for g, addrs in (groups or {}).items() if a in addrs} for a in range(n)}
        self.bus = SimBus([SimGear(a, 60.0, d4i=d4i(a) if callable(d4i) else d4i, groups=member[a],
                                   clock=lambda: self.t) for a in range(n)])
        self.opens = 0
        self.specs = [LuminaireSpec(id=f"l{i}", rated_w=60.0) for i in range(n if lums is None else lums)]
        self.driver = DaliDriver(DaliDriverConfig(transport=f"fake:{n}", **config), self.specs, opener=self._open,
                                 start=T0)
        self.driver.tick(T0)

    def _open(self, transport: Transport, timeout_s: float) -> SimInterface:
        self.opens += 1
        if self.bus.unplugged:
            raise DriverBusError(f"cannot open {transport}: unplugged")
        return SimInterface(self.bus)

    def now(self) -> dt.datetime:
        return T0 + dt.timedelta(seconds=self.t)

    def run(self, seconds: float, step: float = 1.0) -> None:
        end = self.t + seconds
        while self.t < end - 1e-9:
            self.t = min(end, self.t + step)
            self.driver.tick(self.now())

    def gear(self, i: int) -> SimGear:
        return self.bus.by_address(i)


# ------------------------------------------------------------------------------------------------ the curve


@given(st.floats(min_value=0.1, max_value=100.0))
@example(0.1)
@example(100.0)
def test_a_level_survives_the_logarithmic_curve_within_one_arc_step(pct: float) -> None:
    back = level_pct(arc_level(pct))
    step = 10 ** (3 / 253)  # one arc level is a 2.77 % ratio of light
    assert back / pct <= math.sqrt(step) + 1e-9
    assert pct / back <= math.sqrt(step) + 1e-9


def test_curve_end_points_and_off() -> None:
    assert arc_level(0.0) == 0 and level_pct(0) == 0.0
    assert arc_level(100.0) == 254 and level_pct(254) == pytest.approx(100.0)
    assert arc_level(0.01) == 1  # on, however dim, is never rounded to off
    assert level_pct(1) == pytest.approx(0.1)
    assert [arc_level(p) for p in (10.0, 50.0, 70.0)] == [170, 229, 241]
    with pytest.raises(ValueError, match="0-100"):
        arc_level(101.0)
    with pytest.raises(ValueError, match="0-254"):
        level_pct(255)


@given(st.floats(min_value=0.0, max_value=200.0))
def test_the_fade_code_is_the_nearest_standard_fade(ramp_s: float) -> None:
    code = fade_code(ramp_s)
    if ramp_s >= MAX_FADE_S:
        assert code == 15
    elif code > 0:
        others = [abs(math.log(fade_time_s(c) / ramp_s)) for c in range(1, 16)]
        assert abs(math.log(fade_time_s(code) / ramp_s)) <= min(others) + 1e-9
    else:
        assert ramp_s < fade_time_s(1) / 2


# ------------------------------------------------------------------------------------------------ config


def test_the_driver_is_registered_and_fits_the_port() -> None:
    assert DRIVERS["dali"].config is DaliDriverConfig
    line = Line(2)
    assert isinstance(line.driver, LuminaireDriver)
    assert line.driver.luminaires() == ["l0", "l1"]


@pytest.mark.parametrize(("transport", "match"), [
    ("dali:/dev/ttyUSB0", "unknown DALI transport"),
    ("hasseb:", "device path"),
    ("luba232:ttyUSB0", "device path"),
    ("fake:65", "fake:1 to fake:64"),
    ("fake:3?colour=red", "unknown simulator options"),
    ("fake:3?rated_w=40,x", "one per address"),
    ("/dev/hidraw0", "unknown DALI transport"),
])
def test_a_wrong_transport_is_caught_by_the_config(transport: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        LightingConfig.model_validate({**LIGHTING_MIN, "driver": {"kind": "dali", "transport": transport}})


@pytest.mark.parametrize("transport", ["hasseb:/dev/hidraw0", "tridonic:/dev/dali/tridonic-*", "luba232:/dev/ttyUSB0",
                                       "scirs232:/dev/ttyS1", "fake:64?d4i=0&rated_w=45", "fake:3?rated_w=40,40,60"])
def test_every_library_transport_is_accepted(transport: str) -> None:
    cfg = LightingConfig.model_validate({**LIGHTING_MIN, "driver": {"kind": "dali", "transport": transport}})
    assert isinstance(cfg.driver, DaliDriverConfig)
    assert str(parse_transport(transport)) == transport.split("?", maxsplit=1)[0]


@pytest.mark.parametrize(("addresses", "match"), [({"a": 64}, "0-63"), ({"a": 1, "b": 1}, "both")])
def test_bad_short_addresses_are_caught_by_the_config(addresses: dict[str, int], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        DaliDriverConfig(transport="fake:2", addresses=addresses)


def test_a_driver_that_cannot_map_its_luminaires_says_why() -> None:
    specs = [LuminaireSpec(id="a", rated_w=30.0), LuminaireSpec(id="b", rated_w=30.0)]
    with pytest.raises(DriverError, match=r"not in lighting\.luminaires"):
        build_driver(DaliDriverConfig(transport="fake:2", addresses={"zz": 3}), specs)
    with pytest.raises(DriverError, match="both on short address 1"):
        build_driver(DaliDriverConfig(transport="fake:2", addresses={"a": 1}), specs)
    with pytest.raises(DriverError, match="64 short addresses"):
        build_driver(DaliDriverConfig(transport="fake:2"), [LuminaireSpec(id=f"x{i}", rated_w=9) for i in range(65)])


# ------------------------------------------------------------------------------------------------ discovery


def test_discovery_finds_addresses_device_types_and_d4i() -> None:
    line = Line(5, lums=4, d4i=lambda a: a != 2)
    d = line.driver
    assert [d.gear(f"l{i}").d4i for i in range(4)] == [True, True, False, True]
    assert d.gear("l0").device_types == (6, 50, 51, 52) and d.gear("l2").device_types == (6,)
    assert d.unconfigured == [4]  # on the line, in no luminaire of the config
    assert d.telemetry()["dali.unconfigured"] == [4]
    assert [d.metered(f"l{i}") for i in range(4)] == [True, True, False, True]


def test_a_configured_luminaire_missing_on_the_line_is_a_comm_failure_not_a_crash() -> None:
    line = Line(2, lums=3)
    with pytest.raises(DriverCommError, match="missing on the DALI line at short address 2"):
        line.driver.read("l2")
    with pytest.raises(DriverCommError):
        line.driver.set_level("l2", 50.0)
    line.driver.set_level("l0", 50.0)  # the others are driven
    line.run(2)
    assert line.driver.read("l0").level_pct == pytest.approx(50.0, rel=0.03)


def test_a_gear_installed_later_is_found_at_its_turn() -> None:
    line = Line(2, lums=3)
    line.bus.gear.append(SimGear(2, 60.0, clock=lambda: line.t))
    line.run(3)
    reading = line.driver.read("l2")
    assert reading.level_pct == 0.0 and line.driver.gear("l2").d4i


# ------------------------------------------------------------------------------------------------ commands


def test_a_level_is_one_dapc_on_the_log_curve_and_reads_back() -> None:
    line = Line(3)
    before = line.bus.frames.forward
    line.driver.set_level("l1", 70.0)
    assert line.bus.frames.forward - before == 1  # DAPC alone: the gear's fade (none) is already set
    assert line.gear(1).level == arc_level(70.0) == 241
    line.run(1)
    r = line.driver.read("l1")
    assert r.level_pct == pytest.approx(70.0, rel=0.02) and r.target_pct == 70.0
    line.driver.set_level("l1", 0.0)
    assert line.gear(1).level == 0


def test_a_ramp_within_the_gears_fades_sets_its_fade_time_once() -> None:
    line = Line(2)
    line.driver.set_level("l0", 100.0, ramp_s=8.0)
    assert line.gear(0).fade_code == fade_code(8.0) == 8  # 0.5 * sqrt(2 ** 8) = 8 s
    before = line.bus.frames.forward
    line.driver.set_level("l0", 50.0, ramp_s=8.0)
    assert line.bus.frames.forward - before == 1  # same fade: DAPC only


def test_a_ramp_longer_than_any_fade_is_stepped_on_tick() -> None:
    line = Line(1, ramp_step_s=2.0)
    line.driver.set_level("l0", 100.0)
    line.run(1)
    line.driver.set_level("l0", 10.0, ramp_s=600.0)
    levels = []
    for _ in range(30):
        line.run(20)
        levels.append(level_pct(line.gear(0).level))
        assert line.driver.read("l0").fading or line.t >= 601
    assert levels == sorted(levels, reverse=True)  # down all the way, never back up
    assert levels[0] == pytest.approx(100 - 90 * 22 / 600, abs=2.0)
    assert levels[14] == pytest.approx(100 - 90 * 302 / 600, abs=2.0)
    assert levels[-1] == pytest.approx(10.0, rel=0.03)
    assert not line.driver.read("l0").fading
    assert line.gear(0).fade_code == fade_code(2.0)


def test_an_immediate_zero_is_off_and_a_ramp_to_zero_ends_off() -> None:
    line = Line(1)
    line.driver.set_level("l0", 60.0)
    line.driver.set_level("l0", 0.0)
    assert line.gear(0).level == 0
    line.driver.set_level("l0", 60.0)
    line.run(1)
    line.driver.set_level("l0", 0.0, ramp_s=200.0)
    line.run(210)
    assert line.gear(0).level == 0


# ------------------------------------------------------------------------------------------------ faults


def test_a_lamp_failure_on_the_gear_reads_as_lampFailure_and_clears() -> None:  # noqa: N802
    line = Line(2)
    line.driver.set_level("l1", 80.0)
    line.run(2)
    line.gear(1).lamp_failed = True
    line.run(2)
    r = line.driver.read("l1")
    assert r.faults == {LampFault.LAMP_FAILURE} and r.level_pct == 0.0
    assert diagnose(r, line.specs[1]) == {LampFault.LAMP_FAILURE}  # no dimming or power fault on top
    line.gear(1).lamp_failed = False
    line.run(2)
    assert line.driver.read("l1").faults == frozenset()


def test_the_gears_own_failure_and_a_d4i_light_source_failure_are_lamp_failures() -> None:
    line = Line(2, d4i_interval_s=10)
    line.gear(0).gear_failed = True
    line.run(2)
    assert line.driver.read("l0").faults == {LampFault.LAMP_FAILURE}
    line.gear(1).undervoltage = True
    line.run(25)
    assert line.driver.read("l1").faults == {LampFault.SUPPLY_LOSS}


def test_a_gear_that_stops_answering_is_a_comm_failure_until_it_answers_again() -> None:
    line = Line(3)
    line.driver.set_level("l1", 40.0)
    line.run(2)
    line.gear(1).silent = True
    line.run(2)
    with pytest.raises(DriverCommError, match="no answer at short address 1"):
        line.driver.read("l1")
    with pytest.raises(DriverCommError):
        line.driver.set_level("l1", 60.0)
    assert line.driver.read("l0").level_pct == 0.0  # the others are still read
    assert line.driver.stats.silent_polls >= 1
    line.gear(1).silent = False
    line.run(2)
    assert line.driver.read("l1").level_pct == pytest.approx(40.0, rel=0.03)


def test_a_gear_that_forgot_its_level_reads_with_the_level_it_has() -> None:
    line = Line(1)
    line.driver.set_level("l0", 30.0)
    line.run(2)
    line.gear(0).power_cycle()  # back at 100 % after a supply cut
    line.run(2)
    r = line.driver.read("l0")
    assert r.level_pct == pytest.approx(100.0) and r.target_pct == pytest.approx(100.0)  # the node re-commands


def test_an_unplugged_interface_is_retried_with_back_off_and_the_line_comes_back() -> None:
    line = Line(2)
    line.driver.set_level("l0", 50.0)
    line.run(2)
    line.bus.unplugged = True
    line.run(1)
    assert not line.driver.bus_up and line.driver.stats.bus_errors == 1
    for lum in ("l0", "l1"):
        with pytest.raises(DriverCommError, match="interface fake:2 down"):
            line.driver.read(lum)
    opens = line.opens
    line.run(60, step=0.5)
    attempts = line.opens - opens
    assert 4 <= attempts <= 7  # after 1, 2, 4, 8, 16, 32 s: back-off, not 120 attempts
    assert line.driver.telemetry()["dali.bus"] == "down"
    line.bus.unplugged = False
    line.run(65)
    assert line.driver.bus_up and line.driver.stats.reconnects == 1
    assert line.driver.read("l0").level_pct == pytest.approx(50.0, rel=0.03)  # the gear kept its level


# ------------------------------------------------------------------------------------------------ D4i


def test_d4i_energy_is_what_the_gear_meters_and_plain_gear_is_modelled() -> None:
    line = Line(2, d4i=lambda a: a == 0, d4i_interval_s=60)
    for lum in ("l0", "l1"):
        line.driver.set_level(lum, 70.0)
    line.run(3600, step=5)
    d4i, plain = line.driver.read("l0"), line.driver.read("l1")
    metered = line.gear(0).energy_wh
    assert d4i.energy_wh == pytest.approx(metered, abs=0.05 + 60 * 40 / 3600)  # at most one interval old
    assert plain.energy_wh == pytest.approx(line.gear(1).energy_wh, rel=0.02)
    assert d4i.power_w == pytest.approx(line.gear(0).power_w(), abs=0.1)
    assert d4i.operating_hours == pytest.approx(1.0, abs=0.02) and d4i.switch_ons == 1
    tel = line.driver.telemetry()["dali.d4i"]
    assert tel["ids"] == ["l0"] and tel["supply_v"] == [230.0] and tel["gear_c"] == [45]
    assert line.driver.metered("l0") and not line.driver.metered("l1")


def test_a_stale_metered_power_is_not_compared_with_a_new_level() -> None:
    line = Line(1, d4i_interval_s=3600)
    line.driver.set_level("l0", 100.0)
    line.run(20)
    line.driver.set_level("l0", 20.0)
    line.run(1)
    assert diagnose(line.driver.read("l0"), line.specs[0]) == frozenset()
    line.run(10)
    assert line.driver.read("l0").power_w == pytest.approx(line.gear(0).power_w(), abs=0.1)


def test_polling_stays_within_its_frame_budget_per_tick() -> None:
    line = Line(32, frames_per_tick=40, d4i_interval_s=300)
    per_tick = []
    for _ in range(360):
        before = line.driver.frames.forward
        line.run(1)
        per_tick.append(line.driver.frames.forward - before)
    assert max(per_tick) <= 40
    assert line.driver.stats.d4i_errors == 0
    assert all(line.driver.gear(f"l{i}").values.get("supply_v") is not None for i in range(32))  # all read


def test_an_interface_lost_under_a_command_is_a_comm_failure_and_the_line_goes_down() -> None:
    line = Line(2)
    line.bus.unplugged = True
    with pytest.raises(DriverCommError, match="interface fake:2 lost"):
        line.driver.set_level("l0", 80.0)
    assert not line.driver.bus_up and line.driver.stats.bus_errors == 1
    with pytest.raises(DriverCommError, match="down"):
        line.driver.set_level("l1", 80.0)


def test_two_gear_on_one_address_answer_garbage_counted_not_believed() -> None:
    line = Line(2)
    line.driver.set_level("l1", 50.0)
    line.run(2)
    line.bus.gear.append(SimGear(1, 60.0, clock=lambda: line.t))  # a second gear commissioned at address 1
    line.bus.gear[-1].level = 254
    line.run(2)
    assert line.driver.stats.bad_answers >= 1
    with pytest.raises(DriverCommError, match=r"garbled answers \(two gear on one address\?\) at short address 1"):
        line.driver.read("l1")
    assert line.driver.read("l0").faults == frozenset()


# ------------------------------------------------------------------------------------------------ hardware drivers


@pytest.fixture
def dummy_serial() -> Iterator[None]:
    """python-dali's own fake serial driver (``dummy:`` URIs), registered among its serial drivers."""
    import dali.tests.fakes_serial  # noqa: F401, PLC0415 -- importing it registers the scheme

    yield


def test_a_python_dali_asyncio_driver_is_driven_synchronously(tmp_path: Path, dummy_serial: None) -> None:
    bus = LoopBus(Transport("dummy", str(tmp_path / "frames.log"), {"led": "2"}), timeout_s=5.0)
    try:
        frames = FrameCounter()
        assert bus.send(counted(QueryDeviceTypes(GearShort(1)), frames)) == [8]
        bus.send(counted(single(general.DAPC(GearShort(1), 200)), frames))
        level = bus.send(counted(single(general.QueryActualLevel(GearShort(1))), frames))
        assert level.raw_value.as_integer == 200
        absent = bus.send(counted(single(general.QueryActualLevel(GearShort(5))), frames))
        assert absent.raw_value is None
        assert (frames.forward, frames.answered, frames.unanswered) == (4, 2, 1)
        assert "QueryActualLevel(<address (control gear) 5>)" in (tmp_path / "frames.log").read_text()  # its log
    finally:
        bus.close()
    with pytest.raises(DriverBusError, match="closed"):
        bus.send(single(general.QueryActualLevel(GearShort(1))))


def test_an_interface_slower_than_the_timeout_is_a_bus_error(tmp_path: Path, dummy_serial: None,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from dali.tests.fakes_serial import DriverSerialDummy  # noqa: PLC0415

    bus = LoopBus(Transport("dummy", str(tmp_path / "frames.log"), {"led": "1"}), timeout_s=0.2)
    try:
        monkeypatch.setattr(DriverSerialDummy, "hardware_delay", 1.0)
        with pytest.raises(DriverBusError, match=r"within 0\.2 s"):
            bus.send(single(general.QueryActualLevel(GearShort(0))))
    finally:
        bus.close()


def test_an_absent_interface_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(DriverBusError, match="no such device"):
        LoopBus(parse_transport(f"hasseb:{tmp_path}/hidraw-absent"), timeout_s=1.0)
    with pytest.raises(DriverBusError, match="No such file"):
        LoopBus(parse_transport(f"luba232:{tmp_path}/ttyUSB-absent"), timeout_s=2.0)


# ------------------------------------------------------------------------------------------------ any sequence

OPS = st.lists(st.one_of(
    st.tuples(st.just("set"), st.integers(0, 3), st.floats(0.0, 100.0), st.sampled_from([0.0, 0.5, 8.0, 90.0, 300.0])),
    st.tuples(st.just("tick"), st.floats(0.1, 120.0)),
    st.tuples(st.just("lamp"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("silent"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("unplug"), st.booleans()),
    st.tuples(st.just("cycle"), st.integers(0, 3)),
), max_size=40)


@settings(deadline=None)  # a loaded machine; the test states behaviour, not speed
@given(OPS)
@example([("unplug", True), ("tick", 0.5), ("set", 0, 50.0, 0.0), ("unplug", False), ("tick", 2.0)])
@example([("set", 1, 0.0, 300.0), ("silent", 1, True), ("tick", 100.0), ("silent", 1, False), ("tick", 300.0)])
def test_whatever_the_street_does_the_driver_only_reports_it(ops: list[tuple[Any, ...]]) -> None:
    """Commands, ticks, failures, silences and unplugs in any order: readings stay in range, meters only grow,
    polling stays within its budget, and nothing but a comm failure is ever raised to the node."""
    line = Line(4, frames_per_tick=24, d4i_interval_s=30)
    energy = {lum: 0.0 for lum in line.driver.luminaires()}
    for op in ops:
        if op[0] == "set":
            with contextlib.suppress(DriverCommError):  # a silent gear or a line down: what the node handles
                line.driver.set_level(f"l{op[1]}", op[2], op[3])
        elif op[0] == "tick":
            before, reopened = line.driver.frames.forward, line.driver.stats.reconnects
            line.run(op[1], step=op[1])
            if line.driver.stats.reconnects == reopened:  # rediscovery after a reopen is outside the budget
                assert line.driver.frames.forward - before <= 24 + 4 * 4  # the budget, plus stepped ramps
        elif op[0] == "lamp":
            line.gear(op[1]).lamp_failed = op[2]
        elif op[0] == "silent":
            line.gear(op[1]).silent = op[2]
        elif op[0] == "unplug":
            line.bus.unplugged = op[1]
        else:
            line.gear(op[1]).power_cycle()
        for lum in line.driver.luminaires():
            try:
                r = line.driver.read(lum)
            except DriverCommError:
                continue
            assert 0.0 <= r.level_pct <= 100.0 and 0.0 <= r.target_pct <= 100.0
            assert r.energy_wh >= energy[lum] - 0.05  # a meter only grows (0.1 Wh resolution of the bank)
            energy[lum] = max(energy[lum], r.energy_wh)
            assert r.power_w >= 0.0 and r.switch_ons >= 0


def test_gear_claiming_d4i_without_its_banks_is_counted_and_modelled() -> None:
    line = Line(2, d4i=False)
    line.gear(1).devicetypes = [6, 51, 52]  # says D4i, has no bank 202
    line.driver = DaliDriver(line.driver.config, line.specs, opener=lambda _t, _s: SimInterface(line.bus), start=T0)
    line.driver.tick(T0)
    line.driver.set_level("l1", 100.0)
    line.run(120, step=2)
    assert line.driver.gear("l1").d4i and not line.driver.metered("l1")
    assert line.driver.stats.d4i_errors >= 1
    reading = line.driver.read("l1")  # modelled from the nameplate: a reading, not a failure
    assert reading.energy_wh == pytest.approx(60.0 * 118 / 3600, rel=0.05) and reading.faults == frozenset()
