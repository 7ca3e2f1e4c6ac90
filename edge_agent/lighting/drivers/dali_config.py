"""The ``dali`` driver's section of a box config, and the DALI facts it is checked against.

Apart from the driver so that the config models (and the JSON Schema built from them) read as one page.
"""

from __future__ import annotations

from typing import Any, Literal

from dali.memory import diagnostics, energy
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .dali_bus import parse_transport
from .errors import DriverError

#: Short addresses on one DALI line.
ADDRESSES = 64
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


class DaliDriverConfig(BaseModel):
    """``driver: {kind: dali, transport: ...}``: DALI-2 luminaires (D4i or not) on one line, via python-dali.

    Example::

        driver: {kind: dali, transport: "hasseb:/dev/hidraw0", addresses: {l01: 0, l02: 1}}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["dali"] = Field("dali", description="DALI-2 control gear through a USB or serial interface.")
    transport: str = Field(
        description="The DALI interface: `hasseb:/dev/hidrawN` or `tridonic:/dev/hidrawN` (USB HID), "
        "`luba232:/dev/ttyUSBN` or `scirs232:/dev/ttyUSBN` (Lunatone serial), or `fake:N` for the simulator "
        "(N D4i gear at addresses 0..N-1; `?d4i=0` for plain DALI-2 gear, `?rated_w=W` or one per address `W,W,...`)."
    )
    addresses: dict[str, int] = Field(
        default_factory=dict,
        description="Short address (0-63) of a luminaire, by luminaire id; a luminaire not listed takes its "
        "position in `luminaires` (the first is 0).",
    )
    frames_per_tick: int = Field(
        24, ge=12, le=2000, description="Most frames of polling per decision step: a real line carries 25-35 "
        "frames a second (a quarter goes to D4i reads while some are due)."
    )
    d4i_interval_s: float = Field(
        900.0, ge=10, le=86400, description="How often each D4i gear's energy and diagnostics are read, s "
        "(~55 frames per gear: 64 D4i gear take ~6 min of a line's quarter)."
    )
    ramp_step_s: float = Field(
        2.0, ge=0.5, le=60, description="Step of ramps longer than the gear's longest fade (90.5 s), s."
    )
    timeout_s: float = Field(2.0, gt=0, le=30, description="Longest wait for one transaction on the interface, s.")
    retry_max_s: float = Field(
        60.0, ge=1, le=3600, description="Longest wait between attempts to reopen a lost interface, s."
    )

    @field_validator("transport")
    @classmethod
    def _known_transport(cls, value: str) -> str:
        try:
            parse_transport(value)
        except DriverError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="after")
    def _addresses_on_the_line(self) -> DaliDriverConfig:
        bad = {lum: a for lum, a in self.addresses.items() if not 0 <= a < ADDRESSES}
        if bad:
            raise ValueError(f"short addresses are 0-63, got {bad}")
        seen: dict[int, str] = {}
        for lum, a in self.addresses.items():
            if a in seen:
                raise ValueError(f"short address {a} given to both {seen[a]!r} and {lum!r}")
            seen[a] = lum
        return self
