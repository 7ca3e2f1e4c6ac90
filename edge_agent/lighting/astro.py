"""Astronomical clock of a light box: civil dawn, sunrise, sunset, civil dusk, and the night between them.

Pure: a date, coordinates and an IANA time zone in, aware datetimes out. The box's clock, its config and the
calendar that decides what to do with the night stay outside, so this module is tested against an independent
ephemeris (PyEphem, in ``tests/test_astro.py``) without any fixture.

Convention. Sunrise and sunset are astral's: the *upper limb* of the sun on a sea-level horizon, with
atmospheric refraction, i.e. the sun's centre at about -0.79 degrees (astral takes a 16' apparent radius and
refraction computed at that zenith, 31'). The almanac (USNO) convention is -0.833 degrees (16' radius + 34'
refraction), so astral's sunrise is some 15 s later and its sunset some 15 s earlier; at Dijon we measured
13-21 s over the year. Civil dawn and dusk are the sun's centre at -6 degrees (astral adds 3' of refraction:
20-30 s). Neither matters to street lighting, whose offsets are minutes and whose photocells disagree by more.

Offsets are *elapsed* minutes, applied on the UTC time line and only then converted to local time: Python's
aware arithmetic is wall-clock arithmetic within one ``tzinfo``, which would be an hour off across a DST change.
For the same reason, compare or subtract the results after ``.astimezone(UTC)``, not with ``-`` on local times.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import astral
import astral.sun

from vigie_config.lighting import DIJON_LAT, DIJON_LON, DIJON_TZ  # the defaults of the métropole's boxes

from ..errors import EdgeError

SunEvent = Literal["dawn", "sunrise", "sunset", "dusk"]

#: The event → (astral function, the sun's elevation at the event, degrees). The elevation only serves to tell
#: "the sun stays above" from "stays below" when the event does not happen (see :class:`NoSunEventError`).
_EVENTS: dict[SunEvent, tuple[Callable[[astral.Observer, dt.date, dt.tzinfo], dt.datetime], float]] = {
    "dawn": (lambda o, d, z: astral.sun.dawn(o, d, depression=6.0, tzinfo=z), -6.0),
    "sunrise": (lambda o, d, z: astral.sun.sunrise(o, d, tzinfo=z), -0.833),
    "sunset": (lambda o, d, z: astral.sun.sunset(o, d, tzinfo=z), -0.833),
    "dusk": (lambda o, d, z: astral.sun.dusk(o, d, depression=6.0, tzinfo=z), -6.0),
}


class AstroError(EdgeError):
    """A sun time that cannot be given: unknown time zone, or a night left empty by its offsets."""


class NoSunEventError(AstroError):
    """The sun does not cross the event's elevation on that local day (polar day or night, white nights).

    Never raised at Dijon's latitude; above the polar circles (or above ~60 degrees for civil twilight) it is the
    normal summer or winter answer. The caller chooses the fallback, and ``sun_always`` tells it which one
    applies: a lighting calendar keeps the lights on all day when the sun stays ``"below"`` (polar night) and
    off when it stays ``"above"`` (midnight sun). Choosing here would hide a policy inside the clock.

    Attributes:
        event: The missing event.
        day: The local date asked for.
        sun_always: ``"above"`` or ``"below"`` the event's elevation all day long; ``None`` in the rare case
            where the event exists but falls on the neighbouring local date (days near a polar boundary).
    """

    def __init__(self, event: SunEvent, day: dt.date, sun_always: Literal["above", "below"] | None) -> None:
        if sun_always is None:
            reason = "it falls on a neighbouring local date"
        else:
            reason = f"the sun stays {sun_always} the {event} elevation all day"
        super().__init__(f"no {event} on {day.isoformat()}: {reason}")
        self.event: SunEvent = event
        self.day = day
        self.sun_always = sun_always


@dataclass(frozen=True, slots=True)
class SunTimes:
    """The four sun times of one local day, aware in the requested zone."""

    dawn: dt.datetime
    sunrise: dt.datetime
    sunset: dt.datetime
    dusk: dt.datetime


class NightWindow(NamedTuple):
    """When the astro clock switches the lights on and off: a tuple, so ``on_at, off_at = ...`` works."""

    on_at: dt.datetime
    off_at: dt.datetime


def sun_event(
    event: SunEvent,
    day: dt.date,
    lat: float = DIJON_LAT,
    lon: float = DIJON_LON,
    tz: str | dt.tzinfo = DIJON_TZ,
) -> dt.datetime:
    """The time of ``event`` on the local date ``day`` at ``(lat, lon)``, aware in ``tz``.

    Raises:
        NoSunEventError: The sun does not cross the event's elevation that day (polar latitudes).
        AstroError: ``tz`` is not a known IANA zone.
        ValueError: Coordinates out of range.
        TypeError: ``day`` is a datetime (ambiguous: astral would silently take its own zone).
    """
    zone = _zone(tz)
    observer = _observer(lat, lon)
    if isinstance(day, dt.datetime):
        raise TypeError(f"day must be a date, not a datetime ({day!r}): pass day.date() in the wanted zone")
    compute, elevation = _EVENTS[event]
    try:
        return compute(observer, day, zone)
    except ValueError as exc:  # astral's only signal: "math domain error" or "Unable to find a ... time"
        raise NoSunEventError(event, day, _sun_always(observer, day, elevation)) from exc


def sunrise(
    day: dt.date, lat: float = DIJON_LAT, lon: float = DIJON_LON, tz: str | dt.tzinfo = DIJON_TZ
) -> dt.datetime:
    """Sunrise (upper limb, refraction included) on the local date ``day``; see :func:`sun_event`."""
    return sun_event("sunrise", day, lat, lon, tz)


def sunset(day: dt.date, lat: float = DIJON_LAT, lon: float = DIJON_LON, tz: str | dt.tzinfo = DIJON_TZ) -> dt.datetime:
    """Sunset (upper limb, refraction included) on the local date ``day``; see :func:`sun_event`."""
    return sun_event("sunset", day, lat, lon, tz)


def civil_dawn(
    day: dt.date, lat: float = DIJON_LAT, lon: float = DIJON_LON, tz: str | dt.tzinfo = DIJON_TZ
) -> dt.datetime:
    """Civil dawn (sun's centre 6 degrees below the horizon) on the local date ``day``."""
    return sun_event("dawn", day, lat, lon, tz)


def civil_dusk(
    day: dt.date, lat: float = DIJON_LAT, lon: float = DIJON_LON, tz: str | dt.tzinfo = DIJON_TZ
) -> dt.datetime:
    """Civil dusk (sun's centre 6 degrees below the horizon) on the local date ``day``."""
    return sun_event("dusk", day, lat, lon, tz)


def sun_times(day: dt.date, lat: float = DIJON_LAT, lon: float = DIJON_LON, tz: str | dt.tzinfo = DIJON_TZ) -> SunTimes:
    """All four sun times of the local date ``day``; raises :class:`NoSunEventError` if any is missing."""
    return SunTimes(*(sun_event(e, day, lat, lon, tz) for e in ("dawn", "sunrise", "sunset", "dusk")))


def night_window(
    day: dt.date,
    lat: float = DIJON_LAT,
    lon: float = DIJON_LON,
    tz: str | dt.tzinfo = DIJON_TZ,
    sunset_offset_min: float = 0.0,
    sunrise_offset_min: float = 0.0,
) -> NightWindow:
    """The night that starts on the local date ``day``: lights on at its sunset, off at the next day's sunrise.

    Offsets are signed minutes, positive meaning later (TALQ's astro clock: ``sunset_offset_min=-10`` lights up
    ten minutes before sunset, ``sunrise_offset_min=+15`` keeps the lights on fifteen minutes after sunrise).
    They are elapsed time, so a night crossing a DST change is still as long as the sky makes it.

    Raises:
        NoSunEventError: No sunset on ``day`` or no sunrise on the next day (polar latitudes); its
            ``sun_always`` says whether the fallback is "lit all day" (``"below"``) or "unlit" (``"above"``).
        AstroError: Unknown time zone, or offsets that put ``off_at`` at or before ``on_at``.
        ValueError: Coordinates out of range or an offset that is not finite.
    """
    for name, value in (("sunset_offset_min", sunset_offset_min), ("sunrise_offset_min", sunrise_offset_min)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number of minutes, got {value!r}")
    zone = _zone(tz)
    on_at = _shift(sunset(day, lat, lon, zone), sunset_offset_min, zone)
    off_at = _shift(sunrise(day + dt.timedelta(days=1), lat, lon, zone), sunrise_offset_min, zone)
    if off_at <= on_at:  # aware comparison is on the UTC line: safe across DST
        raise AstroError(
            f"offsets (sunset {sunset_offset_min:+g} min, sunrise {sunrise_offset_min:+g} min) leave no night "
            f"on {day.isoformat()}: on at {on_at.isoformat()}, off at {off_at.isoformat()}"
        )
    return NightWindow(on_at, off_at)


def _shift(when: dt.datetime, minutes: float, zone: dt.tzinfo) -> dt.datetime:
    """``when`` plus elapsed ``minutes``, in ``zone``: added in UTC, since local aware arithmetic ignores DST."""
    return (when.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)).astimezone(zone)


def _zone(tz: str | dt.tzinfo) -> dt.tzinfo:
    """The tzinfo of an IANA name, with an error that names it (zoneinfo raises a bare ``KeyError``)."""
    if not isinstance(tz, str):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise AstroError(f"unknown IANA time zone {tz!r} (expected e.g. {DIJON_TZ!r})") from exc


def _observer(lat: float, lon: float) -> astral.Observer:
    """An astral observer at sea level (street lamps see a street, not a horizon from a mountain top)."""
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValueError(f"latitude must be within [-90, 90] degrees, got {lat!r}")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ValueError(f"longitude must be within [-180, 180] degrees, got {lon!r}")
    return astral.Observer(latitude=lat, longitude=lon, elevation=0.0)


def _sun_always(observer: astral.Observer, day: dt.date, elevation: float) -> Literal["above", "below"] | None:
    """Whether the sun stays above or below ``elevation`` all day: its height at solar noon and midnight tells."""
    highest = astral.sun.elevation(observer, astral.sun.noon(observer, day))
    lowest = astral.sun.elevation(observer, astral.sun.midnight(observer, day))
    if highest < elevation:
        return "below"
    if lowest > elevation:
        return "above"
    return None
