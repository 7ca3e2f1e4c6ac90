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
    greedy pass handles all classes. The loop runs once per *kept* box, never per anchor.

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
    x0, y0, x1, y1 = coords.T
    areas = np.maximum(x1 - x0, 0.0) * np.maximum(y1 - y0, 0.0)
    order = np.argsort(-scores, kind="stable")
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
