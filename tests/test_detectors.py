"""Detectors: the committed NanoDet-g on the committed footage, strict model loading, and the YOLO decoder.

The NanoDet tests compare against boxes drawn by hand (``tests/data/detections_ground_truth.json``), so they
fail on a wrong letterbox, a wrong box decoding or a wrong mapping back to source pixels alike. The YOLO tests
use a graph built here whose output is known, so the expected detections are exact.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from edge_agent.vision.detectors import (
    DETECTORS,
    Detection,
    Detector,
    DetectorError,
    NanoDet,
    Ssd,
    Yolo,
    load_detector,
    nms,
)
from edge_agent.vision.detectors.preprocess import InputTensor, letterbox, to_nchw
from tests.vision_data import NANODET_MANIFEST, ground_truth, iou, read_frames, write_yolo_model, yolo_prediction

GROUND_TRUTH = ground_truth()
#: Frames of the excerpt the NanoDet tests use: the hand-checked ones, plus 80 for the blackout.
FRAME_INDICES = sorted({frame["index"] for frame in GROUND_TRUTH} | {80})
MIN_IOU = 0.5


@pytest.fixture(scope="module")
def nanodet() -> Detector:
    return load_detector(NANODET_MANIFEST)


@pytest.fixture(scope="module")
def frames() -> dict[int, NDArray[np.uint8]]:
    return read_frames(FRAME_INDICES)


def _box(detection: Detection) -> tuple[float, float, float, float]:
    return (detection.x0, detection.y0, detection.x1, detection.y1)


def _centre_inside(detection: Detection, region: tuple[int, int, int, int]) -> bool:
    cx, cy = (detection.x0 + detection.x1) / 2, (detection.y0 + detection.y1) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]


# --- NanoDet-g on real footage -------------------------------------------------------------------------------


@pytest.mark.parametrize("truth", GROUND_TRUTH, ids=lambda truth: f"frame{truth['index']}")
def test_nanodet_finds_the_hand_checked_objects(
    nanodet: Detector, frames: dict[int, NDArray[np.uint8]], truth: dict[str, Any]
) -> None:
    detections = nanodet.detect(frames[truth["index"]])
    for obj in truth["objects"]:
        box = tuple(obj["box"])
        matches = [d for d in detections if d.class_name in obj["classes"] and iou(_box(d), box) >= MIN_IOU]
        assert matches, f"{obj['what']}: no {obj['classes']} box with IoU >= {MIN_IOU} with {box}"
        best = max(matches, key=lambda d: d.score)
        assert best.score >= obj["min_score"], f"{obj['what']}: {best.class_name} scored only {best.score:.2f}"


def test_nanodet_detections_are_clipped_labelled_and_best_first(
    nanodet: Detector, frames: dict[int, NDArray[np.uint8]]
) -> None:
    detections = nanodet.detect(frames[0])
    assert isinstance(nanodet, Detector)
    assert nanodet.input_size == (416, 416)
    assert len(detections) >= 4
    assert [d.score for d in detections] == sorted((d.score for d in detections), reverse=True)
    for d in detections:
        assert 0 <= d.x0 <= d.x1 <= 768 and 0 <= d.y0 <= d.y1 <= 576, d
        assert d.score >= 0.35  # the default threshold
        assert d.class_name == nanodet.class_names[d.class_id]
    # the light-blue car is cut by the right edge; the model's box reaches past it and must be clipped
    car = max((d for d in detections if d.class_name == "car"), key=lambda d: d.x1)
    assert car.x1 == pytest.approx(768.0, abs=1.0)


def test_blacked_out_region_yields_no_detection_there(nanodet: Detector, frames: dict[int, NDArray[np.uint8]]) -> None:
    frame = frames[80]
    region = (560, 150, 768, 430)  # the road on the right: three people in frame 80
    before = [d for d in nanodet.detect(frame) if _centre_inside(d, region)]
    assert sum(d.class_name == "person" for d in before) >= 3  # otherwise this test proves nothing

    blacked = frame.copy()
    blacked[region[1] : region[3], region[0] : region[2]] = 0
    after = nanodet.detect(blacked)

    assert [d for d in after if _centre_inside(d, region)] == []
    # the rest of the frame is still seen: the two people on the lawn
    lawn = [(188, 430, 256, 576), (232, 337, 278, 469)]
    for box in lawn:
        assert any(d.class_name == "person" and iou(_box(d), box) >= MIN_IOU for d in after), box


def test_thread_count_does_not_change_detections(frames: dict[int, NDArray[np.uint8]]) -> None:
    one = load_detector(NANODET_MANIFEST, threads=1).detect(frames[40])
    two = load_detector(NANODET_MANIFEST, threads=2).detect(frames[40])
    assert len(one) == len(two) >= 6
    for a, b in zip(one, two, strict=True):
        assert (a.class_id, a.class_name) == (b.class_id, b.class_name)
        assert (*_box(a), a.score) == pytest.approx((*_box(b), b.score), abs=1e-4)


def test_nanodet_rejects_a_frame_that_is_not_bgr_uint8(nanodet: Detector) -> None:
    with pytest.raises(DetectorError, match=r"HxWx3 uint8 BGR frame, got shape \(576, 768\)"):
        nanodet.detect(np.zeros((576, 768), dtype=np.uint8))
    with pytest.raises(DetectorError, match="dtype float32"):
        nanodet.detect(np.zeros((576, 768, 3), dtype=np.float32))


# --- strict loading ------------------------------------------------------------------------------------------


@pytest.fixture
def nanodet_copy(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A manifest copied into ``tmp_path`` (to edit) with the real model symlinked next to it."""
    (tmp_path / "nanodet-g-416.onnx").symlink_to(NANODET_MANIFEST.parent / "nanodet-g-416.onnx")
    return tmp_path / "nanodet-g-416.manifest.json", json.loads(NANODET_MANIFEST.read_text(encoding="utf-8"))


