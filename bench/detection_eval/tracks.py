"""Tracking accuracy (MOTA, IDF1, identity switches) of the whole pipeline against hand-labelled identities.

``tests/data/tracks_ground_truth.json`` holds a box and a persistent identity for every person and vehicle on a
run of the excerpt's frames, at the rate a camera at ``detect_fps`` 5 analyses the 10 fps file (method in
``tests/data/FOOTAGE.md``). The camera's own chain runs over the excerpt: the frame source capped at the
camera's ``detect_fps``, the motion gate, the detector with the manifest's thresholds, the tracker. The tracks it
holds after each labelled frame are the hypotheses: confirmed tracks, coasting ones included, which is what the
zone and line rules count.

Scoring is the CLEAR MOT / identity measures of ``motmetrics`` at IoU 0.5, per evaluation class. Boxes labelled
``ignore`` (a person more than about half hidden) are handled as MOTChallenge does: a track box assigned to one
is dropped before scoring, so it is neither a miss nor a false positive, and identity continuity is still judged
when the person reappears. ``motmetrics.distances.iou_matrix`` calls ``np.asfarray``, gone in NumPy 2, so the
distance matrix is computed here with :func:`.metrics.iou`; the accumulator and the measures are the library's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import motmetrics
import numpy as np
from scipy.optimize import linear_sum_assignment

from edge_agent.vision.detectors import Detector
from edge_agent.vision.pipeline import CameraPipeline
from edge_agent.vision.source import FrameSource
from vigie_config.vision import CameraConfig

from .labels import EVAL_CLASS, EVAL_CLASSES, ROOT
from .metrics import Box, iou

TRUTH = ROOT / "tests" / "data" / "tracks_ground_truth.json"
VIDEO = ROOT / "tests" / "data" / "vtest_excerpt.avi"
FPS = 10.0
MIN_IOU = 0.5


@dataclass(frozen=True)
class Labelled:
    """One labelled object in one frame."""

    id: str
    cls: str
    box: Box
    ignore: bool = False


@dataclass(frozen=True)
class Hypothesis:
    """One track box in one frame, its class already an evaluation class."""

    id: int
    cls: str
    box: Box


@dataclass(frozen=True)
class TrackScore:
    """The CLEAR MOT and identity measures of one class over the sequence."""

    cls: str
    mota: float
    idf1: float
    switches: int
    false_positives: int
    misses: int
    objects: int  # labelled boxes, ignored ones left out
    identities: int  # labelled identities with at least one box scored


def load_tracks(path: Path = TRUTH, until: int | None = None) -> dict[int, list[Labelled]]:
    """Labelled objects by excerpt frame, optionally only frames ``<= until``.

    Raises:
        ValueError: An object of an unknown identity or class, or a box that is not ``x0 < x1, y0 < y1``.
    """
    doc = json.loads(path.read_text(encoding="utf-8"))
    classes = {name: entry["class"] for name, entry in doc["identities"].items()}
    frames: dict[int, list[Labelled]] = {}
    for entry in doc["frames"]:
        if until is not None and entry["frame"] > until:
            continue
        objects = []
        for obj in entry["objects"]:
            x0, y0, x1, y1 = (float(v) for v in obj["box"])
            cls = classes.get(obj["id"])
            if cls not in EVAL_CLASSES or not (x0 < x1 and y0 < y1):
                raise ValueError(f"{path}: frame {entry['frame']}: bad object {obj}")
            objects.append(Labelled(obj["id"], cls, (x0, y0, x1, y1), bool(obj.get("ignore", False))))
        frames[entry["frame"]] = objects
    return frames


def _drop_ignored(labelled: Sequence[Labelled], hyps: Sequence[Hypothesis]) -> list[Hypothesis]:
    """``hyps`` less those the optimal one-to-one assignment at IoU >= 0.5 gives to an ignored box."""
    if not any(obj.ignore for obj in labelled) or not hyps:
        return list(hyps)
    cost = np.array([[1.0 - iou(obj.box, h.box) for h in hyps] for obj in labelled])
    feasible = cost <= 1.0 - MIN_IOU
    rows, cols = linear_sum_assignment(np.where(feasible, cost, 2.0))
    dropped = {c for r, c in zip(rows, cols, strict=True) if feasible[r, c] and labelled[r].ignore}
    return [h for i, h in enumerate(hyps) if i not in dropped]


def score_tracks(
    labelled: Mapping[int, Sequence[Labelled]], hypotheses: Mapping[int, Sequence[Hypothesis]], cls: str
) -> TrackScore:
    """MOTA, IDF1, switches, false positives and misses of class ``cls`` over the labelled frames (pure)."""
    acc = motmetrics.MOTAccumulator(auto_id=True)
    seen: set[str] = set()
    # motmetrics 1.4 stores object ids as floats: number the labelled identities.
    number = {name: i for i, name in enumerate(sorted({obj.id for objs in labelled.values() for obj in objs}))}
    for frame in sorted(labelled):
        objects = [obj for obj in labelled[frame] if obj.cls == cls]
        hyps = _drop_ignored(objects, [h for h in hypotheses.get(frame, ()) if h.cls == cls])
        kept = [obj for obj in objects if not obj.ignore]
        seen.update(obj.id for obj in kept)
        distances = np.array(
            [[1.0 - o if (o := iou(obj.box, h.box)) >= MIN_IOU else np.nan for h in hyps] for obj in kept]
        ).reshape(len(kept), len(hyps))
        acc.update([number[obj.id] for obj in kept], [h.id for h in hyps], distances)
    summary = motmetrics.metrics.create().compute(
        acc,
        metrics=["mota", "idf1", "num_switches", "num_false_positives", "num_misses", "num_objects"],
        name=cls,
    )
    row = summary.loc[cls]
    return TrackScore(
        cls=cls,
        mota=float(row["mota"]),
        idf1=float(row["idf1"]),
        switches=int(row["num_switches"]),
        false_positives=int(row["num_false_positives"]),
        misses=int(row["num_misses"]),
        objects=int(row["num_objects"]),
        identities=len(seen),
    )


def excerpt_tracking_camera(model: Path) -> CameraConfig:
    """The excerpt as a camera with every default (detect_fps 5, score floor 0.4, motion gate, tracker)."""
    return CameraConfig.model_validate({"name": "darcy-north", "source": str(VIDEO), "model": str(model)})


def run_pipeline(detector: Detector, config: CameraConfig, frames: Iterable[int]) -> dict[int, list[Hypothesis]]:
    """The pipeline's tracks after each of ``frames`` (excerpt frame numbers), from the excerpt's first frame.

    Frames come from the camera's own source, capped at its ``detect_fps`` on the file's timeline; the run stops
    after the last wanted frame. A wanted frame the source skips (another ``detect_fps``) raises ``ValueError``.
    """
    wanted = set(frames)
    last = max(wanted)
    pipe = CameraPipeline(0, config, detector)
    names = detector.class_names
    source = FrameSource(str(config.source), max_fps=config.detect_fps)
    out: dict[int, list[Hypothesis]] = {}
    try:
        while (frame := source.read()) is not None:
            assert frame.pts_s is not None  # a file
            index = round(frame.pts_s * FPS)
            if index > last:
                break
            pipe.process(frame.image, frame.pts_s)
            if index in wanted:
                out[index] = [
                    Hypothesis(tr.track_id, EVAL_CLASS[names[tr.class_id]], (tr.x0, tr.y0, tr.x1, tr.y1))
                    for tr in pipe.tracks
                    if names[tr.class_id] in EVAL_CLASS
                ]
    finally:
        source.close()
    if set(out) != wanted:
        raise ValueError(f"frames not analysed at detect_fps {config.detect_fps}: {sorted(wanted - set(out))}")
    return out


def track_scores(
    detector: Detector, config: CameraConfig, labelled: Mapping[int, Sequence[Labelled]]
) -> dict[str, TrackScore]:
    """Run the pipeline over the labelled frames and score each evaluation class."""
    hypotheses = run_pipeline(detector, config, labelled)
    return {cls: score_tracks(labelled, hypotheses, cls) for cls in EVAL_CLASSES}
