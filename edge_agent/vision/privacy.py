"""Privacy: blank masked areas before detection, pixelate people before a snapshot leaves the box.

Both functions return a new array and never touch their input: the caller may still hold
the raw frame for the motion gate, and an in-place edit would make "what was sent" depend
on call order.

Why pixelation rather than a Gaussian blur for snapshots: a Gaussian blur is a known
linear filter and, at the signal-to-noise ratio of a clean frame, partly invertible
(Wiener deconvolution recovers faces from blurs that look strong). Pixelation keeps only
one mean colour per block; with blocks sized relative to the box (``cells`` blocks along
the box's longer side), a face is one or two blocks whatever the person's distance, and
what is discarded cannot be recovered. The blocks are then rebuilt with bilinear
interpolation rather than as hard squares: same information (only the block means), but
no block edges, which are sharp false detail that an edge-based enhancer would latch on
to. Two resizes per box: cheap, and almost free in a JPEG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from .geometry import BoxLike, Polygon

Image = npt.NDArray[np.uint8]
BoolMask = npt.NDArray[np.bool_]


def polygon_mask(shape: tuple[int, int], polygons: Sequence[Polygon]) -> BoolMask:
    """Boolean ``(height, width)`` mask, True inside any polygon (edges included).

    Build it once per camera configuration and reuse it with :func:`blank`: rasterising
    polygons on every frame is wasted work. Edge pixels count as inside so that a mask
    drawn on a window's frame covers the whole window.
    """
    canvas = np.zeros(shape, dtype=np.uint8)
    if polygons:
        pts = [np.round(np.asarray(p, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2) for p in polygons]
        cv2.fillPoly(canvas, pts, 255)
        cv2.polylines(canvas, pts, isClosed=True, color=255, thickness=1)
    return canvas.astype(bool)


def blank(frame: Image, mask: BoolMask) -> Image:
    """Copy of ``frame`` with every masked pixel set to 0 (all channels)."""
    if mask.shape != frame.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match frame {frame.shape[:2]}")
    out = frame.copy()
    out[mask] = 0
    return out


def apply_privacy_masks(frame: Image, polygons: Sequence[Polygon]) -> Image:
    """One-shot :func:`polygon_mask` + :func:`blank`, for callers with a single frame."""
    return blank(frame, polygon_mask((frame.shape[0], frame.shape[1]), polygons))


def _expand(box: BoxLike, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer box grown by ``margin`` of its size on each side, clipped to the frame."""
    mx = (box.x1 - box.x0) * margin
    my = (box.y1 - box.y0) * margin
    x0 = max(0, math.floor(box.x0 - mx))
    y0 = max(0, math.floor(box.y0 - my))
    x1 = min(width, math.ceil(box.x1 + mx))
    y1 = min(height, math.ceil(box.y1 + my))
    return x0, y0, x1, y1


def blur_boxes(frame: Image, boxes: Sequence[BoxLike], *, cells: int = 8, margin: float = 0.1) -> Image:
    """Copy of ``frame`` with every box pixelated (block means, smoothly rebuilt), for a snapshot.

    Pass every person box (and any other class that identifies someone); this function
    does not filter by class, so a caller cannot forget a class by relying on a default.

    Args:
        frame: ``HxW`` or ``HxWxC`` ``uint8`` image.
        boxes: Boxes in the frame's pixels (``Detection``, ``Track``, anything ``BoxLike``).
        cells: Blocks along the box's longer side; 8 makes a standing person's head about
            one block.
        margin: Growth of each box on every side, as a fraction of its size, because
            detector boxes are tight and hair, hands and bags stick out.
    """
    if cells < 1:
        raise ValueError("cells must be >= 1")
    out = frame.copy()
    height, width = frame.shape[:2]
    for box in boxes:
        x0, y0, x1, y1 = _expand(box, margin, width, height)
        w, h = x1 - x0, y1 - y0
        if w <= 0 or h <= 0:
            continue
        block = max(1.0, max(w, h) / cells)
        small = cv2.resize(
            out[y0:y1, x0:x1],
            (max(1, round(w / block)), max(1, round(h / block))),
            interpolation=cv2.INTER_AREA,
        )
        out[y0:y1, x0:x1] = np.asarray(
            cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8
        ).reshape(out[y0:y1, x0:x1].shape)
    return out
