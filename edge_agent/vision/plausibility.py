"""Geometry plausibility: a detection whose box is far too small or too large for where it stands is rejected.

A detector scores appearance, not size: an orange cone at the back of a square can look like a person at 0.35-0.4.
Where an object stands fixes how tall it can be in the image, so a cheap, explainable rule catches that error.
The rule looks at the detection's foot point (bottom centre, as zones do) and, in the first zone of the camera that
contains it and has a bound for the detection's class, compares the box height with that bound:

* ``box_height`` of the zone (config): ``[min, max]`` per class as fractions of the frame height, read off the
  scene by the installer (how tall a person standing in that zone looks, with a margin);
* otherwise, for persons, from the ground plane when the zone asks for it (``box_height_from_ground``) and says
  where it lies (``geo``, one WGS84 corner per pixel corner, 4 or more): the homography pixel→ground (metres)
  gives, at the foot point, how many pixels one metre *across* the image measures. A pinhole camera scales an
  upright object and a ground segment across the view by the same ``f / distance``, so a person
  :data:`PERSON_HEIGHT_M` tall measures that many metres in those pixels; the camera's tilt shortens verticals
  (cos tilt) and the body's depth lengthens the box, which :data:`GROUND_TOLERANCE` absorbs.

A rejected detection is counted (``cam.N.implausible`` in telemetry), never dropped silently. Outside every zone
with a bound, nothing is rejected: the rule only acts where someone said what is plausible.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

from vigie_config.geo import EARTH_RADIUS_M, LonLat
from vigie_config.vision import ZoneConfig

from .geometry import BoxLike, Point, foot_point, point_in_polygon

#: Height range of a standing or walking person, metres (a child of about 5 to a tall adult).
PERSON_HEIGHT_M = (1.0, 2.1)
#: Factor by which a ground-derived bound is widened on both sides (tilt, loose boxes, bent postures).
GROUND_TOLERANCE = 1.5

B = TypeVar("B", bound=BoxLike)


class GroundScale:
    """Pixels per metre across the image at a point of the ground, from a zone's pixel↔WGS84 corners."""

    def __init__(self, pixels: Sequence[Point], ring: Sequence[LonLat]) -> None:
        corners = list(ring[:-1]) if tuple(ring[0]) == tuple(ring[-1]) else list(ring)
        if len(corners) != len(pixels) or len(pixels) < 4:
            raise ValueError(f"the ground ring has {len(corners)} corners and the polygon {len(pixels)} points: "
                             "a ground scale needs 4 or more corresponding corners")
        lon0, lat0 = corners[0]
        k = math.cos(math.radians(lat0)) * math.pi * EARTH_RADIUS_M / 180
        m = math.pi * EARTH_RADIUS_M / 180
        ground = np.array([((lon - lon0) * k, (lat - lat0) * m) for lon, lat in corners], dtype=np.float64)
        h, _ = cv2.findHomography(np.array(pixels, dtype=np.float64), ground)
        if h is None:
            raise ValueError("the zone's corners give no homography (three of them in a line?)")
        self._h = h

    def px_per_m(self, p: Point, half_px: float = 8.0) -> float:
        """How many pixels one metre across the image measures at ``p`` (inf if the ground is not there)."""
        x, y = p
        pts = np.array([[[x - half_px, y], [x + half_px, y]]], dtype=np.float64)
        (a, b), = cv2.perspectiveTransform(pts, self._h)
        metres = float(np.hypot(*(b - a)))
        return 2 * half_px / metres if metres > 0 else math.inf


@dataclass(frozen=True)
class SizeRule:
    """The size bounds of one zone, in pixels of the stream.

    Attributes:
        zone: The zone's id (reported with a rejection).
        polygon: The zone in pixels.
        heights: Class id → ``(min, max)`` box height in pixels.
        ground: Pixel→ground scale of the zone, if it says where it lies.
        ground_heights: Class id → ``(min, max)`` real height in metres, used with ``ground`` for classes
            without a ``heights`` bound.
    """

    zone: str
    polygon: tuple[Point, ...]
    heights: Mapping[int, tuple[float, float]]
    ground: GroundScale | None = None
    ground_heights: Mapping[int, tuple[float, float]] | None = None

    def bounds(self, box: BoxLike) -> tuple[float, float] | None:
        """The plausible pixel height range of ``box`` here, or ``None`` if this zone has no say on it."""
        foot = foot_point(box)
        if not point_in_polygon(foot, self.polygon):
            return None
        if box.class_id in self.heights:
            return self.heights[box.class_id]
        if self.ground is not None and self.ground_heights and box.class_id in self.ground_heights:
            lo, hi = self.ground_heights[box.class_id]
            s = self.ground.px_per_m(foot)
            return (lo * s / GROUND_TOLERANCE, hi * s * GROUND_TOLERANCE)
        return None


def implausible_in(box: BoxLike, rules: Sequence[SizeRule]) -> str | None:
    """The zone whose size bound ``box`` breaks, or ``None``: the first zone with a say decides."""
    for rule in rules:
        bound = rule.bounds(box)
        if bound is not None:
            lo, hi = bound
            return None if lo <= box.y1 - box.y0 <= hi else rule.zone
    return None


def split_plausible(boxes: Sequence[B], rules: Sequence[SizeRule]) -> tuple[list[B], list[B]]:
    """``(kept, rejected)``: the boxes that fit the size rules of where they stand, and the others."""
    if not rules:
        return list(boxes), []
    kept: list[B] = []
    rejected: list[B] = []
    for box in boxes:
        (rejected if implausible_in(box, rules) else kept).append(box)
    return kept, rejected


def size_rules(zones: Sequence[ZoneConfig], class_ids: Mapping[str, int], width: int, height: int
               ) -> tuple[SizeRule, ...]:
    """The zones' size bounds in pixels of a ``width`` x ``height`` stream; zones with no say are left out.

    ``class_ids`` maps the camera's class names to the model's ids. A zone's ``geo`` ring gives a ground bound
    for persons only when the zone asks for it (``box_height_from_ground``): a ring drawn for a map must not
    start rejecting detections by itself.
    """
    rules = []
    person = class_ids.get("person")
    for z in zones:
        polygon = tuple((x * width, y * height) for x, y in z.polygon)
        heights = {class_ids[c]: (lo * height, hi * height) for c, (lo, hi) in (z.box_height or {}).items()}
        ground = None
        if z.box_height_from_ground and z.geo is not None and person is not None:
            with contextlib.suppress(ValueError):  # corners that give no homography: no ground bound
                ground = GroundScale(polygon, z.geo)
        if heights or ground is not None:
            by_ground = {person: PERSON_HEIGHT_M} if person is not None else None
            rules.append(SizeRule(z.id, polygon, heights, ground, by_ground))
    return tuple(rules)
