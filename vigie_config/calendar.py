"""TALQ-style lighting programs and the calendar that picks one per night.

Pure values: a program turns an :class:`OperatingDay` into the level changes of that day, and a
:class:`Calendar` says which program a luminaire follows on a given day. The box's clock, the sun's
ephemeris and the presence sensors stay outside (the engine in :mod:`edge_agent.lighting.control` brings them
in). Shared with the coordinator, which checks the calendars it pushes with the very models the node parses.

Why a noon-to-noon *operating day*: a night is the unit of street lighting. If the calendar switched
programs at midnight, a holiday entry starting on the 14th of July would cut the night of the 13th in
two, and a 70 % step at 22:00 on the 13th could be undone at 00:00 by the holiday program. So the
night that starts on the evening of date ``d`` belongs entirely to ``d``: the calendar is asked about
``d`` from 12:00 on ``d`` to 12:00 on ``d + 1`` (local time), and clock times before noon in a program
mean the next morning.

Every instant this module returns is in UTC: Python compares aware datetimes that share one
``tzinfo`` on their wall clock, which is an hour off across a DST change (see :mod:`edge_agent.lighting.astro`).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Callable
from typing import Annotated, Literal, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import SharedConfigError

#: ``sun(d)`` gives the sunset on local date ``d`` and the sunrise of the next morning, as aware
#: datetimes; in production it is a closure over :func:`edge_agent.lighting.astro.night_window`.
SunFn = Callable[[dt.date], tuple[dt.datetime, dt.datetime]]

#: Local clock time at which one operating day hands over to the next (see the module docstring).
DAY_START = dt.time(12, 0)

#: Pattern of entry names: they end up in decision sources and acks, so keep them log- and topic-safe.
NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class LightingError(SharedConfigError):
    """Base of the lighting programs' errors (and of the light role's, which extends them)."""


class ScheduleError(LightingError):
    """A program that cannot give a usable schedule for a day (bad data, empty night...)."""


class SunError(ScheduleError):
    """The injected sun clock failed or gave times that cannot be a night (naive, reversed, > 24 h)."""


class Change(NamedTuple):
    """From ``at`` (UTC) on, the program asks for ``level`` % until the next change."""

    at: dt.datetime
    level: float


def local_instant(day: dt.date, clock: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """The UTC instant of local clock time ``clock`` on ``day``.

    In the autumn fold the first occurrence; in the spring gap (02:30 does not exist) the winter offset, so
    the time happens an hour late (03:30 summer time) rather than not at all.
    """
    return dt.datetime.combine(day, clock, tzinfo=tz).astimezone(dt.UTC)


def operating_date(now: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """The operating day that ``now`` belongs to: the local date, minus one before noon."""
    local = now.astimezone(tz)
    return local.date() if local.time() >= DAY_START else local.date() - dt.timedelta(days=1)


class OperatingDay:
    """One noon-to-noon lighting day: its bounds, its clock times, its night.

    The sun is asked at most once per day object and only if a program needs it, so a fixed program keeps
    working on a box whose ephemeris is broken.
    """

    def __init__(self, day: dt.date, tz: dt.tzinfo, sun: SunFn) -> None:
        self.date = day
        self.tz = tz
        self._sun = sun
        self._night: tuple[dt.datetime, dt.datetime] | None = None
        self.start = local_instant(day, DAY_START, tz)
        self.end = local_instant(day + dt.timedelta(days=1), DAY_START, tz)

    @classmethod
    def of(cls, now: dt.datetime, tz: dt.tzinfo, sun: SunFn) -> OperatingDay:
        """The operating day containing ``now``."""
        return cls(operating_date(now, tz), tz, sun)

    def following(self) -> OperatingDay:
        """The next operating day, sharing this one's clock and sun."""
        return OperatingDay(self.date + dt.timedelta(days=1), self.tz, self._sun)

    def at(self, clock: dt.time) -> dt.datetime:
        """The instant of local ``clock`` within this day: on its date from noon, on the next date before."""
        day = self.date if clock >= DAY_START else self.date + dt.timedelta(days=1)
        return local_instant(day, clock, self.tz)

    def sun_night(self) -> tuple[dt.datetime, dt.datetime]:
        """(sunset, sunrise) of the night starting on this date, in UTC, checked so bad sun data fails here.

        Raises:
            SunError: The sun callable raised, or returned naive, reversed or over-long times.
        """
        if self._night is None:
            try:
                sunset, sunrise = self._sun(self.date)
            except Exception as exc:
                raise SunError(f"sun clock failed for {self.date.isoformat()}: {type(exc).__name__}: {exc}") from exc
            if not all(isinstance(t, dt.datetime) and t.utcoffset() is not None for t in (sunset, sunrise)):
                raise SunError(f"sun clock gave non-aware times for {self.date.isoformat()}")
            sunset, sunrise = sunset.astimezone(dt.UTC), sunrise.astimezone(dt.UTC)
            if not dt.timedelta(0) < sunrise - sunset < dt.timedelta(days=1):
                raise SunError(f"sun clock gave no night for {self.date.isoformat()}: {sunset} -> {sunrise}")
            self._night = (sunset, sunrise)
        return self._night

    def night(self) -> tuple[dt.datetime, dt.datetime]:
        """:meth:`sun_night`, if it lies within this operating day, as every program assumes.

        A night that crosses noon (sunset before it, or sunrise after it: only near the polar circles) cannot be
        given to one calendar entry; refusing it sends the engine to its fail-safe, lit all night, rather than
        cutting the night in two and leaving one half dark.

        Raises:
            SunError: No usable sun times, or a night across the noon hand-over.
        """
        sunset, sunrise = self.sun_night()
        if sunset < self.start or sunrise > self.end:
            raise SunError(f"the night of {self.date.isoformat()} ({sunset} -> {sunrise}) crosses the noon hand-over")
        return sunset, sunrise

    def previous(self) -> OperatingDay:
        """The operating day before, sharing this one's clock and sun."""
        return OperatingDay(self.date - dt.timedelta(days=1), self.tz, self._sun)

    def clamp(self, when: dt.datetime) -> dt.datetime:
        """``when`` kept within this day, so that huge offsets never spill a night into the next day's."""
        return min(max(when, self.start), self.end)


