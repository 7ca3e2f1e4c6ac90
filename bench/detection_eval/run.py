"""The evaluation as one call: sweep the uncalibrated detector, choose thresholds, score detectors as shipped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_agent.vision.detectors import Detector
from edge_agent.vision.plausibility import SizeRule

from .evaluate import THRESHOLDS, ClassReport, class_score, counts, detect_all, score_classes
from .labels import EVAL_CLASSES, LabelledFrame
from .metrics import ClassScore, CountError, operating_point
from .report import MIN_PRECISION, plot_sweep, sweep_table


@dataclass(frozen=True)
class Sweep:
    """The sweep of a detector run at the lowest threshold, and the operating point of each class."""

    reports: dict[str, ClassReport]
    counts: dict[str, dict[float, CountError]]
    chosen: dict[str, ClassScore]

    def markdown(self) -> str:
        """Every class's table, the chosen row in bold."""
        return "\n\n".join(sweep_table(self.reports[n], self.counts[n], self.chosen[n]) for n in self.reports)

    def plot(self, path: Path) -> None:
        """Write the PNG plot of the sweep."""
        plot_sweep(self.reports, self.chosen, path)


def run_sweep(detector: Detector, frames: Sequence[LabelledFrame]) -> Sweep:
    """Sweep a detector that keeps everything from ``THRESHOLDS[0]`` up, and apply the rule per class."""
    found = detect_all(detector, frames)
    reports = score_classes(frames, found)
    per_class = {n: {t: counts(frames, found, n, t) for t in (0.0, *THRESHOLDS)} for n in EVAL_CLASSES}
    chosen = {n: operating_point(reports[n].sweep[1:], MIN_PRECISION[n]) for n in EVAL_CLASSES}
    return Sweep(reports, per_class, chosen)


@dataclass(frozen=True)
class Shipped:
    """A detector scored as it behaves in the pipeline: every detection it returns counts."""

    scores: dict[str, ClassScore]
    counts: dict[str, CountError]


def score_shipped(detector: Detector, frames: Sequence[LabelledFrame], rules: Sequence[SizeRule] = ()) -> Shipped:
    """Precision/recall/F1 and count error of everything the detector returns (its own thresholds applied)."""
    found = detect_all(detector, frames, rules)
    return Shipped(
        scores={n: class_score(frames, found, n) for n in EVAL_CLASSES},
        counts={n: counts(frames, found, n, 0.0) for n in EVAL_CLASSES},
    )
