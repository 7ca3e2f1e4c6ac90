"""The sweep as a Markdown table and a PNG plot, and the operating point chosen by the written rule."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from .evaluate import ClassReport
from .metrics import ClassScore, CountError

#: The rule, per class: best F1 among thresholds whose precision is at least this (ties to the higher threshold).
MIN_PRECISION = {"person": 0.9, "vehicle": 0.9}


def sweep_table(report: ClassReport, counts: Mapping[float, CountError], chosen: ClassScore) -> str:
    """One class's sweep: a row per threshold, the chosen one in bold."""
    lines = [
        f"{report.name}: {report.labelled} labelled boxes, AP50 {report.average_precision:.3f}",
        "",
        "| threshold | precision | recall | F1 | TP | FP | count MAE | frames within ±1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report.sweep[1:]:
        err = counts[row.threshold]
        mark = "**" if row is chosen else ""
        lines.append(
            f"| {mark}{row.threshold:.2f}{mark} | {row.precision:.3f} | {row.recall:.3f} | {mark}{row.f1:.3f}{mark} "
            f"| {row.true_positives} | {row.false_positives} | {err.mean_absolute:.2f} | {err.within_one:.0%} |"
        )
    return "\n".join(lines)


def plot_sweep(reports: Mapping[str, ClassReport], chosen: Mapping[str, ClassScore], path: Path) -> None:
    """Precision, recall and F1 against the threshold, one panel per class, drawn with OpenCV (no plot library).

    Lines: precision blue, recall green, F1 red; the chosen threshold is a vertical grey line.
    """
    width, height, margin = 480, 320, 50
    panels = []
    for name, report in reports.items():
        canvas = np.full((height, width, 3), 255, np.uint8)
        rows = report.sweep[1:]
        t_min, t_max = rows[0].threshold, rows[-1].threshold

        def xy(threshold: float, value: float, t_min: float = t_min, t_max: float = t_max) -> tuple[int, int]:
            x = margin + (threshold - t_min) / (t_max - t_min) * (width - 2 * margin)
            y = height - margin - value * (height - 2 * margin)
            return round(x), round(y)

        cv2.rectangle(canvas, xy(t_min, 0.0), xy(t_max, 1.0), (0, 0, 0), 1)
        for tick in (0.0, 0.5, 1.0):
            cv2.putText(canvas, f"{tick:.1f}", (8, xy(t_min, tick)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0))
        for tick in (t_min, (t_min + t_max) / 2, t_max):
            x, y = xy(tick, 0.0)
            cv2.putText(canvas, f"{tick:.2f}", (x - 14, y + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0))
        cv2.line(canvas, xy(chosen[name].threshold, 0.0), xy(chosen[name].threshold, 1.0), (160, 160, 160), 1)
        for colour, value in (((200, 0, 0), "precision"), ((0, 150, 0), "recall"), ((0, 0, 220), "f1")):
            points = np.array([xy(row.threshold, getattr(row, value)) for row in rows], np.int32)
            cv2.polylines(canvas, [points], False, colour, 2, cv2.LINE_AA)
        title = f"{name}: P (blue) R (green) F1 (red) vs score threshold; chosen {chosen[name].threshold:.2f}"
        cv2.putText(canvas, title, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        panels.append(canvas)
    cv2.imwrite(str(path), np.hstack(panels), [cv2.IMWRITE_PNG_COMPRESSION, 9])