def _write(path: Path, manifest: dict[str, Any]) -> Path:
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def test_registry_maps_families_to_their_decoders() -> None:
    assert {"nanodet": NanoDet, "ssd": Ssd, "yolo": Yolo} == DETECTORS


def test_load_fails_on_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match=f"model manifest not found: {tmp_path}/absent.manifest.json"):
        load_detector(tmp_path / "absent.manifest.json")


def test_load_fails_on_manifest_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.manifest.json"
    path.write_text('{"file": "nanodet-g-416.onnx",', encoding="utf-8")
    with pytest.raises(DetectorError, match=f"model manifest {path} is not valid JSON: Expecting property name"):
        load_detector(path)


def test_load_fails_on_sha256_mismatch_naming_both_digests(nanodet_copy: tuple[Path, dict[str, Any]]) -> None:
    path, manifest = nanodet_copy
    real = manifest["sha256"]
    manifest["sha256"] = "0" * 64
    with pytest.raises(DetectorError, match="sha256 mismatch") as failure:
        load_detector(_write(path, manifest))
    assert f"expects {'0' * 64}, file has {real}" in str(failure.value)


def test_load_fails_on_missing_model_file(tmp_path: Path) -> None:
    path = tmp_path / "nanodet-g-416.manifest.json"
    shutil.copy(NANODET_MANIFEST, path)
    with pytest.raises(DetectorError, match=f"model file not found: {tmp_path}/nanodet-g-416.onnx"):
        load_detector(path)


def test_load_fails_on_corrupt_onnx_whose_sha256_matches(
    tmp_path: Path, nanodet_copy: tuple[Path, dict[str, Any]]
) -> None:
    path, manifest = nanodet_copy
    garbage = b"\x08\x07not an onnx model\xff\xfe"
    (tmp_path / "garbage.onnx").write_bytes(garbage)
    manifest.update(file="garbage.onnx", sha256=hashlib.sha256(garbage).hexdigest())
    with pytest.raises(DetectorError, match=f"ONNX Runtime cannot load model {tmp_path}/garbage.onnx"):
        load_detector(_write(path, manifest))


