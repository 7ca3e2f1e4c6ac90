"""Luminaire drivers of the lighting role: one module per kind of control gear, listed in :data:`DRIVERS`.

The box config names its driver (``driver: simulated``) and lists its luminaires; :func:`build_driver` turns
both into a :class:`LuminaireDriver`. The map is explicit, as for the vision detectors: adding a driver (DALI-2
over a serial gateway, say) is a module and a line here, and ``grep`` finds every kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from .base import LampFault, LuminaireDriver, LuminaireReading
from .diagnostics import diagnose
from .errors import DriverCommError, DriverError
from .simulated import SimulatedDriver
from .spec import MAX_LUMINAIRES, LuminaireSpec, led_power_w

#: Driver kind (the config's ``driver`` key) → a constructor taking the cabinet's luminaire nameplates.
DRIVERS: dict[str, Callable[[Sequence[LuminaireSpec]], LuminaireDriver]] = {"simulated": SimulatedDriver}

__all__ = [
    "DRIVERS",
    "MAX_LUMINAIRES",
    "DriverCommError",
    "DriverError",
    "LampFault",
    "LuminaireDriver",
    "LuminaireReading",
    "LuminaireSpec",
    "SimulatedDriver",
    "build_driver",
    "diagnose",
    "led_power_w",
]


def build_driver(kind: str, luminaires_config: Sequence[LuminaireSpec | Mapping[str, Any]]) -> LuminaireDriver:
    """The driver of ``kind`` for a cabinet's luminaires, given as nameplates or as their config mappings.

    Raises:
        DriverError: Unknown kind, an invalid nameplate, duplicate ids, or more than :data:`MAX_LUMINAIRES`;
            the message says which, since a box is diagnosed from its log.
    """
    if kind not in DRIVERS:
        raise DriverError(f"unknown luminaire driver {kind!r}; known drivers: {', '.join(sorted(DRIVERS))}")
    if len(luminaires_config) > MAX_LUMINAIRES:
        raise DriverError(f"{len(luminaires_config)} luminaires configured, a cabinet drives at most {MAX_LUMINAIRES}")
    specs: list[LuminaireSpec] = []
    for i, item in enumerate(luminaires_config):
        try:
            specs.append(item if isinstance(item, LuminaireSpec) else LuminaireSpec.model_validate(item))
        except ValidationError as exc:
            raise DriverError(f"luminaire #{i}: {exc}") from exc
    return DRIVERS[kind](specs)
