"""The communes of the métropole as the map draws them: slug, name and approximate centre."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Commune:
    slug: str
    name: str
    lat: float
    lon: float


@cache
def communes() -> tuple[Commune, ...]:
    """Every commune of ``data/communes.csv``, in file order."""
    text = resources.files(__package__).joinpath("data/communes.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if line and not line.startswith("#"))
    return tuple(Commune(r["slug"], r["commune"], float(r["lat"]), float(r["lon"])) for r in rows)


def as_json() -> list[dict[str, Any]]:
    return [asdict(c) for c in communes()]
