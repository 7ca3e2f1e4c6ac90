"""Detection metrics at one IoU: matching, precision/recall/F1, average precision, count error, threshold sweep.

Pure functions over plain values (boxes as ``x0, y0, x1, y1`` tuples in source pixels), so the rules can be read
and tested without a model. Matching is the PASCAL VOC / COCO rule: detections are taken best score first and
each claims the unclaimed labelled box of its class with the highest IoU, if that IoU is at least the threshold;
a labelled box is claimed once, a second detection on it is a false positive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Scored:
    """One detection of one class in one frame, reduced to what the metrics need."""

    frame: str
    box: Box
    score: float


@dataclass(frozen=True)
class ClassScore:
    """Precision, recall, F1 and their counts for one class at one score threshold."""

    threshold: float
    true_positives: int
    false_positives: int
    labelled: int

    @property
    def precision(self) -> float:
        """Share of detections that match a labelled box; 1.0 when nothing was detected (nothing was wrong)."""
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        """Share of labelled boxes found; 1.0 when nothing was labelled."""
        return self.true_positives / self.labelled if self.labelled else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall (0.0 when both are 0)."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes; 0.0 for degenerate boxes."""
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(
    detections: Sequence[Scored], labelled: Mapping[str, Sequence[Box]], min_iou: float = 0.5
) -> list[tuple[Scored, bool]]:
    """Each detection, best score first, with whether it is a true positive (greedy VOC/COCO matching).

    Args:
        detections: Detections of one class over all frames.
        labelled: Labelled boxes of that class, by frame.
        min_iou: IoU at or above which a detection may claim a labelled box.
    """
    claimed: dict[str, set[int]] = {frame: set() for frame in labelled}
    result: list[tuple[Scored, bool]] = []
    for det in sorted(detections, key=lambda d: (-d.score, d.frame, d.box)):
        best, best_iou = -1, min_iou
        for index, box in enumerate(labelled.get(det.frame, ())):
            if index in claimed.get(det.frame, set()):
                continue
            overlap = iou(det.box, box)
            if overlap >= best_iou:
                best, best_iou = index, overlap
        if best >= 0:
            claimed[det.frame].add(best)
        result.append((det, best >= 0))
    return result


def score_at(matched: Sequence[tuple[Scored, bool]], labelled: int, threshold: float) -> ClassScore:
    """Counts for the detections scoring at least ``threshold``.

    Filtering matched detections by score gives the same matches as matching only the kept ones: a detection
    only ever loses a labelled box to a higher-scored one, which a higher threshold keeps too.
    """
    kept = [hit for det, hit in matched if det.score >= threshold]
    tp = sum(kept)
    return ClassScore(threshold=threshold, true_positives=tp, false_positives=len(kept) - tp, labelled=labelled)


def average_precision(matched: Sequence[tuple[Scored, bool]], labelled: int) -> float:
    """Area under the precision/recall curve, all points, precision made monotone (VOC 2010+ / COCO style).

    0.0 when nothing is labelled and something was detected; 1.0 when nothing is labelled nor detected.
    """
    if labelled == 0:
        return 1.0 if not matched else 0.0
    tp = fp = 0
    recalls: list[float] = [0.0]
    precisions: list[float] = [1.0]
    for _det, hit in matched:  # already best first
        tp, fp = tp + hit, fp + (not hit)
        recalls.append(tp / labelled)
        precisions.append(tp / (tp + fp))
    for i in range(len(precisions) - 2, -1, -1):
        precisions[i] = max(precisions[i], precisions[i + 1])
    return sum((recalls[i] - recalls[i - 1]) * precisions[i] for i in range(1, len(recalls)))


def sweep(matched: Sequence[tuple[Scored, bool]], labelled: int, thresholds: Sequence[float]) -> list[ClassScore]:
    """:func:`score_at` for each threshold, in the order given."""
    return [score_at(matched, labelled, t) for t in thresholds]


def operating_point(scores: Sequence[ClassScore], min_precision: float) -> ClassScore:
    """The written rule: the best F1 among thresholds whose precision is at least ``min_precision``.

    Ties go to the higher threshold: the labelled frames cannot show every false positive the field will
    bring (the footage has two parked vehicles only), and a higher threshold with the same measured F1 admits
    fewer of them. If no threshold reaches the precision, the best F1 overall, so that a class always gets a
    threshold and the report shows the shortfall.
    """
    eligible = [s for s in scores if s.precision >= min_precision] or list(scores)
    return max(eligible, key=lambda s: (round(s.f1, 9), s.threshold))


@dataclass(frozen=True)
class CountError:
    """How far per-frame counts are from the labelled counts."""

    mean_absolute: float
    within_one: float
    frames: int


def count_error(counted: Mapping[str, int], labelled: Mapping[str, int]) -> CountError:
    """Mean absolute count error and the share of frames within ±1, over the labelled frames."""
    if not labelled:
        return CountError(0.0, 1.0, 0)
    errors = [abs(counted.get(frame, 0) - n) for frame, n in labelled.items()]
    return CountError(
        mean_absolute=sum(errors) / len(errors),
        within_one=sum(e <= 1 for e in errors) / len(errors),
        frames=len(errors),
    )