def test_load_fails_on_unknown_family(nanodet_copy: tuple[Path, dict[str, Any]]) -> None:
    path, manifest = nanodet_copy
    manifest["family"] = "detr"
    with pytest.raises(DetectorError, match="unknown family 'detr'; known families: nanodet, ssd, yolo"):
        load_detector(_write(path, manifest))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("input_name"), "input_name: Field required"),
        (lambda m: m.pop("family"), "has no 'family' field; known families: nanodet, ssd, yolo"),
        (lambda m: m.update(family=["nanodet"]), "has unknown family ['nanodet']; known families: nanodet, ssd, yolo"),
        (lambda m: m.update(input_sise=[416, 416]), "input_sise: Extra inputs are not permitted"),
        (lambda m: m.update(input_size=[416, 0]), "input_size.1: Input should be greater than 0"),
        (lambda m: m.update(sha256="9E3E"), "sha256: String should match pattern"),
        (lambda m: m.update(file="../elsewhere/model.onnx"), "file: String should match pattern"),
        (lambda m: m.update(strides=[8, 16]), "outputs keys ['16', '32', '8'] must be exactly the strides [8, 16]"),
        (lambda m: m.update(input_size=[420, 420]), "input_size 420x420 is not a multiple of stride 8"),
    ],
    ids=[
        "missing-field",
        "missing-family",
        "family-not-a-string",
        "misspelt-field",
        "zero-size",
        "bad-digest",
        "path-in-file",
        "strides-vs-outputs",
        "size-vs-stride",
    ],
)
def test_load_fails_on_invalid_manifest_naming_field_and_reason(
    nanodet_copy: tuple[Path, dict[str, Any]], edit: Any, message: str
) -> None:
    path, manifest = nanodet_copy
    edit(manifest)
    with pytest.raises(DetectorError) as failure:
        load_detector(_write(path, manifest))
    assert message in str(failure.value)
    assert str(path) in str(failure.value)


def test_load_fails_when_manifest_names_the_wrong_outputs(nanodet_copy: tuple[Path, dict[str, Any]]) -> None:
    path, manifest = nanodet_copy
    manifest["outputs"]["8"] = {"scores": "Identity_3:0", "boxes": "Identity:0"}  # swapped
    with pytest.raises(
        DetectorError,
        match=r"output 'Identity_3:0' has shape \[1, 2704, 44\], "
        r"the manifest implies \[1, 2704, 80\]",
    ):
        load_detector(_write(path, manifest))


def test_load_fails_when_yolo_graph_does_not_match_manifest(tmp_path: Path) -> None:
    prediction = np.zeros((1, 7, 5), dtype=np.float32)
    wrong_classes = write_yolo_model(tmp_path, prediction, class_names=["person", "bicycle", "car", "bus"])
    expected = r"output 'output0' has shape \[1, 7, 5\], the manifest implies \[1, 8, \?\]"
    with pytest.raises(DetectorError, match=expected):
        load_detector(wrong_classes)
    wrong_input = write_yolo_model(tmp_path, prediction, input_name="input")
    with pytest.raises(DetectorError, match=r"has inputs \['images'\], the manifest expects \['input'\]"):
        load_detector(wrong_input)


# --- YOLO decoder on a graph with known output ---------------------------------------------------------------

SOURCE_W, SOURCE_H, INPUT = 128, 96, 64  # letterbox ratio 0.5: 64x48 image in a 64x64 input
YOLO_ROWS = [
    ((10.0, 20.0, 50.0, 60.0), (0.90, 0.05, 0.01)),  # person, kept
    ((12.0, 22.0, 52.0, 62.0), (0.80, 0.10, 0.01)),  # person, IoU 0.82 with the first: suppressed
    ((12.0, 22.0, 52.0, 62.0), (0.02, 0.70, 0.01)),  # bicycle in the same place: another class, kept
    ((70.0, 10.0, 100.0, 40.0), (0.01, 0.02, 0.20)),  # car below the 0.25 threshold: dropped
    ((90.0, 50.0, 140.0, 100.0), (0.01, 0.01, 0.60)),  # car reaching past the frame: kept, clipped
]
YOLO_EXPECTED = [
    (10.0, 20.0, 50.0, 60.0, 0.90, 0, "person"),
    (12.0, 22.0, 52.0, 62.0, 0.70, 1, "bicycle"),
    (90.0, 50.0, 128.0, 96.0, 0.60, 2, "car"),
]


