"""Plane geometry for the vision pipeline: boxes, polygons, lines, IoU.

Everything here is pure and works in source-frame pixels, with the image convention
(x to the right, y **down**). That convention matters for "which side of a line": see
:func:`side_of_line`.

Zones and lines are tested against a box's *foot point* (bottom centre), not its centre:
the camera looks down on the street, so the bottom of a box is where the person or the
vehicle touches the ground, and a zone drawn on the road surface means "standing there".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Protocol

import numpy as np
import numpy.typing as npt

#: A point in source-frame pixels, ``(x, y)`` with y pointing down.
Point = tuple[float, float]
#: A simple polygon given by its vertices in order (either winding); closed implicitly.
Polygon = Sequence[Point]
#: Boxes as an ``(N, 4)`` float array of ``x0, y0, x1, y1``.
BoxArray = npt.NDArray[np.float64]


class BoxLike(Protocol):
    """Any detection-like object: the detector's ``Detection`` and the tracker's ``Track`` fit.

    Read-only properties (not plain attributes) so that frozen dataclasses satisfy it.
    """

    @property
    def x0(self) -> float: ...
    @property
    def y0(self) -> float: ...
    @property
    def x1(self) -> float: ...
    @property
    def y1(self) -> float: ...
    @property
    def score(self) -> float: ...
    @property
    def class_id(self) -> int: ...


def foot_point(box: BoxLike) -> Point:
    """Bottom centre of a box: where the object meets the ground, used for zones and lines."""
    return ((box.x0 + box.x1) / 2.0, box.y1)


def boxes_to_array(boxes: Sequence[BoxLike]) -> BoxArray:
    """Stack boxes into an ``(N, 4)`` array (``(0, 4)`` when empty) for vectorised maths."""
    if not boxes:
        return np.zeros((0, 4), dtype=np.float64)
    return np.array([(b.x0, b.y0, b.x1, b.y1) for b in boxes], dtype=np.float64)


def iou_matrix(a: BoxArray, b: BoxArray) -> npt.NDArray[np.float64]:
    """Intersection over union of every box of ``a`` with every box of ``b``, shape ``(N, M)``.

    Vectorised with broadcasting: a tracker compares every track with every detection on
    every frame, so a Python double loop would dominate the tracker's cost. Degenerate
    boxes (zero area) have IoU 0 with everything, including themselves.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix0 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy0 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix1 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix1 - ix0, 0.0, None) * np.clip(iy1 - iy0, 0.0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0.0, None) * np.clip(a[:, 3] - a[:, 1], 0.0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0.0, None) * np.clip(b[:, 3] - b[:, 1], 0.0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    out: npt.NDArray[np.float64] = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0.0)
    return out


def cross(a: Point, b: Point, p: Point) -> float:
    """z component of ``(b - a) x (p - a)``: positive when ``p`` is right of A→B on screen."""
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


def side_of_line(p: Point, a: Point, b: Point) -> int:
    """Which side of the directed line A→B the point ``p`` is on: ``+1`` right, ``-1`` left, ``0`` on it.

    "Right" and "left" are as seen on the displayed image, by someone standing at A and
    looking towards B. Because image y points down, this is the *opposite* of the sign
    convention of a maths textbook (y up), hence a named function instead of a bare cross
    product at every call site.

    The sign is exact: when the float cross product is too close to 0 to trust, it is
    recomputed with rationals. Otherwise rounding could put a point on both sides of a line
    depending on argument order, and a crossing could be counted twice or not at all.
    """
    left = (b[0] - a[0]) * (p[1] - a[1])
    right = (b[1] - a[1]) * (p[0] - a[0])
    c = left - right
    if abs(c) <= 1e-12 * (abs(left) + abs(right)) + 1e-300:
        ax, ay, bx, by, px, py = (Fraction(v) for v in (*a, *b, *p))
        exact = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
        return (exact > 0) - (exact < 0)
    return 1 if c > 0.0 else -1


def signed_distance_to_line(p: Point, a: Point, b: Point) -> float:
    """Distance from ``p`` to the infinite line A→B, signed like :func:`side_of_line`."""
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    if length == 0.0:
        raise ValueError("a line needs two distinct points")
    return cross(a, b, p) / length


def _on_segment(p: Point, a: Point, b: Point) -> bool:
    """``p`` (known collinear with A, B) lies within the bounding box of segment AB."""
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """Whether segments P1P2 and Q1Q2 share at least one point (touching counts).

    The classic orientation test, exact for the float inputs it gets: used to decide
    whether a track's foot-point step actually passed through a counting line's segment,
    not merely across its infinite extension.
    """
    d1 = side_of_line(p1, q1, q2)
    d2 = side_of_line(p2, q1, q2)
    d3 = side_of_line(q1, p1, p2)
    d4 = side_of_line(q2, p1, p2)
    if d1 * d2 < 0 and d3 * d4 < 0:
        return True
    return (
        (d1 == 0 and _on_segment(p1, q1, q2))
        or (d2 == 0 and _on_segment(p2, q1, q2))
        or (d3 == 0 and _on_segment(q1, p1, p2))
        or (d4 == 0 and _on_segment(q2, p1, p2))
    )


def point_in_polygon(p: Point, polygon: Polygon) -> bool:
    """Even-odd ray casting; points exactly on an edge may fall either way.

    Boundary ambiguity is harmless here: zone membership adds hysteresis on top (see
    :mod:`edge_agent.vision.analytics`), so a point on the edge never decides alone.
    """
    x, y = p
    inside = False
    n = len(polygon)
    for i in range(n):
        xi, yi = polygon[i]
        xj, yj = polygon[i - 1]
        if (yi > y) != (yj > y):
            x_at_y = xi + (y - yi) * (xj - xi) / (yj - yi)
            if x < x_at_y:
                inside = not inside
    return inside


def distance_to_segment(p: Point, a: Point, b: Point) -> float:
    """Euclidean distance from ``p`` to the closed segment AB."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    if length2 == 0.0:
        return math.hypot(p[0] - a[0], p[1] - a[1])
    u = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2
    u = min(1.0, max(0.0, u))
    return math.hypot(p[0] - (a[0] + u * dx), p[1] - (a[1] + u * dy))


def signed_distance_to_polygon(p: Point, polygon: Polygon) -> float:
    """Distance from ``p`` to the polygon's boundary, positive inside and negative outside.

    Lets zone membership use a margin (enter only when well inside, leave only when well
    outside) instead of a single boundary that a jittering foot point flips across.
    """
    n = len(polygon)
    d = min(distance_to_segment(p, polygon[i - 1], polygon[i]) for i in range(n))
    return d if point_in_polygon(p, polygon) else -d
