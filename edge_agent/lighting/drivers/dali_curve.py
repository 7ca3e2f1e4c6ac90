"""DALI's numbers for light: the logarithmic dimming curve and the standard fade times (IEC 62386-102).

Pure functions, no bus: the driver converts a Vigie level (% of light output) to the arc power level a gear
is sent in DAPC, reads QUERY ACTUAL LEVEL back as a percentage, and picks the FADE TIME code that makes a ramp
happen inside the gear rather than as frames on a slow bus.

The curve: arc level ``n`` in 1..254 gives ``X(n) = 10 ** ((n - 1) / (253 / 3) - 1)`` % of full light (0.1 % at
n = 1, 100 % at n = 254); 0 is off. Equal steps of ``n`` are equal ratios of light, which is how the eye sees
dimming, so a gear is addressed in ``n`` and a person thinks in %.
"""

from __future__ import annotations

import math

#: Highest arc power level (100 %); 255 is MASK ("stay where you are") and is never sent.
MAX_ARC = 254
#: The light output at arc level 1, the lowest lit level of the curve, %.
MIN_LIT_PCT = 0.1
_SPAN = 253.0 / 3.0  # arc levels per decade of light
#: FADE TIME codes 1..15 give ``0.5 * sqrt(2 ** code)`` seconds (0.7 s to 90.5 s); 0 is no fade.
MAX_FADE_CODE = 15


def arc_level(level_pct: float) -> int:
    """The arc power level (0..254) nearest to ``level_pct`` on the logarithmic curve; 0 % is off (0).

    A level above 0 but below the curve's first step still lights the lamp (arc level 1): a commanded "on" is
    never turned into "off" by rounding.

    Raises:
        ValueError: ``level_pct`` outside [0, 100] or not finite.
    """
    if not math.isfinite(level_pct) or not 0.0 <= level_pct <= 100.0:
        raise ValueError(f"level must be within 0-100 %, got {level_pct!r}")
    if level_pct == 0.0:
        return 0
    if level_pct <= MIN_LIT_PCT:
        return 1
    return max(1, min(MAX_ARC, round(1.0 + _SPAN * (math.log10(level_pct) + 1.0))))


def level_pct(arc: int) -> float:
    """The light output, %, of arc power level ``arc`` (0..254; 0 is off).

    Raises:
        ValueError: ``arc`` outside 0..254 (255 is MASK: a gear answering it has no level to report).
    """
    if not 0 <= arc <= MAX_ARC:
        raise ValueError(f"arc power level must be within 0-{MAX_ARC}, got {arc!r}")
    if arc == 0:
        return 0.0
    return float(10.0 ** ((arc - 1) / _SPAN - 1.0))


def fade_time_s(code: int) -> float:
    """Seconds of FADE TIME ``code`` (0: no fade, 1..15: ``0.5 * sqrt(2 ** code)``)."""
    if not 0 <= code <= MAX_FADE_CODE:
        raise ValueError(f"fade time code must be within 0-{MAX_FADE_CODE}, got {code!r}")
    return 0.0 if code == 0 else 0.5 * math.sqrt(2.0**code)


#: The longest ramp a gear fades by itself with a standard FADE TIME, s.
MAX_FADE_S = fade_time_s(MAX_FADE_CODE)


def fade_code(ramp_s: float) -> int:
    """The FADE TIME code whose time is nearest to ``ramp_s`` (on a log scale: the codes double every two).

    0 for a ramp shorter than half the shortest fade (0.35 s): such a change is a step for the eye anyway.
    Ramps longer than :data:`MAX_FADE_S` get the longest code; the driver steps them (see the driver module).
    """
    if not math.isfinite(ramp_s) or ramp_s < 0.0:
        raise ValueError(f"ramp must be a finite number of seconds >= 0, got {ramp_s!r}")
    if ramp_s < fade_time_s(1) / 2.0:
        return 0
    if ramp_s >= MAX_FADE_S:
        return MAX_FADE_CODE
    code = 2.0 * math.log2(ramp_s / 0.5)  # the real-valued code of ramp_s
    return max(1, min(MAX_FADE_CODE, round(code)))
