"""Evaluate the shipped detector on the hand-labelled frames of the full vtest.avi; sweep and choose thresholds.

Usage: .venv/bin/python bench/detection_eval.py [--write bench/RESULTS.md] [--plot bench/detection_sweep.png]

The work is in :mod:`bench.detection_eval`; this script only wires the detector, the frames and the outputs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import onnxruntime  # noqa: E402

from bench.detection_eval.crossings import count_crossings, excerpt_camera  # noqa: E402
from bench.detection_eval.evaluate import THRESHOLDS  # noqa: E402
from bench.detection_eval.labels import load_labels  # noqa: E402
from bench.detection_eval.plausible import vtest_rules  # noqa: E402
from bench.detection_eval.run import Shipped, run_sweep, score_shipped  # noqa: E402
from bench.detection_eval.tracks import excerpt_tracking_camera, load_tracks, track_scores  # noqa: E402
from bench.results import write_section  # noqa: E402
from edge_agent.vision.detectors import load_detector  # noqa: E402

MANIFEST = ROOT / "models" / "nanodet-g-416.manifest.json"
INT8_MANIFEST = ROOT / "models" / "nanodet-g-416-int8.manifest.json"
HEADING = "## Detection accuracy (issue 17)"


def _rows(label: str, shipped: Shipped) -> list[str]:
    rows = []
    for name, score in shipped.scores.items():
        err = shipped.counts[name]
        rows.append(
            f"| {label} | {name} | {score.precision:.3f} | {score.recall:.3f} | {score.f1:.3f} | "
            f"{score.true_positives} | {score.false_positives} | {err.mean_absolute:.2f} | {err.within_one:.0%} |"
        )
    return rows


def main() -> None:
    """Sweep, choose, score before/after, print, and optionally write the results section and the plot."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="rewrite this section of bench/RESULTS.md")
    parser.add_argument("--plot", type=Path, default=ROOT / "bench" / "detection_sweep.png")
    args = parser.parse_args()
    load_before = os.getloadavg()
    started = time.monotonic()
    frames = load_labels()
    raw = load_detector(MANIFEST, 1, score_threshold=THRESHOLDS[0], class_thresholds=False)
    sweep = run_sweep(raw, frames)
    sweep.plot(args.plot)
    bare = {
        t: load_detector(MANIFEST, 1, score_threshold=t, class_thresholds=False, cross_class=False) for t in (0.35, 0.4)
    }
    before = {t: score_shipped(detector, frames) for t, detector in bare.items()}
    calibrated = load_detector(MANIFEST, 1, score_threshold=0.4)
    after = score_shipped(calibrated, frames)
    sized = {"before": score_shipped(bare[0.35], frames, vtest_rules(bare[0.35])),
             "after": score_shipped(calibrated, frames, vtest_rules(calibrated))}
    crossings = {
        "before: one threshold 0.35, per-class NMS": count_crossings(bare[0.35], excerpt_camera(MANIFEST)),
        "before: one threshold 0.4, per-class NMS": count_crossings(bare[0.4], excerpt_camera(MANIFEST)),
        "after: calibrated, camera floor 0.4": count_crossings(calibrated, excerpt_camera(MANIFEST)),
    }
    tracks = load_tracks()
    tracking = {}
    for label, manifest in (("fp32", MANIFEST), ("INT8", INT8_MANIFEST)):
        camera = excerpt_tracking_camera(manifest)
        detector = load_detector(manifest, 1, score_threshold=camera.score_threshold)
        tracking[label] = track_scores(detector, camera, tracks)
    elapsed = time.monotonic() - started
    table = [
        "| detector | class | precision | recall | F1 | TP | FP | count MAE | frames within ±1 |",
        "|---|---|---|---|---|---|---|---|---|",
        *_rows("before: one threshold 0.35 (family default), per-class NMS", before[0.35]),
        *_rows("before: one threshold 0.4 (camera default), per-class NMS", before[0.4]),
        *_rows("after: manifest thresholds, camera floor 0.4, vehicle classes suppressed across", after),
        *_rows("one threshold 0.35 + zone size rules", sized["before"]),
        *_rows("after + zone size rules", sized["after"]),
    ]
    plot_name = args.plot.relative_to(ROOT) if args.plot.is_relative_to(ROOT) else args.plot
    labelled = sum(len(b) for f in frames for b in f.boxes.values())
    section = "\n".join([
        HEADING,
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, onnxruntime {onnxruntime.__version__}. Load average before "
        f"{load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}; {elapsed:.0f} s.",
        f"Command: `.venv/bin/python bench/detection_eval.py --write bench/RESULTS.md` "
        f"(plot: `{plot_name}`).",
        f"Data: {len(frames)} frames of the full vtest.avi, {labelled} boxes labelled by hand "
        "(`tests/data/eval_frames/`, method in `tests/data/FOOTAGE.md`); model `models/nanodet-g-416`; "
        "IoU 0.5; a detection of car, truck, bus or motorcycle is a 'vehicle'.",
        "",
        "### Sweep (manifest thresholds off, car/truck/bus suppressed across as one class;"
        " run once at 0.15, cut at each threshold)",
        "",
        "Rule: per class, the best F1 among thresholds with precision ≥ 0.9, ties to the higher threshold.",
        "",
        sweep.markdown(),
        "",
        "### Before / after calibration, every detection the detector returns",
        "",
        *table,
        "",
        "### Line crossings on the excerpt (150 frames, whole pipeline, against the 7 hand-checked crossings)",
        "",
        "| detector | right to left, counted / checked | left to right, counted / checked | absolute error |",
        "|---|---|---|---|",
        *(
            f"| {label} | {err.counted['right_to_left']} / {err.checked['right_to_left']} | "
            f"{err.counted['left_to_right']} / {err.checked['left_to_right']} | {err.absolute} |"
            for label, err in crossings.items()
        ),
        "",
        f"### Tracks on the excerpt ({len(tracks)} analysed frames, excerpt frames {min(tracks)}-{max(tracks)}, "
        "whole pipeline from frame 0, against hand-labelled identities)",
        "",
        "| model | class | MOTA | IDF1 | ID switches | FP | FN | labelled boxes | identities |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {label} | {t.cls} | {t.mota:.3f} | {t.idf1:.3f} | {t.switches} | {t.false_positives} | {t.misses} | "
            f"{t.objects} | {t.identities} |"
            for label, scores in tracking.items()
            for t in scores.values()
        ),
        "",
        "Notes.",
        "",
        "- Chosen and written into `models/nanodet-g-416.manifest.json`: person 0.50, car/truck/bus 0.45 "
        "(`score_thresholds`), car/truck/bus suppressed across (`suppress_across`). The camera's `score_threshold` "
        "(default 0.4) is a floor: it can raise a class's threshold, never lower it.",
        "- Zone size rules (`box_height` per zone, `edge_agent/vision/plausibility.py`): the scene's three bands "
        "of foot row with person box heights (`bench/detection_eval/plausible.py`). They must not lower person "
        "recall; they raise precision where the score threshold lets cones and other small objects through "
        "(compare the 0.35 rows), and have nothing left to remove at the calibrated thresholds. The bands were read "
        "off these labels (widened): the rows show what the rule keeps and removes, not how well hand-set bounds "
        "generalise.",
        "- The vehicle figures come from the two parked vehicles only (24 boxes): they show the van's double "
        "detection gone, not how moving traffic is detected.",
        "- Tracks: `tests/data/tracks_ground_truth.json` (method in `tests/data/FOOTAGE.md`) labels every person "
        "and vehicle with a persistent identity on every frame a camera at detect_fps 5 analyses (every 2nd frame "
        "of the 10 fps excerpt); boxes of people more than about half hidden are 'ignore' (MOTChallenge rule: a "
        "track box on one is neither a miss nor a false positive). The camera's chain as it runs: frame source "
        "capped at detect_fps 5, motion gate, the manifest's thresholds over the camera floor 0.4, the tracker; "
        "hypotheses are the confirmed tracks held after each frame, coasting ones included (what zones and lines "
        "count). Measures: `motmetrics` 1.4.0 at IoU 0.5 (`bench/detection_eval/tracks.py`).",
        "- Vehicles: the scene's two vehicles are parked. While anything moves in the frame, a detection away from "
        "the moving pixels is kept only near a live track; one detector run every `refresh_s` (5 s) keeps every "
        "detection whatever moves, and the track it starts on a still object is followed while tentative, so both "
        "vehicles are tracked from the first run and marked stationary after 10 s. The van is scored truck on most "
        "frames and car on some: the tracker associates car, truck and bus as one group and gives the track the "
        "class with the highest summed score. Before these two changes vehicle MOTA was 0.000 (every parked-vehicle "
        "box missed: the filter dropped them on every run); with the filter alone changed, 0.867 with 2 switches "
        "(the van's class flips).",
        "- Coasting tracks keep their last size (the size rates are zeroed at the first miss), are clipped to the "
        "frame, and end as soon as their predicted box is less than half inside it. Before: a man leaving at the "
        "right edge coasted outside the picture for 5 runs (frames 22-30) and a merged pair's track shrank as it "
        "drifted; person MOTA 0.834, IDF1 0.825, 15 false positives.",
        "- Where the person errors come from (fp32 run, per frame from motmetrics' events): the pair crossing the "
        "lawn is one merged detection while the man hides the woman: that track coasts on, at its size, as a false "
        "positive to frame 46 and the two are switched once at 40 when they separate; the man behind the lamp-post "
        "sign is lost (missed 52-58) and comes back with a new identity at 60.",
    ])
    print(section)
    if args.write:
        write_section(args.write, HEADING, section)


if __name__ == "__main__":
    main()
