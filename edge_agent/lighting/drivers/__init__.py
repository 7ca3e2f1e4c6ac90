"""Luminaire drivers of the lighting role: one module per kind of control gear, listed in :data:`DRIVERS`.

The box config names its driver and lists its luminaires; :func:`build_driver` turns both into a
:class:`LuminaireDriver`. As for the vision detectors (and Frigate's detector plugins), each kind is a module with
a config model whose ``kind`` is a literal (in :mod:`vigie_config.drivers`, with the rest of the box config) and a
constructor; the map below is explicit, so ``grep`` finds every kind, and adding one (DALI-2 over a USB or serial
interface, say) is a module, a line here and a section model there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from vigie_config.drivers import (
    DRIVER_CONFIGS,
    ContactorDriverConfig,
    DaliDriverConfig,
    DriverConfig,
    SimulatedDriverConfig,
)
from vigie_config.luminaire import MAX_LUMINAIRES, LuminaireSpec, led_power_w

from .base import LampFault, LuminaireDriver, LuminaireReading
from .contactor import ContactorDriver
from .dali import DaliDriver
from .diagnostics import diagnose
from .errors import DriverCommError, DriverError
from .simulated import SimulatedDriver


@dataclass(frozen=True, slots=True)
class DriverKind:
    """One kind of driver: its config section and how to build it from that section and the nameplates."""

    config: type[BaseModel]
    build: Callable[[Any, Sequence[LuminaireSpec]], LuminaireDriver]
    #: For kinds that act through the cabinet of ``lighting.cabinet`` (``contactor``): built with it.
    build_with_cabinet: Callable[[Any, Sequence[LuminaireSpec], Any], LuminaireDriver] | None = None


def _needs_cabinet(config: Any, _specs: Sequence[LuminaireSpec]) -> LuminaireDriver:
    raise DriverError(f"driver {getattr(config, 'kind', config)!r} needs a lighting.cabinet section")


#: Driver kind (the config's ``driver.kind``, see :data:`vigie_config.drivers.DRIVER_CONFIGS`) → its config model
#: and constructor.
DRIVERS: dict[str, DriverKind] = {
    "simulated": DriverKind(DRIVER_CONFIGS["simulated"], lambda _cfg, specs: SimulatedDriver(specs)),
    "contactor": DriverKind(DRIVER_CONFIGS["contactor"], _needs_cabinet, ContactorDriver),
    "dali": DriverKind(DRIVER_CONFIGS["dali"], DaliDriver),
}
if DRIVERS.keys() != DRIVER_CONFIGS.keys():  # a kind the config accepts must be a kind the box can build
    raise ImportError(f"driver kinds differ: config {sorted(DRIVER_CONFIGS)}, drivers {sorted(DRIVERS)}")

__all__ = [
    "DRIVERS",
    "MAX_LUMINAIRES",
    "ContactorDriver",
    "ContactorDriverConfig",
    "DaliDriver",
    "DaliDriverConfig",
    "DriverCommError",
    "DriverConfig",
    "DriverError",
    "DriverKind",
    "LampFault",
    "LuminaireDriver",
    "LuminaireReading",
    "LuminaireSpec",
    "SimulatedDriver",
    "SimulatedDriverConfig",
    "build_driver",
    "diagnose",
    "led_power_w",
]


def build_driver(
    config: BaseModel | str, luminaires_config: Sequence[LuminaireSpec | Mapping[str, Any]], *, cabinet: Any = None
) -> LuminaireDriver:
    """The driver a ``lighting.driver`` section describes, for a cabinet's luminaires (nameplates or mappings).

    Args:
        config: The driver section, or a bare kind for drivers that need no settings (``"simulated"``).
        luminaires_config: The cabinet's luminaires.
        cabinet: The role's :class:`~edge_agent.lighting.cabinet.cabinet.Cabinet`, for kinds that switch through it.

    Raises:
        DriverError: Unknown kind, a kind that needs settings given bare, an invalid nameplate, duplicate ids, or
            more than :data:`MAX_LUMINAIRES`; the message says which, since a box is diagnosed from its log.
    """
    kind = config if isinstance(config, str) else str(getattr(config, "kind", ""))
    if kind not in DRIVERS:
        raise DriverError(f"unknown luminaire driver {kind!r}; known drivers: {', '.join(sorted(DRIVERS))}")
    entry = DRIVERS[kind]
    if isinstance(config, str):
        try:
            config = entry.config.model_validate({"kind": kind})
        except ValidationError as exc:
            raise DriverError(f"driver {kind!r} needs its settings: {exc}") from exc
    if len(luminaires_config) > MAX_LUMINAIRES:
        raise DriverError(f"{len(luminaires_config)} luminaires configured, a cabinet drives at most {MAX_LUMINAIRES}")
    specs: list[LuminaireSpec] = []
    for i, item in enumerate(luminaires_config):
        try:
            specs.append(item if isinstance(item, LuminaireSpec) else LuminaireSpec.model_validate(item))
        except ValidationError as exc:
            raise DriverError(f"luminaire #{i}: {exc}") from exc
    if cabinet is not None and entry.build_with_cabinet is not None:
        return entry.build_with_cabinet(config, specs, cabinet)
    return entry.build(config, specs)
