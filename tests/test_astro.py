"""The astronomical clock against an independent ephemeris, across the year and across DST changes.

Reference: PyEphem with the almanac (USNO) convention, i.e. ``pressure = 0`` (no model refraction) and
``horizon = '-0:34'`` (a fixed 34' of refraction), rising and setting of the sun's *upper limb* (PyEphem's
default, ``use_center=False``, adds the apparent radius, ~16'), so the sun's centre is 50' below the horizon.
astral puts it at ~47' (its refraction at that zenith is 31'), hence a constant-sign gap of 13-21 s at Dijon:
sunrise a little later, sunset a little earlier than the almanac. Civil twilight: sun's centre at -6 degrees
(``horizon='-6'``, ``use_center=True``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import ephem  # type: ignore[import-untyped]  # no stubs; used in tests only
import pytest

from edge_agent.errors import EdgeError
from edge_agent.lighting.astro import (
    DIJON_LAT,
    DIJON_LON,
    DIJON_TZ,
    AstroError,
    NightWindow,
    NoSunEventError,
    civil_dawn,
    civil_dusk,
    night_window,
    sun_times,
    sunrise,
    sunset,
)

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC
TOLERANCE_S = 120.0

#: Solstices, equinoxes, New Year, and both DST change days of 2026 (clocks go forward on 29 March, back on
#: 25 October, at 01:00 UTC).
DATES = [
    dt.date(2026, 1, 1),
    dt.date(2026, 3, 20),
    dt.date(2026, 3, 29),
    dt.date(2026, 6, 21),
    dt.date(2026, 9, 23),
    dt.date(2026, 10, 25),
    dt.date(2026, 12, 21),
]


def ephem_time(day: dt.date, event: str, lat: float = DIJON_LAT, lon: float = DIJON_LON) -> dt.datetime:
    """The reference: PyEphem's next rising/setting after local midnight of ``day`` at Dijon, as aware UTC."""
    obs = ephem.Observer()
    obs.lat, obs.lon, obs.elevation = str(lat), str(lon), 0.0
    obs.pressure = 0.0
    civil = event in ("dawn", "dusk")
    obs.horizon = "-6" if civil else "-0:34"
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=PARIS).astimezone(UTC)
    obs.date = ephem.Date(midnight.replace(tzinfo=None))
    find = obs.next_rising if event in ("dawn", "sunrise") else obs.next_setting
    found: dt.datetime = find(ephem.Sun(), use_center=civil).datetime()
    return found.replace(tzinfo=UTC)


def gap_s(ours: dt.datetime, reference: dt.datetime) -> float:
    """Signed seconds ``ours - reference``, on the UTC line (local aware subtraction ignores DST)."""
    return (ours.astimezone(UTC) - reference.astimezone(UTC)).total_seconds()


@pytest.mark.parametrize("day", DATES, ids=str)
def test_dijon_sunrise_and_sunset_match_pyephem(day: dt.date) -> None:
    assert abs(gap_s(sunrise(day), ephem_time(day, "sunrise"))) < TOLERANCE_S
    assert abs(gap_s(sunset(day), ephem_time(day, "sunset"))) < TOLERANCE_S


@pytest.mark.parametrize("day", DATES, ids=str)
def test_dijon_civil_twilight_matches_pyephem(day: dt.date) -> None:
    assert abs(gap_s(civil_dawn(day), ephem_time(day, "dawn"))) < TOLERANCE_S
    assert abs(gap_s(civil_dusk(day), ephem_time(day, "dusk"))) < TOLERANCE_S


@pytest.mark.parametrize("day", DATES, ids=str)
def test_horizon_convention_is_astral_s_as_documented(day: dt.date) -> None:
    """The module docstring promises a sun ~3' higher than the almanac's: later sunrise, earlier sunset, < 30 s."""
    assert 0.0 < gap_s(sunrise(day), ephem_time(day, "sunrise")) < 30.0
    assert -30.0 < gap_s(sunset(day), ephem_time(day, "sunset")) < 0.0


