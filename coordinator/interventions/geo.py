"""Distances and the communes of Dijon Métropole (pure data, no I/O).

Commune centres are approximate (about 1 km): good enough to place a citizen report in a
commune when it gives no address, not for cadastral work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Commune:
    slug: str
    name: str
    lat: float
    lon: float


COMMUNES: tuple[Commune, ...] = (
    Commune("ahuy", "Ahuy", 47.368, 5.021),
    Commune("bressey-sur-tille", "Bressey-sur-Tille", 47.308, 5.185),
    Commune("breteniere", "Bretenière", 47.237, 5.108),
    Commune("chenove", "Chenôve", 47.293, 5.005),
    Commune("chevigny-saint-sauveur", "Chevigny-Saint-Sauveur", 47.300, 5.136),
    Commune("corcelles-les-monts", "Corcelles-les-Monts", 47.298, 4.940),
    Commune("daix", "Daix", 47.351, 4.999),
    Commune("dijon", "Dijon", 47.322, 5.041),
    Commune("fenay", "Fénay", 47.234, 5.060),
    Commune("flavignerot", "Flavignerot", 47.289, 4.927),
    Commune("fontaine-les-dijon", "Fontaine-lès-Dijon", 47.343, 5.020),
    Commune("hauteville-les-dijon", "Hauteville-lès-Dijon", 47.366, 4.995),
    Commune("longvic", "Longvic", 47.287, 5.064),
    Commune("magny-sur-tille", "Magny-sur-Tille", 47.280, 5.178),
    Commune("marsannay-la-cote", "Marsannay-la-Côte", 47.271, 4.989),
    Commune("neuilly-crimolois", "Neuilly-Crimolois", 47.273, 5.120),
    Commune("ouges", "Ouges", 47.262, 5.074),
    Commune("perrigny-les-dijon", "Perrigny-lès-Dijon", 47.266, 5.006),
    Commune("plombieres-les-dijon", "Plombières-lès-Dijon", 47.337, 4.963),
    Commune("quetigny", "Quetigny", 47.315, 5.106),
    Commune("saint-apollinaire", "Saint-Apollinaire", 47.333, 5.084),
    Commune("sennecey-les-dijon", "Sennecey-lès-Dijon", 47.290, 5.105),
    Commune("talant", "Talant", 47.336, 5.005),
)
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
