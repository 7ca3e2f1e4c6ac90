"""Per-class non-maximum suppression, vectorised over boxes.

Written in numpy rather than ``cv2.dnn.NMSBoxesBatched`` so that the rule (IoU strictly above the threshold
suppresses, ties broken by input order) is ours, the same on every OpenCV build, and testable on its own.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def batched_nms(
    boxes: NDArray[np.float32], scores: NDArray[np.float32], class_ids: NDArray[np.intp], iou_threshold: float
) -> NDArray[np.intp]:
    """Greedy NMS within each class; boxes of different classes never suppress each other.

    Each class is shifted to its own region of the plane (the ``torchvision.ops.batched_nms`` trick), so one
    greedy pass handles all classes. The Python loop runs once per candidate above the score threshold (or once
    per *kept* box past :data:`_MATRIX_MAX` candidates), never per anchor.

    Args:
        boxes: ``[k, 4]`` ``x0, y0, x1, y1``.
        scores: ``[k]``.
        class_ids: ``[k]``.
        iou_threshold: A box whose IoU with a higher-scored box of its class exceeds this is dropped.

    Returns:
        Indices of the kept boxes, highest score first.
    """
    if boxes.shape[0] == 0:
        return np.empty(0, dtype=np.intp)
    coords = boxes.astype(np.float64)  # float64: class offsets must not eat the sub-pixel precision
    span = float(coords.max() - coords.min()) + 1.0
    coords = coords - coords.min() + class_ids.astype(np.float64)[:, np.newaxis] * span
    order = np.argsort(-scores, kind="stable")
    if order.size <= _MATRIX_MAX:
        return _greedy_on_matrix(coords[order], order, iou_threshold)
    x0, y0, x1, y1 = coords.T
    areas = np.maximum(x1 - x0, 0.0) * np.maximum(y1 - y0, 0.0)
    keep: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        keep.append(best)
        inter_w = np.maximum(np.minimum(x1[best], x1[rest]) - np.maximum(x0[best], x0[rest]), 0.0)
        inter_h = np.maximum(np.minimum(y1[best], y1[rest]) - np.maximum(y0[best], y0[rest]), 0.0)
        inter = inter_w * inter_h
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)


#: Up to this many boxes, every pairwise IoU is computed at once (a 256x256 float64 matrix is 0.5 MB).
_MATRIX_MAX = 256


def _greedy_on_matrix(coords: NDArray[np.float64], order: NDArray[np.intp], iou_threshold: float) -> NDArray[np.intp]:
    """The greedy pass of :func:`batched_nms` with all IoUs computed up front, ``coords`` sorted best first.

    A typical frame has tens of candidates and keeps about ten: one vectorised ``[k, k]`` IoU and a loop over
    booleans cost a fraction of the ~10 numpy calls per kept box of the loop above. The IoU of a pair is the
    same float expression, operand for operand, as there (``min``/``max`` and the sum of the two areas are
    symmetric), so both paths keep the same boxes, ties and NaNs included.
    """
    x0, y0, x1, y1 = coords.T
    areas = np.maximum(x1 - x0, 0.0) * np.maximum(y1 - y0, 0.0)
    inter_w = np.maximum(np.minimum(x1[:, None], x1[None, :]) - np.maximum(x0[:, None], x0[None, :]), 0.0)
    inter_h = np.maximum(np.minimum(y1[:, None], y1[None, :]) - np.maximum(y0[:, None], y0[None, :]), 0.0)
    inter = inter_w * inter_h
    iou = inter / np.maximum(areas[:, None] + areas[None, :] - inter, 1e-9)
    suppresses = ~(iou <= iou_threshold)  # row i: the boxes that box i removes if it is kept
    removed = np.zeros(order.size, dtype=np.bool_)
    keep: list[int] = []
    for i in range(order.size):
        if removed[i]:
            continue
        keep.append(i)
        removed |= suppresses[i]
    return order[np.asarray(keep, dtype=np.intp)]
