"""Reading a Modbus device by its register map: a plan of requests, and the answers decoded.

The maps themselves (one YAML file per device model) are part of the box configuration, shared with the centre:
:mod:`vigie_config.register_maps`. This module is pure: it groups a map's points into as few read requests as
the protocol allows (:func:`plan_reads`), and turns the answers into values (:func:`decode`); the socket lives in
:mod:`.link`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pymodbus.client import ModbusTcpClient

from vigie_config.errors import RegisterMapError
from vigie_config.register_maps import Point, Table

#: The protocol's limits per request (Modbus application protocol v1.1b3, 6.1-6.4).
MAX_REGISTERS_PER_READ = 125
MAX_BITS_PER_READ = 2000

_DATATYPE = {
    "uint16": ModbusTcpClient.DATATYPE.UINT16,
    "int16": ModbusTcpClient.DATATYPE.INT16,
    "uint32": ModbusTcpClient.DATATYPE.UINT32,
    "int32": ModbusTcpClient.DATATYPE.INT32,
    "float32": ModbusTcpClient.DATATYPE.FLOAT32,
}


@dataclass(frozen=True, slots=True)
class Read:
    """One request: ``count`` addresses of ``table`` from ``address``, covering ``points``."""

    table: Table
    address: int
    count: int
    points: tuple[Point, ...]


def plan_reads(points: tuple[Point, ...] | list[Point]) -> list[Read]:
    """The fewest requests that read ``points``: adjacent points of a table share one, within protocol limits.

    Points separated by a gap are read apart: many devices (the SDM630 among them) answer an exception to a read
    that spans an unmapped address.
    """
    out: list[Read] = []
    for table in Table:
        limit = MAX_BITS_PER_READ if table.bits else MAX_REGISTERS_PER_READ
        group: list[Point] = []
        for p in sorted((p for p in points if p.table is table), key=lambda p: p.address):
            if group and (p.address != group[-1].end or p.end - group[0].address > limit):
                out.append(Read(table, group[0].address, group[-1].end - group[0].address, tuple(group)))
                group = []
            group.append(p)
        if group:
            out.append(Read(table, group[0].address, group[-1].end - group[0].address, tuple(group)))
    return out


Value = bool | float | int


def decode(read: Read, raw: list[int] | list[bool], word_order: Literal["big", "little"] = "big") -> dict[str, Value]:
    """The values of ``read``'s points from the answer's registers or bits; arrays come as ``name.0``, ``name.1``...

    Raises:
        RegisterMapError: The answer is shorter than asked (a device that lies about its length).
    """
    if len(raw) < read.count:
        raise RegisterMapError(f"{read.table.value} {read.address:#06x}: asked {read.count}, answer has {len(raw)}")
    out: dict[str, Value] = {}
    for p in read.points:
        for i in range(p.count):
            at = p.address - read.address + i * p.width
            key = p.name if p.count == 1 else f"{p.name}.{i}"
            if p.type == "bool":
                out[key] = bool(raw[at])
                continue
            words = [int(w) for w in raw[at : at + p.width]]
            value = ModbusTcpClient.convert_from_registers(words, _DATATYPE[p.type], word_order=word_order)
            assert isinstance(value, int | float)
            out[key] = value * p.scale if p.scale != 1.0 else value
    return out