def test_every_night_of_the_year_matches_pyephem() -> None:
    day = dt.date(2026, 1, 1)
    while day.year == 2026:
        on_at, off_at = night_window(day)
        assert abs(gap_s(on_at, ephem_time(day, "sunset"))) < TOLERANCE_S, day
        assert abs(gap_s(off_at, ephem_time(day + dt.timedelta(days=1), "sunrise"))) < TOLERANCE_S, day
        assert on_at.date() == day
        assert off_at.date() == day + dt.timedelta(days=1)
        day += dt.timedelta(days=1)


def test_regression_values_at_the_solstices() -> None:
    """Values computed once with astral 3.2 (to the second): a change of library or convention shows here."""
    expected = {
        dt.date(2026, 6, 21): ("2026-06-21T05:43:37+02:00", "2026-06-21T21:39:42+02:00"),
        dt.date(2026, 12, 21): ("2026-12-21T08:24:17+01:00", "2026-12-21T16:51:32+01:00"),
    }
    for day, (rise, set_) in expected.items():
        assert abs(gap_s(sunrise(day), dt.datetime.fromisoformat(rise))) <= 1.0
        assert abs(gap_s(sunset(day), dt.datetime.fromisoformat(set_))) <= 1.0


def test_times_are_aware_in_europe_paris_with_the_right_dst_offset() -> None:
    hour = dt.timedelta(hours=1)
    cases = {  # day -> UTC offset in force at its sunrise and at its sunset
        dt.date(2026, 3, 28): (hour, hour),
        dt.date(2026, 3, 29): (2 * hour, 2 * hour),  # clocks went forward at 02:00, before sunrise
        dt.date(2026, 10, 24): (2 * hour, 2 * hour),
        dt.date(2026, 10, 25): (hour, hour),  # clocks went back at 03:00, before sunrise
        dt.date(2026, 6, 21): (2 * hour, 2 * hour),
        dt.date(2026, 12, 21): (hour, hour),
    }
    for day, (at_rise, at_set) in cases.items():
        times = sun_times(day)
        for when in (times.dawn, times.sunrise, times.sunset, times.dusk):
            assert isinstance(when.tzinfo, ZoneInfo)
            assert when.tzinfo.key == "Europe/Paris"
            assert when.date() == day
        assert times.sunrise.utcoffset() == at_rise
        assert times.sunset.utcoffset() == at_set
        assert times.dawn < times.sunrise < times.sunset < times.dusk


def test_dst_shifts_local_sunrise_by_an_hour_but_not_the_sun() -> None:
    before, after = sunrise(dt.date(2026, 3, 28)), sunrise(dt.date(2026, 3, 29))
    wall_clock = dt.datetime.combine(dt.date.min, after.time()) - dt.datetime.combine(dt.date.min, before.time())
    real = gap_s(after.astimezone(UTC) - dt.timedelta(days=1), before)
    assert 57 * 60 < wall_clock.total_seconds() < 59 * 60  # 1 h later on the wall, minus ~2 min of spring
    assert -150 < real < -90  # the sun itself rises ~2 min earlier each day in late March


def test_night_window_applies_offsets_as_elapsed_minutes() -> None:
    day = dt.date(2026, 1, 15)
    on_at, off_at = night_window(day, sunset_offset_min=-15, sunrise_offset_min=20)
    assert gap_s(on_at, sunset(day)) == pytest.approx(-15 * 60, abs=1e-3)
    assert gap_s(off_at, sunrise(day + dt.timedelta(days=1))) == pytest.approx(20 * 60, abs=1e-3)
    assert on_at.tzinfo == PARIS
    assert off_at.tzinfo == PARIS


