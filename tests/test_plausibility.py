"""Zone size rules: a box far too small or too large for where it stands is rejected, and counted."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import pytest
from pydantic import ValidationError

from edge_agent.vision.detectors import load_detector
from edge_agent.vision.pipeline import CameraPipeline
from edge_agent.vision.plausibility import GroundScale, SizeRule, implausible_in, size_rules, split_plausible
from vigie_config.geo import EARTH_RADIUS_M
from vigie_config.vision import CameraConfig, ZoneConfig

ROOT = Path(__file__).resolve().parents[1]
PERSON, CAR = 0, 2


@dataclass(frozen=True)
class Det:
    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 0.8
    class_id: int = PERSON


def standing(foot_x: float, foot_y: float, h: float, cls: int = PERSON) -> Det:
    return Det(foot_x - h / 6, foot_y - h, foot_x + h / 6, foot_y, class_id=cls)


BACK = SizeRule("back", ((0, 0), (800, 0), (800, 200), (0, 200)), {PERSON: (30.0, 90.0)})


def test_a_cone_sized_person_at_the_back_is_rejected_a_person_sized_one_kept() -> None:
    cone, walker, giant = standing(400, 150, 15), standing(400, 150, 60), standing(400, 150, 150)
    assert implausible_in(cone, [BACK]) == "back"
    assert implausible_in(walker, [BACK]) is None
    assert implausible_in(giant, [BACK]) == "back"
    kept, rejected = split_plausible([cone, walker, giant], [BACK])
    assert (kept, rejected) == ([walker], [cone, giant])


def test_only_the_zone_under_the_foot_point_and_the_classes_it_bounds_are_judged() -> None:
    assert implausible_in(standing(400, 400, 15), [BACK]) is None  # stands in front: no bound there
    assert implausible_in(standing(400, 150, 15, cls=CAR), [BACK]) is None  # no bound for cars
    assert split_plausible([standing(400, 150, 15)], []) == ([standing(400, 150, 15)], [])


def _ring(pixels: list[tuple[float, float]], px_per_m: float) -> list[tuple[float, float]]:
    """The WGS84 ring of a flat ground seen straight down at ``px_per_m``, image y pointing south."""
    lon0, lat0 = 5.04, 47.32
    k = math.cos(math.radians(lat0)) * math.pi * EARTH_RADIUS_M / 180
    m = math.pi * EARTH_RADIUS_M / 180
    ring = [(lon0 + x / px_per_m / k, lat0 - y / px_per_m / m) for x, y in pixels]
    return [*ring, ring[0]]


def test_the_ground_plane_gives_the_pixels_per_metre_at_the_foot_point() -> None:
    square = [(0.0, 0.0), (400.0, 0.0), (400.0, 400.0), (0.0, 400.0)]
    scale = GroundScale(square, _ring(square, 20.0))
    assert scale.px_per_m((200, 300)) == pytest.approx(20.0, rel=1e-3)


def test_a_perspective_ground_makes_far_persons_small_and_near_ones_large() -> None:
    # Ground 10 m wide; the far edge (row 100) 100 px wide, the near edge (row 500) 500 px: 10 and 50 px per metre.
    pixels = [(350.0, 100.0), (450.0, 100.0), (650.0, 500.0), (150.0, 500.0)]
    lon0, lat0 = 5.04, 47.32
    k = math.cos(math.radians(lat0)) * math.pi * EARTH_RADIUS_M / 180
    m = math.pi * EARTH_RADIUS_M / 180
    ground = [(-5.0, 40.0), (5.0, 40.0), (5.0, 0.0), (-5.0, 0.0)]
    ring = [(lon0 + x / k, lat0 + y / m) for x, y in ground]
    scale = GroundScale(pixels, [*ring, ring[0]])
    assert scale.px_per_m((400, 100)) == pytest.approx(10.0, rel=1e-2)
    assert scale.px_per_m((400, 500)) == pytest.approx(50.0, rel=1e-2)
    rule = SizeRule("square", tuple(pixels), {}, scale, {PERSON: (1.0, 2.1)})
    assert implausible_in(standing(400, 110, 17), [rule]) is None  # 1.7 m at about 11 px/m
    assert implausible_in(standing(400, 110, 5), [rule]) == "square"  # a 0.5 m cone
    assert implausible_in(standing(400, 490, 17), [rule]) == "square"  # near the camera, 17 px is 0.35 m
    assert implausible_in(standing(400, 490, 17, cls=CAR), [rule]) is None


def test_size_rules_scale_the_config_to_the_stream_and_use_matching_ground_rings() -> None:
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    zones = [
        ZoneConfig(id="back", polygon=[(0, 0), (1, 0), (1, 0.5), (0, 0.5)], box_height={"person": (0.1, 0.2)}),
        ZoneConfig(id="plaza", polygon=square, geo=_ring([(x * 400, y * 400) for x, y in square], 20.0),
                   box_height_from_ground=True),
        ZoneConfig(id="mapped", polygon=square, geo=_ring([(x * 400, y * 400) for x, y in square], 20.0)),
        ZoneConfig(id="plain", polygon=square),
    ]
    rules = size_rules(zones, {"person": PERSON, "car": CAR}, 800, 600)
    assert [r.zone for r in rules] == ["back", "plaza"]
    assert rules[0].heights == {PERSON: (60.0, 120.0)}
    assert rules[1].ground is not None and rules[1].heights == {}


@pytest.mark.parametrize(("bounds", "message"), [
    ({"person": (0.3, 0.2)}, "0 <= min < max <= 1"),
    ({"person": (0.1, 1.5)}, "0 <= min < max <= 1"),
])
def test_bad_bounds_are_refused_naming_the_rule(bounds: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ZoneConfig(id="z", polygon=[(0, 0), (1, 0), (1, 1)], box_height=bounds)


def test_ground_sizes_need_a_ring_matching_the_polygon() -> None:
    with pytest.raises(ValidationError, match="one corner per polygon vertex"):
        ZoneConfig(id="z", polygon=[(0, 0), (1, 0), (1, 1), (0, 1)], box_height_from_ground=True)
    triangle = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]
    with pytest.raises(ValidationError, match="polygon: 3 vertices, geo: 3 corners"):
        ZoneConfig(id="z", polygon=triangle, geo=_ring([(x * 400, y * 400) for x, y in triangle], 20.0),
                   box_height_from_ground=True)


def test_a_bound_for_a_class_the_camera_does_not_report_is_refused() -> None:
    with pytest.raises(ValidationError, match="classes the camera does not report: dog"):
        CameraConfig.model_validate({"name": "c", "source": "x.avi", "zones": [
            {"id": "z", "polygon": [[0, 0], [1, 0], [1, 1]], "box_height": {"dog": [0.1, 0.2]}}]})


def test_the_pipeline_rejects_implausible_detections_and_counts_them() -> None:
    video = ROOT / "tests" / "data" / "vtest_excerpt.avi"
    whole = [[0, 0], [1, 0], [1, 1], [0, 1]]
    cfg = CameraConfig.model_validate({
        "name": "c", "source": str(video), "model": str(ROOT / "models" / "nanodet-g-416.manifest.json"),
        # Nobody in this scene is 90-100 % of the frame high: every person is implausible.
        "zones": [{"id": "all", "polygon": whole, "box_height": {"person": [0.9, 1.0]}}],
    })
    detector = load_detector(cfg.model, 1, score_threshold=cfg.score_threshold)
    pipe = CameraPipeline(0, cfg, detector)
    cap = cv2.VideoCapture(str(video))
    tracked: set[int] = set()
    for i in range(4):
        ok, image = cap.read()
        assert ok
        pipe.process(image, i / 10)
        tracked |= {tr.class_id for tr in pipe.tracks}
    cap.release()
    assert PERSON not in tracked
    assert pipe.health()["cam.0.implausible"] >= 4  # several persons a frame, none silently dropped


def test_the_camera_config_sets_the_stationary_marking_of_its_tracker() -> None:
    cfg = CameraConfig.model_validate({"name": "c", "source": "x.avi", "model": str(ROOT / "models" /
                                       "nanodet-g-416.manifest.json"), "stationary_s": 0, "stationary_move": 0.5})
    pipe = CameraPipeline(0, cfg, load_detector(cfg.model, 1))
    assert (pipe._tracker.config.stationary_s, pipe._tracker.config.stationary_move) == (0.0, 0.5)
    with pytest.raises(ValidationError, match="stationary_move"):
        CameraConfig.model_validate({"name": "c", "source": "x.avi", "stationary_move": 0})
