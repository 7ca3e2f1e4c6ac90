"""A cabinet of LED luminaires in memory: ramps, power curve, energy meter, counters and injectable faults.

It stands in for the DALI gear in tests, in the demo and on a box whose driver is ``simulated``, so it must
behave like hardware seen from the bus, not like a stub: a failed lamp still draws standby power and reads
level 0, a stuck dimmer ignores commands, a lamp off its curve only shows in its metered power. The lighting
logic above it is then exercised by the same symptoms the field produces.

Time is whatever :meth:`SimulatedDriver.tick` is given; commands and injected faults take effect at the driver's
current time, the last tick. Energy is integrated exactly, not sampled: levels are piecewise linear in time (a
ramp, then a plateau) and power is quadratic in level (:func:`~.spec.led_power_w`), so Simpson's rule on each
linear piece is exact, and the result does not depend on how often the driver is ticked.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

from vigie_config.luminaire import LuminaireSpec

from .base import LampFault, LuminaireReading
from .errors import DriverCommError, DriverError

#: Power of a luminaire off its curve, relative to the curve: what lampPowerTooHigh/Low do to the meter.
POWER_FACTORS = {LampFault.LAMP_POWER_TOO_HIGH: 1.25, LampFault.LAMP_POWER_TOO_LOW: 0.75}
#: Faults that leave the lamp dark whatever its gear level.
_DARK = frozenset({LampFault.LAMP_FAILURE, LampFault.SUPPLY_LOSS})
#: Faults the gear itself reports in readings; the others are for diagnostics to infer.
_REPORTED = _DARK


class _Lamp:
    """One luminaire's physical state; times are POSIX seconds, ``None`` before the driver's first tick."""

    __slots__ = (
        "energy_wh",
        "faults",
        "on_s",
        "ramp_from",
        "ramp_s",
        "ramp_t0",
        "spec",
        "stuck",
        "switch_ons",
        "target",
    )

    def __init__(self, spec: LuminaireSpec) -> None:
        self.spec = spec
        self.target = 0.0  # last commanded level
        self.ramp_from = 0.0  # the gear level follows ramp_from -> target over [ramp_t0, ramp_t0 + ramp_s]
        self.ramp_t0: float | None = None
        self.ramp_s = 0.0
        self.stuck: float | None = None  # the level a failed dimmer is stuck at
        self.energy_wh = 0.0
        self.on_s = 0.0
        self.switch_ons = 0
        self.faults: set[LampFault] = set()

    def gear_level(self, t: float | None) -> float:
        """The level the gear drives at ``t``: along the ramp, unless the dimmer is stuck."""
        if self.stuck is not None:
            return self.stuck
        if self.ramp_s == 0.0:
            return self.target
        if self.ramp_t0 is None or t is None or t <= self.ramp_t0:
            return self.ramp_from
        if t >= self.ramp_t0 + self.ramp_s:
            return self.target
        return self.ramp_from + (self.target - self.ramp_from) * (t - self.ramp_t0) / self.ramp_s

    def light_level(self, t: float | None) -> float:
        """What a light meter would read: the gear level, unless a fault keeps the lamp dark."""
        return 0.0 if self.faults & _DARK else self.gear_level(t)

    def power_w(self, level: float) -> float:
        """Metered power with the light at ``level``: none without supply, standby with a dead lamp.

        The curve is continuous at 0 (``P(0+) = P_standby``), so Simpson's rule stays exact on a ramp from off.
        """
        if LampFault.SUPPLY_LOSS in self.faults:
            return 0.0
        if LampFault.LAMP_FAILURE in self.faults:
            return self.spec.standby_w
        factor = 1.0
        for fault, f in POWER_FACTORS.items():
            if fault in self.faults:
                factor = f
        return self.spec.power_w(level) * factor

    def fading(self, t: float | None) -> bool:
        """A ramp is under way at ``t`` (one not yet anchored to the clock counts: it will run); never when stuck."""
        if self.stuck is not None or self.ramp_s == 0.0 or self.ramp_from == self.target:
            return False
        return self.ramp_t0 is None or t is None or t < self.ramp_t0 + self.ramp_s

    def is_on(self, t: float | None) -> bool:
        """The light is lit just after ``t``: what the switch-on counter and the operating hours watch.

        A ramp between two levels, one of them above 0, is lit everywhere strictly inside it, so a ramp under
        way is read from its ends, not from the interpolated level: that one underflows to 0 near a denormal
        end (a ramp to 5e-324 %), and whether the lamp counted as lit would then depend on when it was ticked.
        """
        if self.faults & _DARK:
            return False
        return self.gear_level(t) > 0.0 or (self.fading(t) and (self.target > 0.0 or self.ramp_from > 0.0))

    def advance(self, a: float, b: float) -> None:
        """Integrate energy and lit time over ``[a, b]``: the running ramp's part, then a plateau at the target."""
        if LampFault.SUPPLY_LOSS in self.faults:
            return  # an unpowered gear meters nothing and counts nothing
        end = a if self.ramp_t0 is None else self.ramp_t0 + self.ramp_s
        if end > a:  # the ramp runs at a: integrate its linear part, exact with Simpson for a quadratic power
            cut = min(end, b)
            lp, lq = self.light_level(a), self.light_level(cut)
            mid = self.power_w((lp + lq) / 2.0)
            self.energy_wh += (self.power_w(lp) + 4.0 * mid + self.power_w(lq)) * (cut - a) / 6.0 / 3600.0
            if self.is_on(a):  # lit over the whole piece or dark over it: a ramp's level is 0 at one end at most
                self.on_s += cut - a
            a = cut
        if b > a:  # plateau at the target: read at b, as a ramp shorter than a float's resolution reads its start at a
            level = self.light_level(b)
            self.energy_wh += self.power_w(level) * (b - a) / 3600.0
            if level > 0.0:
                self.on_s += b - a


