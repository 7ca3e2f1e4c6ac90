"""The lighting benchmark: its lower bound (never above what the engine meters) and its camera empty reports."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bench.lighting_bench import (
    BOOST_RAMP_S,
    DATES,
    DIJON_LAT,
    DIJON_LON,
    DIJON_TZ,
    EMPTY,
    EVENING_BASE,
    NIGHT_BASE,
    SEED,
    TOLERANCE,
    Episode,
    NodeSim,
    base_pieces,
    build_events,
    build_layout,
    build_trace,
    class_level,
    class_requirement,
    empty_reports,
    lower_bound_wh,
    night_window,
    node_bound,
    scenarios,
)
from edge_agent.lighting.drivers import LuminaireSpec

TZ = ZoneInfo(DIJON_TZ)


def local(hour: int, minute: int = 0, second: int = 0, day: dt.date = dt.date(2026, 11, 25)) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), TZ).astimezone(dt.UTC)


def hourly(night: tuple[dt.datetime, dt.datetime], grace_s: float = 0.0) -> list[dt.datetime]:
    t, out = night[0].replace(minute=0, second=0), []
    while t < night[1]:
        out += [t, t + dt.timedelta(seconds=grace_s)]
        t += dt.timedelta(hours=1)
    return out


def collector_w(level: float) -> float:
    """An 80 W luminaire, standby 0.5 W, k = 0.2, written out (not the driver's function)."""
    x = level / 100.0
    return 0.5 + 79.5 * (0.8 * x + 0.2 * x * x)


def test_two_overlapping_presences_across_a_class_change() -> None:
    # A collector: its design class (100 %) at 19 h, one class down (M5: 0.5 / 0.75 cd/m2) from 20 h.
    assert class_level("collector", 19) == 100.0
    assert class_level("collector", 20) == 66.7
    night = (local(19), local(21))
    base = [(night[0], night[1], 20.0, 20.0)]
    presences = [(local(19, 50), local(20, 5)), (local(20), local(20, 10))]  # union 19:50-20:10
    spec = LuminaireSpec(id="l0", rated_w=80.0)

    wh, level_s = lower_bound_wh(
        presences, night, base, class_requirement("collector", TZ), hourly(night), spec.power_w
    )

    # 100 min at the base, 10 min at 100 % (19:50-20:00), 10 min at 66.7 % (20:00-20:10).
    assert wh == pytest.approx((collector_w(20) * 100 + collector_w(100) * 10 + collector_w(66.7) * 10) / 60, rel=1e-12)
    assert level_s == pytest.approx(20 * 6000 + 100 * 600 + 66.7 * 600, rel=1e-12)

    # The served check's letter: lit from 2 s after each start (the union now starts at 19:50:02).
    later = [(a + dt.timedelta(seconds=BOOST_RAMP_S), b) for a, b in presences]
    need = class_requirement("collector", TZ, BOOST_RAMP_S)
    wh_check, _ = lower_bound_wh(later, night, base, need, hourly(night, BOOST_RAMP_S), spec.power_w)
    assert wh - wh_check == pytest.approx((collector_w(100) - collector_w(20)) * BOOST_RAMP_S / 3600, rel=1e-9)


def test_a_rise_on_the_hour_is_required_at_once_or_after_the_grace() -> None:
    assert (class_level("collector", 6), class_level("collector", 7)) == (66.7, 100.0)
    t = local(7, 0, 1, dt.date(2026, 11, 26))
    assert class_requirement("collector", TZ)(t) == 100.0
    assert class_requirement("collector", TZ, BOOST_RAMP_S)(t) == 66.7
    assert class_requirement("collector", TZ, BOOST_RAMP_S)(t + dt.timedelta(seconds=1)) == 100.0


def test_a_presence_on_a_ramp_is_raised_only_where_the_ramp_is_below() -> None:
    t0 = local(19)
    night = (t0, t0 + dt.timedelta(seconds=100))
    base = [(night[0], night[1], 0.0, 100.0)]
    linear = LuminaireSpec(id="l0", rated_w=100.0, standby_w=0.0, convexity=0.0)  # watts = level
    wh, level_s = lower_bound_wh([night], night, base, lambda _t: 50.0, [], linear.power_w)
    assert level_s == pytest.approx(50 * 50 + 75 * 50)  # flat at 50 until the ramp passes it, then the ramp
    assert wh == pytest.approx(level_s / 3600)


def test_the_base_rises_over_the_engine_ramp_and_falls_at_once() -> None:
    night = (local(16, 54, 48), local(7, 59, 44, dt.date(2026, 11, 26)))
    ramp = dt.timedelta(seconds=60)
    at22, at5 = local(22), local(5, day=dt.date(2026, 11, 26))
    assert base_pieces(night, TZ, EVENING_BASE, NIGHT_BASE) == [
        (night[0], night[0] + ramp, 0.0, 20.0),
        (night[0] + ramp, at22, 20.0, 20.0),
        (at22, at5, 10.0, 10.0),
        (at5, at5 + ramp, 10.0, 20.0),
        (at5 + ramp, night[1], 20.0, 20.0),
    ]
    assert base_pieces(night, TZ, 10.0, 10.0) == [
        (night[0], night[0] + ramp, 0.0, 10.0),
        (night[0] + ramp, night[1], 10.0, 10.0),
    ]


def test_a_camera_zone_reports_a_segment_empty_once_its_last_presence_has_ended() -> None:
    def ep(group: str, start: int, end: int) -> Episode:
        return Episode(group, local(20, 0, start), local(20, 0, end), "evening")

    episodes = [
        ep("seg-a", 0, 10), ep("seg-a", 5, 8), ep("seg-a", 9, 20),  # overlapping: one empty, at 20 s
        ep("seg-a", 20, 25),  # starts as the other ends: the zone is never empty in between
        ep("seg-a", 30, 40), ep("seg-b", 3, 4),
    ]  # fmt: skip
    assert sorted(empty_reports(episodes)) == [
        (local(20, 0, 4), EMPTY, 5),
        (local(20, 0, 25), EMPTY, 3),
        (local(20, 0, 40), EMPTY, 4),
    ]


def test_the_bound_is_below_every_scenario_on_a_short_window() -> None:
    """90 min from the June sunset (the 22:00 base change and the 23:00 class change in it), the real trace."""
    day = DATES[1]

    def sun(d: dt.date) -> tuple[dt.datetime, dt.datetime]:
        window = night_window(d, DIJON_LAT, DIJON_LON, TZ)
        return window.on_at, window.off_at

    on = sun(day)[0].astimezone(dt.UTC)
    night = (on, on + dt.timedelta(minutes=90))
    lay = build_layout(SEED)
    episodes, _ = build_trace(lay, night, TZ, SEED, day)
    assert len(episodes) > 100
    events = build_events(episodes, night)
    metered = {}
    for sc in scenarios():
        sim = NodeSim(lay, sc, night, TZ, sun)
        sim.run(events, episodes)
        metered[sc.key] = sim.outcome(lay, episodes, 5400.0, 0.0)

    base = base_pieces(night, TZ, EVENING_BASE, NIGHT_BASE)
    bound = node_bound(lay, episodes, night, TZ, base)
    check = node_bound(lay, episodes, night, TZ, base, grace_s=BOOST_RAMP_S, tolerance=TOLERANCE)
    assert check.energy_wh < bound.energy_wh
    for key in ("vigie", "class", "ahead", "release"):
        o = metered[key]
        assert o.class_min == pytest.approx(o.presence_min)  # these scenarios pass the check the bound is for
        assert check.energy_wh < bound.energy_wh < o.energy_wh
        for cls, wh in bound.energy_by_class.items():
            assert wh <= o.energy_by_class[cls]

    # With no presence and the engine's own ramps, the bound is the reference row's meter: same power model.
    engine = base_pieces(night, TZ, EVENING_BASE, NIGHT_BASE, falls_at_once=False)
    assert node_bound(lay, [], night, TZ, engine).energy_wh == pytest.approx(metered["base"].energy_wh, abs=1e-6)
