"""What the box knows of a luminaire before it is switched on: its id in the cabinet and its power curve.

A pydantic model, ``extra="forbid"``, because it is a section of the box config (the ``luminaires:`` list next to
``driver: simulated``) and a typo in a nameplate must fail at startup, not skew every energy report.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigie_wire.schema import ID_PATTERN

#: The most luminaires a cabinet's box drives (Dijon cabinets feed up to 200 points).
MAX_LUMINAIRES = 200


def led_power_w(level_pct: float, rated_w: float, standby_w: float, convexity: float) -> float:
    """Electrical power of an LED luminaire at ``level_pct`` % of its light output.

    ``P = P_standby + (P_rated - P_standby) * f(x)`` with ``x = level / 100`` and ``f(x) = (1 - k) x + k x^2``:
    LEDs give more lumens per watt at low current, so halving the light takes a bit less than half the power
    (``k = 0.2``: 45 %). A quadratic rather than a power law keeps ``f(0) = 0``, ``f(1) = 1``, monotony for
    ``0 <= k <= 1``, and lets the simulator integrate a linear ramp exactly with Simpson's rule. Off (level 0)
    the driver still draws its standby power, which is what DALI gear does on a powered line.
    """
    if level_pct <= 0.0:
        return standby_w
    x = min(level_pct, 100.0) / 100.0
    return standby_w + (rated_w - standby_w) * ((1.0 - convexity) * x + convexity * x * x)


class LuminaireSpec(BaseModel):
    """Nameplate of one luminaire: the reference its measured power is checked against.

    Attributes:
        id: Id within the cabinet, topic-safe (it appears in fault and energy topics).
        rated_w: Power at 100 % light output (Dijon's LED heads: 30-120 W).
        standby_w: Power when dimmed to off with the supply on.
        convexity: ``k`` of :func:`led_power_w`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=f"^{ID_PATTERN.pattern}$")
    rated_w: float = Field(gt=0, le=2000)
    standby_w: float = Field(0.5, ge=0, le=20)
    convexity: float = Field(0.2, ge=0, le=1)

    @model_validator(mode="after")
    def _standby_below_rated(self) -> Self:
        if self.standby_w >= self.rated_w:
            raise ValueError(f"standby_w ({self.standby_w} W) must be below rated_w ({self.rated_w} W)")
        return self

    def power_w(self, level_pct: float) -> float:
        """Expected power at ``level_pct`` (see :func:`led_power_w`)."""
        return led_power_w(level_pct, self.rated_w, self.standby_w, self.convexity)
