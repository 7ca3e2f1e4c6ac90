"""What the lighting role sees of the luminaires of its cabinet: the :class:`LuminaireDriver` port and its values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable


class LampFault(StrEnum):
    """TALQ 2.7 LampMonitor faults, spelt as TALQ spells them because these strings go on the wire as they are.

    Who detects what: the control gear itself reports :attr:`LAMP_FAILURE` and :attr:`SUPPLY_LOSS` in every
    reading; :attr:`CONTROL_GEAR_COMM_FAILURE` is the driver's :class:`~.errors.DriverCommError`; the others are
    *inferred* by :func:`~.diagnostics.diagnose` from what is measured (level, power) against what was commanded
    and what the nameplate promises, since no gear confesses to being stuck or off its power curve.
    """

    LAMP_FAILURE = "lampFailure"
    DIMMING_FAILURE = "dimmingFailure"
    SUPPLY_LOSS = "supplyLoss"
    CONTROL_GEAR_COMM_FAILURE = "controlGearCommFailure"
    LAMP_POWER_TOO_HIGH = "lampPowerTooHigh"
    LAMP_POWER_TOO_LOW = "lampPowerTooLow"


@dataclass(frozen=True, slots=True)
class LuminaireReading:
    """One luminaire as its driver last saw it (at the driver's last :meth:`~LuminaireDriver.tick`).

    Attributes:
        lum_id: Id of the luminaire within the cabinet.
        level_pct: Actual light output, % (0 when the lamp is dark, whatever was commanded).
        target_pct: Last commanded level, %: what the lamp should reach once :attr:`fading` ends.
        fading: A ramp is running (DALI status "fade running"); levels and power are in transit.
        power_w: Active power drawn now, W (0 without supply, standby power when dimmed off).
        energy_wh: Active energy since commissioning, Wh; only ever grows.
        operating_hours: Hours spent with the light on (level > 0).
        switch_ons: Off-to-on transitions of the light since commissioning.
        faults: Faults the gear itself reports (lamp failure, supply loss); see :class:`LampFault`.
    """

    lum_id: str
    level_pct: float
    target_pct: float
    fading: bool
    power_w: float
    energy_wh: float
    operating_hours: float
    switch_ons: int
    faults: frozenset[LampFault]


@runtime_checkable
class LuminaireDriver(Protocol):
    """The port between the lighting role and the control gear of one cabinet's luminaires (up to 200).

    Synchronous and clocked from outside: the lighting loop calls :meth:`tick` with its own ``now`` and the
    driver advances whatever depends on time (ramps, energy integration, polling) to that instant. The same loop
    then runs in tests on a simulated night in milliseconds, and in the field on the wall clock.

    :class:`~.simulated.SimulatedDriver` implements it in memory. A DALI-2 driver talking to the gear through a
    serial gateway (one per DALI line, 64 short addresses each) would plug in behind the same four methods:

    * :meth:`set_level` -> set FADE TIME (or DALI-2 EXTENDED FADE TIME, up to 16 min) then DAPC (direct arc
      power control), the percentage converted to an arc power level with the standard logarithmic dimming
      curve; ramps longer than the gear's fades are stepped by the driver on :meth:`tick`.
    * :meth:`read` -> QUERY ACTUAL LEVEL, QUERY STATUS (lamp failure, fade running, power cycle seen), and the
      memory banks of DALI-2 part 252 (energy reporting: active energy and active power) and part 253
      (diagnostics and maintenance: operating time, light source start counter and on time, supply voltage,
      failure conditions). A bus at 1200 baud answers a few dozen queries a second, so such a driver polls in
      round-robin on :meth:`tick` and :meth:`read` returns the last answers.
    * a gear that stays silent (no backward frame) -> :class:`~.errors.DriverCommError`.
    * :meth:`luminaires` -> the ids the config maps to (gateway, short address) pairs.
    """

    def luminaires(self) -> list[str]:
        """Ids of the cabinet's luminaires, in config order."""
        ...

    def set_level(self, lum_id: str, level_pct: float, ramp_s: float = 0.0) -> None:
        """Command ``lum_id`` to ``level_pct`` % (0 = off), reached linearly over ``ramp_s`` seconds.

        The ramp starts from the level the lamp is at now; a new command replaces a running ramp (last command
        wins, as in TALQ).

        Raises:
            DriverCommError: The gear did not acknowledge.
            DriverError: Unknown ``lum_id``.
            ValueError: Level outside [0, 100] or negative ramp.
        """
        ...

    def read(self, lum_id: str) -> LuminaireReading:
        """The state of ``lum_id`` as of the last :meth:`tick`.

        Raises:
            DriverCommError: The gear did not answer.
            DriverError: Unknown ``lum_id``.
        """
        ...

    def tick(self, now: dt.datetime) -> None:
        """Advance time-dependent behaviour to ``now`` (aware); a ``now`` before the previous one is ignored."""
        ...
