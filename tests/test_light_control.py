"""The lighting engine on an injected clock and sun: calendars, overrides, presence, fail-safe, persistence."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edge_agent.lighting.control import FAILSAFE_RETRY, Decision, EngineState, LightingEngine, StateError
from edge_agent.lighting.overrides import Accepted, Rejected, accept
from vigie_config.calendar import (
    AstroProgram,
    Calendar,
    CalendarEntry,
    Change,
    FixedProgram,
    OperatingDay,
    Program,
    SensorProgram,
    Step,
    SunFn,
)
from vigie_wire.messages import AckResult

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC

#: l1 is on rue A and in the sensor sector north; l2 only on rue A.
LUMS = {"l1": {"rue-a", "sector-n"}, "l2": {"rue-a"}}

#: Dijon practice: on at sunset, 70 % from 22:00, 100 % from 05:00, off at sunrise.
DIJON = AstroProgram(steps=(Step(at=dt.time(22), level=70), Step(at=dt.time(5), level=100)))
#: A commune that switches off from midnight to 05:00.
SWITCH_OFF = AstroProgram(steps=(Step(at=dt.time(0), level=0), Step(at=dt.time(5), level=100)))
#: All night at 100 %.
FULL_NIGHT = AstroProgram()


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> dt.datetime:
    """A Paris wall-clock instant (the engine must accept any zone; tests read better in local time)."""
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=PARIS)


#: Default expiry of test commands: the morning after the test night.
DAWN = at(2025, 1, 15, 6)


def fixed_sun(sunset: dt.time = dt.time(17, 30), sunrise: dt.time = dt.time(7, 45)) -> SunFn:
    """Same local sunset and next-morning sunrise every day: winter in Dijon, roughly."""

    def sun(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        return (
            dt.datetime.combine(day, sunset, tzinfo=PARIS),
            dt.datetime.combine(day + dt.timedelta(days=1), sunrise, tzinfo=PARIS),
        )

    return sun


def broken_sun(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    raise ValueError("ephemeris unavailable")


def calendar(*entries: tuple[str, Program] | CalendarEntry) -> Calendar:
    """Entries given as (name, program) are valid every day, for every luminaire."""
    return Calendar(
        entries=tuple(e if isinstance(e, CalendarEntry) else CalendarEntry(name=e[0], program=e[1]) for e in entries)
    )


def engine(cal: Calendar | None, sun: SunFn | None = None, **kwargs: Any) -> LightingEngine:
    eng = LightingEngine(LUMS, sun or fixed_sun(), PARIS, **kwargs)
    if cal is not None:
        eng.set_calendar(cal)
    return eng


def cmd(
    cmd_id: str,
    cseq: int,
    level: float | None,
    *,
    target: str = "l1",
    scope: str = "luminaire",
    issuer: str = "coord",
    expires: dt.datetime | int = DAWN,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "cmd_id": cmd_id,
        "cseq": cseq,
        "level": level,
        "target": target,
        "scope": scope,
        "issuer": issuer,
        "expires": expires,
        **extra,
    }


class ExplodingProgram(AstroProgram):
    """A program whose code fails at run time (corrupt flash, a bug): the street must stay lit."""

    def changes(self, day: OperatingDay) -> list[Change]:
        raise RuntimeError("corrupt program memory")


# ------------------------------------------------------------------------------------------------ calendars


@pytest.mark.parametrize(
    ("now", "level", "next_change"),
    [
        (at(2025, 1, 14, 16, 0), 0.0, at(2025, 1, 14, 17, 30)),
        (at(2025, 1, 14, 17, 30), 100.0, at(2025, 1, 14, 22, 0)),
        (at(2025, 1, 14, 21, 59), 100.0, at(2025, 1, 14, 22, 0)),
        (at(2025, 1, 14, 22, 0), 70.0, at(2025, 1, 15, 5, 0)),
        (at(2025, 1, 14, 23, 59), 70.0, at(2025, 1, 15, 5, 0)),
        (at(2025, 1, 15, 0, 30), 70.0, at(2025, 1, 15, 5, 0)),  # across midnight: still the night of the 14th
        (at(2025, 1, 15, 5, 0), 100.0, at(2025, 1, 15, 7, 45)),
        (at(2025, 1, 15, 7, 45), 0.0, at(2025, 1, 15, 17, 30)),  # the noon hand-over is not a change
    ],
)
def test_dijon_schedule_on_at_sunset_70_from_22_100_from_5_off_at_sunrise(
    now: dt.datetime, level: float, next_change: dt.datetime
) -> None:
    d = engine(calendar(("dijon", DIJON))).decide("l1", now)
    assert (d.level, d.source, d.ramp_s) == (level, "calendar:dijon", 60.0)
    assert d.next_change == next_change


def test_dijon_schedule_keeps_local_clock_times_across_the_spring_dst_change() -> None:
    eng = engine(calendar(("dijon", DIJON)))
    assert eng.decide("l1", at(2025, 3, 29, 22, 0)).next_change == at(2025, 3, 30, 5, 0)  # 03:00 UTC, CEST
    assert eng.decide("l1", at(2025, 3, 30, 3, 30)).level == 70.0
    assert eng.decide("l1", at(2025, 3, 30, 5, 0)).level == 100.0


def test_step_in_force_before_a_late_sunset_gives_the_switch_on_level() -> None:
    eng = engine(calendar(("dijon", DIJON)), sun=fixed_sun(dt.time(22, 30), dt.time(4, 50)))
    assert eng.decide("l1", at(2025, 6, 20, 22, 29)).level == 0.0
    assert eng.decide("l1", at(2025, 6, 20, 22, 30)).level == 70.0
    assert eng.decide("l1", at(2025, 6, 21, 4, 50)).level == 0.0  # off at sunrise; the 05:00 step never comes


def test_commune_switch_off_from_midnight_to_five_even_above_a_night_floor() -> None:
    eng = engine(calendar(("extinction", SWITCH_OFF)), min_night_level=30.0)
    assert eng.decide("l1", at(2025, 1, 14, 23, 59)).level == 100.0
    off = eng.decide("l1", at(2025, 1, 15, 0, 0))
    assert (off.level, off.next_change) == (0.0, at(2025, 1, 15, 5, 0))
    assert eng.decide("l1", at(2025, 1, 15, 4, 59)).level == 0.0
    assert eng.decide("l1", at(2025, 1, 15, 5, 0)).level == 100.0


def test_dimming_step_below_the_night_floor_is_raised_to_it() -> None:
    typo = AstroProgram(steps=(Step(at=dt.time(22), level=5),))
    eng = engine(calendar(("typo", typo)), min_night_level=30.0)
    assert eng.decide("l1", at(2025, 1, 14, 23)).level == 30.0


def test_fixed_program_repeats_daily_and_skips_the_noon_handover() -> None:
    underpass = FixedProgram(steps=(Step(at=dt.time(6), level=20), Step(at=dt.time(18), level=100)))
    eng = engine(calendar(("underpass", underpass)))
    assert eng.decide("l1", at(2025, 1, 15, 3)).level == 100.0
    noon = eng.decide("l1", at(2025, 1, 15, 13))
    assert (noon.level, noon.next_change) == (20.0, at(2025, 1, 15, 18))


def test_holiday_entry_above_the_weekday_entry_wins_for_the_whole_night() -> None:
    holiday = CalendarEntry(name="holiday", dates=frozenset({dt.date(2025, 7, 14)}), program=FULL_NIGHT)
    weekdays = CalendarEntry(name="weekdays", days=frozenset({1, 2, 3, 4, 5}), program=DIJON)
    eng = engine(calendar(holiday, weekdays), sun=fixed_sun(dt.time(21, 50), dt.time(6, 5)))
    assert eng.decide("l1", at(2025, 7, 14, 23)).source == "calendar:holiday"  # a Monday
    assert eng.decide("l1", at(2025, 7, 15, 1)).level == 100.0  # the night of the 14th, after midnight
    assert eng.decide("l1", at(2025, 7, 15, 23)).level == 70.0
    # list order is priority: below the weekday entry, the holiday is never reached on a Monday
    eng.set_calendar(calendar(weekdays, holiday))
    assert eng.decide("l1", at(2025, 7, 14, 23)).source == "calendar:weekdays"


def test_entry_for_a_group_applies_only_to_its_members() -> None:
    sector = CalendarEntry(name="sector", groups=frozenset({"sector-n"}), program=SWITCH_OFF)
    eng = engine(calendar(sector, ("dijon", DIJON)))
    assert eng.decide("l1", at(2025, 1, 15, 1)).level == 0.0
    assert eng.decide("l2", at(2025, 1, 15, 1)).level == 70.0


def test_invalid_calendar_data_is_refused_at_validation() -> None:
    with pytest.raises(ValueError, match="less than or equal to 100"):
        Step(at=dt.time(22), level=170)
    with pytest.raises(ValueError, match="same time"):
        AstroProgram(steps=(Step(at=dt.time(22), level=70), Step(at=dt.time(22), level=50)))
    with pytest.raises(ValueError, match="unique"):
        calendar(("a", DIJON), ("a", FULL_NIGHT))


# ------------------------------------------------------------------------------------------------ overrides


def test_override_uses_ramp_up_or_down_and_ends_at_expiry() -> None:
    eng = engine(calendar(("dijon", DIJON)))
    now = at(2025, 1, 14, 23)
    up = cmd("c1", 10, 100, ramp_up_s=5, ramp_down_s=30, expires=at(2025, 1, 14, 23, 30))
    assert isinstance(eng.command(up, now), Accepted)
    d = eng.decide("l1", now)
    assert (d.level, d.ramp_s, d.source, d.next_change) == (100.0, 5.0, "override:c1", at(2025, 1, 14, 23, 30))
    assert "calendar:dijon" in d.detail
    assert eng.decide("l2", now).level == 70.0  # another luminaire keeps its program

    down = cmd("c2", 11, 20, ramp_up_s=5, ramp_down_s=30, expires=at(2025, 1, 14, 23, 30))
    assert isinstance(eng.command(down, now), Accepted)
    assert (eng.decide("l1", now).level, eng.decide("l1", now).ramp_s) == (20.0, 30.0)
    assert eng.decide("l1", now, current=10.0).ramp_s == 5.0  # the gear's real level decides the direction

    back = eng.decide("l1", at(2025, 1, 14, 23, 30))
    assert (back.level, back.source, back.ramp_s) == (70.0, "calendar:dijon", 60.0)


def test_override_with_a_start_waits_for_it_and_accepts_wire_milliseconds() -> None:
    eng = engine(calendar(("dijon", DIJON)))
    start, end = at(2025, 1, 14, 23, 10), at(2025, 1, 14, 23, 40)
    fields = cmd("c1", 10, 0, start=int(start.timestamp() * 1000), expires=int(end.timestamp() * 1000))
    assert isinstance(eng.command(fields, at(2025, 1, 14, 23)), Accepted)
    before = eng.decide("l1", at(2025, 1, 14, 23, 5))
    assert (before.level, before.next_change) == (70.0, start)
    assert eng.decide("l1", start).level == 0.0


def test_last_command_wins_by_sequence_even_when_the_older_arrives_later() -> None:
    eng = engine(calendar(("dijon", DIJON)))
    now = at(2025, 1, 14, 23)
    assert isinstance(eng.command(cmd("new", 20, 40), now), Accepted)
    late_same_issuer = eng.command(cmd("old", 10, 90), now)
    late_other_issuer = eng.command(cmd("older", 15, 90, issuer="tablet"), now)
    assert isinstance(late_same_issuer, Rejected) and late_same_issuer.result == AckResult.REJECTED_STALE
    assert isinstance(late_other_issuer, Rejected) and late_other_issuer.reason == "stale"
    assert eng.decide("l1", now).level == 40.0


def test_empty_command_cancels_the_override_and_an_older_one_cannot_revive_it() -> None:
    eng = engine(calendar(("dijon", DIJON)))
    now = at(2025, 1, 14, 23)
    eng.command(cmd("dim", 10, 20), now)
    assert eng.decide("l1", now).level == 20.0
    assert isinstance(eng.command(cmd("cancel", 11, None), now), Accepted)
    assert eng.decide("l1", now).source == "calendar:dijon"
    assert isinstance(eng.command(cmd("late", 5, 100, issuer="tablet"), now), Rejected)
    assert eng.decide("l1", now).level == 70.0


def test_luminaire_override_beats_a_newer_group_override() -> None:
    eng = engine(calendar(("dijon", DIJON)))
    now = at(2025, 1, 14, 23)
    eng.command(cmd("lum", 10, 20, target="l1"), now)
    eng.command(cmd("grp", 30, 100, target="rue-a", scope="group"), now)
    assert eng.decide("l1", now).source == "override:lum"
    assert eng.decide("l2", now).source == "override:grp"


def test_between_two_group_overrides_the_more_recent_by_sequence_wins() -> None:
    eng = engine(calendar(("dijon", DIJON)))
    now = at(2025, 1, 14, 23)
    eng.command(cmd("north", 50, 80, target="sector-n", scope="group"), now)
    eng.command(cmd("street", 40, 50, target="rue-a", scope="group", issuer="tablet"), now)  # arrives later
    assert eng.decide("l1", now).level == 80.0
    assert eng.decide("l2", now).level == 50.0


def test_accept_rejects_stale_expired_duplicate_and_invalid_commands() -> None:
    now = at(2025, 1, 14, 23)
    seen = {"coord": 10}
    stale = accept(cmd("c", 10, 50), seen, now)
    expired = accept(cmd("c", 11, 50, expires=now), seen, now)
    duplicate = accept(cmd("c", 10, 50, expires=now), seen, now, applied={"c"})
    assert [(type(r), r.result) for r in (stale, expired, duplicate)] == [
        (Rejected, AckResult.REJECTED_STALE),
        (Rejected, AckResult.REJECTED_EXPIRED),
        (Rejected, AckResult.DUPLICATE),
    ]
    fresh = accept(cmd("c", 11, 50, expires=now + dt.timedelta(milliseconds=1)), seen, now)
    assert isinstance(fresh, Accepted) and fresh.result == AckResult.APPLIED
    bad = [
        cmd("c", 11, 150),
        cmd("c", 11, 50, expires=dt.datetime(2025, 1, 15, 6)),  # naive
        cmd("c", 11, 50, start=at(2025, 1, 15, 7)),  # starts after it expires
        cmd("c d", 11, 50),
        {"cmd_id": "c", "cseq": 11},
    ]
    for fields in bad:
        r = accept(fields, seen, now)
        assert isinstance(r, Rejected) and r.result == AckResult.INVALID, fields


def test_engine_answers_duplicate_to_a_redelivery_and_invalid_to_a_foreign_target() -> None:
    eng = engine(calendar(("dijon", DIJON)))
    now = at(2025, 1, 14, 23)
    assert isinstance(eng.command(cmd("c1", 10, 50), now), Accepted)
    assert eng.command(cmd("c1", 10, 50), now).result == AckResult.DUPLICATE
    assert eng.command(cmd("c2", 11, 50, target="l9"), now).result == AckResult.INVALID
    assert eng.command(cmd("c3", 12, 50, target="rue-z", scope="group"), now).result == AckResult.INVALID


# ------------------------------------------------------------------------------------------------ presence


def sensor_engine(base_level: float = 30.0, boost: float = 100.0) -> LightingEngine:
    sensor = SensorProgram(base=AstroProgram(on_level=base_level), boost_level=boost, hold_s=120)
    entry = CalendarEntry(name="sensor", groups=frozenset({"sector-n"}), program=sensor)
    return engine(calendar(entry, ("dijon", DIJON)), presence_sources={"pir-7": ["sector-n"]})


def test_presence_boosts_within_the_night_for_the_hold_time_then_returns() -> None:
    eng = sensor_engine()
    assert eng.decide("l1", at(2025, 1, 14, 23)).level == 30.0
    assert eng.presence("pir-7", at(2025, 1, 14, 23)) == {"sector-n"}
    d = eng.decide("l1", at(2025, 1, 14, 23, 0, 30))
    assert (d.level, d.source, d.ramp_s, d.next_change) == (100.0, "presence", 2.0, at(2025, 1, 14, 23, 2))
    back = eng.decide("l1", at(2025, 1, 14, 23, 2))
    assert (back.level, back.source) == (30.0, "calendar:sensor")
    assert eng.decide("l2", at(2025, 1, 14, 23, 0, 30)).level == 70.0  # not in the sensor sector


def test_presence_outside_the_sensor_period_does_nothing() -> None:
    eng = sensor_engine()
    eng.presence("pir-7", at(2025, 1, 14, 14))
    assert eng.decide("l1", at(2025, 1, 14, 14, 0, 30)).level == 0.0
    assert eng.presence("unknown-sensor", at(2025, 1, 14, 23)) == frozenset()


def test_presence_never_lowers_a_level() -> None:
    eng = sensor_engine(base_level=100.0, boost=50.0)
    eng.presence("sector-n", at(2025, 1, 14, 23))  # a group name is its own source
    d = eng.decide("l1", at(2025, 1, 14, 23, 0, 30))
    assert (d.level, d.source) == (100.0, "calendar:sensor")


#: Two camera zones watch sector north; the release ends a boost 3 s after both report empty, over 10 s.
CAMERA_ZONES = {"cam-a/0/parvis": ["sector-n"], "cam-b/0/trottoir": ["sector-n"]}
RELEASING = SensorProgram(
    base=AstroProgram(on_level=30, steps=(Step(at=dt.time(22), level=20),)),
    boost_level=100,
    hold_s=120,
    release_hold_s=3,
    release_ramp_s=10,
)


def camera_engine(program: SensorProgram = RELEASING) -> LightingEngine:
    entry = CalendarEntry(name="sensor", groups=frozenset({"sector-n"}), program=program)
    return engine(calendar(entry, ("dijon", DIJON)), presence_sources=CAMERA_ZONES)


def test_a_zone_reported_empty_releases_the_boost_after_release_hold_s_over_release_ramp_s() -> None:
    eng = camera_engine()
    t0 = at(2025, 1, 14, 23)
    assert eng.presence("cam-a/0/parvis", t0) == {"sector-n"}
    assert eng.vacancy("cam-a/0/parvis", t0 + dt.timedelta(seconds=20)) == {"sector-n"}
    held = eng.decide("l1", t0 + dt.timedelta(seconds=22), current=100.0)
    assert (held.level, held.source, held.next_change) == (100.0, "presence", t0 + dt.timedelta(seconds=23))
    back = eng.decide("l1", t0 + dt.timedelta(seconds=23), current=100.0)
    assert (back.level, back.ramp_s, back.source) == (20.0, 10.0, "calendar:sensor")
    # Once the hold would have ended (120 s after the detection), the base has its own ramp again.
    assert eng.decide("l1", t0 + dt.timedelta(seconds=120)).ramp_s == 60.0
    assert eng.decide("l2", t0 + dt.timedelta(seconds=10)).level == 70.0  # not fed by the zones


def test_a_group_fed_by_two_zones_stays_boosted_while_one_is_still_occupied() -> None:
    eng = camera_engine()
    t0 = at(2025, 1, 14, 23)
    eng.presence("cam-a/0/parvis", t0)
    eng.presence("cam-b/0/trottoir", t0 + dt.timedelta(seconds=5))
    eng.vacancy("cam-a/0/parvis", t0 + dt.timedelta(seconds=10))
    still = eng.decide("l1", t0 + dt.timedelta(seconds=30), current=100.0)
    assert (still.level, still.next_change) == (100.0, t0 + dt.timedelta(seconds=125))  # trottoir's hold
    eng.vacancy("cam-b/0/trottoir", t0 + dt.timedelta(seconds=40))
    assert eng.decide("l1", t0 + dt.timedelta(seconds=42), current=100.0).level == 100.0
    back = eng.decide("l1", t0 + dt.timedelta(seconds=43), current=100.0)
    assert (back.level, back.ramp_s) == (20.0, 10.0)


def test_without_an_empty_report_the_boost_lasts_hold_s() -> None:
    eng = camera_engine()
    t0 = at(2025, 1, 14, 23)
    eng.vacancy("cam-a/0/parvis", t0 - dt.timedelta(seconds=1))  # older than the detection: a stale report
    eng.presence("cam-a/0/parvis", t0)
    eng.presence("cam-b/0/trottoir", t0)
    eng.vacancy("cam-b/0/trottoir", t0 + dt.timedelta(seconds=5))  # parvis never says it is empty
    d = eng.decide("l1", t0 + dt.timedelta(seconds=60), current=100.0)
    assert (d.level, d.next_change) == (100.0, t0 + dt.timedelta(seconds=120))
    back = eng.decide("l1", t0 + dt.timedelta(seconds=120), current=100.0)
    assert (back.level, back.ramp_s) == (20.0, 60.0)  # the hold's end: the base's ramp, as without a camera


def test_a_detection_during_the_release_boosts_again() -> None:
    eng = camera_engine()
    t0 = at(2025, 1, 14, 23)
    eng.presence("cam-a/0/parvis", t0)
    eng.vacancy("cam-a/0/parvis", t0 + dt.timedelta(seconds=10))
    assert eng.decide("l1", t0 + dt.timedelta(seconds=15), current=60.0).level == 20.0  # ramping down
    eng.presence("cam-a/0/parvis", t0 + dt.timedelta(seconds=16))
    again = eng.decide("l1", t0 + dt.timedelta(seconds=16), current=55.0)
    assert (again.level, again.ramp_s, again.source) == (100.0, 2.0, "presence")
    assert again.next_change == t0 + dt.timedelta(seconds=136)  # a full hold: no empty report after it


def test_a_base_change_after_the_release_takes_the_base_ramp() -> None:
    eng = camera_engine()
    t0 = at(2025, 1, 14, 21, 59, 30)
    eng.presence("cam-a/0/parvis", t0)
    eng.vacancy("cam-a/0/parvis", t0 + dt.timedelta(seconds=10))
    released = eng.decide("l1", t0 + dt.timedelta(seconds=13), current=100.0)
    assert (released.level, released.ramp_s, released.next_change) == (30.0, 10.0, at(2025, 1, 14, 22))
    stepped = eng.decide("l1", at(2025, 1, 14, 22), current=30.0)
    assert (stepped.level, stepped.ramp_s) == (20.0, 60.0)


def test_empty_reports_change_nothing_without_release_hold_s() -> None:
    eng = camera_engine(RELEASING.model_copy(update={"release_hold_s": None, "release_ramp_s": None}))
    t0 = at(2025, 1, 14, 23)
    eng.presence("cam-a/0/parvis", t0)
    eng.vacancy("cam-a/0/parvis", t0 + dt.timedelta(seconds=10))
    assert eng.decide("l1", t0 + dt.timedelta(seconds=119)).level == 100.0
    assert eng.decide("l1", t0 + dt.timedelta(seconds=120)).ramp_s == 60.0
    assert eng.vacancy("unknown-zone", t0) == frozenset()


def test_a_release_hold_not_shorter_than_the_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than hold_s"):
        SensorProgram(base=AstroProgram(), hold_s=30, release_hold_s=30)
    again = Calendar.model_validate_json(calendar(("s", RELEASING)).model_dump_json())
    assert again.entries[0].program == RELEASING


#: A main road (M3 at its design level): one class lower (M4, 75 %) from 20:00, two lower (M5, 50 %) from 23:00,
#: one lower again from 06:00; with nobody around, 20 % (the floor raises nothing here).
MAIN_ROAD = SensorProgram(
    base=AstroProgram(on_level=20),
    boost_level=100,
    boost_steps=(Step(at=dt.time(6), level=75), Step(at=dt.time(23), level=50), Step(at=dt.time(20), level=75)),
    hold_s=30,
)


def main_road_engine() -> LightingEngine:
    entry = CalendarEntry(name="main", groups=frozenset({"sector-n"}), program=MAIN_ROAD)
    return engine(calendar(entry, ("dijon", DIJON)))


def test_boost_steps_are_kept_in_operating_day_order_and_must_not_share_a_time() -> None:
    assert [s.at for s in MAIN_ROAD.boost_steps] == [dt.time(20), dt.time(23), dt.time(6)]
    with pytest.raises(ValueError, match="same time"):
        SensorProgram(base=AstroProgram(), boost_steps=(Step(at=dt.time(1), level=50), Step(at=dt.time(1), level=60)))


@pytest.mark.parametrize(
    ("hour", "minute", "level", "next_change"),
    [
        (18, 0, 100.0, at(2025, 1, 14, 20)),
        (20, 0, 75.0, at(2025, 1, 14, 23)),
        (23, 30, 50.0, at(2025, 1, 15, 6)),
        (3, 0, 50.0, at(2025, 1, 15, 6)),
        (6, 15, 75.0, at(2025, 1, 15, 12)),
    ],
)
def test_boost_level_follows_the_clock_steps_of_the_night(
    hour: int, minute: int, level: float, next_change: dt.datetime
) -> None:
    now = at(2025, 1, 15 if hour < 12 else 14, hour, minute)
    day = OperatingDay.of(now, PARIS, fixed_sun())
    assert MAIN_ROAD.boost_at(day, now) == (level, next_change)


def test_boost_at_refuses_an_instant_of_another_day() -> None:
    day = OperatingDay.of(at(2025, 1, 14, 18), PARIS, fixed_sun())
    with pytest.raises(ValueError, match="not within"):
        MAIN_ROAD.boost_at(day, at(2025, 1, 15, 13))


def test_presence_on_a_stepped_boost_gets_the_level_of_the_hour() -> None:
    eng = main_road_engine()
    eng.presence("sector-n", at(2025, 1, 14, 19))
    evening = eng.decide("l1", at(2025, 1, 14, 19, 0, 1), current=20.0)
    assert (evening.level, evening.ramp_s, evening.source) == (100.0, 2.0, "presence")
    assert evening.next_change == at(2025, 1, 14, 19, 0, 30)  # the hold, 30 s
    eng.presence("sector-n", at(2025, 1, 15, 1))
    night = eng.decide("l1", at(2025, 1, 15, 1, 0, 1), current=20.0)
    assert (night.level, night.ramp_s, night.source) == (50.0, 2.0, "presence")
    assert eng.decide("l1", at(2025, 1, 15, 1, 0, 30)).level == 20.0
    assert eng.decide("l2", at(2025, 1, 15, 1, 0, 1)).level == 70.0  # l2 is not on the main road


def test_a_step_that_lowers_a_running_boost_takes_the_slow_ramp_and_one_that_raises_it_the_fast_one() -> None:
    eng = main_road_engine()
    eng.presence("sector-n", at(2025, 1, 14, 19, 59, 50))
    before = eng.decide("l1", at(2025, 1, 14, 19, 59, 55), current=100.0)
    assert (before.level, before.next_change) == (100.0, at(2025, 1, 14, 20))  # the step ends this level
    lowered = eng.decide("l1", at(2025, 1, 14, 20), current=100.0)
    assert (lowered.level, lowered.ramp_s, lowered.source) == (75.0, 60.0, "presence")
    eng.presence("sector-n", at(2025, 1, 15, 5, 59, 50))
    raised = eng.decide("l1", at(2025, 1, 15, 6), current=50.0)
    assert (raised.level, raised.ramp_s) == (75.0, 2.0)
    assert eng.decide("l1", at(2025, 1, 15, 6)).ramp_s == 2.0  # gear level unknown: as before, the fast ramp


def test_a_stepped_boost_is_raised_to_the_night_floor_and_never_lowers_the_base() -> None:
    program = SensorProgram(
        base=AstroProgram(on_level=60), boost_steps=(Step(at=dt.time(22), level=40), Step(at=dt.time(2), level=5))
    )
    eng = engine(calendar(("s", program)))
    eng.presence("rue-a", at(2025, 1, 14, 23))
    d = eng.decide("l1", at(2025, 1, 14, 23, 0, 1))
    assert (d.level, d.source) == (60.0, "calendar:s")  # a boost of 40 % under a base of 60 %
    eng2 = engine(calendar(("s", program.model_copy(update={"base": AstroProgram(on_level=1)}))))
    eng2.presence("rue-a", at(2025, 1, 15, 3))
    assert eng2.decide("l1", at(2025, 1, 15, 3, 0, 1)).level == 10.0  # 5 % is taken for a typo, floored


def test_a_calendar_with_boost_steps_survives_json_and_the_persisted_state() -> None:
    cal = calendar(CalendarEntry(name="main", groups=frozenset({"sector-n"}), program=MAIN_ROAD))
    again = Calendar.model_validate_json(cal.model_dump_json())
    assert again == cal
    state = EngineState.from_json(EngineState(calendar=cal).to_json())
    restored = LightingEngine(LUMS, fixed_sun(), PARIS, state=state)
    restored.presence("sector-n", at(2025, 1, 15, 2))
    assert restored.decide("l1", at(2025, 1, 15, 2, 0, 1)).level == 50.0


# ------------------------------------------------------------------------------------------------ fail-safe


@pytest.mark.parametrize("hour", [17.5, 20, 23.99, 0, 3, 7.7])
def test_failing_program_gives_full_light_at_night_with_a_failsafe_source(hour: float) -> None:
    eng = engine(calendar(("dijon", ExplodingProgram())))
    now = at(2025, 1, 14, 17) + dt.timedelta(hours=hour - 17 if hour >= 12 else hour + 7)
    d = eng.decide("l1", now)
    assert (d.level, d.source) == (100.0, "failsafe:program-error")
    assert "corrupt program memory" in d.detail
    assert now < d.next_change <= now + FAILSAFE_RETRY


def test_failsafe_is_dark_only_in_daylight() -> None:
    eng = engine(calendar(("dijon", ExplodingProgram())))
    assert eng.decide("l1", at(2025, 1, 14, 14)).level == 0.0


def test_failsafe_without_a_sun_clock_lights_from_17_to_8() -> None:
    eng = engine(calendar(("dijon", ExplodingProgram())), sun=broken_sun)
    levels = {h: eng.decide("l1", at(2025, 1, 14, h)).level for h in (12, 16, 17, 23)}
    levels |= {h: eng.decide("l1", at(2025, 1, 15, h)).level for h in (0, 7, 8)}
    assert levels == {12: 0.0, 16: 0.0, 17: 100.0, 23: 100.0, 0: 100.0, 7: 100.0, 8: 0.0}
    assert "clock night" in eng.decide("l1", at(2025, 1, 14, 23)).detail


def test_failsafe_names_each_reason() -> None:
    now = at(2025, 1, 14, 23)
    nan = AstroProgram.model_construct(steps=(Step.model_construct(at=dt.time(22), level=math.nan),))
    naive_sun: SunFn = lambda d: (dt.datetime(2025, 1, 14, 17), dt.datetime(2025, 1, 15, 8))  # noqa: E731
    cases: list[tuple[LightingEngine, str]] = [
        (engine(None), "failsafe:no-calendar"),
        (engine(calendar(CalendarEntry(name="sundays", days=frozenset({7}), program=DIJON))), "failsafe:no-entry"),
        (engine(calendar(("nan", nan))), "failsafe:bad-schedule"),
        (engine(calendar(("dijon", DIJON)), sun=naive_sun), "failsafe:sun-error"),
    ]
    for eng, source in cases:
        assert (eng.decide("l1", now).level, eng.decide("l1", now).source) == (100.0, source)


def test_operator_override_still_applies_when_the_program_fails() -> None:
    eng = engine(calendar(("dijon", ExplodingProgram())))
    now = at(2025, 1, 14, 23)
    eng.command(cmd("c1", 1, 40), now)
    d = eng.decide("l1", now)
    assert (d.level, d.source) == (40.0, "override:c1")
    assert "failsafe:program-error" in d.detail


# ------------------------------------------------------------------------------------------------ persistence


def test_state_json_round_trip_restores_calendar_overrides_and_sequences() -> None:
    holiday = CalendarEntry(name="holiday", dates=frozenset({dt.date(2025, 1, 14)}), program=SWITCH_OFF)
    eng = engine(calendar(holiday, ("dijon", DIJON)))
    now = at(2025, 1, 14, 20)
    eng.command(cmd("grp", 10, 50, target="rue-a", scope="group"), now)
    eng.command(cmd("later", 11, 90, target="l2", start=at(2025, 1, 14, 21), expires=at(2025, 1, 14, 22)), now)
    eng.command(cmd("dim", 12, 30, target="l1"), now)
    eng.command(cmd("undim", 13, None, target="l1"), now)

    restored = engine(None, state=EngineState.from_json(eng.state.to_json()))
    assert restored.state == eng.state
    for t in (now, at(2025, 1, 14, 21, 30), at(2025, 1, 15, 1), at(2025, 1, 15, 7)):
        assert restored.level_at(t) == eng.level_at(t)
    assert restored.decide("l2", at(2025, 1, 14, 21, 30)).source == "override:later"
    assert restored.command(cmd("dim", 12, 30), now).result == AckResult.DUPLICATE
    assert restored.command(cmd("old", 9, 30), now).result == AckResult.REJECTED_STALE


def test_unreadable_state_raises_a_state_error() -> None:
    with pytest.raises(StateError):
        EngineState.from_json('{"version": 2}')


# ------------------------------------------------------------------------------------------------ property

MIN_NIGHT = 25.0

levels = st.sampled_from([0.0, 5.0, 24.9, 25.0, 50.0, 70.0, 100.0])
steps = st.lists(
    st.builds(Step, at=st.times().map(lambda t: t.replace(microsecond=0)), level=levels),
    max_size=4,
    unique_by=lambda s: s.at,
).map(tuple)
astro = st.builds(
    AstroProgram,
    sunset_offset_min=st.floats(-60, 0),
    sunrise_offset_min=st.floats(0, 60),
    on_level=levels,
    steps=steps,
)
fixed = st.builds(FixedProgram, steps=steps.filter(bool))
programs: st.SearchStrategy[Program] = st.one_of(
    astro,
    fixed,
    st.builds(
        SensorProgram,
        base=st.one_of(astro, fixed),
        boost_level=levels,
        boost_steps=steps,
        hold_s=st.floats(1, 600),
        release_hold_s=st.none() | st.floats(0, 0.99),
        release_ramp_s=st.none() | st.floats(0, 60),
    ),
    st.builds(ExplodingProgram),
    st.just(FixedProgram.model_construct(steps=(Step.model_construct(at=dt.time(0), level=-5.0),))),
)
entries = st.builds(
    CalendarEntry,
    name=st.just("x"),
    days=st.frozensets(st.integers(1, 7)),
    groups=st.none() | st.sampled_from([frozenset({"sector-n"}), frozenset({"rue-a"}), frozenset({"nowhere"})]),
    program=programs,
)


def switches_off(program: Program) -> bool:
    """Whether a (sound) program has an explicit 0 % somewhere: the only way a calendar may darken a night."""
    if isinstance(program, ExplodingProgram):
        return False
    if isinstance(program, SensorProgram):
        return switches_off(program.base)
    explicit = [s.level for s in getattr(program, "steps", ())] + [getattr(program, "on_level", 100.0)]
    return 0.0 in explicit


@settings(max_examples=300, deadline=None)
@given(
    sunset=st.times(dt.time(16, 0), dt.time(22, 30)),
    night_h=st.floats(6.0, 16.0),
    into=st.floats(0.0, 0.999),
    day_offset=st.integers(0, 400),
    raw_entries=st.lists(entries, max_size=4),
    overrides=st.lists(
        st.tuples(levels, st.floats(-10, 10), st.floats(0.01, 10), st.sampled_from(sorted(LUMS))), max_size=3
    ),
    sensed_ago_s=st.none() | st.floats(0, 900),
    emptied_ago_s=st.none() | st.floats(0, 900),
    tomorrow_sun_fails=st.booleans(),
)
def test_no_luminaire_is_below_the_night_floor_unless_explicitly_switched_off(
    sunset: dt.time,
    night_h: float,
    into: float,
    day_offset: int,
    raw_entries: list[CalendarEntry],
    overrides: list[tuple[float, float, float, str]],
    sensed_ago_s: float | None,
    emptied_ago_s: float | None,
    tomorrow_sun_fails: bool,
) -> None:
    day = dt.date(2025, 1, 1) + dt.timedelta(days=day_offset)
    sunset_at = dt.datetime.combine(day, sunset, tzinfo=PARIS).astimezone(UTC)
    sunrise_at = sunset_at + dt.timedelta(hours=night_h)

    def sun(d: dt.date) -> tuple[dt.datetime, dt.datetime]:
        if d != day and tomorrow_sun_fails:
            raise ValueError("no ephemeris beyond tonight")
        shift = dt.timedelta(days=(d - day).days)
        return sunset_at + shift, sunrise_at + shift

    entries_ = [e.model_copy(update={"name": f"e{i}"}) for i, e in enumerate(raw_entries)]
    cal = Calendar(entries=tuple(entries_))
    eng = engine(cal, sun=sun, min_night_level=MIN_NIGHT, presence_sources={"pir": ["sector-n"]})
    now = sunset_at + (sunrise_at - sunset_at) * into
    issued: dict[str, float] = {}
    for i, (level, start_h, length_h, lum) in enumerate(overrides):
        start = now + dt.timedelta(hours=start_h)
        fields = cmd(f"o{i}", i, level, target=lum, start=start, expires=start + dt.timedelta(hours=length_h))
        if isinstance(eng.command(fields, now - dt.timedelta(hours=11)), Accepted):
            issued[f"o{i}"] = level
    if sensed_ago_s is not None:
        eng.presence("pir", now - dt.timedelta(seconds=sensed_ago_s))
    if emptied_ago_s is not None:
        eng.vacancy("pir", now - dt.timedelta(seconds=emptied_ago_s))

    decisions = eng.level_at(now)
    by_name = {e.name: e for e in entries_}
    for d in decisions.values():
        assert isinstance(d, Decision)
        assert 0.0 <= d.level <= 100.0 and d.next_change > now
        if d.level >= MIN_NIGHT:
            continue
        kind, _, name = d.source.partition(":")
        if kind == "override":
            assert issued[name] == d.level
        else:
            assert kind == "calendar", d
            assert d.level == 0.0 and switches_off(by_name[name].program), d


def test_program_alone_gives_its_level_and_next_change_within_a_day() -> None:
    day = OperatingDay(dt.date(2025, 1, 14), PARIS, fixed_sun())
    assert DIJON.level_at(day, at(2025, 1, 14, 23)) == (70.0, at(2025, 1, 15, 5))
    assert DIJON.level_at(day, at(2025, 1, 15, 8)) == (0.0, day.end)
    with pytest.raises(ValueError, match="not within"):
        DIJON.level_at(day, at(2025, 1, 15, 13))


def test_level_at_never_raises_even_on_a_naive_clock() -> None:
    decisions = engine(calendar(("dijon", DIJON))).level_at(dt.datetime(2025, 1, 14, 23))
    assert {d.level for d in decisions.values()} == {100.0}
    assert all(d.source.startswith("failsafe:") for d in decisions.values())


def test_night_across_the_noon_handover_stays_lit_by_the_failsafe() -> None:
    eng = engine(calendar(("dijon", DIJON)), sun=fixed_sun(dt.time(22), dt.time(13)))  # near a polar circle
    for t in (at(2025, 1, 14, 23), at(2025, 1, 15, 12, 30)):
        d = eng.decide("l1", t)
        assert (d.level, d.source) == (100.0, "failsafe:sun-error"), t
    assert eng.decide("l1", at(2025, 1, 15, 13, 30)).level == 0.0


def test_a_round_decides_each_luminaire_as_deciding_it_alone() -> None:
    """level_at works a calendar decision out once per set of groups: it must equal each luminaire's own decision,
    sensor boosts (per luminaire), overrides (per luminaire) and plain program luminaires alike."""
    lums = {f"s{i}": {"rue-s", "sector-n"} for i in range(5)} | {f"p{i}": {"rue-p"} for i in range(5)}
    sensor = SensorProgram(base=AstroProgram(on_level=30), boost_level=100, hold_s=120)
    eng = LightingEngine(lums, fixed_sun(), PARIS, presence_sources={"pir-7": ["sector-n"]})
    eng.set_calendar(calendar(CalendarEntry(name="sensor", groups=frozenset({"sector-n"}), program=sensor),
                              ("dijon", DIJON)))
    assert isinstance(eng.command(cmd("ovr-1", 1, 55, target="p3"), at(2025, 1, 14, 21)), Accepted)
    eng.presence("pir-7", at(2025, 1, 14, 23))
    for hour, minute in ((12, 0), (18, 0), (22, 30), (23, 1), (23, 5), (5, 30)):
        now = at(2025, 1, 15 if hour < 12 else 14, hour, minute)
        assert eng.level_at(now) == {lum: eng.decide(lum, now) for lum in lums}
    night = eng.level_at(at(2025, 1, 14, 23, 1))
    assert night["s0"].level == 100.0 and night["p0"].level == 70.0 and night["p3"].level == 55.0


#: A cabinet of three streets and a sensor sector, every luminaire also in the city's group (as on the field).
ROUND_LUMS = {"a1": {"rue-a", "city"}, "a2": {"rue-a", "city"}, "b1": {"rue-b", "city"}, "b2": {"rue-b", "city"},
              "n1": {"rue-a", "sector-n", "city"}, "n2": {"sector-n", "city"}, "c1": {"rue-c", "city"}}
round_entries = st.builds(
    CalendarEntry,
    name=st.just("x"),
    days=st.frozensets(st.integers(1, 7), min_size=1),
    groups=st.none() | st.sampled_from([frozenset({"sector-n"}), frozenset({"rue-a"}), frozenset({"rue-b", "rue-c"}),
                                        frozenset({"city"}), frozenset({"nowhere"})]),
    program=programs,
)
round_overrides = st.lists(
    st.tuples(
        st.sampled_from([("group", "city"), ("group", "rue-a"), ("group", "rue-b"), ("group", "sector-n"),
                         ("luminaire", "a1"), ("luminaire", "n2"), ("luminaire", "c1")]),
        st.none() | levels,
        st.floats(-2, 2),  # start, hours from now
        st.floats(0.01, 4),  # length, hours
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@example(  # same entry today, different ones tomorrow: the day ahead sets next_change (15:00 vs sunset)
    raw_entries=[CalendarEntry(name="x", days=frozenset({2}), program=DIJON),
                 CalendarEntry(name="x", days=frozenset({3}), groups=frozenset({"rue-a"}),
                               program=FixedProgram(steps=(Step(at=dt.time(15), level=50),))),
                 CalendarEntry(name="x", days=frozenset({3}), program=FULL_NIGHT)],
    overrides=[], minutes=21 * 60, sensed_ago_s=None, current={},
)
@given(
    raw_entries=st.lists(round_entries, min_size=1, max_size=4),
    overrides=round_overrides,
    minutes=st.integers(0, 24 * 60 - 1),
    sensed_ago_s=st.none() | st.floats(0, 900),
    current=st.dictionaries(st.sampled_from(sorted(ROUND_LUMS)), levels, max_size=len(ROUND_LUMS)),
)
def test_a_round_shares_only_what_does_not_depend_on_the_luminaire(
    raw_entries: list[CalendarEntry],
    overrides: list[tuple[tuple[str, str], float | None, float, float]],
    minutes: int,
    sensed_ago_s: float | None,
    current: dict[str, float],
) -> None:
    """A round works a decision out once per set of groups, per pair of calendar entries and per set of overrides
    (see RoundMemo): whatever the calendar, overrides (of groups, of luminaires, cancels, future ones), presence and
    gear levels, each luminaire gets exactly the decision it gets alone."""
    entries_ = tuple(e.model_copy(update={"name": f"e{i}"}) for i, e in enumerate(raw_entries))
    eng = LightingEngine(ROUND_LUMS, fixed_sun(), PARIS, presence_sources={"pir": ["sector-n"]})
    eng.set_calendar(Calendar(entries=entries_))
    now = at(2025, 1, 14, 12) + dt.timedelta(minutes=minutes)
    for i, ((scope, target), level, start_h, length_h) in enumerate(overrides):
        start = now + dt.timedelta(hours=start_h)
        fields = cmd(f"o{i}", i + 1, level, target=target, scope=scope, start=start,
                     expires=start + dt.timedelta(hours=length_h))
        eng.command(fields, now - dt.timedelta(hours=3))
    if sensed_ago_s is not None:
        eng.presence("pir", now - dt.timedelta(seconds=sensed_ago_s))
    alone = {lum: eng.decide(lum, now, current.get(lum)) for lum in ROUND_LUMS}
    assert eng.level_at(now, current) == alone
