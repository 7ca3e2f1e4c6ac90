"""Modbus register maps as data: one YAML file per device model, validated when a box config names it.

A cabinet controller or an energy meter is described by a file under ``register_maps/`` (``sdm630.yaml``,
``cabinet-generic.yaml``): each point has a name, a Modbus table, an address, a type and a unit. Supporting
another meter is a new file, not new code. The maps are part of the box configuration (``lighting.cabinet``
names them and a circuit's output must exist in its controller's map), hence here; reading them from a device is
the box's (:mod:`edge_agent.lighting.cabinet.registers`).
"""

from __future__ import annotations

import itertools
import math
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import RegisterMapError

#: Register words per value type (bits are one coil or input each).
WORDS = {"bool": 1, "uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}
#: The largest address a 16-bit Modbus field carries.
MAX_ADDRESS = 0xFFFF


class Table(StrEnum):
    """The four Modbus data tables; bits (coils, discrete inputs) and 16-bit registers."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    INPUT_REGISTER = "input_register"
    HOLDING_REGISTER = "holding_register"

    @property
    def bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE_INPUT)


class Point(BaseModel):
    """One named value of a device (or ``count`` consecutive ones: a coil per circuit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="Name of the value, as telemetry reports it.")
    table: Table = Field(description="Modbus table the value is in.")
    address: int = Field(ge=0, le=MAX_ADDRESS, description="Protocol address (0-based, as on the wire).")
    type: Literal["bool", "uint16", "int16", "uint32", "int32", "float32"] = Field(description="Value type.")
    count: int = Field(1, ge=1, le=64, description="Consecutive values of this point (one per circuit...).")
    unit: str = Field("", max_length=16, description="Unit shown by the probe and in telemetry docs.")
    scale: float = Field(1.0, description="Factor applied to the raw value (0.1 for a register in tenths).")

    @model_validator(mode="after")
    def _fits(self) -> Self:
        if (self.type == "bool") != self.table.bits:
            raise ValueError(f"point {self.name!r}: type {self.type} does not fit table {self.table.value}")
        if self.end - 1 > MAX_ADDRESS:
            raise ValueError(f"point {self.name!r}: ends at {self.end - 1:#06x}, past the last address 0xffff")
        if not math.isfinite(self.scale) or self.scale == 0:
            raise ValueError(f"point {self.name!r}: scale must be finite and non-zero, got {self.scale}")
        return self

    @property
    def width(self) -> int:
        """Addresses taken by one value (registers, or 1 for a bit)."""
        return WORDS[self.type]

    @property
    def end(self) -> int:
        """First address past the point."""
        return self.address + self.width * self.count


class RegisterMap(BaseModel):
    """A device model's map, as in its YAML file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Device model, the map's name.")
    description: str = Field("", max_length=200)
    word_order: Literal["big", "little"] = Field("big", description="Order of the words of 32-bit values.")
    points: tuple[Point, ...] = Field(min_length=1, max_length=512)

    @model_validator(mode="after")
    def _no_overlap(self) -> Self:
        names = [p.name for p in self.points]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate point names: {', '.join(dupes)}")
        for table in Table:
            spans = sorted((p.address, p.end, p.name) for p in self.points if p.table is table)
            for (_, end, name), (start, _, other) in itertools.pairwise(spans):
                if start < end:
                    raise ValueError(f"points {name!r} and {other!r} overlap in table {table.value}")
        return self

    def point(self, name: str) -> Point | None:
        return next((p for p in self.points if p.name == name), None)


def known_maps() -> list[str]:
    """Names of the maps shipped with Vigie (files under ``register_maps/``)."""
    root = resources.files(__package__).joinpath("register_maps")
    return sorted(f.name.removesuffix(".yaml") for f in root.iterdir() if f.name.endswith(".yaml"))


@cache
def load_map(name: str) -> RegisterMap:
    """A shipped map by model name (``sdm630``), or a map file by path (ends in ``.yaml``).

    Raises:
        RegisterMapError: Unknown name, unreadable file, or a map that does not validate; the message names the
            map and, for a bad point, the field.
    """
    if name.endswith((".yaml", ".yml")):
        path = Path(name)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RegisterMapError(f"register map {where}: {exc.strerror or exc}") from exc
    else:
        if name not in known_maps():
            raise RegisterMapError(f"unknown register map {name!r}; known maps: {', '.join(known_maps())}")
        where = f"register_maps/{name}.yaml"
        text = resources.files(__package__).joinpath("register_maps", f"{name}.yaml").read_text(encoding="utf-8")
    try:
        return RegisterMap.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise RegisterMapError(f"register map {where}: not YAML: {exc}") from exc
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RegisterMapError(f"register map {where}: {errors}") from exc