def _op_minutes(clock: dt.time) -> float:
    """Position of a clock time within the operating day, in minutes after :data:`DAY_START`."""
    minutes = clock.hour * 60 + clock.minute + clock.second / 60 - (DAY_START.hour * 60 + DAY_START.minute)
    return minutes % (24 * 60)


Level = Annotated[float, Field(ge=0.0, le=100.0)]
Offset = Annotated[float, Field(ge=-180.0, le=180.0)]
Ramp = Annotated[float, Field(ge=0.0, le=3600.0)]


class Step(BaseModel):
    """From local clock time ``at`` on, ``level`` % (0 is an explicit switch-off, never raised to a floor)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: dt.time
    level: Level

    @field_validator("at")
    @classmethod
    def _wall_clock(cls, value: dt.time) -> dt.time:
        if value.tzinfo is not None:
            raise ValueError("step times are local wall-clock times: give them without a time zone")
        return value


def _unique_times(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """Steps sorted in operating-day order; two steps at one time would make the level depend on list order."""
    times = [s.at for s in steps]
    if len(set(times)) != len(times):
        raise ValueError("two steps at the same time")
    return tuple(sorted(steps, key=lambda s: _op_minutes(s.at)))


class Program(BaseModel, ABC):
    """What a luminaire does during one operating day, as level changes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @abstractmethod
    def changes(self, day: OperatingDay) -> list[Change]:
        """Level changes of ``day``, sorted, the first one at ``day.start`` (the level the day opens with)."""

    def level_at(self, day: OperatingDay, now: dt.datetime) -> tuple[float, dt.datetime]:
        """The scheduled level at ``now`` and when it next changes (``day.end`` at the latest).

        The raw program: the engine adds presence, the night floor and a look into the next day.

        Raises:
            ValueError: ``now`` is not within ``day``.
        """
        if not day.start <= now < day.end:
            raise ValueError(f"{now} is not within the operating day {day.date.isoformat()}")
        changes = self.changes(day)
        i = bisect_right([c.at for c in changes], now) - 1
        level = changes[i].level
        return level, next((c.at for c in changes[i + 1 :] if c.level != level), day.end)

    @abstractmethod
    def transition_s(self) -> float:
        """Ramp, in seconds, for a scheduled change: slow enough that a 100 -> 70 % step goes unnoticed."""


