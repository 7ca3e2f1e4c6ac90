"""The simulated luminaire driver behaves like hardware: ramps, metered energy, counters and faults.

Expected values are computed here from the nameplate formula, ``P = Ps + (Pr - Ps) * ((1 - k) x + k x^2)``,
not by calling the driver's own curve, so a wrong curve in the driver fails these tests.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edge_agent.lighting.astro import night_window
from edge_agent.lighting.drivers import (
    DRIVERS,
    MAX_LUMINAIRES,
    DriverCommError,
    DriverError,
    LampFault,
    LuminaireDriver,
    LuminaireSpec,
    SimulatedDriver,
    SimulatedDriverConfig,
    build_driver,
    diagnose,
)
from vigie_config.lighting import LightingConfig

T0 = dt.datetime(2026, 1, 15, 17, 0, tzinfo=ZoneInfo("Europe/Paris"))
HOUR = 3600.0


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def expected_power(level_pct: float, rated_w: float, standby_w: float = 0.5, k: float = 0.2) -> float:
    x = level_pct / 100.0
    return standby_w + (rated_w - standby_w) * ((1 - k) * x + k * x * x)


def one_lamp(rated_w: float = 100.0, **spec: float) -> tuple[SimulatedDriver, LuminaireSpec]:
    nameplate = LuminaireSpec(id="l1", rated_w=rated_w, **spec)
    return SimulatedDriver([nameplate], start=T0), nameplate


def run(driver: SimulatedDriver, until_s: float, step_s: float = 60.0, since_s: float = 0.0) -> None:
    t = since_s
    while t < until_s:
        t = min(t + step_s, until_s)
        driver.tick(at(t))


# -- ramps --


def test_ramp_is_linear_and_reaches_target_at_ramp_end() -> None:
    driver, _ = one_lamp()
    driver.set_level("l1", 80.0, ramp_s=60.0)
    for t in range(0, 61, 5):
        driver.tick(at(t))
        reading = driver.read("l1")
        assert reading.level_pct == pytest.approx(80.0 * t / 60.0)
        assert reading.fading == (t < 60)
    driver.tick(at(600))
    assert driver.read("l1").level_pct == 80.0
    assert driver.read("l1").target_pct == 80.0


def test_ramp_down_and_a_new_command_mid_ramp_starts_from_where_the_lamp_is() -> None:
    driver, _ = one_lamp()
    driver.set_level("l1", 100.0)
    driver.set_level("l1", 20.0, ramp_s=100.0)
    driver.tick(at(50))
    assert driver.read("l1").level_pct == pytest.approx(60.0)
    driver.set_level("l1", 100.0, ramp_s=20.0)  # last command wins, from 60 %
    driver.tick(at(60))
    assert driver.read("l1").level_pct == pytest.approx(80.0)
    driver.tick(at(70))
    assert driver.read("l1").level_pct == pytest.approx(100.0)
    assert not driver.read("l1").fading


def test_without_start_the_clock_and_ramps_begin_at_the_first_tick() -> None:
    driver = SimulatedDriver([LuminaireSpec(id="l1", rated_w=60.0)])
    driver.set_level("l1", 50.0, ramp_s=10.0)
    driver.tick(at(1000))
    assert driver.read("l1").level_pct == 0.0
    assert driver.read("l1").energy_wh == 0.0
    driver.tick(at(1005))
    assert driver.read("l1").level_pct == pytest.approx(25.0)


# -- power and energy --


@pytest.mark.parametrize("rated_w", [30.0, 75.0, 120.0])
def test_one_hour_at_full_power_meters_rated_power_times_one_hour(rated_w: float) -> None:
    driver, _ = one_lamp(rated_w)
    driver.set_level("l1", 100.0)
    run(driver, HOUR, step_s=7.0)
    reading = driver.read("l1")
    assert reading.power_w == pytest.approx(rated_w)
    assert reading.energy_wh == pytest.approx(rated_w, rel=0.01)


def test_one_hour_at_half_level_meters_the_convex_curve() -> None:
    driver, _ = one_lamp(120.0)
    driver.set_level("l1", 50.0)
    run(driver, HOUR)
    # 0.5 + 119.5 * (0.8 * 0.5 + 0.2 * 0.25) = 54.275 W: less than half of 120 W, the LED curve is convex
    assert driver.read("l1").power_w == pytest.approx(54.275)
    assert driver.read("l1").energy_wh == pytest.approx(54.275, rel=0.01)
    assert driver.read("l1").power_w < (0.5 + 120.0) / 2


def test_off_draws_standby_power_only() -> None:
    driver, _ = one_lamp(90.0, standby_w=0.4)
    run(driver, 2 * HOUR)
    reading = driver.read("l1")
    assert (reading.level_pct, reading.power_w) == (0.0, 0.4)
    assert reading.energy_wh == pytest.approx(0.8)
    assert reading.operating_hours == 0.0


def test_energy_over_a_ramp_is_the_integral_of_the_curve_whatever_the_tick_rate() -> None:
    # 0 -> 100 % over one hour: mean of f over [0, 1] is 0.8 / 2 + 0.2 / 3
    expected = 0.5 + 99.5 * (0.4 + 0.2 / 3)
    for step in (HOUR, 600.0, 1.0):
        driver, _ = one_lamp(100.0)
        driver.set_level("l1", 100.0, ramp_s=HOUR)
        run(driver, HOUR, step_s=step)
        assert driver.read("l1").energy_wh == pytest.approx(expected, rel=1e-9), step


@settings(max_examples=40, deadline=None)
@given(
    commands=st.lists(
        st.tuples(
            st.floats(0, 3000),
            st.floats(0, 100),
            st.floats(0, 900),
        ),
        max_size=6,
    ),
    cuts=st.lists(st.floats(0, 4000), max_size=30),
)
# A ramp to a denormal level: its interpolated level underflows to 0 at the cut, which then read as dark.
@example(commands=[(0.0, 5e-324, 2.0)], cuts=[1.0])
# The same on the way down: a denormal level ramping to 0 reads 0 before the ramp ends.
@example(commands=[(0.0, 5e-324, 0.0), (1.0, 0.0, 900.0)], cuts=[500.0])
def test_metered_energy_and_hours_do_not_depend_on_when_the_driver_is_ticked(
    commands: list[tuple[float, float, float]], cuts: list[float]
) -> None:
    """Commands at fixed instants; one driver ticked only at those instants, one also at arbitrary others."""
    schedule = sorted(commands)
    readings = []
    for extra in ([], cuts):
        driver, _ = one_lamp(80.0)
        instants = sorted({c[0] for c in schedule} | set(extra) | {4000.0})
        for t in instants:
            driver.tick(at(t))
            for when, level, ramp in schedule:
                if when == t:
                    driver.set_level("l1", level, ramp)
        readings.append(driver.read("l1"))
    coarse, fine = readings
    assert fine.energy_wh == pytest.approx(coarse.energy_wh, rel=1e-9, abs=1e-9)
    assert fine.operating_hours == pytest.approx(coarse.operating_hours, rel=1e-9, abs=1e-9)
    assert fine.switch_ons == coarse.switch_ons


# -- counters --


def test_operating_hours_count_lit_time_only_and_switch_ons_count_off_to_on() -> None:
    driver, _ = one_lamp()
    driver.set_level("l1", 100.0)  # on (1)
    run(driver, 2 * HOUR)
    driver.set_level("l1", 50.0, ramp_s=60.0)  # dimming is not a switch-on
    run(driver, 3 * HOUR, since_s=2 * HOUR)
    driver.set_level("l1", 0.0)  # off for an hour
    run(driver, 4 * HOUR, since_s=3 * HOUR)
    driver.set_level("l1", 30.0, ramp_s=120.0)  # on (2), lit from the start of its ramp
    run(driver, 4.5 * HOUR, since_s=4 * HOUR)
    driver.set_level("l1", 0.0, ramp_s=HOUR / 2)  # lit until the ramp reaches 0
    run(driver, 6 * HOUR, since_s=4.5 * HOUR)
    reading = driver.read("l1")
    assert reading.operating_hours == pytest.approx(4.0)
    assert reading.switch_ons == 2


def test_a_lamp_ramped_off_then_on_again_counts_a_second_switch_on_but_not_mid_ramp() -> None:
    driver, _ = one_lamp()
    driver.set_level("l1", 100.0, ramp_s=10.0)
    driver.tick(at(5))
    driver.set_level("l1", 0.0, ramp_s=10.0)  # still lit at 50 %
    driver.tick(at(8))
    driver.set_level("l1", 100.0)  # never went dark: same switch-on
    assert driver.read("l1").switch_ons == 1
    driver.set_level("l1", 0.0, ramp_s=10.0)
    driver.tick(at(20))
    driver.set_level("l1", 10.0)
    assert driver.read("l1").switch_ons == 2


# -- faults --


def test_lamp_failure_reads_dark_at_standby_power_while_commanded_on() -> None:
    driver, nameplate = one_lamp(60.0)
    driver.set_level("l1", 100.0)
    run(driver, HOUR)
    driver.inject("l1", LampFault.LAMP_FAILURE)
    run(driver, 2 * HOUR, since_s=HOUR)
    reading = driver.read("l1")
    assert reading.target_pct == 100.0
    assert reading.level_pct == 0.0
    assert reading.power_w == pytest.approx(0.5)
    assert reading.faults == {LampFault.LAMP_FAILURE}
    assert reading.energy_wh == pytest.approx(60.0 + 0.5)
    assert reading.operating_hours == pytest.approx(1.0)
    assert diagnose(reading, nameplate) == {LampFault.LAMP_FAILURE}
    driver.clear("l1", LampFault.LAMP_FAILURE)  # lamp replaced: lights up again
    reading = driver.read("l1")
    assert (reading.level_pct, reading.faults, reading.switch_ons) == (100.0, frozenset(), 2)


def test_dimming_failure_leaves_the_lamp_stuck_and_diagnostics_see_it() -> None:
    driver, nameplate = one_lamp(100.0)
    driver.set_level("l1", 100.0, ramp_s=100.0)
    driver.tick(at(50))
    driver.inject("l1", LampFault.DIMMING_FAILURE)
    driver.tick(at(100))
    assert driver.read("l1").level_pct == pytest.approx(50.0)  # stuck mid-ramp
    driver.set_level("l1", 20.0, ramp_s=10.0)
    driver.tick(at(HOUR))
    reading = driver.read("l1")
    assert reading.level_pct == pytest.approx(50.0)
    assert reading.target_pct == 20.0
    assert not reading.fading
    assert reading.faults == frozenset()  # the gear does not know
    assert reading.power_w == pytest.approx(expected_power(50.0, 100.0))
    assert diagnose(reading, nameplate) == {LampFault.DIMMING_FAILURE}
    driver.clear("l1", LampFault.DIMMING_FAILURE)
    assert driver.read("l1").level_pct == 20.0
    assert diagnose(driver.read("l1"), nameplate) == frozenset()


def test_supply_loss_cuts_power_and_freezes_every_counter() -> None:
    driver, nameplate = one_lamp(50.0)
    driver.set_level("l1", 100.0)
    run(driver, HOUR)
    before = driver.read("l1")
    driver.inject("l1", LampFault.SUPPLY_LOSS)
    driver.set_level("l1", 40.0, ramp_s=5.0)  # recorded, reached when the supply is back
    run(driver, 3 * HOUR, since_s=HOUR)
    reading = driver.read("l1")
    assert reading.faults == {LampFault.SUPPLY_LOSS}
    assert (reading.level_pct, reading.power_w) == (0.0, 0.0)
    assert (reading.energy_wh, reading.operating_hours, reading.switch_ons) == (
        before.energy_wh,
        before.operating_hours,
        before.switch_ons,
    )
    assert diagnose(reading, nameplate) == {LampFault.SUPPLY_LOSS}
    driver.clear("l1", LampFault.SUPPLY_LOSS)
    reading = driver.read("l1")
    assert (reading.level_pct, reading.switch_ons) == (40.0, 2)
    assert reading.power_w == pytest.approx(expected_power(40.0, 50.0))


def test_comm_failure_makes_the_gear_unreachable_but_the_lamp_keeps_burning() -> None:
    driver = SimulatedDriver([LuminaireSpec(id="a", rated_w=40.0), LuminaireSpec(id="b", rated_w=40.0)], start=T0)
    driver.set_level("a", 100.0)
    driver.set_level("b", 100.0)
    driver.inject("a", LampFault.CONTROL_GEAR_COMM_FAILURE)
    with pytest.raises(DriverCommError) as info:
        driver.read("a")
    assert info.value.lum_id == "a"
    with pytest.raises(DriverCommError):
        driver.set_level("a", 0.0)
    run(driver, HOUR)
    assert driver.read("b").energy_wh == pytest.approx(40.0)  # the neighbour is unaffected
    driver.clear("a")
    reading = driver.read("a")
    assert reading.level_pct == 100.0  # the refused command changed nothing
    assert reading.energy_wh == pytest.approx(40.0)


@pytest.mark.parametrize(
    ("fault", "factor"), [(LampFault.LAMP_POWER_TOO_HIGH, 1.25), (LampFault.LAMP_POWER_TOO_LOW, 0.75)]
)
@pytest.mark.parametrize("level", [10.0, 50.0, 100.0])
def test_power_off_curve_is_metered_and_flagged_by_diagnostics(fault: LampFault, factor: float, level: float) -> None:
    driver, nameplate = one_lamp(120.0)
    driver.set_level("l1", level)
    run(driver, HOUR)
    assert diagnose(driver.read("l1"), nameplate) == frozenset()
    driver.inject("l1", fault)
    run(driver, 2 * HOUR, since_s=HOUR)
    reading = driver.read("l1")
    assert reading.power_w == pytest.approx(factor * expected_power(level, 120.0))
    assert reading.energy_wh == pytest.approx((1 + factor) * expected_power(level, 120.0))
    assert reading.faults == frozenset()  # only the meter shows it
    assert diagnose(reading, nameplate) == {fault}


def test_power_faults_exclude_each_other_and_clear_restores_the_curve() -> None:
    driver, nameplate = one_lamp(100.0)
    driver.set_level("l1", 70.0)
    driver.inject("l1", LampFault.LAMP_POWER_TOO_HIGH)
    driver.inject("l1", LampFault.LAMP_POWER_TOO_LOW)
    assert diagnose(driver.read("l1"), nameplate) == {LampFault.LAMP_POWER_TOO_LOW}
    driver.clear("l1")
    assert driver.read("l1").power_w == pytest.approx(expected_power(70.0, 100.0))


def test_diagnostics_wait_for_the_end_of_a_ramp() -> None:
    driver, nameplate = one_lamp(100.0)
    driver.inject("l1", LampFault.LAMP_POWER_TOO_HIGH)
    driver.set_level("l1", 100.0, ramp_s=60.0)
    driver.tick(at(30))
    assert driver.read("l1").fading
    assert diagnose(driver.read("l1"), nameplate) == frozenset()
    driver.tick(at(60))
    assert diagnose(driver.read("l1"), nameplate) == {LampFault.LAMP_POWER_TOO_HIGH}


def test_diagnostics_tolerate_a_nameplate_error_below_the_threshold() -> None:
    driver, _ = one_lamp(100.0)
    driver.set_level("l1", 100.0)
    driver.tick(at(1))
    reading = driver.read("l1")
    assert diagnose(reading, LuminaireSpec(id="l1", rated_w=110.0)) == frozenset()  # 9 % under nameplate
    assert diagnose(reading, LuminaireSpec(id="l1", rated_w=125.0)) == {LampFault.LAMP_POWER_TOO_LOW}


# -- a cabinet through a night --


def test_a_cabinet_of_200_luminaires_goes_through_a_dijon_winter_night() -> None:
    """Astro on with a 2-min ramp, 70 % from 22:00 to 05:00 (Dijon practice), off at sunrise; ticked every 10 s."""
    config = [{"id": f"lum-{i:03d}", "rated_w": 30.0 + 10.0 * (i % 10)} for i in range(MAX_LUMINAIRES)]
    driver = build_driver("simulated", config)
    night = dt.date(2026, 1, 15)
    on_at, off_at = night_window(night)
    paris = on_at.tzinfo
    steps = [
        (on_at, 100.0, 120.0),
        (dt.datetime(2026, 1, 15, 22, 0, tzinfo=paris), 70.0, 300.0),
        (dt.datetime(2026, 1, 16, 5, 0, tzinfo=paris), 100.0, 300.0),
        (off_at, 0.0, 120.0),
    ]
    start = on_at - dt.timedelta(minutes=10)
    end = off_at + dt.timedelta(minutes=10)
    now, pending, applied = start, list(steps), []
    while now <= end:
        driver.tick(now)
        while pending and pending[0][0] <= now:  # a program step is applied at the first tick after it
            _, level, ramp = pending.pop(0)
            for lum in driver.luminaires():
                driver.set_level(lum, level, ramp)
            applied.append(now)
        now += dt.timedelta(seconds=10)

    def hours(a: dt.datetime, b: dt.datetime) -> float:
        return (b.astimezone(dt.UTC) - a.astimezone(dt.UTC)).total_seconds() / HOUR

    lit_h = hours(applied[0], applied[3]) + 120.0 / HOUR  # on until the off-ramp ends
    full_h = hours(applied[0], applied[1]) + hours(applied[2], applied[3])
    dimmed_h = hours(applied[1], applied[2])
    for i, lum in enumerate(driver.luminaires()):
        rated = 30.0 + 10.0 * (i % 10)
        reading = driver.read(lum)
        assert reading.switch_ons == 1
        assert reading.level_pct == 0.0
        assert reading.operating_hours == pytest.approx(lit_h, abs=1e-6)
        # plateaus only: ramps (a few minutes a night) and standby are within the 0.5 % margin
        plateaus = expected_power(100.0, rated) * full_h + expected_power(70.0, rated) * dimmed_h
        assert reading.energy_wh == pytest.approx(plateaus, rel=0.005)
        assert diagnose(reading, LuminaireSpec(id=lum, rated_w=rated)) == frozenset()


# -- registry, building, validation --


def test_registry_builds_a_driver_that_fits_the_port() -> None:
    assert DRIVERS["simulated"].config is SimulatedDriverConfig
    driver = build_driver("simulated", [LuminaireSpec(id="a", rated_w=30.0), {"id": "b", "rated_w": 45.0}])
    assert isinstance(driver, LuminaireDriver)
    assert driver.luminaires() == ["a", "b"]


@pytest.mark.parametrize(
    ("kind", "config", "match"),
    [
        ("tridonic-dsi", [{"id": "a", "rated_w": 30.0}], "unknown luminaire driver 'tridonic-dsi'.*simulated"),
        ("simulated", [{"id": "a", "rated_w": 30.0}, {"id": "a", "rated_w": 40.0}], "twice"),
        ("simulated", [{"id": "a", "rated_w": 30.0, "colour": "warm"}], "luminaire #0"),
        ("simulated", [{"id": "A/1", "rated_w": 30.0}], "luminaire #0"),
        ("simulated", [{"id": "a", "rated_w": 0.4}], "standby_w"),
        ("simulated", [{"id": f"l{i}", "rated_w": 30.0} for i in range(MAX_LUMINAIRES + 1)], "at most 200"),
    ],
)
def test_build_driver_refuses_bad_configs_with_a_reason(kind: str, config: list[dict[str, object]], match: str) -> None:
    with pytest.raises(DriverError, match=match):
        build_driver(kind, config)


def test_bad_commands_and_clocks_are_refused() -> None:
    driver, _ = one_lamp()
    for level in (-1.0, 100.5, float("nan")):
        with pytest.raises(ValueError, match="level_pct"):
            driver.set_level("l1", level)
    with pytest.raises(ValueError, match="ramp_s"):
        driver.set_level("l1", 50.0, ramp_s=-1.0)
    with pytest.raises(DriverError, match="'l9'"):
        driver.read("l9")
    with pytest.raises(DriverError, match="'l9'"):
        driver.inject("l9", LampFault.LAMP_FAILURE)
    with pytest.raises(ValueError, match="aware"):
        driver.tick(dt.datetime(2026, 1, 15, 18, 0))


def test_a_clock_stepping_back_is_ignored() -> None:
    driver, _ = one_lamp(100.0)
    driver.set_level("l1", 100.0)
    driver.tick(at(HOUR))
    driver.tick(at(HOUR / 2))  # NTP step back: no negative energy, no time travel
    assert driver.read("l1").energy_wh == pytest.approx(100.0)
    driver.tick(at(2 * HOUR))
    assert driver.read("l1").energy_wh == pytest.approx(200.0)


def test_a_driver_section_is_a_bare_kind_or_a_mapping_with_its_kind() -> None:
    bare = LightingConfig.model_validate({**LIGHTING_MIN, "driver": "simulated"})
    mapped = LightingConfig.model_validate({**LIGHTING_MIN, "driver": {"kind": "simulated"}})
    assert bare.driver == mapped.driver == SimulatedDriverConfig()
    assert isinstance(build_driver(mapped.driver, mapped.specs()), SimulatedDriver)
    with pytest.raises(ValidationError, match="tridonic-dsi"):
        LightingConfig.model_validate({**LIGHTING_MIN, "driver": {"kind": "tridonic-dsi"}})
    with pytest.raises(ValidationError, match="gateway"):
        LightingConfig.model_validate({**LIGHTING_MIN, "driver": {"kind": "simulated", "gateway": "x"}})


LIGHTING_MIN = {
    "luminaires": [{"id": "a", "rated_w": 30.0}],
    "calendar": [{"name": "all", "program": {"kind": "astro"}}],
}
