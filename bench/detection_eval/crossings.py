"""Line-crossing count error: the whole pipeline (detector, tracker, line rule) against hand-checked crossings.

The committed excerpt (``tests/data/vtest_excerpt.avi``) has every crossing of one line checked by eye
(``tests/data/line_crossings_ground_truth.json``). Detection thresholds reach the counts through the tracker:
a missed person breaks a track, a cone that is a "person" is a track that never moves. This measures that.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

import vigie_wire as wire
from edge_agent.vision.detectors import Detector
from edge_agent.vision.pipeline import CameraPipeline
from vigie_config.vision import CameraConfig

from .labels import ROOT

VIDEO = ROOT / "tests" / "data" / "vtest_excerpt.avi"
TRUTH = ROOT / "tests" / "data" / "line_crossings_ground_truth.json"
FPS = 10.0
DIRECTIONS = ("right_to_left", "left_to_right")


@dataclass(frozen=True)
class CrossingError:
    """Crossings counted and hand-checked, per direction, and the absolute error summed over directions."""

    counted: dict[str, int]
    checked: dict[str, int]

    @property
    def absolute(self) -> int:
        """Sum over directions of ``|counted - checked|``."""
        return sum(abs(self.counted.get(d, 0) - self.checked.get(d, 0)) for d in DIRECTIONS)


def crossing_error(counted: Mapping[str, int], checked: Mapping[str, int]) -> CrossingError:
    """Compare per-direction counts (pure; the direction names of the ground-truth file)."""
    return CrossingError({d: counted.get(d, 0) for d in DIRECTIONS}, {d: checked.get(d, 0) for d in DIRECTIONS})


def _frames(video: Path) -> Iterator[NDArray[np.uint8]]:
    capture = cv2.VideoCapture(str(video))
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return
            yield np.asarray(image, dtype=np.uint8)
    finally:
        capture.release()


def excerpt_camera(model: Path) -> CameraConfig:
    """The camera of the excerpt: the hand-checked line, as ``tests/test_pipeline.py`` configures it."""
    truth = json.loads(TRUTH.read_text(encoding="utf-8"))
    return CameraConfig.model_validate({
        "name": "darcy-north",
        "source": str(VIDEO),
        "model": str(model),
        "lines": [{"id": "lawn-middle", "a": truth["line"]["a"], "b": truth["line"]["b"]}],
    })


def count_crossings(detector: Detector, config: CameraConfig) -> CrossingError:
    """Run the excerpt through the pipeline with ``detector`` and compare its crossings with the checked ones."""
    truth = json.loads(TRUTH.read_text(encoding="utf-8"))
    pipe = CameraPipeline(0, config, detector)
    counted: Counter[str] = Counter()
    for index, image in enumerate(_frames(VIDEO)):
        for _, event in pipe.process(image, index / FPS):
            if isinstance(event, wire.LineCrossing):
                # The line runs top (a) to bottom (b): inbound is screen right to left.
                counted["right_to_left" if event.inbound else "left_to_right"] += 1
    return crossing_error(counted, truth["totals"])