def test_night_window_defaults_are_dijon() -> None:
    day = dt.date(2026, 2, 2)
    assert night_window(day) == night_window(day, 47.322, 5.041, "Europe/Paris", 0.0, 0.0)
    assert (DIJON_LAT, DIJON_LON, DIJON_TZ) == (47.322, 5.041, "Europe/Paris")
    assert isinstance(night_window(day), NightWindow)


def test_night_across_spring_dst_change_lasts_what_the_sky_says() -> None:
    day = dt.date(2026, 3, 28)
    on_at, off_at = night_window(day)
    length = gap_s(off_at, on_at)
    reference = gap_s(ephem_time(day + dt.timedelta(days=1), "sunrise"), ephem_time(day, "sunset"))
    assert abs(length - reference) < TOLERANCE_S
    assert off_at.utcoffset() == dt.timedelta(hours=2)
    assert on_at.utcoffset() == dt.timedelta(hours=1)


def test_offset_landing_in_the_spring_dst_gap_is_computed_in_elapsed_time() -> None:
    """Sunrise 07:25 CEST minus 5 h is 00:25 UTC = 01:25 CET; wall-clock arithmetic would give 02:25, a time
    that does not exist that night."""
    day = dt.date(2026, 3, 28)
    _, off_at = night_window(day, sunrise_offset_min=-300)
    assert gap_s(off_at, sunrise(day + dt.timedelta(days=1))) == pytest.approx(-300 * 60, abs=1e-3)
    assert (off_at.hour, off_at.minute) == (1, 25)
    assert off_at.utcoffset() == dt.timedelta(hours=1)


def test_autumn_night_lasts_an_hour_more_than_its_wall_clock_times_suggest() -> None:
    day = dt.date(2026, 10, 24)
    on_at, off_at = night_window(day)
    elapsed = gap_s(off_at, on_at)
    naive = (off_at.replace(tzinfo=None) - on_at.replace(tzinfo=None)).total_seconds()
    assert elapsed - naive == pytest.approx(3600, abs=1e-3)


@pytest.mark.parametrize(
    ("day", "sun_always"), [(dt.date(2026, 6, 21), "above"), (dt.date(2026, 12, 21), "below")], ids=str
)
def test_polar_day_and_night_raise_a_clear_error(day: dt.date, sun_always: str) -> None:
    tromso = (69.65, 18.96, "Europe/Oslo")
    with pytest.raises(NoSunEventError) as info:
        night_window(day, *tromso)
    assert info.value.sun_always == sun_always
    assert info.value.event == "sunset"
    assert info.value.day == day
    assert day.isoformat() in str(info.value)
    assert isinstance(info.value, AstroError)
    assert isinstance(info.value, EdgeError)


def test_white_nights_have_no_civil_dusk_but_a_sunset() -> None:
    day, lat, lon, tz = dt.date(2026, 6, 21), 65.0, 25.47, "Europe/Helsinki"  # Oulu area
    assert sunset(day, lat, lon, tz).date() == day
    with pytest.raises(NoSunEventError) as info:
        civil_dusk(day, lat, lon, tz)
    assert info.value.sun_always == "above"


def test_bad_inputs_are_refused_with_a_reason() -> None:
    day = dt.date(2026, 1, 15)
    with pytest.raises(AstroError, match="Mars/Olympus"):
        night_window(day, tz="Mars/Olympus")
    with pytest.raises(ValueError, match="latitude"):
        sunset(day, lat=95.0)
    with pytest.raises(ValueError, match="longitude"):
        sunset(day, lon=-200.0)
    with pytest.raises(TypeError, match="date"):
        sunset(dt.datetime(2026, 1, 15, 12, tzinfo=PARIS))
    with pytest.raises(ValueError, match="sunrise_offset_min"):
        night_window(day, sunrise_offset_min=float("nan"))
    with pytest.raises(AstroError, match="leave no night"):
        night_window(day, sunset_offset_min=600, sunrise_offset_min=-600)