class FixedProgram(Program):
    """Clock-time steps repeated every day (TALQ fixed-time program), e.g. a tunnel or an underpass.

    The schedule is cyclic: before the day's first step the level is the last step's, as it was yesterday.
    """

    kind: Literal["fixed"] = "fixed"
    steps: tuple[Step, ...] = Field(min_length=1, max_length=48)
    ramp_s: Ramp = 60.0

    @field_validator("steps")
    @classmethod
    def _sorted(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        return _unique_times(steps)

    def changes(self, day: OperatingDay) -> list[Change]:
        """The day opens with the level in force at noon, then each step in operating-day order."""
        placed = sorted((Change(day.at(s.at), s.level) for s in self.steps), key=lambda c: c.at)  # DST gap
        return [Change(day.start, self.steps[-1].level), *placed]

    def transition_s(self) -> float:
        """See :meth:`Program.transition_s`."""
        return self.ramp_s


class AstroProgram(Program):
    """On at sunset + offset, off at sunrise + offset, with clock-time steps inside the night.

    Dijon's rule is ``steps=(22:00 -> 70, 05:00 -> 100)``; a commune that switches off at night uses
    ``(00:00 -> 0, 05:00 -> 100)``. A step in force before the lights go on (a sunset after 22:00 further
    north) gives the level they go on at, so "70 % from 22:00" holds whatever the season; steps after the
    lights go off are ignored, the night being over.

    Attributes:
        sunset_offset_min: Elapsed minutes after sunset to switch on (negative: before), as in :mod:`.astro`.
        sunrise_offset_min: Elapsed minutes after sunrise to switch off.
        on_level: Level at switch-on when no step is in force yet.
    """

    kind: Literal["astro"] = "astro"
    sunset_offset_min: Offset = 0.0
    sunrise_offset_min: Offset = 0.0
    on_level: Level = 100.0
    steps: tuple[Step, ...] = Field(default=(), max_length=48)
    ramp_s: Ramp = 60.0

    @field_validator("steps")
    @classmethod
    def _sorted(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        return _unique_times(steps)

    def night(self, day: OperatingDay) -> tuple[dt.datetime, dt.datetime]:
        """(on, off) instants of ``day``'s night after the offsets.

        Raises:
            SunError: No usable sun times.
            ScheduleError: The offsets leave no night.
        """
        sunset, sunrise = day.night()
        on = day.clamp(sunset + dt.timedelta(minutes=self.sunset_offset_min))
        off = day.clamp(sunrise + dt.timedelta(minutes=self.sunrise_offset_min))
        if off <= on:
            raise ScheduleError(f"offsets leave no night on {day.date.isoformat()}: on {on}, off {off}")
        return on, off

    def changes(self, day: OperatingDay) -> list[Change]:
        """Off until ``on``, then the night's steps, off again from ``off``."""
        on, off = self.night(day)
        placed = [Change(day.at(s.at), s.level) for s in self.steps]
        placed.sort(key=lambda c: c.at)
        at_on = [c.level for c in placed if c.at <= on]
        out = [Change(day.start, 0.0), Change(on, at_on[-1] if at_on else self.on_level)]
        out += [c for c in placed if on < c.at < off]
        out.append(Change(off, 0.0))
        return out

    def transition_s(self) -> float:
        """See :meth:`Program.transition_s`."""
        return self.ramp_s


class SensorProgram(Program):
    """A base program whose level presence raises to ``boost_level`` for ``hold_s`` after the last detection,
    or for ``release_hold_s`` after every source feeding the luminaire has reported its zone empty.

    Boosting only happens within the sensor period (the night of the sun clock by default, or a clock-time
    ``window``): a pedestrian at noon must not light a street. Presence never lowers a level: the boost is a
    floor, so a base at 100 % stays at 100 %.

    Why the boost level can follow the clock (``boost_steps``): what a road user needs is the lighting class of
    the road at the traffic of that hour, not always the design class. CEN/TR 13201-1 selects the class from
    weighted parameters, traffic volume among them, and its Annex A lowers the class for the quiet hours of the
    night (P4 to P6 in its example); on a main road at 01:00 a passing car is served by M5 (0.5 cd/m2), not by
    the M3 (1.0 cd/m2) of the evening peak. So a main road's program can say "boost to 100 % until 20:00, to
    75 % (one class lower) until 23:00, to 50 % (two lower) until 05:00", while a residential street keeps one
    boost level for a pedestrian all night.

    Why a release on empty (``release_hold_s``): a PIR or a radar only says "something moved"; it cannot tell that
    the street is empty again, so the light has to be held for ``hold_s`` after its last report, long enough to
    bridge the gaps between reports of someone still there. Most of that hold lights an empty street. A camera
    counts what is in its zone and says when the count falls to zero (its ``occupancy`` event); it is the end of
    the presence, not a guess. So when every source feeding the luminaire's groups has reported its zone empty
    after its last detection, the boost ends ``release_hold_s`` later (a few seconds: a pedestrian hidden by a
    parked van is reported gone and back) and ramps down over ``release_ramp_s``. Only a report of an empty zone
    shortens the hold: a source whose zone is still occupied, or whose "empty" never arrived (a lost message, a
    camera that died), keeps the full ``hold_s``, so a missing report costs energy, never light.

    Attributes:
        base: The schedule without anybody around (typically astro at a low ``on_level``).
        boost_level: Level presence raises to, before the first of ``boost_steps`` (all day without steps).
        boost_steps: From each step's local clock time on, presence raises to that step's level instead; in
            operating-day order (noon to noon), so ``boost_level`` is the evening's and the steps follow the night.
        boost_ramp_s: Ramp up on presence, short so the light is there when the pedestrian arrives; the
            return to the base level uses the base's (slow) ramp (``release_ramp_s`` after a release), and so
            does a boost that a step lowers while it lasts.
        hold_s: Seconds the boost lasts after the last detection.
        release_hold_s: Seconds the boost lasts once every presence source feeding the luminaire has reported
            its zone empty after its last detection (a camera's occupancy falling to zero), shorter than
            ``hold_s``; ``None``: empty reports change nothing, the boost lasts ``hold_s``.
        release_ramp_s: Ramp down to the base after such a release; ``None``: the base's ramp. Until the hold
            would have ended: a scheduled change of the base after the release takes the base's own ramp.
        window: Sensor period as local (start, end) clock times within the operating day; ``None``: the night.
    """

    kind: Literal["sensor"] = "sensor"
    base: Annotated[FixedProgram | AstroProgram, Field(discriminator="kind")]
    boost_level: Level = 100.0
    boost_steps: tuple[Step, ...] = Field(default=(), max_length=48)
    hold_s: float = Field(120.0, gt=0.0, le=3600.0)
    boost_ramp_s: Ramp = 2.0
    release_hold_s: Annotated[float, Field(ge=0.0, le=3600.0)] | None = None
    release_ramp_s: Ramp | None = None
    window: tuple[dt.time, dt.time] | None = None

    @field_validator("boost_steps")
    @classmethod
    def _sorted(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        return _unique_times(steps)

    @model_validator(mode="after")
    def _release_before_hold(self) -> Self:
        if self.release_hold_s is not None and self.release_hold_s >= self.hold_s:
            raise ValueError(
                f"release_hold_s ({self.release_hold_s:g} s) must be shorter than hold_s ({self.hold_s:g} s): "
                "a release only ever ends a boost early"
            )
        return self

    @model_validator(mode="after")
    def _window_in_order(self) -> Self:
        if self.window is not None:
            start, end = self.window
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("sensor window times are local wall-clock times: give them without a time zone")
            if _op_minutes(end) <= _op_minutes(start):
                raise ValueError(f"sensor window {start}-{end} must end after it starts (days run noon to noon)")
        return self

    def changes(self, day: OperatingDay) -> list[Change]:
        """The base program's changes: presence is applied on top by the engine, which knows the sensors."""
        return self.base.changes(day)

    def transition_s(self) -> float:
        """The base program's ramp."""
        return self.base.transition_s()

    def boost_at(self, day: OperatingDay, now: dt.datetime) -> tuple[float, dt.datetime]:
        """The boost level in force at ``now`` and when it next changes (``day.end`` at the latest).

        Raises:
            ValueError: ``now`` is not within ``day``.
        """
        if not day.start <= now < day.end:
            raise ValueError(f"{now} is not within the operating day {day.date.isoformat()}")
        placed = sorted((Change(day.at(s.at), s.level) for s in self.boost_steps), key=lambda c: c.at)  # DST gap
        level = self.boost_level
        for at, step_level in placed:
            if at > now:
                if step_level != level:
                    return level, at
                continue
            level = step_level
        return level, day.end

    def period(self, day: OperatingDay) -> tuple[dt.datetime, dt.datetime]:
        """The sensor period of ``day`` as UTC instants (raises :class:`SunError` for a night period)."""
        if self.window is None:
            return day.night()
        return day.at(self.window[0]), day.at(self.window[1])


AnyProgram = Annotated[FixedProgram | AstroProgram | SensorProgram, Field(discriminator="kind")]


class CalendarEntry(BaseModel):
    """A program and the days (and groups) it is valid for.

    Attributes:
        name: Unique in its calendar; decisions name it (``calendar:<name>``).
        days: ISO weekdays (1 = Monday) of the operating day; all by default.
        first_day: First operating day of validity, inclusive.
        last_day: Last operating day of validity, inclusive.
        dates: If not empty, only these operating days (public holidays); other rules still apply.
        groups: If set, only luminaires in one of these groups follow this entry (a sensor sector).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    days: frozenset[Annotated[int, Field(ge=1, le=7)]] = frozenset(range(1, 8))
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    dates: frozenset[dt.date] = Field(default=frozenset(), max_length=366)
    groups: frozenset[str] | None = None
    program: AnyProgram

    @model_validator(mode="after")
    def _range_in_order(self) -> Self:
        if self.first_day and self.last_day and self.last_day < self.first_day:
            raise ValueError(f"entry {self.name!r}: last_day {self.last_day} is before first_day {self.first_day}")
        return self

    def applies(self, day: dt.date, groups: frozenset[str]) -> bool:
        """Whether this entry is valid on operating day ``day`` for a luminaire in ``groups``."""
        return (
            day.isoweekday() in self.days
            and (self.first_day is None or day >= self.first_day)
            and (self.last_day is None or day <= self.last_day)
            and (not self.dates or day in self.dates)
            and (self.groups is None or not self.groups.isdisjoint(groups))
        )


class Calendar(BaseModel):
    """Entries in priority order: the first one valid for a day wins (holidays above weekdays)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entries: tuple[CalendarEntry, ...] = Field(max_length=64)

    @field_validator("entries")
    @classmethod
    def _unique_names(cls, entries: tuple[CalendarEntry, ...]) -> tuple[CalendarEntry, ...]:
        names = [e.name for e in entries]
        if len(set(names)) != len(names):
            raise ValueError("calendar entry names must be unique: decisions and acks refer to them")
        return entries

    def entry_for(self, day: dt.date, groups: frozenset[str]) -> CalendarEntry | None:
        """The entry a luminaire in ``groups`` follows on operating day ``day``, if any."""
        return next((e for e in self.entries if e.applies(day, groups)), None)
