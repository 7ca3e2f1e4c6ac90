"""Output formats a brought model may have: the pure decoders on hand-built tensors, then through ONNX Runtime.

Each family's manifest names its output format with ``family``: ``yolo`` is an Ultralytics export's single
``[1, 4 + nc, N]`` output, ``ssd`` the two pre-NMS outputs of a TF Object Detection API SSD. The decoders are
pure functions, tested here on tensors whose every value was chosen; the end-to-end tests run a real ONNX
Runtime session on a graph built here that emits a known tensor, so what is under test is our loading, the
manifest checks, the mapping back to source pixels and NMS, not a detector. The last tests run the committed
SSDLite person model on the committed footage.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from bench.detection_eval.evaluate import THRESHOLDS
from bench.detection_eval.labels import load_labels
from bench.detection_eval.run import run_sweep, score_shipped
from edge_agent.box_config import model_errors
from edge_agent.vision.detectors import Detection, DetectorError, Ssd, check_manifest, load_detector
from edge_agent.vision.detectors.preprocess import InputTensor, letterbox, to_nchw
from edge_agent.vision.detectors.ssd import decode_ssd
from edge_agent.vision.detectors.yolo import decode_yolo
from tests.vision_data import ROOT, ground_truth, iou, read_frames, write_constant_model, write_yolo_model
from vigie_config import BoxConfig

SSD_MANIFEST = ROOT / "models" / "ssdlite-person-300.manifest.json"


def _rows(detections: list[Detection]) -> list[tuple[float, float, float, float, float, int, str]]:
    return [(d.x0, d.y0, d.x1, d.y1, d.score, d.class_id, d.class_name) for d in detections]


# --- decode_yolo: [4 + nc, N], cx, cy, w, h in input pixels ----------------------------------------------------


def test_decode_yolo_takes_each_anchors_best_class_and_turns_centres_into_corners() -> None:
    prediction = np.array(
        [
            # cx, cy, w, h of three anchors (columns)
            [100.0, 30.0, 50.0],
            [200.0, 40.0, 60.0],
            [20.0, 10.0, 8.0],
            [40.0, 6.0, 4.0],
            # scores of class 0, 1, 2
            [0.10, 0.30, 0.05],
            [0.80, 0.29, 0.05],
            [0.05, 0.10, 0.24],
        ],
        dtype=np.float32,
    )
    boxes, scores, class_ids = decode_yolo(prediction, 0.25)
    np.testing.assert_allclose(boxes, [[90.0, 180.0, 110.0, 220.0], [25.0, 37.0, 35.0, 43.0]])
    np.testing.assert_allclose(scores, [0.80, 0.30])
    assert class_ids.tolist() == [1, 0]  # anchor 2's best (0.24) is below 0.25: no candidate, not its second class
    assert boxes.dtype == scores.dtype == np.float32 and class_ids.dtype == np.intp


def test_decode_yolo_threshold_is_inclusive_and_an_empty_result_keeps_its_shapes() -> None:
    prediction = np.array([[10.0], [10.0], [4.0], [4.0], [0.5]], dtype=np.float32)
    assert decode_yolo(prediction, 0.5).scores.tolist() == [0.5]
    boxes, scores, class_ids = decode_yolo(prediction, 0.51)
    assert boxes.shape == (0, 4) and scores.shape == (0,) and class_ids.shape == (0,)


# --- decode_ssd: boxes [N, 4] ymin, xmin, ymax, xmax as fractions, scores [N, 1 + nc] -------------------------


def test_decode_ssd_skips_the_background_column_and_swaps_y_x_into_input_pixels() -> None:
    boxes = np.array(
        [[0.10, 0.20, 0.50, 0.40], [0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.75, 1.25], [0.2, 0.2, 0.3, 0.3]],
        dtype=np.float32,
    )
    scores = np.array(
        [
            [0.30, 0.70, 0.10],  # person 0.7
            [0.99, 0.20, 0.30],  # background wins, but only objects count: best object 0.3 < 0.5, dropped
            [0.10, 0.55, 0.60],  # bicycle 0.6 (class id 1), box reaching past the right edge
            [0.90, 0.40, 0.40],  # nothing above the threshold
        ],
        dtype=np.float32,
    )
    candidates = decode_ssd(boxes, scores, 0.5, (320, 240))
    np.testing.assert_allclose(candidates.boxes, [[64.0, 24.0, 128.0, 120.0], [160.0, 120.0, 400.0, 180.0]])
    np.testing.assert_allclose(candidates.scores, [0.70, 0.60])
    assert candidates.class_ids.tolist() == [0, 1]
    assert decode_ssd(boxes, scores, 0.71, (320, 240)).boxes.shape == (0, 4)


# --- the SSD family through ONNX Runtime ------------------------------------------------------------------------

SIZE = 64
CLASSES = ["person", "bicycle"]
SSD_BOXES = np.array(
    [[[0.25, 0.10, 0.75, 0.30], [0.26, 0.11, 0.76, 0.31], [0.25, 0.10, 0.75, 0.30], [0.0, 0.5, 0.5, 1.2]]],
    dtype=np.float32,
)
SSD_SCORES = np.array(
    [[[0.1, 0.90, 0.0], [0.1, 0.80, 0.0], [0.1, 0.0, 0.70], [0.2, 0.60, 0.1]]], dtype=np.float32
)


def _ssd_stub(directory: Path, *, boxes: NDArray[np.float32] = SSD_BOXES, scores: NDArray[np.float32] = SSD_SCORES,
              size: int = SIZE, **fields: Any) -> Path:
    model = write_constant_model(directory, "ssd", input_name="image", size=size,
                                 outputs={"boxes": boxes, "scores": scores})
    manifest = {
        "file": model.name, "sha256": hashlib.sha256(model.read_bytes()).hexdigest(), "family": "ssd",
        "input_name": "image", "input_size": [size, size], "colour_order": "RGB", "class_names": CLASSES,
        "mean": [127.5, 127.5, 127.5], "scale": [1 / 127.5] * 3, "boxes_output": "boxes",
        "scores_output": "scores", **fields,
    }
    path = directory / "ssd.manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def test_ssd_stretched_input_maps_fractions_to_the_whole_frame_and_applies_nms(tmp_path: Path) -> None:
    detector = load_detector(_ssd_stub(tmp_path))
    assert isinstance(detector, Ssd)
    got = _rows(detector.detect(np.zeros((100, 200, 3), dtype=np.uint8)))
    expected = [
        (20.0, 25.0, 60.0, 75.0, 0.90, 0, "person"),  # x from xmin 0.10 x 200, y from ymin 0.25 x 100
        (20.0, 25.0, 60.0, 75.0, 0.70, 1, "bicycle"),  # same box, another class: not suppressed
        (100.0, 0.0, 200.0, 50.0, 0.60, 0, "person"),  # xmax 1.2: clipped to the frame
    ]  # the 0.80 person (IoU 0.92 with the 0.90 one) is suppressed at the family's IoU 0.6
    assert len(got) == len(expected)
    for actual, want in zip(got, expected, strict=True):
        assert actual[:5] == pytest.approx(want[:5], abs=1e-4)
        assert actual[5:] == want[5:]


def test_ssd_letterboxed_input_maps_back_through_the_padding(tmp_path: Path) -> None:
    detector = load_detector(_ssd_stub(tmp_path, resize="letterbox"))
    # 200x100 letterboxed into 64x64: scale 0.32, image rows 0..32, padding below (as fractions of 64 px)
    person = detector.detect(np.zeros((100, 200, 3), dtype=np.uint8))[0]
    assert (person.x0, person.y0, person.x1, person.y1) == pytest.approx((20.0, 50.0, 60.0, 100.0), abs=1e-4)


def test_ssd_input_is_stretched_rgb_scaled_to_minus_one_one(tmp_path: Path) -> None:
    detector = load_detector(_ssd_stub(tmp_path))
    assert isinstance(detector, Ssd)
    frame = np.empty((100, 200, 3), dtype=np.uint8)
    frame[...] = (0, 255, 51)  # B, G, R
    blob, placement = detector._preprocess(frame)
    assert (placement.pad_x, placement.pad_y, placement.scale_x, placement.scale_y) == (0, 0, 0.32, 0.64)
    np.testing.assert_allclose(blob[0, :, 10, 10], [51 / 127.5 - 1, 1.0, -1.0], rtol=1e-6)


@pytest.mark.parametrize("centre", [True, False])
@pytest.mark.parametrize("shape", [(576, 768), (33, 100), (300, 300)])
def test_stretched_input_tensor_equals_resize_then_to_nchw_to_the_bit(centre: bool, shape: tuple[int, int]) -> None:
    frame = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    mean, scale = (127.5, 127.5, 127.5), (1 / 127.5,) * 3
    canvas, expected_place = letterbox(frame, (300, 300), centre=centre, pad_value=0, keep_aspect=False)
    blob, place = InputTensor((300, 300), centre=centre, pad_value=0, mean=mean, scale=scale, swap_rb=True,
                              keep_aspect=False)(frame)
    assert place == expected_place and (place.pad_x, place.pad_y) == (0, 0)
    assert (place.scale_x, place.scale_y) == (300 / shape[1], 300 / shape[0])
    same = frame if shape == (300, 300) else cv2.resize(frame, (300, 300))
    np.testing.assert_array_equal(canvas, same)
    np.testing.assert_array_equal(blob, to_nchw(canvas, mean=mean, scale=scale, swap_rb=True))


# --- manifest checks on brought models: each mistake gets its own message ---------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"class_names": ["person"]},
         r"output 'scores' has shape \[1, 4, 3\], the manifest implies \[1, \?, 2\]"),
        ({"class_names": ["person", "bicycle", "car"]},
         r"output 'scores' has shape \[1, 4, 3\], the manifest implies \[1, \?, 4\]"),
        ({"input_size": [32, 32]}, r"input 'image' has shape \[1, 3, 64, 64\], the manifest implies \[1, 3, 32, 32\]"),
        ({"boxes_output": "scores"}, "boxes_output and scores_output are both 'scores'"),
        ({"boxes_output": "detection_boxes"}, "has no output 'detection_boxes' named by the manifest; its outputs "
                                              r"are \['boxes', 'scores'\]"),
        ({"resize": "crop"}, "resize: Input should be 'stretch' or 'letterbox'"),
        ({"scale": [0.0, 1.0, 1.0]}, r"scale.0: Input should be greater than 0"),
        ({"layout": "NHWC"}, "layout: Input should be 'NCHW'"),
        ({"score_thresholds": {"car": 0.5}}, "calibration names classes the model does not have: car"),
    ],
    ids=["too-few-classes", "too-many-classes", "input-size", "same-output-twice", "missing-output",
         "unknown-resize", "zero-scale", "nhwc", "threshold-of-unknown-class"],
)
def test_a_brought_ssd_manifest_that_does_not_describe_its_model_fails_precisely(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(DetectorError, match=message):
        load_detector(_ssd_stub(tmp_path, **fields))


def test_a_brought_model_whose_bytes_changed_fails_on_sha256_before_onnx_runtime_reads_it(tmp_path: Path) -> None:
    path = _ssd_stub(tmp_path)
    manifest = json.loads(path.read_text(encoding="utf-8"))
    (tmp_path / "ssd.onnx").write_bytes(b"not the model")
    actual = hashlib.sha256(b"not the model").hexdigest()
    with pytest.raises(DetectorError, match=f"expects {manifest['sha256']}, file has {actual}"):
        check_manifest(path)


def test_a_brought_yolo_manifest_with_the_wrong_input_size_fails_precisely(tmp_path: Path) -> None:
    prediction = np.zeros((1, 7, 5), dtype=np.float32)
    path = write_yolo_model(tmp_path, prediction, input_size=[640, 640])
    with pytest.raises(DetectorError, match=r"input 'images' has shape \[1, 3, 64, 64\], the manifest implies "
                                            r"\[1, 3, 640, 640\]"):
        load_detector(path)


# --- the committed SSDLite person model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ssdlite() -> Ssd:
    # The camera floor a camera on this model sets: its calibrated person threshold (0.25, bench/RESULTS.md).
    detector = load_detector(SSD_MANIFEST, 1, score_threshold=0.25)
    assert isinstance(detector, Ssd)
    return detector


def test_every_committed_manifest_checks_out_and_names_a_known_format() -> None:
    manifests = sorted((ROOT / "models").glob("*.manifest.json"))
    assert SSD_MANIFEST in manifests
    for path in manifests:
        assert check_manifest(path).family in {"nanodet", "ssd"}


def test_ssdlite_finds_the_hand_checked_pedestrians(ssdlite: Ssd) -> None:
    truth = ground_truth()
    frames = read_frames(frame["index"] for frame in truth)
    found = missed = 0
    for frame in truth:
        detections = ssdlite.detect(frames[frame["index"]])
        assert {d.class_name for d in detections} <= {"person"}
        for obj in frame["objects"]:
            if obj["classes"] != ["person"]:
                continue
            if any(iou((d.x0, d.y0, d.x1, d.y1), tuple(obj["box"])) >= 0.5 for d in detections):
                found += 1
            else:
                missed += 1
    # Measured: 15 of the 17 (NanoDet-g finds all 17 at its own thresholds).
    assert found + missed == 17
    assert found >= 14, f"found {found} of 17 hand-checked pedestrians"


#: Measured at calibration on the 12 labelled frames of the full vtest.avi (bench/RESULTS.md, "Which model when"),
#: person only, floor 0.25: F1 0.7087, 8 of 12 frames within ±1. Floors rounded down to the third decimal.
SSD_GUARD_PERSON_F1 = 0.708
SSD_GUARD_WITHIN_ONE = 8 / 12


def test_ssdlite_calibration_is_the_harness_operating_point_and_holds() -> None:
    frames = load_labels()
    bare = load_detector(SSD_MANIFEST, 1, score_threshold=THRESHOLDS[0], class_thresholds=False)
    chosen = run_sweep(bare, frames).chosen["person"]
    manifest = json.loads(SSD_MANIFEST.read_text(encoding="utf-8"))
    assert manifest["score_thresholds"] == {"person": chosen.threshold}
    shipped = score_shipped(load_detector(SSD_MANIFEST, 1, score_threshold=chosen.threshold), frames)
    person = shipped.scores["person"]
    why = f"P {person.precision:.3f}, R {person.recall:.3f}"
    assert person.f1 >= SSD_GUARD_PERSON_F1, f"person F1 {person.f1:.4f} < {SSD_GUARD_PERSON_F1} ({why})"
    assert shipped.counts["person"].within_one >= SSD_GUARD_WITHIN_ONE - 1e-9
    assert shipped.scores["vehicle"].true_positives == shipped.scores["vehicle"].false_positives == 0


def test_a_camera_on_the_person_model_must_list_only_person(tmp_path: Path) -> None:
    source = ROOT / "tests" / "data" / "vtest_excerpt.avi"
    camera = {"name": "north", "source": str(source), "model": str(SSD_MANIFEST)}
    defaults = BoxConfig.model_validate({"device_id": "cam-x", "site": "dijon", "cameras": [camera]})
    (error,) = model_errors(defaults)
    assert error == f"cameras.0.classes: not in the model {SSD_MANIFEST}: bicycle, bus, car, motorcycle, truck"
    person_only = BoxConfig.model_validate(
        {"device_id": "cam-x", "site": "dijon", "cameras": [{**camera, "classes": ["person"]}]}
    )
    assert model_errors(person_only) == []


def test_a_camera_selects_a_brought_yolo_model_through_its_manifest_and_validate_checks_it(tmp_path: Path) -> None:
    manifest = write_yolo_model(tmp_path, np.zeros((1, 7, 5), dtype=np.float32))
    camera = {"name": "north", "source": str(ROOT / "tests" / "data" / "vtest_excerpt.avi"),
              "model": str(manifest), "classes": ["person", "car"]}
    config = BoxConfig.model_validate({"device_id": "cam-x", "site": "dijon", "cameras": [camera]})
    assert model_errors(config) == []
    model = tmp_path / "stub.onnx"
    model.write_bytes(model.read_bytes() + b"\x00")  # the file changed after the manifest pinned it
    (error,) = model_errors(config)
    assert error.startswith(f"cameras.0.model: sha256 mismatch for model file {model}: manifest {manifest}")
