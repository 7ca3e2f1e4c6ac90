"""The size rules of the evaluation scene, and a detector that applies them as the camera pipeline does.

vtest.avi has no surveyed ground, so its zones carry ``box_height`` bounds for persons, in three bands of foot
row: how tall a person standing there looks, read off the labelled people's heights per band and widened well
beyond them (about half the smallest, 1.3 to 2 times the largest). Being read off the same labels, these rows
show that the rule keeps every person found and what it removes, not how well bounds would generalise: an
installer sets them per camera from that camera's scene.
"""

from __future__ import annotations

from edge_agent.vision.detectors.base import Detector
from edge_agent.vision.plausibility import SizeRule, size_rules
from vigie_config.vision import ZoneConfig

#: Back, middle and front of the square: foot row bands (fractions of the frame) and person box heights.
VTEST_ZONES = tuple(
    ZoneConfig.model_validate({"id": zid, "polygon": [[0, top], [1, top], [1, bottom], [0, bottom]],
                               "box_height": {"person": bounds}})
    for zid, top, bottom, bounds in (
        ("back", 0.0, 0.35, (0.04, 0.16)),
        ("middle", 0.35, 0.6, (0.08, 0.25)),
        ("front", 0.6, 1.0, (0.12, 0.4)),
    )
)


def vtest_rules(detector: Detector, size: tuple[int, int] = (768, 576)) -> tuple[SizeRule, ...]:
    """The size rules of :data:`VTEST_ZONES` in pixels, for ``detector``'s class ids."""
    return size_rules(VTEST_ZONES, {n: i for i, n in enumerate(detector.class_names)}, *size)
