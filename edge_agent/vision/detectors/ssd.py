"""SSD detectors of the TensorFlow Object Detection API, exported up to (not including) their NMS.

A frozen TF Object Detection API SSD graph ends with ``Postprocessor/BatchMultiClassNonMaxSuppression``; the
tensors just before it are already decoded against the anchors and are what the ONNX export keeps:

* boxes ``[1, N, 4]``: ``ymin, xmin, ymax, xmax`` as fractions of the model input (the API's box order);
* scores ``[1, N, 1 + nc]``: sigmoid scores, column 0 the background class, column ``c + 1`` class ``c``.

Cutting the graph there leaves out its TensorArray/while-loop pre-processing and NMS, which convert badly, and
puts thresholds and NMS in :class:`~.family.OnnxDetector`, as for every family. ``models/convert_ssdlite.sh``
does the cut for the committed person model.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, model_validator

from .family import Candidates, OnnxDetector
from .manifest import ModelManifest, Shape
from .preprocess import FloatArray, InputTensor, Letterbox
from .session import ModelSession

PositiveFloat = Annotated[float, Field(gt=0)]


class SsdManifest(ModelManifest):
    """Manifest of a TF Object Detection API SSD cut before NMS (e.g. ``models/ssdlite-person-300.manifest.json``).

    Attributes:
        boxes_output: The ``[1, N, 4]`` decoded boxes (``ymin, xmin, ymax, xmax``, fractions of the input).
        scores_output: The ``[1, N, 1 + nc]`` scores, background first.
        mean: Per-channel value subtracted from pixels, in the model's channel order (127.5 for ``2x/255 - 1``).
        scale: Per-channel multiplier applied after the mean (``1/127.5``).
        resize: ``stretch`` (the API's ``fixed_shape_resizer``: the frame fills the input, aspect not kept) or
            ``letterbox`` (aspect kept, padding at the bottom/right with ``pad_value``).
        pad_value: Grey level of the padding when letterboxing.
    """

    family: Literal["ssd"]
    boxes_output: str = Field(min_length=1)
    scores_output: str = Field(min_length=1)
    mean: tuple[float, float, float]
    scale: tuple[PositiveFloat, PositiveFloat, PositiveFloat]
    resize: Literal["stretch", "letterbox"] = "stretch"
    pad_value: Annotated[int, Field(ge=0, le=255)] = 0

    @model_validator(mode="after")
    def _two_outputs(self) -> Self:
        if self.boxes_output == self.scores_output:
            raise ValueError(f"boxes_output and scores_output are both {self.boxes_output!r}")
        return self

    def expected_outputs(self) -> dict[str, Shape]:
        """Boxes ``[1, N, 4]`` then scores ``[1, N, 1 + nc]``; ``N`` (the anchors) is not pinned."""
        return {self.boxes_output: (1, None, 4), self.scores_output: (1, None, 1 + len(self.class_names))}


def decode_ssd(
    boxes: FloatArray, scores: FloatArray, score_threshold: float, input_size: tuple[int, int]
) -> Candidates:
    """Candidates of one image from the pre-NMS outputs of a TF Object Detection API SSD.

    Each anchor keeps its best non-background class (as YOLO's decoder does), if that class reaches
    ``score_threshold``. Boxes go from input fractions in ``y, x`` order to input pixels in ``x, y`` order.

    Args:
        boxes: ``[N, 4]`` ``ymin, xmin, ymax, xmax`` in ``[0, 1]`` (beyond it for boxes past the edge).
        scores: ``[N, 1 + nc]``, column 0 the background.
        score_threshold: Minimum score of the best class.
        input_size: Model input ``(width, height)``.

    Returns:
        Boxes ``x0, y0, x1, y1`` in input pixels, scores, and class ids counted without the background.
    """
    objects = scores[:, 1:]
    class_ids = objects.argmax(axis=1)
    best = np.take_along_axis(objects, class_ids[:, np.newaxis], axis=1)[:, 0]
    keep = np.flatnonzero(best >= score_threshold)
    width, height = input_size
    ymin, xmin, ymax, xmax = boxes[keep].T
    pixels = np.stack([xmin * width, ymin * height, xmax * width, ymax * height], axis=1)
    return Candidates(pixels.astype(np.float32), best[keep].astype(np.float32), class_ids[keep].astype(np.intp))


class Ssd(OnnxDetector[SsdManifest]):
    """TF Object Detection API SSD (e.g. SSDLite MobileNetV2): stretched input, pre-decoded boxes, per-class NMS."""

    manifest_model = SsdManifest
    default_score_threshold = 0.5  # the API's visualisation default (min_score_thresh)
    default_iou_threshold = 0.6  # the API's ssdlite_mobilenet_v2 config (batch_non_max_suppression)

    def __init__(
        self,
        manifest: SsdManifest,
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
            manifest.input_size, centre=False, pad_value=manifest.pad_value, mean=manifest.mean,
            scale=manifest.scale, swap_rb=manifest.colour_order == "RGB", keep_aspect=manifest.resize == "letterbox",
        )

    def _preprocess(self, frame_bgr: NDArray[np.uint8]) -> tuple[FloatArray, Letterbox]:
        return self._tensor(frame_bgr)

    def _decode(self, outputs: list[FloatArray]) -> Candidates:
        return decode_ssd(outputs[0][0], outputs[1][0], self.score_threshold, self.manifest.input_size)
