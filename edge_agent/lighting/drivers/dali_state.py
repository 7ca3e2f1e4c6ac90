"""What the ``dali`` driver knows of each gear of its line, and the line's counters."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from vigie_config.luminaire import LuminaireSpec

from .dali_curve import level_pct


@dataclass
class GearState:
    """What the driver knows of the gear of one luminaire (times are POSIX seconds of the driver's clock)."""

    lum_id: str
    addr: int
    spec: LuminaireSpec
    present: bool = False  # answered at discovery or since
    silent: bool = True  # did not answer its last poll (or was never seen)
    garbled: bool = False  # its last answer was a framing error (two gear answering on one address)
    device_types: tuple[int, ...] = ()
    d4i: bool = False
    groups: frozenset[int] = frozenset()  # the DALI groups the gear answers to (its commissioning)
    arc: int | None = None  # last QUERY ACTUAL LEVEL
    lamp_failure: bool = False
    gear_failure: bool = False
    fade_running: bool = False
    target_pct: float = 0.0
    fade: int | None = None  # FADE TIME code last set
    ramp: tuple[float, float, float, float] | None = None  # from %, to %, start, duration (stepped ramps)
    last_step: float = -math.inf
    level_changed: float = -math.inf
    power_due: float | None = None
    d4i_due: float = 0.0
    d4i_cursor: int = 0
    values: dict[str, Any] = field(default_factory=dict)  # D4i values by attribute name
    values_at: dict[str, float] = field(default_factory=dict)
    est_energy_wh: float = 0.0
    est_on_s: float = 0.0
    est_starts: int = 0

    def level(self) -> float:
        """Actual light output, %: 0 when the lamp is dark by the gear's own report."""
        if self.arc is None or self.lamp_failure:
            return 0.0
        return level_pct(min(self.arc, 254))


@dataclass
class BusStats:
    """Counters of the line, under ``dali.*`` in telemetry."""

    bus_errors: int = 0
    reconnects: int = 0
    silent_polls: int = 0
    bad_answers: int = 0
    d4i_errors: int = 0
    shared_frames: int = 0  # levels sent to a DALI group or the whole line in one frame
    last_error: str = ""
