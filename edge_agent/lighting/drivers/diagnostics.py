"""Faults that no control gear reports and the box must infer: a stuck dimmer, a lamp off its power curve.

Pure: a reading and the luminaire's nameplate in, a set of TALQ faults out. Independent of the driver, so it
judges a DALI-2 luminaire's metered power exactly as it judges the simulator's.
"""

from __future__ import annotations

from vigie_config.luminaire import LuminaireSpec

from .base import LampFault, LuminaireReading

#: Relative power deviation tolerated before lampPowerTooHigh/Low: LED driver tolerance and metering error
#: stay within ~10 %, while a failing LED string or driver stage moves the power by a quarter or more.
POWER_TOLERANCE = 0.15
#: Level deviation (percentage points) tolerated between commanded and actual levels once a ramp has ended
#: (DALI arc levels are quantised: one step is up to ~3 % of the level at the top of the curve).
LEVEL_TOLERANCE_PCT = 2.0


def diagnose(
    reading: LuminaireReading,
    spec: LuminaireSpec,
    power_tolerance: float = POWER_TOLERANCE,
    level_tolerance_pct: float = LEVEL_TOLERANCE_PCT,
) -> frozenset[LampFault]:
    """The faults of one luminaire: those its gear reports plus those its measurements betray.

    The inferred checks are skipped while the lamp is dark for a reported reason (lamp failure, supply loss: the
    cause is already known) and while a ramp runs (level and power are sampled at slightly different instants
    and the meter averages). The power check also needs the light on: at standby power (< 1 W) the relative
    error of any meter is larger than the deviation sought.

    * ``dimmingFailure``: the actual level differs from the commanded one after the ramp has ended.
    * ``lampPowerTooHigh`` / ``lampPowerTooLow``: measured power off ``spec.power_w(actual level)`` by more
      than ``power_tolerance`` (relative).
    """
    faults = set(reading.faults)
    if faults & {LampFault.LAMP_FAILURE, LampFault.SUPPLY_LOSS} or reading.fading:
        return frozenset(faults)
    if abs(reading.level_pct - reading.target_pct) > level_tolerance_pct:
        faults.add(LampFault.DIMMING_FAILURE)
    if reading.level_pct > 0.0:
        ratio = reading.power_w / spec.power_w(reading.level_pct)
        if ratio > 1.0 + power_tolerance:
            faults.add(LampFault.LAMP_POWER_TOO_HIGH)
        elif ratio < 1.0 - power_tolerance:
            faults.add(LampFault.LAMP_POWER_TOO_LOW)
    return frozenset(faults)
