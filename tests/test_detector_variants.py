"""The INT8 variant of the shipped detector: selected by its manifest, it loads, detects and holds the guard.

``models/nanodet-g-416-int8.manifest.json`` names a quantized copy of the fp32 model (``models/quantize_nanodet.py``)
with the same calibration; a camera picks it with ``model:``. The harness kept it because its F1 on the labelled
frames equals fp32's (``bench/RESULTS.md``, "Detector variants"): the guard below holds it to the same floors as
the fp32 model, and a camera running it must find the hand-checked people of the excerpt.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest

import vigie_wire as wire
from bench.detection_eval.labels import load_labels
from bench.detection_eval.run import score_shipped
from bench.detector_variants_bench import accuracy, contender
from edge_agent.vision.detectors import Detection, Detector, DetectorError, check_manifest, load_detector
from edge_agent.vision.pipeline import CameraPipeline
from tests.test_detection_eval import CAMERA_FLOOR, GUARD_FRAMES, GUARD_PERSON_F1, GUARD_WITHIN_ONE
from tests.vision_data import (
    NANODET_MANIFEST,
    VIDEO,
    ground_truth,
    iou,
    read_frames,
    write_yolo_model,
    yolo_prediction,
)
from vigie_config.vision import CameraConfig

INT8_MANIFEST = NANODET_MANIFEST.with_name("nanodet-g-416-int8.manifest.json")
GROUND_TRUTH = ground_truth()


@pytest.fixture(scope="module")
def int8() -> Detector:
    return load_detector(INT8_MANIFEST, 2, score_threshold=CAMERA_FLOOR)


def test_the_int8_manifest_pins_its_file_and_the_fp32_model_it_was_made_from() -> None:
    manifest = check_manifest(INT8_MANIFEST)
    fp32 = check_manifest(NANODET_MANIFEST)
    assert (manifest.precision, fp32.precision) == ("int8", "fp32")
    assert manifest.quantized_from == fp32.sha256
    model = INT8_MANIFEST.with_name(manifest.file)
    assert hashlib.sha256(model.read_bytes()).hexdigest() == manifest.sha256
    assert model.stat().st_size < NANODET_MANIFEST.with_name(fp32.file).stat().st_size / 3
    # Same classes and calibration: events of either variant mean the same thing.
    assert manifest.class_names == fp32.class_names
    assert manifest.score_thresholds == fp32.score_thresholds
    assert manifest.suppress_across == fp32.suppress_across


def test_the_int8_variant_holds_person_f1_and_counts_on_the_guard_frames(int8: Detector) -> None:
    frames = load_labels(only=GUARD_FRAMES)
    shipped = score_shipped(int8, frames)
    person = shipped.scores["person"]
    why = f"P {person.precision:.3f}, R {person.recall:.3f}"
    assert person.f1 >= GUARD_PERSON_F1, f"int8 person F1 {person.f1:.4f} < {GUARD_PERSON_F1} ({why})"
    assert shipped.counts["person"].within_one >= GUARD_WITHIN_ONE


@pytest.mark.parametrize("truth", GROUND_TRUTH, ids=lambda truth: f"frame{truth['index']}")
def test_the_int8_variant_finds_the_hand_checked_objects_of_the_excerpt(int8: Detector, truth: dict[str, Any]) -> None:
    frame = read_frames([truth["index"]])[truth["index"]]
    detections = int8.detect(frame)
    for obj in truth["objects"]:
        box = tuple(obj["box"])
        matches = [d for d in detections if d.class_name in obj["classes"] and iou(_box(d), box) >= 0.5]
        assert matches, f"{obj['what']}: no {obj['classes']} box with IoU >= 0.5 with {box}"


def test_a_camera_selects_the_int8_variant_by_its_manifest_and_emits_detections() -> None:
    config = CameraConfig.model_validate(
        {"name": "darcy-north", "source": str(VIDEO), "model": str(INT8_MANIFEST), "threads": 1}
    )
    detector = load_detector(config.model, config.threads, score_threshold=config.score_threshold)
    pipeline = CameraPipeline(0, config, detector)
    frames = read_frames(range(10))
    produced = [event for i in range(10) for _, event in pipeline.process(frames[i], i / 10)]
    person = detector.class_names.index("person")
    people = [event for event in produced if isinstance(event, wire.Detection) and event.cls == person]
    assert pipeline.stats.detections_run >= 1
    assert len(people) >= 4, f"the excerpt's first second has at least four people, the int8 camera saw {people}"


def test_an_int8_manifest_without_its_fp32_origin_is_refused(tmp_path: Path) -> None:
    raw = json.loads(INT8_MANIFEST.read_text(encoding="utf-8"))
    shutil.copy(INT8_MANIFEST.with_name(raw["file"]), tmp_path / raw["file"])
    del raw["quantized_from"]
    path = tmp_path / "m.manifest.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(DetectorError, match=r"quantized_from .* is required for precision int8 only"):
        load_detector(path)


def test_an_unknown_or_absent_execution_provider_is_a_precise_error() -> None:
    with pytest.raises(DetectorError, match="unknown execution provider 'tensorrt'; known: cpu, openvino"):
        load_detector(INT8_MANIFEST, provider="tensorrt")
    if "OpenVINOExecutionProvider" in onnxruntime.get_available_providers():
        assert load_detector(INT8_MANIFEST, provider="openvino").detect(np.zeros((64, 64, 3), np.uint8)) == []
    else:
        with pytest.raises(DetectorError, match=r"'openvino' .* is not in this ONNX Runtime build; it has"):
            load_detector(INT8_MANIFEST, provider="openvino")


def test_a_brought_model_is_scored_by_the_same_harness_as_the_shipped_one(tmp_path: Path) -> None:
    """The variants bench takes any manifest (``--model``); here a YOLO export that sees exactly frame 30's people
    and one ghost, which the harness must score as every person found and one false positive."""
    frame = load_labels(only=frozenset({30}))[0]
    people = frame.boxes["person"]
    ghost = (10.0, 10.0, 40.0, 90.0)
    # 768x576 letterboxed into 64x64: scale 1/12, centred, 8 rows of padding above.
    rows = [(box, (0.9, 0.0, 0.0)) for box in (*people, ghost)]
    manifest = write_yolo_model(tmp_path, yolo_prediction(rows, scale=1 / 12, pad=(0, 8)))
    scores = accuracy(contender(manifest), [frame])
    assert scores["person_r"] == 1.0
    assert scores["person_p"] == pytest.approx(len(people) / (len(people) + 1))
    assert scores["vehicle_f1"] == 0.0, "the frame's parked van is not in what this model sees"


def _box(detection: Detection) -> tuple[float, float, float, float]:
    return (detection.x0, detection.y0, detection.x1, detection.y1)
