"""Distances and the communes of Dijon Métropole (pure: the communes are packaged data).

The métropole's bounds and the distance are the box configuration's (:mod:`vigie_config.geo`): a report and a
camera's ground geometry are inside the métropole by the same rule. Commune centres are approximate (about
1 km): good enough to place a citizen report in a commune when it gives no address, not for cadastral work.
"""

from __future__ import annotations

from vigie_config.geo import BBOX, EARTH_RADIUS_M, haversine_m, in_metropole
from vigie_config.metropole import Commune, communes

__all__ = ["BBOX", "COMMUNES", "COMMUNE_SLUGS", "EARTH_RADIUS_M", "haversine_m", "in_metropole", "nearest_commune"]

COMMUNES: tuple[Commune, ...] = communes()
COMMUNE_SLUGS = frozenset(c.slug for c in COMMUNES)


def nearest_commune(lat: float, lon: float) -> str:
    """Slug of the commune whose centre is nearest: an approximation of the commune of a point."""
    return min(COMMUNES, key=lambda c: haversine_m(lat, lon, c.lat, c.lon)).slug
