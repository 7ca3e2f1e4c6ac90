"""Distances and the communes of Dijon Métropole (pure: the communes are packaged data).

Commune centres are approximate (about 1 km): good enough to place a citizen report in a
commune when it gives no address, not for cadastral work.
"""

from __future__ import annotations

import math

from coordinator.data import Commune, communes

EARTH_RADIUS_M = 6_371_008.8


COMMUNES: tuple[Commune, ...] = communes()
COMMUNE_SLUGS = frozenset(c.slug for c in COMMUNES)

#: A box around the métropole with a margin of a few km; reports outside it are refused.
BBOX = (47.20, 4.88, 47.41, 5.23)  # south, west, north, east


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (plenty precise at city scale)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def in_metropole(lat: float, lon: float) -> bool:
    south, west, north, east = BBOX
    return south <= lat <= north and west <= lon <= east


def nearest_commune(lat: float, lon: float) -> str:
    """Slug of the commune whose centre is nearest: an approximation of the commune of a point."""
    return min(COMMUNES, key=lambda c: haversine_m(lat, lon, c.lat, c.lon)).slug
