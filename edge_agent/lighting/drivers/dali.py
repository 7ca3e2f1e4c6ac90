"""DALI-2 luminaires with D4i data, on one DALI line, through python-dali: the ``dali`` driver.

The lighting loop ticks the driver and reads it every decision interval; a real DALI line carries only a few dozen
frames a second (1200 bit/s, a query and its answer take ~25-45 ms), so the driver never asks the bus for what
the loop reads. Instead:

* :meth:`DaliDriver.set_level` sends the command at once: FADE TIME (only when it changes) then DAPC with the
  percentage converted on the logarithmic curve (:mod:`.dali_curve`); OFF for an immediate 0 %. Ramps up to the
  longest standard fade (90.5 s) fade inside the gear; longer ones are stepped by the driver on :meth:`tick`,
  one DAPC every ``ramp_step_s`` with that fade time, so the gear glides between steps. Within a node step
  (:meth:`DaliDriver.batch`) the commands are sent together at its end: a level that every gear of a DALI group
  (as commissioned in the gear, read at discovery) or of the whole line got is one frame (:mod:`.dali_groups`).
* :meth:`DaliDriver.tick` polls, round-robin and within ``frames_per_tick`` frames, QUERY ACTUAL LEVEL and QUERY
  STATUS of the gear in turn, then the D4i values due (energy and power of bank 202, diagnostics of banks 205
  and 206, each gear every ``d4i_interval_s``, and its power again a few seconds after a level change).
* :meth:`DaliDriver.read` returns what the last polls found, without bus traffic.

Discovery, when the interface opens: every short address is asked its device types (a gear with types 51/52 is
D4i) and groups, the configured ones their level, status, fade time and, when D4i, their energy meter, so that the
first reading already carries measured energy (~20 frames a gear: about a minute of bus time for 64 gear, once).
A luminaire of the config missing on the bus, or a gear that stops answering,
reads as :class:`~.errors.DriverCommError` (``controlGearCommFailure``), never a crash; it is asked again at its
turn and comes back when it answers. An interface that disappears (:class:`~.errors.DriverBusError`) makes
every luminaire unreachable: the driver counts it and reopens it with back-off (1 s doubling to
``retry_max_s``), rediscovering the line; the gear meanwhile hold their level (or go to their system failure
level if the bus loses power), and a luminaire whose gear forgot its level reads with ``target_pct`` at the
level it actually has, so that the node commands it again.

Energy of D4i gear is what the gear meters (bank 202 active energy, light source on time and starts of bank
206): the coordinator's analytics then add up measured energy. For plain DALI gear the driver integrates the
luminaire's nameplate curve over the levels it polled, as the simulator does, and says so (``metered``).

Faults: QUERY STATUS lamp failure, the gear's own failure bit and the D4i light-source failure are
``lampFailure`` (the luminaire gives no light by its own account); a D4i supply undervoltage is ``supplyLoss``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dali.address import GearBroadcast, GearGroup, GearShort
from dali.exceptions import DALIError
from dali.gear import general
from dali.memory import energy
from dali.memory.location import FlagValue
from dali.sequences import QueryDeviceTypes, QueryGroups

from vigie_config.drivers import ADDRESSES, DaliDriverConfig, Transport
from vigie_config.luminaire import LuminaireSpec

from .base import LampFault, LuminaireReading
from .dali_bus import DaliBus, FrameCounter, counted, open_bus, parse_transport, single
from .dali_config import D4I_MAX_FRAMES, D4I_TYPES, D4I_VALUES, frames_of
from .dali_curve import MAX_FADE_S, arc_level, fade_code, fade_time_s
from .dali_groups import Shared, plan
from .dali_state import BusStats, GearState
from .errors import DriverBusError, DriverCommError, DriverError

__all__ = ["ADDRESSES", "D4I_TYPES", "DaliDriver", "DaliDriverConfig", "GearState"]

log = logging.getLogger("vigie.lighting.dali")

#: After a level change, the gear's metered power is read again this much later (its meter averages).
POWER_SETTLE_S = 5.0
#: First retry of a lost interface, s (then doubling).
RETRY_FIRST_S = 1.0


class DaliDriver:
    """A :class:`~.base.LuminaireDriver` for the DALI-2 gear of one line; see the module docstring.

    Args:
        config: The driver section.
        specs: The cabinet's luminaires (at most 64: one line).
        opener: Opens the interface (tests pass the simulator's); by default python-dali's drivers.
        start: The driver's clock until the first :meth:`tick`; discovery and first polls are stamped with it.

    Raises:
        DriverError: More luminaires than a line has addresses, an address given to a luminaire not in the
            config, or two luminaires on one address.
    """

    def __init__(self, config: DaliDriverConfig, specs: Sequence[LuminaireSpec], *,
                 opener: Callable[[Transport, float], DaliBus] = open_bus, start: dt.datetime | None = None) -> None:
        if len(specs) > ADDRESSES:
            raise DriverError(f"{len(specs)} luminaires on one DALI line, which has {ADDRESSES} short addresses")
        ids = [s.id for s in specs]
        if len(set(ids)) != len(ids):
            raise DriverError("a luminaire id appears twice in the cabinet")
        unknown = sorted(set(config.addresses) - set(ids))
        if unknown:
            raise DriverError(f"driver.addresses names luminaires not in lighting.luminaires: {unknown}")
        self.config = config
        self.transport = parse_transport(config.transport)
        self.frames = FrameCounter()
        self.stats = BusStats()
        self._opener = opener
        self._gear: dict[str, GearState] = {}
        taken: dict[int, str] = {}
        for i, spec in enumerate(specs):
            addr = config.addresses.get(spec.id, i)
            if addr >= ADDRESSES:
                raise DriverError(f"luminaire {spec.id!r} takes short address {addr}: give it one in 0-63")
            if addr in taken:
                raise DriverError(f"luminaires {taken[addr]!r} and {spec.id!r} both on short address {addr}")
            taken[addr] = spec.id
            self._gear[spec.id] = GearState(spec.id, addr, spec)
        self.unconfigured: list[int] = []  # gear present on the line that no luminaire maps to
        self._foreign_groups: set[int] = set()  # DALI groups of those gear: never used for a shared frame
        self._pending: dict[str, tuple[float, float]] | None = None  # commands of a batch, sent at its end
        self._bus: DaliBus | None = None
        self._t = (start or dt.datetime.now(dt.UTC)).timestamp()
        self._retry_at = self._t
        self._backoff = RETRY_FIRST_S
        self._cursor = 0
        self._ever_opened = False
        self._ticked = False
        self._open()

    # ------------------------------------------------------------------------------------------ the port

    def luminaires(self) -> list[str]:
        return list(self._gear)

    def set_level(self, lum_id: str, level_pct: float, ramp_s: float = 0.0) -> None:
        gear = self._state(lum_id)
        if not math.isfinite(level_pct) or not 0.0 <= level_pct <= 100.0:
            raise ValueError(f"level must be within 0-100 %, got {level_pct!r}")
        if not math.isfinite(ramp_s) or ramp_s < 0.0:
            raise ValueError(f"ramp must be a finite number of seconds >= 0, got {ramp_s!r}")
        self._reachable(gear)
        start = gear.level()
        gear.target_pct = level_pct
        gear.ramp = None
        try:
            if ramp_s > MAX_FADE_S:
                gear.ramp = (start, level_pct, self._t, ramp_s)
                gear.last_step = -math.inf
                self._step_ramp(gear)
            elif self._pending is not None:
                self._pending[lum_id] = (level_pct, ramp_s)
            else:
                self._command(gear, level_pct, ramp_s)
        except DriverBusError as exc:  # the interface went away under the command: the line is down
            self._lost(exc)
            raise DriverCommError(lum_id, f"DALI interface {self.transport} lost: {exc}") from exc

    def read(self, lum_id: str) -> LuminaireReading:
        gear = self._state(lum_id)
        self._reachable(gear)
        faults: set[LampFault] = set()
        if gear.lamp_failure or gear.gear_failure or gear.values.get("source_failure") is True:
            faults.add(LampFault.LAMP_FAILURE)
        if gear.values.get("undervoltage") is True:
            faults.add(LampFault.SUPPLY_LOSS)
        level = gear.level()
        return LuminaireReading(
            lum_id=lum_id,
            level_pct=level,
            target_pct=gear.target_pct,
            fading=gear.fade_running or gear.ramp is not None,
            power_w=self._power(gear, level),
            energy_wh=self._energy(gear),
            operating_hours=self._on_hours(gear),
            switch_ons=self._starts(gear),
            faults=frozenset(faults),
        )

    def tick(self, now: dt.datetime) -> None:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"the driver clock needs aware datetimes, got naive {now.isoformat()}")
        t = now.timestamp()
        if not self._ticked:
            self._rebase(t)
        if t < self._t:
            return
        self._estimate(t)
        self._t = t
        if self._bus is None:
            if t >= self._retry_at:
                self._open()
            return
        try:
            start = self.frames.forward
            budget = self.config.frames_per_tick
            for gear in self._gear.values():
                if gear.ramp is not None and not gear.silent:
                    self._step_ramp(gear)
            due = any(g.d4i and not g.silent and (t >= g.d4i_due or (g.power_due or math.inf) <= t)
                      for g in self._gear.values())
            self._poll_levels(start + (budget - max(budget // 4, D4I_MAX_FRAMES) if due else budget))
            self._poll_d4i(start + budget)
        except DriverBusError as exc:
            self._lost(exc)

    # ------------------------------------------------------------------------------------------ extras

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Commands given inside go out together when it ends: one frame per DALI group (or one broadcast) whose
        every gear got the same level and ramp, the rest one by one (see :mod:`.dali_groups`).

        The node wraps a decision step in it. Errors are those of :meth:`set_level` for a silent gear (raised at
        once); an interface lost while sending takes the line down (counted, retried with back-off) and the
        luminaires read as unreachable until it is back.
        """
        if self._pending is not None:  # nested: the outer batch sends
            yield
            return
        self._pending = {}
        try:
            yield
        finally:
            pending, self._pending = self._pending, None
            if pending:
                self._flush(pending)

    @property
    def bus_up(self) -> bool:
        """Whether the interface is open."""
        return self._bus is not None

    def gear(self, lum_id: str) -> GearState:
        """What the driver knows of ``lum_id``'s gear (for the probe and tests)."""
        return self._state(lum_id)

    def metered(self, lum_id: str) -> bool:
        """Whether ``lum_id``'s energy is measured by its gear (D4i) rather than modelled from its nameplate."""
        gear = self._state(lum_id)
        return gear.d4i and gear.values.get("energy_wh") is not None

    def telemetry(self) -> dict[str, Any]:
        """``dali.*`` metrics: the line's state and counters, and the D4i diagnostics per luminaire (columns)."""
        gears = list(self._gear.values())
        d4i = [g for g in gears if g.d4i]

        def col(name: str, scale: float = 1.0, digits: int = 1) -> list[Any]:
            out: list[Any] = []
            for g in d4i:
                v = g.values.get(name)
                out.append(None if v is None or isinstance(v, bool) else round(float(v) * scale, digits))
            return out

        return {
            "dali.bus": "up" if self._bus is not None else "down",
            "dali.bus_errors": self.stats.bus_errors,
            "dali.reconnects": self.stats.reconnects,
            "dali.last_error": self.stats.last_error,
            "dali.frames": self.frames.forward,
            "dali.present": sum(1 for g in gears if g.present and not g.silent),
            "dali.silent": sum(1 for g in gears if g.silent),
            "dali.silent_polls": self.stats.silent_polls,
            "dali.bad_answers": self.stats.bad_answers,
            "dali.d4i_errors": self.stats.d4i_errors,
            "dali.shared_frames": self.stats.shared_frames,
            "dali.unconfigured": list(self.unconfigured),
            "dali.metered": sum(1 for g in gears if g.d4i and g.values.get("energy_wh") is not None),
            "dali.d4i": {
                "ids": [g.lum_id for g in d4i],
                "supply_v": col("supply_v"),
                "gear_c": col("gear_c", digits=0),
                "source_c": col("source_c", digits=0),
                "gear_h": col("operating_s", 1 / 3600, 1),
            },
        }

    def close(self) -> None:
        """Close the interface (the box is stopping)."""
        if self._bus is not None:
            self._bus.close()
            self._bus = None

    # ------------------------------------------------------------------------------------------ bus work

    def _send(self, seq: Any) -> Any:
        if self._bus is None:
            raise DriverBusError("the DALI interface is down")
        return self._bus.send(counted(seq, self.frames))

    def _open(self) -> None:
        """Open the interface and discover the line; on failure, schedule the next attempt (back-off)."""
        try:
            self._bus = self._opener(self.transport, self.config.timeout_s)
        except DriverBusError as exc:
            self._lost(exc)
            return
        first = not self._ever_opened
        if not first:
            self.stats.reconnects += 1
        self._ever_opened = True
        try:
            self._discover(scan_all=first)
        except DriverBusError as exc:
            self._lost(exc)
            return
        self._backoff = RETRY_FIRST_S
        log.info("DALI line %s: %d of %d luminaires answer, %d D4i; unconfigured gear at: %s", self.transport,
                 sum(1 for g in self._gear.values() if not g.silent), len(self._gear),
                 sum(1 for g in self._gear.values() if g.d4i), self.unconfigured or "none")

    def _lost(self, exc: Exception) -> None:
        if self._bus is not None:
            try:
                self._bus.close()
            except Exception as close_exc:  # a dead interface may fail to close too
                log.debug("closing the lost DALI interface: %s", close_exc)
            self._bus = None
        self.stats.bus_errors += 1
        self.stats.last_error = str(exc)[:200]
        if self.stats.bus_errors == 1 or self._backoff >= self.config.retry_max_s:
            log.warning("DALI line %s lost (%s); retrying in %.0f s", self.transport, exc, self._backoff)
        self._retry_at = self._t + self._backoff
        self._backoff = min(self._backoff * 2.0, self.config.retry_max_s)

    def _discover(self, *, scan_all: bool) -> None:
        """Ask the gear their device types; poll and read the energy of the configured ones.

        The first time every short address is asked (gear on the line that no luminaire uses are reported);
        after a lost interface only the configured ones, to bring the line back in a few seconds of bus time.
        """
        by_addr = {g.addr: g for g in self._gear.values()}
        if scan_all:
            self.unconfigured = []
        for addr in range(ADDRESSES) if scan_all else sorted(by_addr):
            types = self._device_types(addr)
            gear = by_addr.get(addr)
            if gear is None:
                if types is not None:
                    self.unconfigured.append(addr)
                    self._foreign_groups |= self._groups(addr)
                continue
            gear.present = types is not None
            if types is None:
                gear.silent = True
                continue
            gear.device_types = tuple(types)
            gear.d4i = bool(D4I_TYPES & set(types))
            gear.groups = frozenset(self._groups(addr))
            fade = self._send(single(general.QueryFadeTimeFadeRate(GearShort(addr)))).raw_value
            gear.fade = None if fade is None or fade.error else fade.as_integer >> 4  # the gear's own fade time
            self._poll(gear, resync=True)
            if gear.d4i and not gear.silent:
                self._read_value(gear, "energy_wh", energy.ActiveEnergy)
                gear.d4i_due = self._t + (gear.addr * self.config.d4i_interval_s / ADDRESSES)

    def _groups(self, addr: int) -> set[int]:
        """The DALI groups of the gear at ``addr`` (none when it cannot say: it is then addressed alone)."""
        try:
            groups: set[int] = self._send(QueryGroups(GearShort(addr)))
        except DALIError:
            self.stats.bad_answers += 1
            return set()
        return groups

    def _device_types(self, addr: int) -> list[int] | None:
        try:
            types: list[int] = self._send(QueryDeviceTypes(GearShort(addr)))
        except DALIError as exc:  # no answer to the first query: nobody there; a broken list: count it
            if "No response to initial query" not in str(exc):
                self.stats.bad_answers += 1
                return []
            return None
        return types

    def _poll(self, gear: GearState, *, resync: bool = False) -> None:
        """QUERY ACTUAL LEVEL and QUERY STATUS of one gear; a gear that forgot its level is taken at its word."""
        level = self._send(single(general.QueryActualLevel(GearShort(gear.addr))))
        raw = level.raw_value
        gear.garbled = raw is not None and bool(raw.error)
        if raw is None or raw.error:
            if raw is not None:
                self.stats.bad_answers += 1
            self.stats.silent_polls += 1
            gear.silent = True
            return
        status = self._send(single(general.QueryStatus(GearShort(gear.addr))))
        if status.raw_value is None or status.raw_value.error:
            self.stats.silent_polls += 1
            gear.silent = True
            return
        came_back = gear.silent
        gear.silent = False
        gear.present = True
        arc = raw.as_integer
        if arc != gear.arc:
            gear.level_changed = self._t
            if arc not in (0, 255) and not gear.arc:
                gear.est_starts += 1
        gear.arc = arc if arc <= 254 else gear.arc
        gear.gear_failure = bool(status.ballast_status)
        gear.lamp_failure = bool(status.lamp_failure)
        gear.fade_running = bool(status.fade_ready)  # python-dali's name for bit 4, set while a fade runs
        if resync or came_back or status.power_failure:
            gear.ramp = None
            gear.target_pct = gear.level() if not gear.lamp_failure else gear.target_pct

    def _poll_levels(self, budget: int) -> None:
        gears = list(self._gear.values())
        for _ in range(len(gears)):
            if self.frames.forward + 2 > budget:
                return
            gear = gears[self._cursor % len(gears)]
            self._cursor += 1
            self._poll(gear)
            if not gear.present:  # missing at discovery and answering now: learn what it is
                continue
            if not gear.device_types and not gear.silent:
                types = self._device_types(gear.addr)
                if types:
                    gear.device_types = tuple(types)
                    gear.d4i = bool(D4I_TYPES & set(types))

    def _poll_d4i(self, budget: int) -> None:
        for gear in sorted(self._gear.values(), key=lambda g: g.d4i_due):  # the most overdue first
            if not gear.d4i or gear.silent:
                continue
            if gear.power_due is not None and self._t >= gear.power_due:
                if self.frames.forward + frames_of(energy.ActivePower) > budget:
                    return
                self._read_value(gear, "power_w", energy.ActivePower)
                gear.power_due = None
            while self._t >= gear.d4i_due:
                name, value = D4I_VALUES[gear.d4i_cursor]
                if self.frames.forward + frames_of(value) > budget:
                    return
                self._read_value(gear, name, value)
                gear.d4i_cursor += 1
                if gear.d4i_cursor == len(D4I_VALUES):
                    gear.d4i_cursor = 0
                    gear.d4i_due = self._t + self.config.d4i_interval_s

    def _read_value(self, gear: GearState, name: str, value: Any) -> None:
        try:
            got = self._send(value.read(GearShort(gear.addr)))
        except DALIError as exc:  # not implemented (not really D4i), or a framing error
            self.stats.d4i_errors += 1
            log.debug("gear %s (%d): %s: %s", gear.lum_id, gear.addr, name, exc)
            got = None
        if isinstance(got, FlagValue):  # MASK, TMASK (not measured yet) or invalid
            got = None
        gear.values[name] = got
        gear.values_at[name] = self._t

    def _command(self, gear: GearState, level: float, ramp_s: float) -> None:
        self._send_level(GearShort(gear.addr), [gear], level, ramp_s)

    def _send_level(self, addr: Any, gears: list[GearState], level: float, ramp_s: float) -> None:
        """FADE TIME (when it differs from one of ``gears``') and DAPC, or OFF, to a short, group or broadcast
        address that exactly ``gears`` obey."""
        code = fade_code(ramp_s)
        if level == 0.0 and code == 0:
            self._send(single(general.Off(addr)))
        else:
            if any(code != gear.fade for gear in gears):
                self._send(single(general.DTR0(code)))
                self._send(single(general.SetFadeTime(addr)))
                for gear in gears:
                    gear.fade = code
            self._send(single(general.DAPC(addr, arc_level(level))))
        for gear in gears:
            gear.level_changed = self._t
            gear.power_due = self._t + fade_time_s(code) + POWER_SETTLE_S

    def _flush(self, pending: dict[str, tuple[float, float]]) -> None:
        groups: dict[int, frozenset[str]] = {}
        for number in range(16):
            members = frozenset(g.lum_id for g in self._gear.values() if number in g.groups)
            if members and number not in self._foreign_groups:
                groups[number] = members
        line = frozenset(self._gear) if not self.unconfigured else frozenset()
        shared, alone = plan(pending, groups, line)
        try:
            for frame in shared:
                self._send_shared(frame)
            for lum, (level, ramp_s) in alone.items():
                self._command(self._gear[lum], level, ramp_s)
        except DriverBusError as exc:
            self._lost(exc)
        except DALIError as exc:  # a command python-dali refused: those luminaires read their real level next
            self.stats.bad_answers += 1
            log.warning("DALI line %s: a step's commands failed: %s", self.transport, exc)

    def _send_shared(self, frame: Shared) -> None:
        addr = GearBroadcast() if frame.target is None else GearGroup(frame.target)
        self._send_level(addr, [self._gear[lum] for lum in sorted(frame.luminaires)], *frame.command)
        self.stats.shared_frames += 1

    def _step_ramp(self, gear: GearState) -> None:
        """One step of a ramp longer than the gear's fades: DAPC of where the ramp will be one step from now."""
        assert gear.ramp is not None
        start, end, t0, duration = gear.ramp
        if self._t - gear.last_step < self.config.ramp_step_s:
            return
        step = self.config.ramp_step_s
        x = min(1.0, (self._t + step - t0) / duration)
        level = start + (end - start) * x
        self._command(gear, 0.0 if end == 0.0 and x >= 1.0 else max(level, 0.0), step)
        gear.last_step = self._t
        if x >= 1.0:
            gear.ramp = None

    # ------------------------------------------------------------------------------------------ values

    def _state(self, lum_id: str) -> GearState:
        try:
            return self._gear[lum_id]
        except KeyError:
            raise DriverError(f"unknown luminaire {lum_id!r}") from None

    def _reachable(self, gear: GearState) -> None:
        if self._bus is None:
            raise DriverCommError(gear.lum_id, f"DALI interface {self.transport} down ({self.stats.last_error})")
        if gear.silent:
            what = ("missing on the DALI line" if not gear.present
                    else "garbled answers (two gear on one address?)" if gear.garbled else "no answer")
            raise DriverCommError(gear.lum_id, f"{what} at short address {gear.addr}")

    def _power(self, gear: GearState, level: float) -> float:
        """Metered power when read since the level last changed and settled; else the nameplate's."""
        metered = gear.values.get("power_w")
        if metered is not None and gear.values_at.get("power_w", -math.inf) >= gear.level_changed + POWER_SETTLE_S:
            return float(metered)
        return gear.spec.standby_w if gear.lamp_failure else gear.spec.power_w(level)

    def _energy(self, gear: GearState) -> float:
        metered = gear.values.get("energy_wh")
        return float(metered) if gear.d4i and metered is not None else gear.est_energy_wh

    def _on_hours(self, gear: GearState) -> float:
        metered = gear.values.get("source_on_s")
        return float(metered) / 3600.0 if gear.d4i and metered is not None else gear.est_on_s / 3600.0

    def _starts(self, gear: GearState) -> int:
        metered = gear.values.get("source_starts")
        return int(metered) if gear.d4i and metered is not None else gear.est_starts

    def _rebase(self, t: float) -> None:
        """Move what discovery stamped on the construction clock to the loop's clock (the first tick's)."""
        shift = t - self._t
        self._ticked = True
        self._t = t
        self._retry_at += shift
        for gear in self._gear.values():
            gear.level_changed += shift
            gear.d4i_due += shift
            gear.power_due = None if gear.power_due is None else gear.power_due + shift
            gear.values_at = {k: v + shift for k, v in gear.values_at.items()}

    def _estimate(self, t: float) -> None:
        """Integrate the nameplate power of plain gear over ``[self._t, t]`` at the level last polled."""
        span = t - self._t
        for gear in self._gear.values():
            if gear.silent:
                continue
            level = gear.level()
            gear.est_energy_wh += self._power(gear, level) * span / 3600.0
            if level > 0.0:
                gear.est_on_s += span
