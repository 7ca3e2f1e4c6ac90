"""Ultralytics YOLO (v8, v11) detection models exported to ONNX with ``format="onnx"`` (no ``nms=True``).

These exports end with one output ``[1, 4 + nc, N]``: per anchor, the box centre and size in input pixels,
then ``nc`` class scores (sigmoid applied, no objectness). Pre-processing follows Ultralytics' ``LetterBox``:
RGB, ``x / 255``, aspect kept, padding split evenly with grey 114; a manifest can ask for the padding at the
bottom/right instead, for models trained or exported that way.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from .family import Candidates, OnnxDetector
from .manifest import ModelManifest, Shape
from .preprocess import FloatArray, InputTensor, Letterbox
from .session import ModelSession


class YoloManifest(ModelManifest):
    """Manifest of an Ultralytics YOLO detection export.

    Example::

        {"file": "yolo11n.onnx", "sha256": "…", "family": "yolo", "input_name": "images",
         "input_size": [640, 640], "colour_order": "RGB", "scale": 0.00392156862745098,
         "output_name": "output0", "class_names": ["person", "bicycle", …]}

    Attributes:
        output_name: The single ``[1, 4 + nc, N]`` output (``output0`` in Ultralytics exports).
        scale: Pixel multiplier, ``1/255`` for Ultralytics.
        pad: ``center`` (Ultralytics) or ``corner`` (bottom/right).
        pad_value: Grey level of the padding; Ultralytics trains with 114.
    """

    family: Literal["yolo"]
    output_name: str = Field(min_length=1)
    scale: float = Field(gt=0)
    pad: Literal["center", "corner"] = "center"
    pad_value: Annotated[int, Field(ge=0, le=255)] = 114

    def expected_outputs(self) -> dict[str, Shape]:
        """``[1, 4 + nc, N]``; ``N`` depends on the input size and head, so it is not pinned."""
        return {self.output_name: (1, 4 + len(self.class_names), None)}


class Yolo(OnnxDetector[YoloManifest]):
    """YOLO v8/v11 decoder: best class per anchor (Ultralytics' default, not multi-label), per-class NMS."""

    manifest_model = YoloManifest
    default_score_threshold = 0.25  # Ultralytics predict default (conf)
    default_iou_threshold = 0.7  # Ultralytics predict default (iou)

    def __init__(
        self,
        manifest: YoloManifest,
        session: ModelSession,
        *,
        score_threshold: float | None = None,
        iou_threshold: float | None = None,
        max_detections: int = 300,
    ) -> None:
        """Validate the model against the manifest and build the input tables.

        Raises:
            DetectorError: See :class:`~.family.OnnxDetector`.
        """
        super().__init__(
            manifest,
            session,
            score_threshold=score_threshold,
            iou_threshold=iou_threshold,
            max_detections=max_detections,
        )
        self._tensor = InputTensor(
            manifest.input_size, centre=manifest.pad == "center", pad_value=manifest.pad_value,
            mean=(0.0, 0.0, 0.0), scale=(manifest.scale,) * 3, swap_rb=manifest.colour_order == "RGB",
        )

    def _preprocess(self, frame_bgr: NDArray[np.uint8]) -> tuple[FloatArray, Letterbox]:
        return self._tensor(frame_bgr)

    def _decode(self, outputs: list[FloatArray]) -> Candidates:
        return decode_yolo(outputs[0][0], self.score_threshold)


def decode_yolo(prediction: FloatArray, score_threshold: float) -> Candidates:
    """Candidates of one image from an Ultralytics detection output, before NMS.

    Args:
        prediction: ``[4 + nc, N]``: per anchor (column) ``cx, cy, w, h`` in input pixels, then ``nc`` class
            scores (sigmoid already applied, no objectness column).
        score_threshold: Minimum score of an anchor's best class; an anchor yields at most one candidate.

    Returns:
        Boxes ``x0, y0, x1, y1`` in input pixels, their best-class scores and class ids, in anchor order.
    """
    class_scores = prediction[4:]
    class_ids = class_scores.argmax(axis=0)
    scores = np.take_along_axis(class_scores, class_ids[np.newaxis], axis=0)[0]
    keep = scores >= score_threshold
    cx, cy, w, h = prediction[:4, keep]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return Candidates(boxes.astype(np.float32), scores[keep].astype(np.float32), class_ids[keep].astype(np.intp))
