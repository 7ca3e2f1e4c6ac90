"""The ``lighting.driver`` section of a box config: one model per kind of control gear, told apart by ``kind``.

The drivers themselves (what talks to the gear) are the box's: :data:`edge_agent.lighting.drivers.DRIVERS` maps
each kind of :data:`DRIVER_CONFIGS` to its constructor. The sections are here, with the rest of the box
configuration, so that a config is checked the same way on the box and at the centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import parse_qs, urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Short addresses on one DALI line.
ADDRESSES = 64
#: Transport URI schemes: python-dali's drivers, and ``fake`` for the simulator.
HID_SCHEMES = ("hasseb", "tridonic")
SERIAL_SCHEMES = ("luba232", "scirs232")
SCHEMES = (*HID_SCHEMES, *SERIAL_SCHEMES, "fake")


class SimulatedDriverConfig(BaseModel):
    """``driver: {kind: simulated}`` (or just ``driver: simulated``): luminaires in memory, for demos and tests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["simulated"] = Field("simulated", description="Luminaires simulated in memory (demo, tests).")


class ContactorDriverConfig(BaseModel):
    """``driver: {kind: contactor}``: circuits of ``lighting.cabinet`` switched on and off by their contactors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["contactor"] = Field(
        "contactor", description="Non-dimmable circuits switched by the cabinet controller's contactors."
    )
    threshold_pct: float = Field(
        0.0, ge=0, lt=100, description="A circuit is on while one of its luminaires is commanded above this level."
    )


@dataclass(frozen=True, slots=True)
class Transport:
    """A parsed transport URI: ``scheme``, device ``path`` (or gear count for ``fake``), and options."""

    scheme: str
    path: str
    options: dict[str, str]

    def __str__(self) -> str:
        return f"{self.scheme}:{self.path}"


def parse_transport(uri: str) -> Transport:
    """Check a transport URI and split it; the message of the error says what a right one looks like.

    Raises:
        ValueError: Unknown scheme, no device path, or a ``fake`` count that is not 1..64.
    """
    parsed = urlparse(uri)
    scheme = parsed.scheme
    if scheme not in SCHEMES:
        raise ValueError(
            f"unknown DALI transport {uri!r}: use hasseb:/dev/hidrawN, tridonic:/dev/hidrawN, luba232:/dev/ttyUSBN, "
            "scirs232:/dev/ttyUSBN, or fake:N for the simulator"
        )
    path = parsed.path
    options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    if scheme == "fake":
        if not path.isdigit() or not 1 <= int(path) <= 64:
            raise ValueError(f"DALI transport {uri!r}: the simulator takes a gear count, fake:1 to fake:64")
        unknown = set(options) - {"d4i", "rated_w"}
        if unknown:
            raise ValueError(f"DALI transport {uri!r}: unknown simulator options {sorted(unknown)} (d4i, rated_w)")
        try:
            ratings = [float(w) for w in options.get("rated_w", "60").split(",")]
        except ValueError:
            ratings = []
        if not ratings or not all(0 < w <= 2000 for w in ratings):
            raise ValueError(f"DALI transport {uri!r}: rated_w is a power in W, or one per address (comma list)")
    elif not path.startswith("/"):
        raise ValueError(f"DALI transport {uri!r}: give the interface's device path, e.g. {scheme}:/dev/...")
    return Transport(scheme, path, options)


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
        parse_transport(value)  # a ValueError naming what a right one looks like
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


#: Driver kind (the config's ``driver.kind``) → its section's model.
DRIVER_CONFIGS: dict[str, type[BaseModel]] = {
    "simulated": SimulatedDriverConfig,
    "contactor": ContactorDriverConfig,
    "dali": DaliDriverConfig,
}

#: The ``lighting.driver`` section of a box config: one model per kind, told apart by ``kind``.
DriverConfig = Annotated[SimulatedDriverConfig | ContactorDriverConfig | DaliDriverConfig, Field(discriminator="kind")]
