"""The lighting engine: calendar, overrides and presence in, one :class:`Decision` per luminaire out.

Pure: no thread, no I/O, no clock of its own. The node passes ``now`` (aware) and the sun clock, drives the
gear with the decisions, persists :attr:`LightingEngine.state` after every change and asks again at the
earliest ``next_change``.

Precedence for one luminaire, highest first: its own override, the most recent override of one of its groups,
the calendar (with presence boost and the night floor). Whatever fails on the calendar path (no calendar, no
entry for the day, a program that raises, bad data, a sun clock that fails) ends in the fail-safe "lit at
night", never in the dark: a dark street is a safety incident, a lit one at 3 a.m. only costs energy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigie_config.calendar import (
    Calendar,
    CalendarEntry,
    Change,
    LightingError,
    OperatingDay,
    ScheduleError,
    SensorProgram,
    SunError,
    SunFn,
)

from .overrides import Accepted, OverrideCommand, Rejected, accept, fresh, relevant, upcoming, winner

#: How soon a fail-safe decision asks to be re-evaluated: the fault may be transient (a sun clock glitch).
FAILSAFE_RETRY = dt.timedelta(minutes=5)

#: The night assumed when even the sun clock fails: lit from 17:00 to 08:00 local, dark only in daylight.
CLOCK_NIGHT = (dt.time(17, 0), dt.time(8, 0))

#: Command ids remembered to answer ``duplicate`` to a redelivery (QoS 1), also after a restart.
MAX_REMEMBERED_IDS = 256


class StateError(LightingError):
    """A persisted engine state that cannot be read back (corrupt or from an incompatible version)."""


@dataclass(frozen=True)
class Decision:
    """What one luminaire should do now.

    Attributes:
        lum_id: The luminaire.
        level: Target light output, %.
        ramp_s: Seconds over which to reach it from the current level.
        source: ``calendar:<entry>``, ``override:<cmd_id>``, ``presence`` or ``failsafe:<reason>``.
        next_change: Evaluate again at the latest then (a change may be due; never later than one).
        detail: Why, when it is not obvious: the fault behind a fail-safe, a program hidden by an override.
    """

    lum_id: str
    level: float
    ramp_s: float
    source: str
    next_change: dt.datetime
    detail: str = ""


class EngineState(BaseModel):
    """Everything the engine must find again after a restart, as one JSON document.

    Presence times are deliberately left out: a boost lasts minutes, and after a restart the program level is
    the right answer until the next detection.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    calendar: Calendar | None = None
    overrides: tuple[OverrideCommand, ...] = ()
    last_seq_by_issuer: dict[str, int] = Field(default_factory=dict)
    applied_ids: tuple[str, ...] = Field(default=(), max_length=MAX_REMEMBERED_IDS)

    def to_json(self) -> str:
        """The state as JSON, for the node to write atomically."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> EngineState:
        """The state written by :meth:`to_json`.

        Raises:
            StateError: Not a state this version can read.
        """
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise StateError(f"unreadable lighting state: {exc.error_count()} error(s): {exc}") from exc


@dataclass
class RoundMemo:
    """What one decision round (one ``now``, one state) works out once and shares between its luminaires.

    A cabinet has 100 luminaires on a handful of streets, and a city-wide override reaches every cabinet at once:
    the round must not work the same answer out 100 times. Only answers that do not depend on the luminaire are
    shared:

    * ``by_groups``: the calendar decision of a set of groups, and ``by_entries`` that of a pair of calendar
      entries (today's, tomorrow's), so that streets of different groups on the same program share it; never for
      a sensor program, whose boost is per luminaire;
    * ``overrides``: the override in force and the upcoming override times for a set of groups, valid for the
      luminaires that no luminaire override targets (``targeted``);
    * ``today``: the operating day of ``now``.
    """

    by_groups: dict[frozenset[str], Decision] = field(default_factory=dict)
    by_entries: dict[tuple[int, int], Decision] = field(default_factory=dict)
    overrides: dict[frozenset[str], tuple[OverrideCommand | None, list[dt.datetime]]] = field(default_factory=dict)
    targeted: frozenset[str] = frozenset()
    today: OperatingDay | None = None


class _NoScheduleError(Exception):
    """Internal: the calendar path has nothing to say, for a known ``reason``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, for fail-safe reasons and ack details."""
    return f"{type(exc).__name__}: {exc}"


def _checked(changes: list[Change], day: OperatingDay) -> list[Change]:
    """``changes`` if they are a usable schedule of ``day``, so that bad program output fails here, not later.

    Raises:
        ScheduleError: Unsorted, outside the day, not opening the day, or a level that is not 0-100.
    """
    if not changes or changes[0].at != day.start:
        raise ScheduleError(f"program schedule for {day.date.isoformat()} does not open the day")
    previous = day.start
    for at, level in changes:
        if not isinstance(at, dt.datetime) or at.utcoffset() is None or not previous <= at <= day.end:
            raise ScheduleError(f"program change at {at!r} is out of order or outside {day.date.isoformat()}")
        if not isinstance(level, int | float) or not math.isfinite(level) or not 0.0 <= level <= 100.0:
            raise ScheduleError(f"program level {level!r} at {at} is not within 0-100 %")
        previous = at
    return changes


def _memoised(sun: SunFn, size: int = 8) -> SunFn:
    """``sun`` remembering its last few answers: one decision asks about three nights, for every luminaire.

    Failures are not remembered, so a transient ephemeris error is retried at the next decision.
    """
    memo: dict[dt.date, tuple[dt.datetime, dt.datetime]] = {}

    def cached(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        if day not in memo:
            if len(memo) >= size:
                del memo[next(iter(memo))]
            memo[day] = sun(day)
        return memo[day]

    return cached


def _for(lum_id: str, known: Decision) -> Decision:
    """A decision shared by the round (see :class:`RoundMemo`), for luminaire ``lum_id``."""
    return Decision(lum_id, known.level, known.ramp_s, known.source, known.next_change, known.detail)


def _clock_night(day: OperatingDay) -> tuple[dt.datetime, dt.datetime]:
    return day.at(CLOCK_NIGHT[0]), day.at(CLOCK_NIGHT[1])


class LightingEngine:
    """Decides the level of every luminaire of a node.

    Args:
        luminaires: Luminaire id -> the groups it belongs to.
        sun: (sunset, next sunrise) of an operating day, see :data:`~.calendar.SunFn`.
        tz: The node's local time zone, for the clock times of programs.
        state: What was persisted before a restart.
        min_night_level: Floor for any scheduled level between sunset and sunrise. A program step between 0 and
            this is taken for a data error (5 typed for 50) and raised to it; only an explicit 0 step (a
            switch-off) or an operator override goes below.
        failsafe_ramp_s: Ramp of fail-safe decisions.
        presence_sources: Sensor or vision-zone id -> the groups its detections boost; a group name is also
            accepted as a source for itself.

    Presence is kept per source (its last detection and its last "zone empty" report), not per group, so that a
    group fed by several zones is released only when all of them are empty (see
    :class:`~.calendar.SensorProgram`).
    """

    def __init__(
        self,
        luminaires: Mapping[str, Iterable[str]],
        sun: SunFn,
        tz: dt.tzinfo,
        *,
        state: EngineState | None = None,
        min_night_level: float = 10.0,
        failsafe_ramp_s: float = 60.0,
        presence_sources: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        if not 0.0 <= min_night_level <= 100.0:
            raise ValueError(f"min_night_level must be within 0-100 %, got {min_night_level!r}")
        self._luminaires = {lum: frozenset(groups) for lum, groups in luminaires.items()}
        self._groups = frozenset().union(*self._luminaires.values())
        self._sun = _memoised(sun)
        self._tz = tz
        self._state = state or EngineState()
        self.min_night_level = min_night_level
        self.failsafe_ramp_s = failsafe_ramp_s
        self._sources = {src: frozenset(groups) for src, groups in (presence_sources or {}).items()}
        feeders: dict[str, set[str]] = {g: set() if g in self._sources else {g} for g in self._groups}
        for src, groups in self._sources.items():
            for group in groups & self._groups:
                feeders[group].add(src)
        #: Luminaire -> the sources whose detections reach one of its groups.
        self._feeders = {lum: frozenset().union(*(feeders[g] for g in gs)) for lum, gs in self._luminaires.items()}
        self._seen: dict[str, dt.datetime] = {}  # source -> its last detection
        self._emptied: dict[str, dt.datetime] = {}  # source -> its last "zone empty" report

    @property
    def state(self) -> EngineState:
        """The current persistent state (an immutable value: save it whenever it is a new object)."""
        return self._state

    def set_calendar(self, calendar: Calendar) -> None:
        """Adopt ``calendar`` (already validated, e.g. by ``Calendar.model_validate``) in place of the last one."""
        self._state = self._state.model_copy(update={"calendar": calendar})

    def command(self, fields: Mapping[str, Any], now: dt.datetime) -> Accepted | Rejected:
        """Validate and apply an override command; the result is what to acknowledge.

        On top of :func:`~.overrides.accept`, refuses a target this node does not drive (``invalid``) and a
        command older than the one held for the same target from another issuer (``stale``: the last command
        by sequence wins, whatever the arrival order).
        """
        state = self._state
        verdict = accept(fields, state.last_seq_by_issuer, now, applied=state.applied_ids)
        if isinstance(verdict, Rejected):
            return verdict
        cmd = verdict.command
        if cmd.target not in (self._luminaires if cmd.scope == "luminaire" else self._groups):
            return Rejected("invalid", f"this node has no {cmd.scope} {cmd.target!r}")
        kept = [o for o in state.overrides if now < o.expires]
        held = next((o for o in kept if (o.scope, o.target) == (cmd.scope, cmd.target)), None)
        if held is not None and held.order >= cmd.order:
            return Rejected("stale", f"superseded by {held.cmd_id!r} (cseq {held.cseq}) for the same target")
        self._state = state.model_copy(
            update={
                "overrides": (*(o for o in kept if o is not held), cmd),
                "last_seq_by_issuer": {**state.last_seq_by_issuer, cmd.issuer: cmd.cseq},
                "applied_ids": (*state.applied_ids, cmd.cmd_id)[-MAX_REMEMBERED_IDS:],
            }
        )
        return verdict

    def admit(self, cmd_id: str, issuer: str, cseq: int, expires: dt.datetime, now: dt.datetime) -> Rejected | None:
        """Duplicate / stale / expired checks for a non-override command (a calendar push); records it if fresh.

        Shares the issuer sequences with overrides, so a late, older calendar push cannot undo a newer one.
        """
        state = self._state
        verdict = fresh(cmd_id, issuer, cseq, expires, state.last_seq_by_issuer, now, state.applied_ids)
        if verdict is None:
            self._state = state.model_copy(
                update={
                    "last_seq_by_issuer": {**state.last_seq_by_issuer, issuer: cseq},
                    "applied_ids": (*state.applied_ids, cmd_id)[-MAX_REMEMBERED_IDS:],
                }
            )
        return verdict

    def prune(self, now: dt.datetime) -> bool:
        """Forget expired overrides and cancels; returns whether the state changed (and should be saved)."""
        kept = tuple(o for o in self._state.overrides if now < o.expires)
        if len(kept) == len(self._state.overrides):
            return False
        self._state = self._state.model_copy(update={"overrides": kept})
        return True

    def presence(self, source_id: str, at: dt.datetime) -> frozenset[str]:
        """Record a detection by a sensor or zone at ``at``; returns the groups it boosts (empty: unknown).

        Raises:
            ValueError: ``at`` is naive (a caller bug: the engine cannot guess its zone).
        """
        return self._record(self._seen, source_id, at)

    def vacancy(self, source_id: str, at: dt.datetime) -> frozenset[str]:
        """Record that a sensor or zone reported its zone empty at ``at``; returns the groups it feeds.

        It ends the boost early only for programs with a ``release_hold_s``, and only once every source feeding a
        luminaire is empty: an empty report older than the source's last detection is ignored (a later detection
        re-boosts). The caller must not invent one: without it the normal hold applies.

        Raises:
            ValueError: ``at`` is naive.
        """
        return self._record(self._emptied, source_id, at)

    def _record(self, times: dict[str, dt.datetime], source_id: str, at: dt.datetime) -> frozenset[str]:
        if at.utcoffset() is None:
            raise ValueError(f"presence time must be aware, got {at!r}")
        groups = self._sources.get(source_id, frozenset({source_id}) & self._groups)
        if groups:
            last = times.get(source_id)
            times[source_id] = at if last is None else max(last, at)
        return groups

    def level_at(self, now: dt.datetime, current: Mapping[str, float] | None = None) -> dict[str, Decision]:
        """A decision for every luminaire; never raises (see :meth:`decide`)."""
        current = current or {}
        # What does not depend on the luminaire is worked out once per round, not once per luminaire (see
        # RoundMemo): the same decisions, at a fraction of the cost.
        targeted = frozenset(o.target for o in self._state.overrides if o.scope == "luminaire")
        memo = RoundMemo(targeted=targeted)
        return {lum: self.decide(lum, now, current.get(lum), memo) for lum in self._luminaires}

    def decide(self, lum_id: str, now: dt.datetime, current: float | None = None,
               memo: RoundMemo | None = None) -> Decision:
        """The decision for one luminaire at ``now``.

        Never raises for a known luminaire: any failure ends in the fail-safe, reported in ``source``.

        Args:
            lum_id: A luminaire of this node (``KeyError`` otherwise: a caller bug).
            now: Aware current time.
            current: The gear's present level, if known: it tells whether an override goes up or down, hence
                which of its ramps applies. Without it, the level the program would give is used.
            memo: What the round at ``now`` already worked out, shared by its luminaires (see :class:`RoundMemo`).
        """
        groups = self._luminaires[lum_id]
        try:
            return self._decide(lum_id, groups, now, current, memo)
        except Exception as exc:  # the last net: a bug on the override path must not darken a street
            return self._failsafe(lum_id, now, "engine-error", describe(exc))

    # ------------------------------------------------------------------------------------------------ internals

    def _decide(self, lum_id: str, groups: frozenset[str], now: dt.datetime, current: float | None,
                memo: RoundMemo | None = None) -> Decision:
        base = self._scheduled(lum_id, groups, now, current, memo)
        held, times = self._overrides(lum_id, groups, now, memo)
        if held is None or held.level is None:
            nearest = min([base.next_change, *times])
            return base if nearest == base.next_change else replace(base, next_change=nearest)
        reference = base.level if current is None else current
        ramp = held.ramp_up_s if held.level >= reference else held.ramp_down_s
        hidden = f"program meanwhile: {base.source} {base.detail}".strip()
        return Decision(lum_id, held.level, ramp, f"override:{held.cmd_id}", min(times), hidden)

    def _overrides(self, lum_id: str, groups: frozenset[str], now: dt.datetime,
                   memo: RoundMemo | None) -> tuple[OverrideCommand | None, list[dt.datetime]]:
        """The override in force on ``lum_id`` at ``now`` (if any) and the instants its overrides start or end.

        Shared by the round for luminaires of the same groups that no luminaire override targets (the list of
        instants is shared too: read it, do not change it).
        """
        if memo is None or lum_id in memo.targeted:
            mine = relevant(self._state.overrides, lum_id, groups)
            return winner(mine, now), upcoming(mine, now)
        known = memo.overrides.get(groups)
        if known is None:
            mine = relevant(self._state.overrides, lum_id, groups)
            known = memo.overrides[groups] = (winner(mine, now), upcoming(mine, now))
        return known

    def _scheduled(
        self, lum_id: str, groups: frozenset[str], now: dt.datetime, current: float | None = None,
        memo: RoundMemo | None = None,
    ) -> Decision:
        """The calendar's decision, or the fail-safe with the reason the calendar could not decide."""
        try:
            return self._from_calendar(lum_id, groups, now, current, memo)
        except _NoScheduleError as fb:
            return self._failsafe(lum_id, now, fb.reason, fb.detail)
        except SunError as exc:
            return self._failsafe(lum_id, now, "sun-error", describe(exc))
        except ScheduleError as exc:
            return self._failsafe(lum_id, now, "bad-schedule", describe(exc))
        except Exception as exc:
            return self._failsafe(lum_id, now, "program-error", describe(exc))

    def _from_calendar(
        self, lum_id: str, groups: frozenset[str], now: dt.datetime, current: float | None = None,
        memo: RoundMemo | None = None,
    ) -> Decision:
        """``memo``: decisions of this round by groups and by entries; only those of a program without a
        per-luminaire boost are kept there, since nothing else of the luminaire enters them."""
        if memo is not None and (known := memo.by_groups.get(groups)) is not None:
            return _for(lum_id, known)
        calendar = self._state.calendar
        if calendar is None:
            raise _NoScheduleError("no-calendar", "no calendar accepted yet")
        if memo is None:
            today = OperatingDay.of(now, self._tz, self._sun)
        elif memo.today is None:
            today = memo.today = OperatingDay.of(now, self._tz, self._sun)
        else:
            today = memo.today
        entry = calendar.entry_for(today.date, groups)
        if entry is None:
            raise _NoScheduleError(
                "no-entry", f"no calendar entry for {today.date.isoformat()} and groups {sorted(groups)}"
            )
        tomorrow = today.following()
        later: CalendarEntry | None = None
        with contextlib.suppress(Exception):
            later = calendar.entry_for(tomorrow.date, groups)
        program = entry.program
        pair = (id(entry), id(later))  # the round's calendar holds both: their ids are theirs for the round
        if memo is not None and not isinstance(program, SensorProgram):
            known = memo.by_entries.get(pair)
            if known is not None:
                memo.by_groups[groups] = known
                return _for(lum_id, known)
        changes = _checked(program.changes(today), today)
        nights = self._nights(today)
        horizon = today.end
        # Look one day ahead so next_change skips the noon hand-over when nothing changes then. Tomorrow's
        # failure is tomorrow's fail-safe: today's schedule then simply ends at noon.
        with contextlib.suppress(Exception):
            if later is not None:
                more = _checked(later.program.changes(tomorrow), tomorrow)
                changes, horizon = changes + more, tomorrow.end
        ats = [c.at for c in changes]

        def level(t: dt.datetime) -> float:
            return self._floored(changes[bisect_right(ats, t) - 1].level, t, nights)

        now_level = level(now)
        edges = sorted({*ats, *(t for night in nights for t in night)})
        next_change = next((t for t in edges if now < t < horizon and level(t) != now_level), horizon)
        decision = Decision(lum_id, now_level, program.transition_s(), f"calendar:{entry.name}", next_change)
        if isinstance(program, SensorProgram):

            def since() -> dt.datetime:
                """When the level in force at ``now`` began (the last change of the schedule, noon at the latest)."""
                began, before = today.start, level(today.start)
                for t in edges:
                    if today.start < t <= now and level(t) != before:
                        began, before = t, level(t)
                return began

            return self._boosted(decision, program, today, now, nights, current, since)
        if memo is not None:
            memo.by_groups[groups] = memo.by_entries[pair] = decision
        return decision

    def _floored(self, level: float, t: dt.datetime, nights: list[tuple[dt.datetime, dt.datetime]]) -> float:
        """``level`` raised to the night floor if ``t`` is in one of ``nights`` and it is neither 0 nor above."""
        at_night = any(a <= t < b for a, b in nights)
        return self.min_night_level if at_night and 0.0 < level < self.min_night_level else level

    def _boost_end(
        self, program: SensorProgram, lum_id: str, period: tuple[dt.datetime, dt.datetime], now: dt.datetime
    ) -> tuple[dt.datetime, dt.datetime | None] | None:
        """When the boost of ``lum_id`` ends, and, if a release ended it early, when its hold would have ended.

        Per source detected within the sensor period (by ``now``): ``hold_s`` after its last detection, or
        ``release_hold_s`` after its zone was reported empty if that report is not older than the detection and
        ends sooner. The luminaire's boost lasts as long as the longest of its sources'; it is a release only
        if a release ends it strictly after every hold. ``None``: no detection to boost for.
        """
        start, end = period
        hold = dt.timedelta(seconds=program.hold_s)
        release = None if program.release_hold_s is None else dt.timedelta(seconds=program.release_hold_s)
        held: dt.datetime | None = None
        released: tuple[dt.datetime, dt.datetime] | None = None  # (release end, hold end) of the latest release
        for src in self._feeders.get(lum_id, ()):
            seen = self._seen.get(src)
            if seen is None or not start <= seen <= now:
                continue
            until = min(seen + hold, end)
            emptied = self._emptied.get(src)
            if release is not None and emptied is not None and emptied >= seen and emptied + release < until:
                if released is None or emptied + release > released[0]:
                    released = (emptied + release, until)
            elif held is None or until > held:
                held = until
        if released is not None and (held is None or released[0] > held):
            return released
        return None if held is None else (held, None)

    def _boosted(
        self,
        decision: Decision,
        program: SensorProgram,
        day: OperatingDay,
        now: dt.datetime,
        nights: list[tuple[dt.datetime, dt.datetime]],
        current: float | None,
        since: Callable[[], dt.datetime],
    ) -> Decision:
        """``decision`` raised to the boost level by a recent detection in the sensor period; never lowered by it.

        The boost ramps up over ``boost_ramp_s``; when a boost step lowers the level while the boost lasts (the
        gear, at ``current``, is above it), the change is a scheduled one and takes the program's slow ramp. After
        a release (see :meth:`_boost_end`) the return to the base takes ``release_ramp_s``, until the hold would
        have ended or the base changes, whichever is first: then it is the base's own ramp again. ``since`` gives
        when the base's level in force began.
        """
        ended = self._boost_end(program, decision.lum_id, program.period(day), now)
        if ended is None:
            return decision
        until, hold_end = ended
        if now >= until:
            if hold_end is not None and now < hold_end and program.release_ramp_s is not None and since() <= until:
                return replace(decision, ramp_s=program.release_ramp_s)
            return decision
        level, step_at = program.boost_at(day, now)
        boost = self._floored(level, now, nights)
        next_change = min(decision.next_change, until, step_at)
        if boost <= decision.level:
            return replace(decision, next_change=next_change)
        ramp = program.boost_ramp_s if current is None or boost >= current else program.transition_s()
        return Decision(decision.lum_id, boost, ramp, "presence", next_change)

    def _nights(self, day: OperatingDay) -> list[tuple[dt.datetime, dt.datetime]]:
        """The nights around ``day`` (before, its own, after) by the sun, or by the clock for a day the sun fails.

        Three, not one, so that "is it night?" never depends on which operating day an instant was given to.
        """
        nights = []
        for d in (day.previous(), day, day.following()):
            try:
                nights.append(d.sun_night())
            except SunError:
                nights.append(_clock_night(d))
        return nights

    def _failsafe(self, lum_id: str, now: dt.datetime, reason: str, detail: str) -> Decision:
        """Lit between sunset and sunrise, or from 17:00 to 08:00 without a sun clock; lit if all else fails.

        Dark in daylight, where there is nothing to light and a fault may wait days for a crew; re-evaluated
        within :data:`FAILSAFE_RETRY` in case the fault was transient.
        """
        source = f"failsafe:{reason}"
        try:
            today = OperatingDay.of(now, self._tz, self._sun)
            try:
                today.sun_night()
            except SunError as exc:
                detail = f"{detail}; sun unavailable ({exc}), clock night used"
            nights = self._nights(today)
            lit = any(a <= now < b for a, b in nights)
            edge = min((t for night in nights for t in night if t > now), default=now + FAILSAFE_RETRY)
            next_change = min(edge, now + FAILSAFE_RETRY)
            return Decision(lum_id, 100.0 if lit else 0.0, self.failsafe_ramp_s, source, next_change, detail)
        except Exception as exc:
            detail = f"{detail}; clock unavailable ({describe(exc)}), lit"
            try:
                next_change = now + FAILSAFE_RETRY
            except Exception:
                next_change = dt.datetime.min.replace(tzinfo=dt.UTC)  # now is not a datetime: ask again at once
            return Decision(lum_id, 100.0, self.failsafe_ramp_s, source, next_change, detail)
