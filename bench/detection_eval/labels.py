"""The labelled frames: lossless PNGs of the full ``vtest.avi`` and the boxes drawn on them by hand.

See ``tests/data/FOOTAGE.md`` ("Evaluation frames") for where the frames come from and how the boxes were drawn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from .metrics import Box

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "tests" / "data" / "eval_frames" / "labels.json"

#: Evaluation class of each detector class the city tracks. COCO's car, truck and bus are one "vehicle": the
#: scene's white van is each of them at about the same score, and which one does not change a count.
EVAL_CLASS = {"person": "person", "car": "vehicle", "truck": "vehicle", "bus": "vehicle", "motorcycle": "vehicle"}
EVAL_CLASSES = ("person", "vehicle")


@dataclass(frozen=True)
class LabelledFrame:
    """One frame and its boxes by evaluation class."""

    name: str
    source_frame: int
    path: Path
    boxes: dict[str, tuple[Box, ...]]

    def image(self) -> NDArray[np.uint8]:
        """The frame as BGR ``uint8`` (PNG is lossless: the pixels the labels were drawn on)."""
        frame = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
        if frame is None:
            raise FileNotFoundError(f"labelled frame {self.path} is missing or not an image")
        return np.asarray(frame, dtype=np.uint8)


def load_labels(path: Path = LABELS, only: frozenset[int] | None = None) -> list[LabelledFrame]:
    """The labelled frames of ``path``, optionally only those whose source frame is in ``only``.

    Raises:
        ValueError: An object's class is not an evaluation class, or a box is not ``x0 < x1, y0 < y1``.
    """
    doc = json.loads(path.read_text(encoding="utf-8"))
    frames = []
    for entry in doc["frames"]:
        if only is not None and entry["source_frame"] not in only:
            continue
        boxes: dict[str, list[Box]] = {name: [] for name in EVAL_CLASSES}
        for obj in entry["objects"]:
            x0, y0, x1, y1 = (float(v) for v in obj["box"])
            if obj["class"] not in boxes or not (x0 < x1 and y0 < y1):
                raise ValueError(f"{path}: frame {entry['image']}: bad object {obj}")
            boxes[obj["class"]].append((x0, y0, x1, y1))
        frames.append(
            LabelledFrame(
                name=entry["image"],
                source_frame=entry["source_frame"],
                path=path.parent / entry["image"],
                boxes={name: tuple(found) for name, found in boxes.items()},
            )
        )
    return frames
