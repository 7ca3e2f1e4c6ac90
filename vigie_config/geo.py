"""WGS84 geometry of what a camera observes: the ground under its zones and lines, and the métropole's bounds.

A box config places zones and counting lines in the camera's frame, which is what the box needs. Integrators need
them on the map: each zone may say which ground polygon it covers and each line which ground segment it stands
for, in WGS84 ``[lon, lat]`` (GeoJSON order). Pure functions, checked when the config is loaded, so that a polygon
typed with latitude and longitude swapped, or one that crosses itself, is refused before any map shows it.

Left and right of a segment A→B are as seen by someone standing at A facing B, on a map with north up, just as
the box's line crossing takes them on the displayed image: a camera looks at the ground from above, so the image
and the map show the ground from the same side and a line's "in" side is the same on both.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

#: ``[lon, lat]``, WGS84 degrees (GeoJSON order).
LonLat = tuple[float, float]

#: A box around the métropole with a margin of a few km (south, west, north, east): what lies outside is not ours.
BBOX = (47.20, 4.88, 47.41, 5.23)
EARTH_RADIUS_M = 6_371_008.8
#: Smallest ground area a zone may cover, m²: below it, a polygon is a typo (a repeated or misplaced vertex).
MIN_AREA_M2 = 1.0
#: Shortest ground line, m.
MIN_LENGTH_M = 0.5


def in_metropole(lat: float, lon: float) -> bool:
    """Whether the point lies in :data:`BBOX`, the métropole with its margin."""
    south, west, north, east = BBOX
    return south <= lat <= north and west <= lon <= east


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (plenty precise at city scale)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def check_point(point: LonLat) -> None:
    """Raise ``ValueError`` unless ``point`` is a WGS84 ``[lon, lat]`` inside the métropole."""
    lon, lat = point
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ValueError(f"point [{lon}, {lat}] is not a pair of finite numbers")
    if not -180 <= lon <= 180 or not -90 <= lat <= 90:
        raise ValueError(f"point [{lon}, {lat}]: [lon, lat] needs -180 <= lon <= 180 and -90 <= lat <= 90")
    if not in_metropole(lat, lon):
        south, west, north, east = BBOX
        swapped = " (latitude and longitude swapped? the order is [lon, lat])" if in_metropole(lon, lat) else ""
        raise ValueError(
            f"point [{lon}, {lat}] is outside the métropole (lon {west}..{east}, lat {south}..{north}){swapped}"
        )


def _local_m(points: Sequence[LonLat]) -> list[tuple[float, float]]:
    """``points`` in metres east and north of the first one (equirectangular: exact enough over a few km)."""
    lon0, lat0 = points[0]
    k = math.cos(math.radians(lat0))
    scale = math.pi * EARTH_RADIUS_M / 180
    return [((lon - lon0) * k * scale, (lat - lat0) * scale) for lon, lat in points]


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_cross(p1: tuple[float, float], p2: tuple[float, float],
                    q1: tuple[float, float], q2: tuple[float, float]) -> bool:
    """Whether two segments share a point (touching counts)."""
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and d1 != 0 and d2 != 0 and ((d3 > 0) != (d4 > 0)) and d3 != 0 and d4 != 0:
        return True

    def on(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float], d: float) -> bool:
        return d == 0 and min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])

    return on(p1, q1, q2, d1) or on(p2, q1, q2, d2) or on(q1, p1, p2, d3) or on(q2, p1, p2, d4)


def check_ring(ring: Sequence[LonLat]) -> None:
    """Raise ``ValueError`` unless ``ring`` is a closed, simple polygon of non-zero area inside the métropole.

    Closed as in GeoJSON: the last position repeats the first, so that a truncated list is not silently closed.
    """
    for point in ring:
        check_point(point)
    if len(ring) < 4:
        raise ValueError(f"a ring needs at least 4 positions (3 corners and the first again), got {len(ring)}")
    if tuple(ring[0]) != tuple(ring[-1]):
        raise ValueError(f"the ring is not closed: its last position {list(ring[-1])} must repeat the first "
                         f"{list(ring[0])}")
    corners = ring[:-1]
    if len({tuple(p) for p in corners}) != len(corners):
        raise ValueError("the ring passes twice through the same corner")
    xy = _local_m(ring)
    edges = list(itertools.pairwise(xy))
    area = abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in edges)) / 2
    degenerate = f"the ring is degenerate: it covers {area:.2f} m² (its corners are in a line or too close)"
    # Corners in a line overlap their own edges: say so before "crosses itself", which would be true but obscure.
    if area < MIN_AREA_M2 and all(abs(_cross(xy[0], xy[1], p)) < MIN_AREA_M2 for p in xy[2:]):
        raise ValueError(degenerate)
    n = len(edges)
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # the first and last edges share the closing corner
            if _segments_cross(*edges[i], *edges[j]):
                raise ValueError(f"the ring crosses itself: edges {i} and {j} meet")
    if area < MIN_AREA_M2:  # a bow tie's halves cancel out: checked after the crossings
        raise ValueError(degenerate)


def check_segment(a: LonLat, b: LonLat) -> None:
    """Raise ``ValueError`` unless A and B are distinct points of the métropole, at least :data:`MIN_LENGTH_M` apart."""
    check_point(a)
    check_point(b)
    length = haversine_m(a[1], a[0], b[1], b[0])
    if length < MIN_LENGTH_M:
        raise ValueError(f"a and b are {length:.2f} m apart: a line on the ground needs two distinct ends")
