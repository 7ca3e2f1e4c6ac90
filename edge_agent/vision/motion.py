"""Motion gate: decide cheaply, on a small grey frame, whether the detector needs to run.

Background model: an exponential running average (``cv2.accumulateWeighted``), not MOG2.
The reason is lighting. Our own street lamp dims and brightens the scene it films; a
background that is a plain image can be *rescaled* by the measured gain in one
multiplication and stays valid, whereas MOG2's per-pixel Gaussian mixtures cannot be
rescaled and would have to be thrown away (and warmed up again) at every lamp step. The
average is also deterministic, has two parameters, and costs microseconds at 160x120 (the
whole gate is ~0.6 ms per 768x576 frame right after an inference, mostly colour conversion and resize). What MOG2
does better (multi-modal backgrounds: swaying trees, flicker) matters less here, and the
periodic re-check covers what the gate misses.

Gain compensation runs on every frame: the gain is the median of the per-pixel ratio
frame/background (median, not mean, so that a bus filling a third of the frame does not
pass for a lighting change), the background is multiplied by it (and clipped at 255, as
the sensor clips) before differencing. A uniform brightness step then leaves almost no
residual and is no motion. A step larger than ``brightness_jump`` that *does* leave a large
residual (a lamp lighting only part of the scene, or a real object at that very moment)
is reported once and the background is reset to the frame, so a lamp step can flag at
most one frame instead of a storm lasting the background's time constant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

GreyF = npt.NDArray[np.float32]
Mask = npt.NDArray[np.uint8]
#: A region in source pixels: ``x0, y0, x1, y1`` (exclusive right/bottom).
Region = tuple[int, int, int, int]

_DARK = 10.0  # background levels below this carry no gain information (noise, black)
_SATURATED = 245.0  # nor do levels near the sensor's clip


@dataclass(frozen=True)
class MotionConfig:
    """Motion gate settings.

    Attributes:
        width: Width of the analysis frame; height follows the aspect ratio.
        blur_ksize: Gaussian blur kernel (odd) applied to the small frame against sensor
            and compression noise.
        pixel_threshold: Grey-level difference from the background that marks a pixel moving.
        motion_ratio: Fraction of moving pixels above which the frame has motion.
        background_tau_s: Time constant of the running-average background; a stopped object
            fades into it after a few ``tau``.
        brightness_jump: Relative gain change (``|g - 1|``) that counts as a lighting step.
        refresh_s: Maximum time between detector runs without motion, so stationary
            objects are refreshed and tracks do not starve.
        min_region_px: Smallest connected region (in analysis pixels) reported.
    """

    width: int = 160
    blur_ksize: int = 5
    pixel_threshold: float = 20.0
    motion_ratio: float = 0.001
    background_tau_s: float = 2.0
    brightness_jump: float = 0.1
    refresh_s: float = 5.0
    min_region_px: int = 6

    def __post_init__(self) -> None:
        if self.width < 16:
            raise ValueError("width must be >= 16")
        if self.blur_ksize < 1 or self.blur_ksize % 2 == 0:
            raise ValueError("blur_ksize must be a positive odd number")
        if self.background_tau_s <= 0.0 or self.refresh_s <= 0.0:
            raise ValueError("background_tau_s and refresh_s must be > 0")


@dataclass(frozen=True)
class MotionResult:
    """What the gate saw in one frame.

    Attributes:
        mask: Moving pixels (255) in the analysis frame.
        ratio: Fraction of moving pixels.
        regions: Bounding boxes of moving blobs, in source pixels.
        motion: ``ratio`` above the configured threshold.
        gain: Measured brightness ratio frame/background.
        lighting_change: The frame was a global brightness step (``|gain - 1|`` too large).
    """

    mask: Mask
    ratio: float
    regions: tuple[Region, ...]
    motion: bool
    gain: float
    lighting_change: bool


def _integer_factor(w: int, h: int, width: int) -> int:
    """Largest whole factor dividing both sides that keeps the analysis at least ``width`` wide."""
    for k in range(max(1, w // width), 1, -1):
        if w % k == 0 and h % k == 0:
            return k
    return 1


def to_small_grey(frame: npt.NDArray[np.uint8], width: int, blur_ksize: int) -> GreyF:
    """Grey, downscaled (area interpolation) and blurred copy of a BGR or grey frame, as float32.

    A whole factor that is a power of two (4 for 768x576 and 640x480, 8 for 1280x720) is done as
    successive halvings: OpenCV averages 2x2 blocks of a grey image in SIMD, and two such passes cost about a seventh of
    one generic 4x4 area pass (~0.02 against ~0.15 ms at 768x576). Each pass rounds, so a level can differ from
    the single 4x4 average by one grey level (20 make a moving pixel).
    """
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    h, w = grey.shape[:2]
    factor = _integer_factor(w, h, width)
    if factor > 1 and factor & (factor - 1) == 0:
        small = grey
        while factor > 1:
            h, w, factor = h // 2, w // 2, factor // 2
            small = cv2.resize(small, (w, h), interpolation=cv2.INTER_AREA)
    elif factor > 1:  # area averaging by a whole factor is ~4x cheaper than by a fractional one
        small = cv2.resize(grey, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    else:
        height = max(1, round(h * width / w))
        small = cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)
    if blur_ksize > 1:
        small = cv2.GaussianBlur(small, (blur_ksize, blur_ksize), 0)
    return np.asarray(small, dtype=np.float32)


def estimate_gain(frame: GreyF, background: GreyF) -> float:
    """Median of the per-pixel ratio frame/background over informative pixels; ``1.0`` if none.

    Dark and saturated background pixels are left out: their ratio is noise or clipped. One
    pixel in four (every other row and column) is plenty for a median of a global change and
    makes it four times cheaper.
    """
    frame, background = frame[::2, ::2], background[::2, ::2]
    ok = (background > _DARK) & (background < _SATURATED)
    if int(np.count_nonzero(ok)) < 16:
        return 1.0
    return _median(frame[ok] / background[ok])


def _median(values: GreyF) -> float:
    """``np.median`` of finite float32 values, partitioning them in place (they are a temporary).

    The same float: the middle value, or the float32 mean of the two middle ones, as ``np.median`` computes
    it. Done by hand because ``np.median`` spends more in its dozen Python-level steps (NaN check,
    reductions) than the partition itself, and these steps run cold on every frame, between inferences.

    Both middle positions are asked for whatever the parity: NumPy partitions around a single position with
    a selection that is ~10x slower on these ratios (a few hundred distinct values among thousands) than
    around two (~180 against ~14 us for 6,896 values), and every position asked for is in sorted place.
    """
    half = values.size // 2
    values.partition((half - 1, half))
    if values.size % 2:
        return float(values[half])
    pair: GreyF = values[half - 1:half + 1]
    return float(np.float32(pair[0] + pair[1]) / np.float32(2.0))


def rescaled(background: GreyF, gain: float) -> GreyF:
    """The background as the sensor would see it at ``gain``: multiplied, and clipped at 255 as it clips."""
    out: GreyF = np.minimum(background * np.float32(gain), np.float32(255.0))
    return out


def motion_mask(frame: GreyF, background: GreyF, gain: float, pixel_threshold: float) -> Mask:
    """Pixels that differ from the gain-compensated background, cleaned of isolated specks."""
    return _differs(frame, rescaled(background, gain), background, pixel_threshold)


def _differs(frame: GreyF, expected: GreyF, background: GreyF, pixel_threshold: float) -> Mask:
    """:func:`motion_mask` given the rescaled background, which the gate goes on to reuse as its next background."""
    diff = frame - expected
    moving = np.abs(diff) > pixel_threshold
    # A saturated background pixel only says "at least this bright": after dimming, a
    # frame brighter than the prediction is consistent with it, only darker is change.
    # Such pixels are rare, so they are redone apart rather than through a where() over the whole frame.
    clipped = background >= _SATURATED
    if clipped.any():
        moving[clipped] = -diff[clipped] > pixel_threshold
    mask: Mask = moving.view(np.uint8) * np.uint8(255)
    return mask


_KERNEL = np.ones((3, 3), np.uint8)  # 3x3 dilation: joins blobs one pixel apart


def motion_regions(mask: Mask, scale: float, min_px: int) -> tuple[Region, ...]:
    """Bounding boxes of the mask's connected blobs, scaled by ``scale`` to source pixels."""
    merged = cv2.dilate(mask, _KERNEL)
    # 16-bit labels when they cannot overflow (8-connected blobs are at least a pixel apart, so there are at
    # most a quarter as many as pixels): OpenCV then labels sequentially, ~3x faster at 192x144 than the
    # parallel labelling it uses for 32-bit labels, with the same statistics.
    height, width = merged.shape
    ltype = cv2.CV_16U if ((height + 1) // 2) * ((width + 1) // 2) < 65_535 else cv2.CV_32S
    _, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(merged, 8, ltype, cv2.CCL_DEFAULT)
    blobs = stats[1:][stats[1:, cv2.CC_STAT_AREA] >= min_px].astype(np.float64)
    x, y, w, h = blobs[:, 0], blobs[:, 1], blobs[:, 2], blobs[:, 3]
    # The same float products as x * scale on Python numbers, floored and ceiled as a whole.
    boxes = np.stack([np.floor(x * scale), np.floor(y * scale), np.ceil((x + w) * scale), np.ceil((y + h) * scale)],
                     axis=1).astype(np.int64)
    return tuple((x0, y0, x1, y1) for x0, y0, x1, y1 in boxes.tolist())


def due(motion: bool, t: float, last_run: float | None, refresh_s: float) -> bool:
    """Whether the detector should run now: on motion, or if it has not run for ``refresh_s``."""
    return motion or last_run is None or t - last_run >= refresh_s


class MotionGate:
    """The stateful part: the background, its time, and when the detector last ran."""

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        self._bg: GreyF | None = None
        self._t: float | None = None
        self._last: MotionResult | None = None
        self._last_run: float | None = None

    def update(self, frame: npt.NDArray[np.uint8], t: float) -> MotionResult:
        """Compare one source frame (BGR or grey ``uint8``) taken at ``t`` with the background."""
        cfg = self.config
        small = to_small_grey(frame, cfg.width, cfg.blur_ksize)
        scale = frame.shape[1] / small.shape[1]
        if self._bg is None or self._bg.shape != small.shape:
            self._bg, self._t = small.copy(), t
            result = MotionResult(np.zeros(small.shape, np.uint8), 0.0, (), False, 1.0, False)
            self._last = result
            return result

        gain = estimate_gain(small, self._bg)
        expected = rescaled(self._bg, gain)
        mask = _differs(small, expected, self._bg, cfg.pixel_threshold)
        ratio = float(np.count_nonzero(mask)) / mask.size
        motion = ratio > cfg.motion_ratio
        lighting = abs(gain - 1.0) > cfg.brightness_jump

        if lighting and motion:
            # Not explained by a uniform gain: report this frame, then start afresh so the
            # next frames compare against the new lighting.
            self._bg = small.copy()
        else:
            # The rescaled background the mask was computed against, updated in place (the mask is its own array).
            dt = 0.0 if self._t is None else max(0.0, t - self._t)
            alpha = 1.0 - math.exp(-dt / cfg.background_tau_s)
            cv2.accumulateWeighted(small, expected, alpha)
            self._bg = expected
        self._t = t

        result = MotionResult(mask, ratio, motion_regions(mask, scale, cfg.min_region_px), motion, gain, lighting)
        self._last = result
        return result

    def should_detect(self, t: float) -> bool:
        """Whether to run the detector on the frame last given to :meth:`update`.

        Returning ``True`` records ``t`` as the detector's last run: the caller is expected
        to run it. Motion always says yes; without motion, yes every ``refresh_s``.
        """
        motion = self._last is not None and self._last.motion
        run = due(motion, t, self._last_run, self.config.refresh_s)
        if run:
            self._last_run = t
        return run
