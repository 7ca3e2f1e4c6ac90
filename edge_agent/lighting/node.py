"""The light node: the engine's decisions driven into the gear, on a clock it is given, without the centre.

One :class:`LightNode` per cabinet. The box's lighting loop calls :meth:`LightNode.step` every
``decision_interval_s``; the link hands it override commands, calendars, neighbours' presence and the
coordinator's liveness; the agent asks it for :meth:`LightNode.telemetry`. No thread, no MQTT, no wall clock
of its own: a whole night runs in a test in a second. Public methods take a lock, so the link's command thread
and the lighting loop may call them concurrently.

Never dark at night is the rule above all others. The engine already falls back to "lit at night" when its
calendar fails; the node adds the last net: if the engine itself raises, returns nonsense, or the driver fails,
every luminaire it can reach goes to 100 % when its own astro clock says it is night (and is left as it is by
day), and the fallback is counted. A gear that does not answer (``controlGearCommFailure``) is reported and
retried at the next step; the other luminaires carry on.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

import vigie_wire as wire
from vigie_config.calendar import Calendar, SunFn, local_instant, operating_date
from vigie_config.commands import CALENDAR_COMMAND, OVERRIDE_COMMAND
from vigie_config.errors import ConfigError
from vigie_config.lighting import LightingConfig, build_calendar
from vigie_wire.rejects import RejectLog

from .astro import night_window
from .build import build_engine
from .control import CLOCK_NIGHT, Decision, LightingEngine, describe
from .drivers import DriverCommError, LampFault, LuminaireDriver, LuminaireReading, diagnose
from .overrides import Rejected
from .persistence import load_state, save_state
from .telemetry import FaultChange, FaultTracker, compact, luminaire_table

log = logging.getLogger("vigie.lighting")

Clock = Callable[[], dt.datetime]
#: (result code, detail, applied): a :class:`vigie_wire.AckResult` code and what to put in the ack.
AckTuple = tuple[str, str, dict[str, Any]]

#: A commanded level closer than this to the gear's own target is the same level (DALI arc levels are steps).
_SAME_LEVEL = 0.5


@dataclass(frozen=True)
class LevelChange:
    """A level the node commanded at a step: ``ramp_s`` to reach ``level``, because of ``source``."""

    lum_id: str
    level: float
    ramp_s: float
    source: str


@dataclass
class NodeStats:
    """Counters reported under ``light.*``."""

    steps: int = 0
    fallbacks: int = 0
    last_fallback: str = ""
    comm_errors: int = 0
    persist_errors: int = 0
    state_corrupt: int = 0


class LightNode:
    """A cabinet's luminaires under one engine; see the module docstring.

    Args:
        config: The light section; its luminaires must be the driver's.
        driver: The gear.
        engine: Built by :func:`~edge_agent.lighting.build.build_engine` from ``config``.
        clock: The current time, aware; only used where no ``now`` is given (presence times from other boxes
            are capped by it, file names of a set-aside state).

    Raises:
        ConfigError: The driver does not drive exactly the configured luminaires.
    """

    def __init__(self, config: LightingConfig, driver: LuminaireDriver, engine: LightingEngine, clock: Clock) -> None:
        ids = [lum.id for lum in config.luminaires]
        if sorted(driver.luminaires()) != sorted(ids):
            extra, missing = set(driver.luminaires()) - set(ids), set(ids) - set(driver.luminaires())
            raise ConfigError(
                f"lighting.luminaires: driver and config differ (driver only: {sorted(extra)}, "
                f"config only: {sorted(missing)})"
            )
        self.config = config
        self.stats = NodeStats()
        #: Commands the engine failed on (a bug a command can trigger, so a flood of them): all counted, few logged.
        self.command_errors = RejectLog(log, "light command failed")
        self._ids = ids
        self._specs = {spec.id: spec for spec in config.specs()}
        self._driver = driver
        self._engine = engine
        self._clock = clock
        self._tz = config.zone
        self._lock = threading.RLock()
        self._config_calendar = build_calendar(config)
        self._calendar_commanded = engine.state.calendar not in (None, self._config_calendar)
        self._commanded: dict[str, float] = {}
        self._readings: dict[str, LuminaireReading] = {}
        self._fresh: set[str] = set()
        self._sources: dict[str, str] = {}  # lum -> source of its last decision
        self._faults = FaultTracker()
        self._occupied: dict[str, dt.datetime] = {}  # presence source key -> since when
        self._renewed: dict[str, dt.datetime] = {}  # presence source key -> last renewal while occupied
        self._nights: dict[dt.date, tuple[dt.datetime, dt.datetime]] = {}
        self._coordinator_online: bool | None = None
        self._last_step: dt.datetime | None = None
        self._dirty = False
        self._persist_failing = False

    @classmethod
    def restore(
        cls, config: LightingConfig, driver: LuminaireDriver, clock: Clock, *, sun: SunFn | None = None
    ) -> LightNode:
        """A node resuming from ``config.state_file``: overrides, duplicates memory and a commanded calendar.

        Never fails on the file: an unreadable one is set aside (see :func:`.persistence.load_state`), counted
        in ``light.state_corrupt``, and the node starts from the config calendar.
        """
        loaded = load_state(config.state_file, clock())
        node = cls(config, driver, build_engine(config, sun, state=loaded.state), clock)
        if loaded.corrupt:
            node.stats.state_corrupt += 1
        return node

    @property
    def engine(self) -> LightingEngine:
        """The engine (its ``state`` is what is persisted)."""
        return self._engine

    # -------------------------------------------------------------------------------------------- the loop

    def step(self, now: dt.datetime) -> list[LevelChange]:
        """Advance the gear to ``now``, decide every luminaire, command those whose level changed; never raises.

        The driver is ticked first so that readings are those of ``now`` and ramps commanded here start at
        ``now``. Returns the commands sent.
        """
        _require_aware(now)
        with self._lock:
            self.stats.steps += 1
            self._last_step = now if self._last_step is None else max(now, self._last_step)
            reasons: list[str] = []
            try:
                self._driver.tick(now)
            except Exception as exc:
                reasons.append(f"driver tick: {describe(exc)}")
            observed = self._read_all()
            current = {lum: self._readings[lum].level_pct for lum in self._fresh}
            decisions: Mapping[str, Decision] = {}
            try:
                self._renew_occupancy(now)
                if self._engine.prune(now):
                    self._dirty = True
                decisions = self._engine.level_at(now, current)
            except Exception as exc:
                reasons.append(f"engine: {describe(exc)}")
            changes: list[LevelChange] = []
            with _batch(self._driver):
                for lum in self._ids:
                    decision = decisions.get(lum)
                    if decision is not None and _usable(decision, lum):
                        self._sources[lum] = decision.source
                        change = self._apply(lum, decision.level, decision.ramp_s, decision.source, now, observed,
                                             reasons)
                    else:
                        if len(reasons) < 8:  # one engine failure, not the same reason 200 times
                            reasons.append(f"{lum}: no usable decision ({decision!r})"[:200])
                        self._sources[lum] = "fallback"
                        change = self._fallback(lum, now, observed)
                    if change is not None:
                        changes.append(change)
            for lum in self._ids:
                self._faults.observe(lum, observed[lum])
            if reasons:
                self.stats.fallbacks += 1
                why = "; ".join(reasons)[:500]
                if why != self.stats.last_fallback:  # logged when the cause changes, not at every step
                    log.warning("lighting fallback at %s: %s", now.isoformat(), why)
                self.stats.last_fallback = why
            if self._dirty:
                self._persist()
            return changes

    def _read_all(self) -> dict[str, set[LampFault]]:
        """Read every luminaire; returns the faults observed on each (a silent gear keeps its known ones)."""
        self._fresh.clear()
        observed: dict[str, set[LampFault]] = {}
        for lum in self._ids:
            try:
                reading = self._driver.read(lum)
                observed[lum] = set(diagnose(reading, self._specs[lum]))
            except DriverCommError:
                self.stats.comm_errors += 1
                observed[lum] = set(self._faults.active(lum)) | {LampFault.CONTROL_GEAR_COMM_FAILURE}
            except Exception as exc:
                log.warning("cannot read luminaire %s: %s", lum, describe(exc))
                observed[lum] = set(self._faults.active(lum))
            else:
                self._readings[lum] = reading
                self._fresh.add(lum)
        return observed

    def _apply(
        self,
        lum: str,
        level: float,
        ramp_s: float,
        source: str,
        now: dt.datetime,
        observed: dict[str, set[LampFault]],
        reasons: list[str],
    ) -> LevelChange | None:
        """Command ``level`` if it is not what the gear was last told (or what it says it was told)."""
        reading = self._readings.get(lum) if lum in self._fresh else None
        forgot = reading is not None and abs(reading.target_pct - level) > _SAME_LEVEL
        if self._commanded.get(lum) == level and not forgot:
            return None
        try:
            self._driver.set_level(lum, level, ramp_s)
        except DriverCommError:
            self.stats.comm_errors += 1
            observed[lum].add(LampFault.CONTROL_GEAR_COMM_FAILURE)
            return None  # not recorded as commanded: retried at the next step
        except Exception as exc:
            reasons.append(f"{lum}: set_level({level}, {ramp_s}): {describe(exc)}")
            return self._fallback(lum, now, observed)
        self._commanded[lum] = level
        return LevelChange(lum, level, ramp_s, source)

    def _fallback(self, lum: str, now: dt.datetime, observed: dict[str, set[LampFault]]) -> LevelChange | None:
        """100 % at night by the node's own astro clock; by day the luminaire is left as it is."""
        if not self._is_night(now) or self._commanded.get(lum) == 100.0:
            return None
        ramp = self.config.failsafe_ramp_s
        try:
            self._driver.set_level(lum, 100.0, ramp)
        except DriverCommError:
            self.stats.comm_errors += 1
            observed[lum].add(LampFault.CONTROL_GEAR_COMM_FAILURE)
            return None
        except Exception as exc:
            log.error("luminaire %s: even the fallback failed: %s", lum, describe(exc))
            return None
        self._commanded[lum] = 100.0
        return LevelChange(lum, 100.0, ramp, "fallback")

    def _is_night(self, now: dt.datetime) -> bool:
        """Whether ``now`` is between a sunset and the next sunrise (17:00-08:00 if the sky cannot be computed)."""
        try:
            today = operating_date(now, self._tz)
            return any(on <= now < off for on, off in map(self._night, (today - dt.timedelta(days=1), today)))
        except Exception:
            return True  # not even a clock: lit

    def _night(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        if day not in self._nights:
            try:
                on, off = night_window(day, self.config.lat, self.config.lon, self._tz)
            except Exception:  # polar latitudes or a broken ephemeris: the engine's clock night
                on = local_instant(day, CLOCK_NIGHT[0], self._tz)
                off = local_instant(day + dt.timedelta(days=1), CLOCK_NIGHT[1], self._tz)
            if len(self._nights) > 8:
                self._nights.clear()
            self._nights[day] = (on, off)
        return self._nights[day]

    # ------------------------------------------------------------------------------------ inputs from the link

    def command(self, fields: Mapping[str, Any], now: dt.datetime) -> AckTuple:
        """Validate and apply an override (see :class:`~.overrides.OverrideCommand` for ``fields``).

        Returns the ack: an :class:`vigie_wire.AckResult` code, a detail, and what was applied. An accepted
        command is persisted, then applied to the gear at once (the ack says ``applied`` when it is).
        """
        _require_aware(now)
        with self._lock:
            try:
                verdict = self._engine.command(fields, now)
            except Exception as exc:  # the engine validates and never raises; a bug must still be acked
                self.command_errors.note("override", describe(exc)[:500], exc_info=exc)
                return wire.AckResult.FAILED, describe(exc)[:500], {}
            if isinstance(verdict, Rejected):
                return verdict.result, verdict.detail, {}
            cmd = verdict.command
            self._dirty = True
            detail = self._persist()
            self.step(now)
            held = sum(1 for source in self._sources.values() if source == f"override:{cmd.cmd_id}")
            applied = {"scope": cmd.scope, "target": cmd.target, "level": cmd.level, "luminaires": held}
            return verdict.result, detail, applied

    def set_calendar(
        self,
        calendar: Calendar | Mapping[str, Any] | None,
        now: dt.datetime,
        admit: tuple[str, str, int, dt.datetime] | None = None,
    ) -> AckTuple:
        """Follow ``calendar`` (a :class:`Calendar` or its mapping) from now on; ``None`` reverts to the config's.

        ``admit`` (a pushed command's id, issuer, sequence and expiry) makes a late, older or expired push, or a
        redelivery, be refused (``stale``, ``expired``, ``duplicate``) as overrides are.

        A commanded calendar is persisted and survives restarts; a changed config calendar only takes over after
        a revert. Entries for groups this node lacks are kept (a métropole-wide calendar names every sector).
        """
        _require_aware(now)
        try:
            if calendar is None:
                new = self._config_calendar
            else:
                new = calendar if isinstance(calendar, Calendar) else Calendar.model_validate(dict(calendar))
        except (ValidationError, TypeError, ValueError) as exc:
            return wire.AckResult.INVALID, f"calendar: {exc}"[:500], {}
        if not new.entries:
            return wire.AckResult.INVALID, "calendar: no entry (the node would only ever fail safe)", {}
        with self._lock:
            if admit is not None:  # a pushed calendar: (cmd_id, issuer, cseq, expires), checked like overrides
                refused = self._engine.admit(*admit, now)
                if refused is not None:
                    return refused.reason, refused.detail, {}
            self._engine.set_calendar(new)
            self._calendar_commanded = calendar is not None
            self._dirty = True
            detail = self._persist()
            self.step(now)
            known = frozenset(g for lum in self.config.luminaires for g in lum.groups)
            foreign = sorted({g for e in new.entries for g in (e.groups or ())} - known)
            if foreign:
                detail = f"{detail} groups not on this node: {', '.join(foreign)}".strip()
            return wire.AckResult.APPLIED, detail[:500], {"entries": len(new.entries), "config": calendar is None}

    def presence(self, source_device: str, zone: str, at: dt.datetime, *, cam: int | None = None) -> frozenset[str]:
        """A detection in a neighbour camera's zone at ``at``; returns the groups it boosts (empty: not ours).

        ``at`` is capped at the node's clock: another box's clock running ahead must not delay the boost.
        Call :meth:`step` soon after (the loop does within ``decision_interval_s``).
        """
        _require_aware(at)
        with self._lock:
            at = min(at, self._clock())
            groups: set[str] = set()
            for src in self.config.presence:
                if src.matches(source_device, zone, cam):
                    groups |= self._engine.presence(src.key, at)
            return frozenset(groups)

    def occupancy(
        self, source_device: str, zone: str, occupied: bool, at: dt.datetime, *, cam: int | None = None
    ) -> frozenset[str]:
        """An ``occupancy`` report: while a zone stays occupied its boost is renewed at every step (for at most
        ``occupancy_max_s``); when it empties, the hold time starts, and the engine is told the zone is empty
        (programs with a ``release_hold_s`` then end the boost within seconds, see
        :class:`~.calendar.SensorProgram`).

        The empty report counts from the node's last renewal of the zone if that is later: the renewals assumed
        the zone still occupied until the report arrived, and an "empty" older than them would be ignored.
        """
        _require_aware(at)
        with self._lock:
            groups = self.presence(source_device, zone, at, cam=cam)
            at = min(at, self._clock())
            for src in self.config.presence:
                if src.matches(source_device, zone, cam):
                    if occupied:
                        self._occupied.setdefault(src.key, at)
                    else:
                        self._occupied.pop(src.key, None)
                        self._engine.vacancy(src.key, max(at, self._renewed.pop(src.key, at)))
            return groups

    def _renew_occupancy(self, now: dt.datetime) -> None:
        limit = dt.timedelta(seconds=self.config.occupancy_max_s)
        for key, since in list(self._occupied.items()):
            if now - since > limit:
                del self._occupied[key]
                self._renewed.pop(key, None)
            else:
                self._engine.presence(key, now)
                self._renewed[key] = now

    def coordinator_offline(self, offline: bool) -> None:
        """Record the coordinator's liveness (its retained ``STATE``); the node's behaviour does not depend on it."""
        with self._lock:
            self._coordinator_online = not offline

    # ------------------------------------------------------------------------------------------ outputs

    def drain_faults(self) -> list[FaultChange]:
        """Fault changes not yet handed out (``[lum_id, TALQ name, active]``), oldest first, once each."""
        with self._lock:
            return self._faults.drain()

    def telemetry(self, now: dt.datetime) -> dict[str, Any]:
        """The ``light.*`` metrics: totals and the luminaire table, from the last step's readings (no bus traffic).

        Fault changes are not here: they leave once each through :meth:`drain_faults`, as durable events.
        """
        _require_aware(now)
        with self._lock:
            fresh = [self._readings[lum] for lum in self._ids if lum in self._fresh]
            known = [self._readings[lum] for lum in self._ids if lum in self._readings]
            sources = [self._sources.get(lum, "") for lum in self._ids]
            online = self._coordinator_online
            age = None if self._last_step is None else compact((now - self._last_step).total_seconds(), 1)
            return {
                "light.n": len(self._ids),
                "light.on": sum(1 for r in fresh if r.level_pct > 0.0),
                "light.answering": len(fresh),
                "light.power_w": compact(sum(r.power_w for r in fresh), 1),
                "light.energy_wh": compact(sum(r.energy_wh for r in known), 0),
                "light.override": sum(1 for s in sources if s.startswith("override:")),
                "light.presence": sum(1 for s in sources if s == "presence"),
                "light.failsafe": sum(1 for s in sources if s.startswith("failsafe:")),
                "light.fallbacks": self.stats.fallbacks,
                "light.last_fallback": self.stats.last_fallback,
                "light.comm_errors": self.stats.comm_errors,
                "light.command_errors": self.command_errors.total,
                "light.faulty": self._faults.faulty(),
                "light.fault_overflows": self._faults.overflows,
                "light.persist_errors": self.stats.persist_errors,
                "light.state_corrupt": self.stats.state_corrupt,
                "light.calendar": "command" if self._calendar_commanded else "config",
                "light.coordinator": "unknown" if online is None else "online" if online else "offline",
                "light.step_age_s": age,
                "light.lum": luminaire_table(self._ids, self._readings, self._fresh, self._commanded),
                **_driver_metrics(self._driver),
            }

    # ------------------------------------------------------------------------------------------ internals

    def _persist(self) -> str:
        """Save the engine state if it changed; returns "" or why it could not be saved (it is retried)."""
        state = self._engine.state
        if not self._calendar_commanded:
            state = state.model_copy(update={"calendar": None})  # absent: follow the config's
        try:
            save_state(self.config.state_file, state)
        except OSError as exc:
            self.stats.persist_errors += 1
            if not self._persist_failing:  # once per streak: it is retried at every step
                log.error("cannot save the lighting state to %s: %s", self.config.state_file, exc)
            self._persist_failing = True
            return f"not persisted ({exc.strerror or exc}), retried"
        if self._persist_failing:
            log.info("lighting state saved again to %s", self.config.state_file)
        self._dirty = self._persist_failing = False
        return ""


def handle_command(node: LightNode, cmd: wire.Command, *, device_id: str, now: dt.datetime) -> AckTuple:
    """A :class:`vigie_wire.Command` for the light role, as the link's command handler would route it.

    ``light.override`` on a group topic (``target`` is the group) addresses that group; on the box's own topic
    (``target`` is ``device_id``) ``args`` names ``lum`` or ``group``. Other ``args`` are the override's
    fields (``level`` -- absent or ``None`` cancels --, ``ramp_up_s``, ``ramp_down_s``, ``start`` in ms); the
    issuer is the sender (``header.dev``) and ``cseq``, ``cmd_id`` and ``expires`` come from the command.
    """
    if cmd.name == CALENDAR_COMMAND:
        calendar = cmd.args.get("calendar")
        if calendar is not None and not isinstance(calendar, Mapping):
            return wire.AckResult.INVALID, "args.calendar: a calendar mapping, or null to return to the config's", {}
        expires = dt.datetime.fromtimestamp(cmd.expires / 1000, dt.UTC)
        return node.set_calendar(calendar, now, admit=(cmd.cmd_id, cmd.header.dev, cmd.cseq, expires))
    if cmd.name != OVERRIDE_COMMAND:
        return wire.AckResult.UNSUPPORTED, f"the light role has no command {cmd.name!r}", {}
    args = dict(cmd.args)
    if cmd.target == device_id:
        lum, group = args.pop("lum", None), args.pop("group", None)
        if (lum is None) == (group is None):
            return wire.AckResult.INVALID, "args: give exactly one of lum or group on the box's own topic", {}
        scope, target = ("luminaire", lum) if lum is not None else ("group", group)
    else:
        scope, target = "group", cmd.target
    fields = {**args, "cmd_id": cmd.cmd_id, "issuer": cmd.header.dev, "cseq": cmd.cseq, "expires": cmd.expires}
    return node.command({**fields, "scope": scope, "target": target}, now)


def _usable(decision: Decision | None, lum: str) -> bool:
    """A decision the gear can be given: for this luminaire, a level within 0-100 and a finite ramp."""
    return (
        isinstance(decision, Decision)
        and decision.lum_id == lum
        and isinstance(decision.level, int | float)
        and math.isfinite(decision.level)
        and 0.0 <= decision.level <= 100.0
        and isinstance(decision.ramp_s, int | float)
        and math.isfinite(decision.ramp_s)
        and decision.ramp_s >= 0.0
    )


def _batch(driver: LuminaireDriver) -> AbstractContextManager[Any]:
    """The driver's batch of one step's commands, if it has one (a DALI line sends a group's level in one frame).

    Optional, like :func:`_driver_metrics`: the port stays four methods, and a driver without ``batch()`` gets
    each command at once.
    """
    batch = getattr(driver, "batch", None)
    return batch() if callable(batch) else nullcontext()


def _driver_metrics(driver: LuminaireDriver) -> dict[str, Any]:
    """A driver's own metrics (a DALI line's ``dali.*``: bus state, counters, D4i diagnostics), if it has any.

    Optional: the port stays four methods; a driver with something to report adds ``telemetry()``. It must not
    break the node's report, so a failure there is logged and leaves the ``light.*`` metrics alone.
    """
    report = getattr(driver, "telemetry", None)
    if not callable(report):
        return {}
    try:
        metrics = report()
    except Exception as exc:
        log.warning("driver metrics failed: %s", describe(exc))
        return {}
    return dict(metrics) if isinstance(metrics, Mapping) else {}


def _require_aware(when: dt.datetime) -> None:
    if not isinstance(when, dt.datetime) or when.utcoffset() is None:
        raise ValueError(f"the light node needs aware datetimes, got {when!r}")

