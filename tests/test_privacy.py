"""Privacy masks remove pixels exactly; snapshot blurring removes a person's detail."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.vision.geometry import point_in_polygon, signed_distance_to_polygon
from edge_agent.vision.privacy import apply_privacy_masks, blank, blur_boxes, polygon_mask

FOOTAGE = Path(__file__).parent / "data" / "vtest_excerpt.avi"
Frame = npt.NDArray[np.uint8]

#: Frame 80 of the clip (tests/data/FOOTAGE.md): the blonde woman and the red-jacket man on the lawn.
FRAME = 80
PEOPLE = [(185.0, 432.0, 258.0, 573.0), (231.0, 335.0, 280.0, 469.0)]


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 0.8
    class_id: int = 0


@pytest.fixture(scope="module")
def frame() -> Frame:
    cap = cv2.VideoCapture(str(FOOTAGE))
    cap.set(cv2.CAP_PROP_POS_FRAMES, FRAME)
    ok, img = cap.read()
    cap.release()
    assert ok
    return np.asarray(img, dtype=np.uint8)


def grey_patch(img: Frame, box: tuple[float, float, float, float]) -> npt.NDArray[np.float64]:
    x0, y0, x1, y1 = (int(v) for v in box)
    return np.asarray(cv2.cvtColor(img[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY), dtype=np.float64)


def laplacian_var(patch: npt.NDArray[np.float64]) -> float:
    return float(cv2.Laplacian(patch, cv2.CV_64F).var())


def detail(patch: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """High-pass layer: what identifies a face or a gait, as opposed to the silhouette's colour."""
    return patch - np.asarray(cv2.GaussianBlur(patch, (0, 0), 2.0), dtype=np.float64)


# --------------------------------------------------------------------------- masks


def test_masked_pixels_are_exactly_zero_and_the_others_untouched(frame: Frame) -> None:
    window = [(600.0, 20.0), (760.0, 20.0), (760.0, 120.0), (600.0, 120.0)]
    garden = [(10.5, 300.2), (200.7, 280.0), (150.0, 500.9)]
    before = frame.copy()
    out = apply_privacy_masks(frame, [window, garden])
    mask = polygon_mask(frame.shape[:2], [window, garden])
    assert np.array_equal(frame, before), "the input frame must not be modified"
    assert out is not frame
    assert np.all(out[mask] == 0)
    assert np.array_equal(out[~mask], frame[~mask])
    assert mask[50, 700] and mask[400, 120] and not mask[300, 400]


def test_mask_covers_every_pixel_whose_centre_is_inside_the_polygon() -> None:
    poly = [(3.3, 2.2), (40.6, 8.1), (30.2, 35.7), (12.0, 28.4), (18.9, 15.5)]  # concave
    mask = polygon_mask((40, 48), [poly])
    for y in range(40):
        for x in range(48):
            if point_in_polygon((x, y), poly) and signed_distance_to_polygon((x, y), poly) > 0.75:
                assert mask[y, x], (x, y)
            if signed_distance_to_polygon((x, y), poly) < -1.5:
                assert not mask[y, x], (x, y)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(1, 30),
    st.integers(1, 30),
    st.integers(1, 255),
    st.sampled_from([1, 3]),
)
def test_rectangle_mask_zeroes_exactly_its_pixels(x0: int, y0: int, w: int, h: int, fill: int, channels: int) -> None:
    shape = (64, 64) if channels == 1 else (64, 64, 3)
    img = np.full(shape, fill, np.uint8)
    rect = [
        (float(x0), float(y0)),
        (float(x0 + w), float(y0)),
        (float(x0 + w), float(y0 + h)),
        (float(x0), float(y0 + h)),
    ]
    out = apply_privacy_masks(img, [rect])
    expected = np.zeros((64, 64), bool)
    expected[y0 : y0 + h + 1, x0 : x0 + w + 1] = True  # edges included: masks err on the safe side
    assert np.array_equal(np.any(out.reshape(64, 64, -1) == 0, axis=2), expected)
    assert np.all(img == fill)


