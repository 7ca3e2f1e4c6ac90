"""The pipeline every ONNX family shares: letterbox, run, decode, NMS, back to source pixels.

A family module only says how to build its input tensor and how to read its outputs into candidate boxes;
thresholds, NMS and the mapping back live here once, so every family behaves the same at the edges.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, NamedTuple, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from .base import Detection
from .errors import DetectorError
from .manifest import ModelManifest
from .nms import batched_nms
from .preprocess import FloatArray, Letterbox
from .session import ModelSession

M = TypeVar("M", bound=ModelManifest)

#: Candidates kept (best first) before NMS: bounds its cost if a threshold is set very low.
MAX_CANDIDATES = 1000


class Candidates(NamedTuple):
    """Decoded boxes above the score threshold, before NMS, in model-input pixels."""

    boxes: FloatArray  # [k, 4] x0, y0, x1, y1
    scores: FloatArray  # [k]
    class_ids: NDArray[np.intp]  # [k]


class OnnxDetector(ABC, Generic[M]):
    """A detector family backed by one ONNX model; subclasses implement :meth:`_preprocess` and :meth:`_decode`.

    Attributes:
        manifest_model: The family's manifest class, used by the registry to validate a manifest.
        default_score_threshold: Used when the caller gives none; tuned per family upstream.
        default_iou_threshold: Same, for NMS.
    """

    manifest_model: ClassVar[type[ModelManifest]]
    default_score_threshold: ClassVar[float]
    default_iou_threshold: ClassVar[float]

    def __init__(
        self,
        manifest: M,
        session: ModelSession,
        *,
        score_threshold: float | None = None,
        iou_threshold: float | None = None,
        max_detections: int = 300,
    ) -> None:
        """Bind a validated manifest to its session, checking that they describe the same graph.

        Raises:
            DetectorError: The graph's inputs/outputs differ from the manifest's, or a threshold is out of range.
        """
        session.check_io(manifest.expected_inputs(), manifest.expected_outputs())
        self.score_threshold = self.default_score_threshold if score_threshold is None else score_threshold
        self.iou_threshold = self.default_iou_threshold if iou_threshold is None else iou_threshold
        for name, value in (("score_threshold", self.score_threshold), ("iou_threshold", self.iou_threshold)):
            if not 0.0 < value <= 1.0:
                raise DetectorError(f"{name} must be in (0, 1], got {value}")
        if max_detections < 1:
            raise DetectorError(f"max_detections must be >= 1, got {max_detections}")
        self.max_detections = max_detections
        names = manifest.class_names
        #: Per class id: the score to reach, the manifest's calibrated one if higher than the caller's floor.
        self.class_thresholds: FloatArray = np.array(
            [max(self.score_threshold, manifest.score_thresholds.get(name, 0.0)) for name in names], np.float32
        )
        group_of = {name: group[0] for group in manifest.suppress_across for name in group}
        #: Per class id: the class id NMS sees, shared by the classes of one ``suppress_across`` group.
        self.nms_class: NDArray[np.intp] = np.array([names.index(group_of.get(name, name)) for name in names])
        self.manifest = manifest
        self.session = session
        self._output_names = tuple(manifest.expected_outputs())

    @property
    def class_names(self) -> tuple[str, ...]:
        """Labels indexed by ``Detection.class_id``, from the manifest."""
        return self.manifest.class_names

    @property
    def input_size(self) -> tuple[int, int]:
        """Model input ``(width, height)``, from the manifest."""
        return self.manifest.input_size

    def detect(self, frame_bgr: NDArray[np.uint8]) -> list[Detection]:
        """Detect objects in one BGR frame; boxes in its pixels, best score first.

        Raises:
            DetectorError: The frame is not ``HxWx3`` ``uint8``.
        """
        return self.detect_prepared(self.prepare(frame_bgr))

    def prepare(self, frame_bgr: NDArray[np.uint8]) -> tuple[FloatArray, Letterbox]:
        """Letterbox and tensor of one frame: the part of :meth:`detect` before inference."""
        return self._preprocess(frame_bgr)

    def detect_prepared(self, prepared: object) -> list[Detection]:
        """Inference, decoding and NMS of a frame prepared by :meth:`prepare`."""
        blob, placement = cast(tuple[FloatArray, Letterbox], prepared)
        outputs = self.session.run(self._output_names, {self.manifest.input_name: blob})
        return self._postprocess(self._decode(outputs), placement)

    def _postprocess(self, found: Candidates, placement: Letterbox) -> list[Detection]:
        boxes, scores, class_ids = found
        passed = scores >= self.class_thresholds[class_ids]  # decoding used the floor, the lowest of them
        if not passed.all():
            boxes, scores, class_ids = boxes[passed], scores[passed], class_ids[passed]
        if scores.shape[0] > MAX_CANDIDATES:
            top = np.argpartition(-scores, MAX_CANDIDATES)[:MAX_CANDIDATES]
            boxes, scores, class_ids = boxes[top], scores[top], class_ids[top]
        keep = batched_nms(boxes, scores, self.nms_class[class_ids], self.iou_threshold)[: self.max_detections]
        source_boxes = placement.to_source(boxes[keep])
        names = self.class_names
        # tolist() gives Python floats and ints in one call, not one numpy scalar per value and field.
        return [
            Detection(x0, y0, x1, y1, score, cid, names[cid])
            for (x0, y0, x1, y1), score, cid in zip(
                source_boxes.tolist(), scores[keep].tolist(), class_ids[keep].tolist(), strict=True
            )
        ]

    @abstractmethod
    def _preprocess(self, frame_bgr: NDArray[np.uint8]) -> tuple[FloatArray, Letterbox]:
        """Build the ``[1, 3, H, W]`` input tensor and record the letterbox placement."""

    @abstractmethod
    def _decode(self, outputs: list[FloatArray]) -> Candidates:
        """Turn the raw outputs (in ``expected_outputs`` order) into candidates above ``score_threshold``."""
