"""Config section of a street-lighting cabinet (``lighting.cabinet:``): its controller, its meter, its circuits.

The cabinet is polled by the light role whatever drives the luminaires: beside DALI gear it reports the supply
(voltages, phase powers, energy) and the cabinet's contacts (door, breakers, photocell); with the ``contactor``
driver it is also what switches non-dimmable circuits. Register maps are named here and checked at start-up:
an unknown model, or a circuit wired to a coil the map does not have, fails ``vigie-edge validate`` with the
field and the reason instead of a silent cabinet at dusk.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vigie_wire.schema import ID_PATTERN

from .errors import RegisterMapError
from .register_maps import RegisterMap, Table, load_map

_ID = f"^{ID_PATTERN.pattern}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModbusDeviceConfig(_Section):
    """One Modbus device of the cabinet: its unit id and register map (and its own address, if not the cabinet's)."""

    unit: int = Field(1, ge=0, le=255, description="Modbus unit id (slave address) of the device.")
    map: str = Field(
        description="Register map: a model shipped with the agent (`sdm630`, `cabinet-generic`) or the absolute "
        "path of a map file (`.yaml`).",
    )
    host: str | None = Field(None, min_length=1, max_length=253, description="Its own address; absent: the cabinet's.")
    port: int | None = Field(None, ge=1, le=65535, description="Its own TCP port; absent: the cabinet's.")

    @field_validator("map")
    @classmethod
    def _known_map(cls, value: str) -> str:
        try:
            load_map(value)
        except RegisterMapError as exc:
            raise ValueError(str(exc)) from exc
        return value

    def register_map(self) -> RegisterMap:
        return load_map(self.map)


class CircuitConfig(_Section):
    """A circuit of the cabinet: the contactor (coil) that switches it, its phase, the luminaires it feeds."""

    id: str = Field(pattern=_ID, description="Circuit id, unique in the cabinet (as on the cabinet's diagram).")
    output: int = Field(
        ge=0, le=63, description="Index of its contactor in the controller map's `circuit` coils (and of its breaker)."
    )
    phase: Literal[1, 2, 3] | None = Field(
        None, description="Phase of the meter feeding it (its power is that phase's); absent: not metered apart."
    )
    luminaires: tuple[str, ...] = Field(
        default=(), max_length=200, description="Luminaire ids the circuit feeds (from `lighting.luminaires`)."
    )


class CabinetConfig(_Section):
    """``lighting.cabinet``: a cabinet controller and/or a three-phase meter over Modbus TCP."""

    host: str = Field(min_length=1, max_length=253, description="Address of the cabinet's Modbus TCP interface.")
    port: int = Field(502, ge=1, le=65535, description="TCP port of the Modbus interface.")
    timeout_s: float = Field(1.0, ge=0.05, le=30, description="How long one request waits for its answer, seconds.")
    poll_interval_s: float = Field(
        10.0, ge=1, le=3600, description="How often the cabinet's contacts and meter are read, seconds."
    )
    backoff_max_s: float = Field(
        300.0, ge=1, le=3600, description="Longest wait between attempts while the cabinet does not answer, seconds."
    )
    controller: ModbusDeviceConfig | None = Field(
        None, description="The cabinet controller: contactor coils, door, breaker and photocell inputs."
    )
    meter: ModbusDeviceConfig | None = Field(None, description="The cabinet's three-phase energy meter.")
    circuits: tuple[CircuitConfig, ...] = Field(default=(), max_length=64, description="The cabinet's circuits.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = check_cabinet(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def check_cabinet(cfg: CabinetConfig) -> list[str]:
    """What makes a cabinet section unusable although each field is valid, as ``field: reason`` lines."""
    problems: list[str] = []
    if cfg.controller is None and cfg.meter is None:
        problems.append("a cabinet needs a controller, a meter, or both")
    ids = [c.id for c in cfg.circuits]
    if dupes := sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"circuits: duplicate circuit ids: {', '.join(dupes)}")
    outputs = [c.output for c in cfg.circuits]
    if dupes_o := sorted({o for o in outputs if outputs.count(o) > 1}):
        problems.append(f"circuits: outputs used twice: {', '.join(map(str, dupes_o))}")
    if cfg.circuits:
        if cfg.controller is None:
            problems.append("circuits: switching circuits needs a controller")
        else:
            coils = cfg.controller.register_map().point("circuit")
            if coils is None or coils.table is not Table.COIL:
                problems.append(f"controller.map: map {cfg.controller.map!r} has no `circuit` coils")
            else:
                for i, c in enumerate(cfg.circuits):
                    if c.output >= coils.count:
                        problems.append(
                            f"circuits.{i}.output: {c.output} is past the {coils.count} circuits of map "
                            f"{cfg.controller.map!r} (outputs 0-{coils.count - 1})"
                        )
    for i, c in enumerate(cfg.circuits):
        if c.phase is None:
            continue
        if cfg.meter is None:
            problems.append(f"circuits.{i}.phase: a phase needs a meter")
        elif cfg.meter.register_map().point(f"power_l{c.phase}") is None:
            problems.append(f"circuits.{i}.phase: map {cfg.meter.map!r} has no power_l{c.phase}")
    return problems