def test_blank_rejects_a_mask_of_another_size(frame: Frame) -> None:
    with pytest.raises(ValueError, match="does not match"):
        blank(frame, np.zeros((10, 10), bool))


def test_no_polygons_means_an_identical_copy(frame: Frame) -> None:
    out = apply_privacy_masks(frame, [])
    assert np.array_equal(out, frame) and out is not frame


# --------------------------------------------------------------------------- snapshot blurring


def test_blurred_people_lose_over_90_percent_of_their_high_frequency_energy(frame: Frame) -> None:
    out = blur_boxes(frame, [Box(*p) for p in PEOPLE])
    for person in PEOPLE:
        before, after = laplacian_var(grey_patch(frame, person)), laplacian_var(grey_patch(out, person))
        assert after < 0.1 * before, (person, before, after)


def test_blurred_detail_is_uncorrelated_with_the_original_person(frame: Frame) -> None:
    out = blur_boxes(frame, [Box(*p) for p in PEOPLE])
    for person in PEOPLE:
        a, b = detail(grey_patch(frame, person)), detail(grey_patch(out, person))
        assert abs(float(np.corrcoef(a.ravel(), b.ravel())[0, 1])) < 0.2


def test_jpeg_snapshot_region_differs_strongly_from_the_original(frame: Frame) -> None:
    out = blur_boxes(frame, [Box(*p) for p in PEOPLE])

    def jpeg(img: Frame) -> Frame:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        return np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), dtype=np.uint8)

    sent, reference = jpeg(out), jpeg(frame)
    for person in PEOPLE:
        x0, y0, x1, y1 = (int(v) for v in person)
        codec_error = np.abs(reference[y0:y1, x0:x1].astype(int) - frame[y0:y1, x0:x1].astype(int)).mean()
        change = np.abs(sent[y0:y1, x0:x1].astype(int) - reference[y0:y1, x0:x1].astype(int)).mean()
        assert change > 5.0 * codec_error, (person, change, codec_error)
        ok_a, crop_orig = cv2.imencode(".jpg", frame[y0:y1, x0:x1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        ok_b, crop_blur = cv2.imencode(".jpg", out[y0:y1, x0:x1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok_a and ok_b
        assert len(crop_blur) < 0.6 * len(crop_orig)  # far less information left to encode


def test_blur_leaves_the_rest_of_the_frame_and_the_input_untouched(frame: Frame) -> None:
    before = frame.copy()
    out = blur_boxes(frame, [Box(*p) for p in PEOPLE], margin=0.1)
    assert np.array_equal(frame, before)
    touched = np.zeros(frame.shape[:2], bool)
    for x0, y0, x1, y1 in PEOPLE:
        mx, my = (x1 - x0) * 0.1, (y1 - y0) * 0.1
        touched[int(y0 - my) : int(np.ceil(y1 + my)), int(x0 - mx) : int(np.ceil(x1 + mx))] = True
    assert np.array_equal(out[~touched], frame[~touched])
    assert not np.array_equal(out[touched], frame[touched])


def test_blur_clips_boxes_at_the_frame_edge_and_skips_empty_ones(frame: Frame) -> None:
    out = blur_boxes(frame, [Box(-30.0, 500.0, 40.0, 620.0), Box(100.0, 100.0, 100.0, 150.0)])
    assert out.shape == frame.shape
    assert not np.array_equal(out[500:576, 0:40], frame[500:576, 0:40])
    assert np.array_equal(out[:, 60:], frame[:, 60:])


def test_blur_works_on_grey_frames() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (120, 160), dtype=np.uint8)
    out = blur_boxes(img, [Box(40.0, 20.0, 80.0, 100.0)])
    assert out.shape == img.shape
    patch = (40.0, 20.0, 80.0, 100.0)
    x0, y0, x1, y1 = (int(v) for v in patch)
    before = laplacian_var(img[y0:y1, x0:x1].astype(np.float64))
    after = laplacian_var(out[y0:y1, x0:x1].astype(np.float64))
    assert after < 0.1 * before
