"""What the vision pipeline sees of a detector: a :class:`Detection` value and the :class:`Detector` port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Detection:
    """One object found in one frame, in source-frame pixels.

    This is the pipeline's type, not the wire type: the tracker and the privacy masks need float pixel
    boxes in the frame they were given, while the wire carries compact, versioned, normalised values.
    Keeping the two apart lets either change without touching the other.

    Attributes:
        x0: Left edge, pixels from the left of the source frame, in ``[0, width]``.
        y0: Top edge, pixels from the top of the source frame, in ``[0, height]``.
        x1: Right edge (``>= x0``).
        y1: Bottom edge (``>= y0``).
        score: Detector confidence in ``[0, 1]``.
        class_id: Index into the detector's ``class_names``.
        class_name: The class label, copied here so that consumers need not carry the detector around.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    class_id: int
    class_name: str


@runtime_checkable
class Detector(Protocol):
    """The port between the vision pipeline and a detector family.

    A protocol rather than a base class so that the pipeline, and its tests, can use any object with these
    three members; the ONNX families share their code through :class:`~.family.OnnxDetector` instead.
    """

    @property
    def class_names(self) -> tuple[str, ...]:
        """Labels indexed by ``Detection.class_id``."""
        ...

    @property
    def input_size(self) -> tuple[int, int]:
        """Model input as ``(width, height)``; frames of any size are letterboxed into it."""
        ...

    def detect(self, frame_bgr: NDArray[np.uint8]) -> list[Detection]:
        """Find objects in one ``HxWx3`` BGR ``uint8`` frame (what ``cv2.VideoCapture.read`` returns)."""
        ...

    def prepare(self, frame_bgr: NDArray[np.uint8]) -> object:
        """The CPU work before inference, done apart so it can overlap the previous frame's inference."""
        ...

    def detect_prepared(self, prepared: object) -> list[Detection]:
        """``detect`` for a frame already passed through :meth:`prepare`."""
        ...
