"""Reference data shipped with the coordinator (communes of the métropole)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


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
