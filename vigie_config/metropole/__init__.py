"""The métropole both sides place things in: its 23 communes (centres, populations) and a local metric offset.

Packaged data read by the centre (the map's communes, users' and interventions' communes) and by the simulated
district and city (:mod:`.district`, :mod:`.city`), which the demo and ``simulate city`` write as box configs and
the box hosts of :mod:`edge_agent.simulation` run: one home, so that neither side imports the other for it.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

#: Metres per degree of latitude (and of longitude at the equator).
METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Commune:
    name: str
    slug: str
    lat: float
    lon: float


@cache
def communes() -> tuple[Commune, ...]:
    """The 23 communes of Dijon Métropole with approximate centres (see the CSV's header)."""
    text = resources.files(__package__).joinpath("communes.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return tuple(Commune(r["commune"], r["slug"], float(r["lat"]), float(r["lon"])) for r in rows)


def commune(slug: str) -> Commune:
    for c in communes():
        if c.slug == slug:
            return c
    raise KeyError(f"unknown commune {slug!r}")


@cache
def populations() -> dict[str, int]:
    """Population of each commune, by slug (see ``populations.csv``)."""
    text = resources.files(__package__).joinpath("populations.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {r["slug"]: int(r["population"]) for r in rows}


def offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """Move ``east_m``/``north_m`` metres from a point (flat-earth, fine over a few km)."""
    return (lat + north_m / METRES_PER_DEGREE,
            lon + east_m / (METRES_PER_DEGREE * math.cos(math.radians(lat))))