class SimulatedDriver:
    """A :class:`~.base.LuminaireDriver` over simulated LED luminaires, with a fault-injection API for tests.

    Args:
        luminaires: Nameplates of the cabinet's luminaires (ids unique).
        start: The driver's clock at creation; ``None`` starts it at the first :meth:`tick`, ramps commanded
            before then beginning at that tick.
    """

    def __init__(self, luminaires: Iterable[LuminaireSpec], start: dt.datetime | None = None) -> None:
        self._lamps: dict[str, _Lamp] = {}
        for spec in luminaires:
            if spec.id in self._lamps:
                raise DriverError(f"luminaire id {spec.id!r} appears twice in the cabinet")
            self._lamps[spec.id] = _Lamp(spec)
        self._now: float | None = None if start is None else _seconds(start)

    def luminaires(self) -> list[str]:
        """Ids of the cabinet's luminaires, in config order."""
        return list(self._lamps)

    def set_level(self, lum_id: str, level_pct: float, ramp_s: float = 0.0) -> None:
        """Start a linear ramp from the current level to ``level_pct`` over ``ramp_s`` seconds.

        A stuck dimmer (dimmingFailure) acknowledges and records the target but does not move; without supply
        the target is recorded and reached as soon as power is back.
        """
        if not (math.isfinite(level_pct) and 0.0 <= level_pct <= 100.0):
            raise ValueError(f"level_pct must be within [0, 100], got {level_pct!r}")
        if not (math.isfinite(ramp_s) and ramp_s >= 0.0):
            raise ValueError(f"ramp_s must be a non-negative number of seconds, got {ramp_s!r}")
        lamp = self._reachable(lum_id)
        was_on = lamp.is_on(self._now)
        lamp.ramp_from = lamp.gear_level(self._now)
        lamp.target, lamp.ramp_s, lamp.ramp_t0 = level_pct, ramp_s, self._now
        self._count_switch_on(lamp, was_on)

    def read(self, lum_id: str) -> LuminaireReading:
        """The luminaire as of the last tick; raises :class:`DriverCommError` if its gear does not answer."""
        lamp = self._reachable(lum_id)
        level = lamp.light_level(self._now)
        return LuminaireReading(
            lum_id=lum_id,
            level_pct=level,
            target_pct=lamp.target,
            fading=lamp.fading(self._now) and not lamp.faults & _DARK,
            power_w=lamp.power_w(level),
            energy_wh=lamp.energy_wh,
            operating_hours=lamp.on_s / 3600.0,
            switch_ons=lamp.switch_ons,
            faults=frozenset(lamp.faults & _REPORTED),
        )

    def tick(self, now: dt.datetime) -> None:
        """Advance every luminaire to ``now``; an earlier ``now`` (clock stepped back) is ignored."""
        t = _seconds(now)
        if self._now is None:
            for lamp in self._lamps.values():
                if lamp.ramp_t0 is None:
                    lamp.ramp_t0 = t
            self._now = t
            return
        if t <= self._now:
            return
        for lamp in self._lamps.values():
            lamp.advance(self._now, t)
        self._now = t

    # -- fault injection (simulation only: not part of the LuminaireDriver port) --

    def inject(self, lum_id: str, fault: LampFault) -> None:
        """Make ``fault`` happen to ``lum_id`` now; its effects are physical, see the module docstring.

        lampPowerTooHigh and lampPowerTooLow exclude each other: injecting one clears the other.
        """
        lamp = self._lamp(lum_id)
        was_on = lamp.is_on(self._now)
        if fault is LampFault.DIMMING_FAILURE and lamp.stuck is None:
            lamp.stuck = lamp.gear_level(self._now)
        if fault in POWER_FACTORS:
            lamp.faults -= set(POWER_FACTORS)
        lamp.faults.add(fault)
        self._count_switch_on(lamp, was_on)

    def clear(self, lum_id: str, fault: LampFault | None = None) -> None:
        """Repair ``fault`` (all faults if ``None``).

        A repaired dimmer, and gear whose supply comes back, go straight to the last commanded level.
        """
        lamp = self._lamp(lum_id)
        was_on = lamp.is_on(self._now)
        cleared = set(lamp.faults) if fault is None else {fault} & lamp.faults
        lamp.faults -= cleared
        if LampFault.DIMMING_FAILURE in cleared:
            lamp.stuck = None
        if cleared & {LampFault.DIMMING_FAILURE, LampFault.SUPPLY_LOSS}:  # a repaired or re-powered gear
            lamp.ramp_from, lamp.ramp_s, lamp.ramp_t0 = lamp.target, 0.0, self._now
        self._count_switch_on(lamp, was_on)

    def _lamp(self, lum_id: str) -> _Lamp:
        try:
            return self._lamps[lum_id]
        except KeyError:
            raise DriverError(f"no luminaire {lum_id!r} in this cabinet ({len(self._lamps)} luminaires)") from None

    def _reachable(self, lum_id: str) -> _Lamp:
        """The luminaire, if its gear answers on the bus."""
        lamp = self._lamp(lum_id)
        if LampFault.CONTROL_GEAR_COMM_FAILURE in lamp.faults:
            raise DriverCommError(lum_id)
        return lamp

    def _count_switch_on(self, lamp: _Lamp, was_on: bool) -> None:
        if not was_on and lamp.is_on(self._now):
            lamp.switch_ons += 1


def _seconds(when: dt.datetime) -> float:
    """POSIX seconds of an aware datetime; a naive one is refused, its instant depends on the host's zone."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"the driver clock needs aware datetimes, got naive {when.isoformat()}")
    return when.timestamp()
