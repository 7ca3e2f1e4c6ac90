"""Run a detector on the labelled frames and score it per evaluation class."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge_agent.vision.detectors import Detector
from edge_agent.vision.plausibility import SizeRule, split_plausible

from .labels import EVAL_CLASS, EVAL_CLASSES, LabelledFrame
from .metrics import ClassScore, CountError, Scored, average_precision, count_error, match, score_at, sweep

#: IoU at which a detection matches a labelled box (PASCAL VOC, COCO AP50).
MIN_IOU = 0.5
#: Thresholds of the sweep; the detector must run at or below the first one.
THRESHOLDS = tuple(round(0.15 + 0.05 * i, 2) for i in range(14))  # 0.15 .. 0.80


def detect_all(
    detector: Detector, frames: Sequence[LabelledFrame], rules: Sequence[SizeRule] = ()
) -> dict[str, list[Scored]]:
    """Every detection of a tracked class on every frame, by evaluation class, after the size ``rules`` if any."""
    found: dict[str, list[Scored]] = {name: [] for name in EVAL_CLASSES}
    for frame in frames:
        for det in split_plausible(detector.detect(frame.image()), rules)[0]:
            eval_class = EVAL_CLASS.get(det.class_name)
            if eval_class is not None:
                found[eval_class].append(Scored(frame.name, (det.x0, det.y0, det.x1, det.y1), det.score))
    return found


@dataclass(frozen=True)
class ClassReport:
    """Everything measured for one evaluation class."""

    name: str
    labelled: int
    average_precision: float
    sweep: tuple[ClassScore, ...]

    def at(self, threshold: float) -> ClassScore:
        """The sweep row of ``threshold`` (one of :data:`THRESHOLDS`, or 0.0 for every detection)."""
        for row in self.sweep:
            if abs(row.threshold - threshold) < 1e-9:
                return row
        raise KeyError(f"{self.name}: threshold {threshold} is not in the sweep")


def score_classes(
    frames: Sequence[LabelledFrame], found: dict[str, list[Scored]], thresholds: Sequence[float] = THRESHOLDS
) -> dict[str, ClassReport]:
    """Per class: AP over all detections, and precision/recall/F1 at each threshold."""
    reports = {}
    for name in EVAL_CLASSES:
        labelled = {frame.name: frame.boxes[name] for frame in frames}
        total = sum(len(boxes) for boxes in labelled.values())
        matched = match(found[name], labelled, MIN_IOU)
        reports[name] = ClassReport(
            name=name,
            labelled=total,
            average_precision=average_precision(matched, total),
            sweep=tuple(sweep(matched, total, [0.0, *thresholds])),
        )
    return reports


def counts(
    frames: Sequence[LabelledFrame], found: dict[str, list[Scored]], name: str, threshold: float
) -> CountError:
    """Per-frame count error of class ``name`` when detections below ``threshold`` are dropped."""
    counted = {frame.name: 0 for frame in frames}
    for det in found[name]:
        if det.score >= threshold:
            counted[det.frame] += 1
    return count_error(counted, {frame.name: len(frame.boxes[name]) for frame in frames})


def class_score(frames: Sequence[LabelledFrame], found: dict[str, list[Scored]], name: str) -> ClassScore:
    """Precision/recall/F1 of every detection given (the detector's own thresholds applied)."""
    labelled = {frame.name: frame.boxes[name] for frame in frames}
    matched = match(found[name], labelled, MIN_IOU)
    return score_at(matched, sum(len(b) for b in labelled.values()), 0.0)
