"""The DALI facts the ``dali`` driver polls by; its config section is :class:`vigie_config.drivers.DaliDriverConfig`."""

from __future__ import annotations

from typing import Any

from dali.memory import diagnostics, energy

#: Device types of D4i's energy reporting (Part 252) and diagnostics (Part 253).
D4I_TYPES = frozenset({51, 52})

#: The D4i values polled, in turn: (attribute in :attr:`~.dali_state.GearState.values`, python-dali memory value).
D4I_VALUES: tuple[tuple[str, Any], ...] = (
    ("energy_wh", energy.ActiveEnergy),
    ("power_w", energy.ActivePower),
    ("source_on_s", diagnostics.LightSourceOnTime),
    ("source_starts", diagnostics.LightSourceStartCounter),
    ("source_failure", diagnostics.LightSourceOverallFailureCondition),
    ("undervoltage", diagnostics.ControlGearExternalSupplyUndervoltage),
    ("supply_v", diagnostics.ControlGearExternalSupplyVoltage),
    ("operating_s", diagnostics.ControlGearOperatingTime),
    ("gear_c", diagnostics.ControlGearTemperature),
    ("source_c", diagnostics.LightSourceTemperature),
)


def frames_of(value: Any) -> int:
    """Forward frames to read one D4i value: DTR1 (bank), DTR0 (first location), one read per location."""
    return 2 + len(value.locations)


#: The most frames one D4i value read takes (the 7-byte active energy).
D4I_MAX_FRAMES = max(frames_of(value) for _, value in D4I_VALUES)
