"""NanoDet-g (COCO-80) as converted to ONNX from the TF.js graph: see ``models/NOTICE.md``.

The graph stops before post-processing: per stride it outputs class scores (sigmoid applied) and, per box
side, logits over ``reg_max + 1`` distance bins (generalised focal loss). Decoding is a softmax over the bins
and its expectation, times the stride, measured from the cell centre. Everything below is vectorised over
anchors; the per-frame Python work is proportional to the few candidates above the threshold.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .family import Candidates, OnnxDetector
from .manifest import ModelManifest, PositiveInt, Shape
from .preprocess import FloatArray, InputTensor, Letterbox
from .session import ModelSession

PositiveFloat = Annotated[float, Field(gt=0)]


class NanoDetOutputs(BaseModel):
    """Output tensor names of one stride, as the converted graph calls them (``Identity_3:0``...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scores: str = Field(min_length=1)
    boxes: str = Field(min_length=1)


class NanoDetManifest(ModelManifest):
    """Manifest of a NanoDet model (e.g. ``models/nanodet-g-416.manifest.json``).

    Attributes:
        mean: Per-channel mean subtracted from pixels, in the model's channel order.
        std: Per-channel divisor applied after the mean.
        strides: Feature-map strides, in input pixels.
        reg_max: Largest distance bin; a box side has ``reg_max + 1`` logits.
        outputs: Per stride (as a string key, JSON has no integer keys), the names of its two outputs.
    """

    family: Literal["nanodet"]
    mean: tuple[float, float, float]
    std: tuple[PositiveFloat, PositiveFloat, PositiveFloat]
    strides: tuple[PositiveInt, ...] = Field(min_length=1)
    reg_max: PositiveInt
    outputs: dict[str, NanoDetOutputs]

    @model_validator(mode="after")
    def _strides_match(self) -> Self:
        width, height = self.input_size
        if len(set(self.strides)) != len(self.strides):
            raise ValueError(f"strides {list(self.strides)} repeat a value")
        if set(self.outputs) != {str(stride) for stride in self.strides}:
            raise ValueError(f"outputs keys {sorted(self.outputs)} must be exactly the strides {list(self.strides)}")
        names = [name for out in self.outputs.values() for name in (out.scores, out.boxes)]
        if len(set(names)) != len(names):
            raise ValueError(f"output names {names} repeat a name")
        for stride in self.strides:
            if width % stride or height % stride:
                raise ValueError(f"input_size {width}x{height} is not a multiple of stride {stride}")
        return self

    def expected_outputs(self) -> dict[str, Shape]:
        """Scores ``[1, N, classes]`` then boxes ``[1, N, 4·(reg_max+1)]`` per stride, ``N`` = grid cells."""
        width, height = self.input_size
        shapes: dict[str, Shape] = {}
        for stride in self.strides:
            cells = (width // stride) * (height // stride)
            names = self.outputs[str(stride)]
            shapes[names.scores] = (1, cells, len(self.class_names))
            shapes[names.boxes] = (1, cells, 4 * (self.reg_max + 1))
        return shapes


class NanoDet(OnnxDetector[NanoDetManifest]):
    """NanoDet decoder: bottom/right zero-padded letterbox, mean/std, GFL box decoding, per-class NMS.

    Per-class NMS is applied to every (anchor, class) pair above the threshold, as upstream NanoDet does, so
    one anchor can yield e.g. both ``car`` and ``truck`` for a van; the pipeline decides what to keep.
    """

    manifest_model = NanoDetManifest
    default_score_threshold = 0.35  # upstream NanoDet demo value
    default_iou_threshold = 0.6  # upstream NanoDet test_cfg

    def __init__(
        self,
        manifest: NanoDetManifest,
        session: ModelSession,
        *,
        score_threshold: float | None = None,
        iou_threshold: float | None = None,
        max_detections: int = 300,
    ) -> None:
        """Validate the model against the manifest and precompute the anchor grid.

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
        width, height = manifest.input_size
        centres, strides = [], []
        for stride in manifest.strides:
            cols, rows = width // stride, height // stride
            ys, xs = np.divmod(np.arange(rows * cols), cols)  # row-major: index = y * cols + x
            centres.append(np.stack([(xs + 0.5) * stride, (ys + 0.5) * stride], axis=1))
            strides.append(np.full(rows * cols, stride))
        self._centres: FloatArray = np.concatenate(centres).astype(np.float32)  # [N, 2] input pixels
        self._strides: FloatArray = np.concatenate(strides).astype(np.float32)  # [N]
        self._offsets = np.cumsum([0] + [len(c) for c in centres[:-1]])  # first anchor of each level
        self._bins: FloatArray = np.arange(manifest.reg_max + 1, dtype=np.float32)
        std = manifest.std
        self._tensor = InputTensor(
            manifest.input_size, centre=False, pad_value=0, mean=manifest.mean,
            scale=(1.0 / std[0], 1.0 / std[1], 1.0 / std[2]), swap_rb=manifest.colour_order == "RGB",
        )

    def _preprocess(self, frame_bgr: NDArray[np.uint8]) -> tuple[FloatArray, Letterbox]:
        return self._tensor(frame_bgr)

    def _decode(self, outputs: list[FloatArray]) -> Candidates:
        anchors, class_ids, scores, logits = [], [], [], []
        for level, offset in enumerate(self._offsets):
            level_scores, level_boxes = outputs[2 * level][0], outputs[2 * level + 1][0]
            # One comparison over the flat [N * classes] scores, then the few hits split into anchor and class:
            # same pairs in the same (anchor, then class) order as np.nonzero on [N, classes], and about 3x
            # cheaper than first taking each anchor's best class (a reduction along 80 floats per anchor).
            anchor, cls = np.divmod(np.flatnonzero(level_scores >= self.score_threshold), level_scores.shape[1])
            anchors.append(anchor + offset)
            class_ids.append(cls)
            scores.append(level_scores[anchor, cls])
            logits.append(level_boxes[anchor])
        anchor = np.concatenate(anchors)
        bins = np.concatenate(logits).reshape(-1, 4, self._bins.shape[0])
        bins = np.exp(bins - bins.max(axis=2, keepdims=True))
        bins /= bins.sum(axis=2, keepdims=True)
        distances = (bins @ self._bins) * self._strides[anchor, np.newaxis]  # [k, 4] left, top, right, bottom
        centres = self._centres[anchor]
        boxes = np.concatenate([centres - distances[:, :2], centres + distances[:, 2:]], axis=1)
        return Candidates(boxes.astype(np.float32), np.concatenate(scores), np.concatenate(class_ids))