@pytest.mark.parametrize(("pad", "offset"), [("center", (0, 8)), ("corner", (0, 0))])
def test_yolo_decodes_known_boxes_back_to_source_pixels(tmp_path: Path, pad: str, offset: tuple[int, int]) -> None:
    prediction = yolo_prediction(YOLO_ROWS, scale=INPUT / SOURCE_W, pad=offset)
    detector = load_detector(write_yolo_model(tmp_path, prediction, size=INPUT, pad=pad))
    assert isinstance(detector, Yolo)

    detections = detector.detect(np.full((SOURCE_H, SOURCE_W, 3), 50, dtype=np.uint8))

    got = [(d.x0, d.y0, d.x1, d.y1, d.score, d.class_id, d.class_name) for d in detections]
    assert len(got) == len(YOLO_EXPECTED)
    for actual, expected in zip(got, YOLO_EXPECTED, strict=True):
        assert actual[:5] == pytest.approx(expected[:5], abs=1e-4)
        assert actual[5:] == expected[5:]


def test_yolo_pad_mode_changes_where_boxes_land(tmp_path: Path) -> None:
    # The same raw output read with the other pad mode must be off by the 8-pixel pad (x2 in source pixels).
    prediction = yolo_prediction(YOLO_ROWS[:1], scale=INPUT / SOURCE_W, pad=(0, 8))
    corner = load_detector(write_yolo_model(tmp_path, prediction, size=INPUT, pad="corner"))
    (person,) = corner.detect(np.zeros((SOURCE_H, SOURCE_W, 3), dtype=np.uint8))
    assert (person.y0, person.y1) == pytest.approx((20.0 + 16, 60.0 + 16))


def test_letterbox_pads_like_ultralytics_or_at_the_corner() -> None:
    frame = np.zeros((SOURCE_H, SOURCE_W, 3), dtype=np.uint8)
    frame[..., 2] = 200  # pure red in BGR
    centred, placement = letterbox(frame, (INPUT, INPUT), centre=True, pad_value=114)
    assert (placement.pad_x, placement.pad_y, placement.scale_x, placement.scale_y) == (0, 8, 0.5, 0.5)
    assert (centred[:8] == 114).all() and (centred[56:] == 114).all() and (centred[8:56, :, 2] == 200).all()
    corner, placement = letterbox(frame, (INPUT, INPUT), centre=False, pad_value=0)
    assert (placement.pad_x, placement.pad_y) == (0, 0)
    assert (corner[48:] == 0).all() and (corner[:48, :, 2] == 200).all()
    blob = to_nchw(centred, mean=(0.0, 0.0, 0.0), scale=(1 / 255,) * 3, swap_rb=True)
    assert blob.shape == (1, 3, INPUT, INPUT) and blob.dtype == np.float32
    assert blob[0, 0, 30, 30] == pytest.approx(200 / 255)  # red is channel 0 once swapped to RGB
    assert blob[0, 2, 30, 30] == 0.0


@pytest.mark.parametrize("centre", [True, False])
@pytest.mark.parametrize("swap_rb", [True, False])
@pytest.mark.parametrize("shape", [(576, 768), (94, 128), (64, 64), (33, 100), (100, 33)])
def test_input_tensor_equals_letterbox_then_to_nchw_to_the_bit(
    centre: bool, swap_rb: bool, shape: tuple[int, int]
) -> None:
    rng = np.random.default_rng(sum(shape))
    frame = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    mean, scale = (103.53, 116.28, 123.675), (1 / 57.375, 1 / 57.12, 1 / 58.395)
    for size in ((64, 64), (96, 64), (416, 416)):
        canvas, expected_place = letterbox(frame, size, centre=centre, pad_value=114)
        expected = to_nchw(canvas, mean=mean, scale=scale, swap_rb=swap_rb)
        blob, place = InputTensor(size, centre=centre, pad_value=114, mean=mean, scale=scale, swap_rb=swap_rb)(frame)
        assert place == expected_place
        assert blob.dtype == np.float32 and blob.flags.c_contiguous
        np.testing.assert_array_equal(blob, expected)


def test_nms_on_the_iou_matrix_keeps_what_the_per_box_loop_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    for trial in range(200):
        k = int(rng.integers(1, 120))
        corner = rng.uniform(0, 400, (k, 2)).astype(np.float32)
        boxes = np.concatenate([corner, corner + rng.uniform(0, 80, (k, 2)).astype(np.float32)], axis=1)
        boxes[rng.integers(0, k, k // 4)] = boxes[0]  # exact duplicates: IoU 1 and ties
        scores = rng.choice(np.array([0.5, 0.6, 0.7], dtype=np.float32), k)  # many equal scores
        class_ids = rng.integers(0, 3, k).astype(np.intp)
        threshold = float(rng.choice([0.3, 0.6, 1.0]))
        on_matrix = nms.batched_nms(boxes, scores, class_ids, threshold)
        with monkeypatch.context() as patch:
            patch.setattr(nms, "_MATRIX_MAX", 0)
            per_box = nms.batched_nms(boxes, scores, class_ids, threshold)
        np.testing.assert_array_equal(on_matrix, per_box, err_msg=f"trial {trial}")


def test_nanodet_input_is_bgr_normalised_and_zero_padded_bottom_right(nanodet: Detector) -> None:
    assert isinstance(nanodet, NanoDet)
    frame = np.empty((576, 768, 3), dtype=np.uint8)
    frame[...] = (10, 20, 30)  # B, G, R
    blob, placement = nanodet._preprocess(frame)
    assert blob.shape == (1, 3, 416, 416) and blob.dtype == np.float32
    assert (placement.pad_x, placement.pad_y, placement.scale_x) == (0, 0, 416 / 768)
    mean, std = np.array([103.53, 116.28, 123.675]), np.array([57.375, 57.12, 58.395])
    image, padding = blob[0, :, :312, :], blob[0, :, 312:, :]  # 576 * 416/768 = 312 rows of image
    np.testing.assert_allclose(
        image, np.broadcast_to(((np.array([10, 20, 30]) - mean) / std)[:, None, None], image.shape), rtol=1e-5
    )
    np.testing.assert_allclose(padding, np.broadcast_to((-mean / std)[:, None, None], padding.shape), rtol=1e-5)


def test_yolo_input_is_rgb_scaled_and_padded_grey_like_ultralytics(tmp_path: Path) -> None:
    prediction = yolo_prediction(YOLO_ROWS, scale=0.5, pad=(0, 8))
    detector = load_detector(write_yolo_model(tmp_path, prediction, size=INPUT))
    assert isinstance(detector, Yolo)
    frame = np.empty((94, SOURCE_W, 3), dtype=np.uint8)  # 64x47 once resized: an odd 17-row pad
    frame[...] = (10, 20, 30)  # B, G, R
    blob, placement = detector._preprocess(frame)
    assert (placement.pad_x, placement.pad_y) == (0, 8)  # Ultralytics: 8 rows on top, 9 at the bottom
    column = blob[0, :, :, 32]
    np.testing.assert_allclose(column[:, :8], 114 / 255, rtol=1e-6)
    np.testing.assert_allclose(column[:, 55:], 114 / 255, rtol=1e-6)
    rgb = np.array([30, 20, 10]) / 255  # the frame's R, G, B
    np.testing.assert_allclose(column[:, 8:55], np.broadcast_to(rgb[:, None], (3, 47)), rtol=1e-6)
