"""Object detectors of the edge agent: ONNX models run locally, one module per family.

Families are listed in :data:`DETECTORS`, explicitly: adding one is a module, a manifest model and a line
here, and ``grep`` finds every family. :func:`load_detector` reads a model manifest, checks the model's bytes
against it and returns a :class:`Detector` ready for frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import Detection, Detector
from .errors import DetectorError
from .family import OnnxDetector
from .manifest import ModelManifest, read_manifest, read_model_bytes, validate_manifest
from .nanodet import NanoDet, NanoDetManifest
from .session import ModelSession
from .ssd import Ssd, SsdManifest
from .yolo import Yolo, YoloManifest

#: Family name (the manifest's ``family``, which names the model's output format) → detector class.
DETECTORS: dict[str, type[OnnxDetector[Any]]] = {"nanodet": NanoDet, "ssd": Ssd, "yolo": Yolo}

__all__ = [
    "DETECTORS",
    "Detection",
    "Detector",
    "DetectorError",
    "NanoDet",
    "NanoDetManifest",
    "Ssd",
    "SsdManifest",
    "Yolo",
    "YoloManifest",
    "check_manifest",
    "load_detector",
]


def _family(path: Path) -> type[OnnxDetector[Any]]:
    """The detector class of the manifest's ``family``, or a precise error."""
    family = read_manifest(path).get("family")
    if not isinstance(family, str) or family not in DETECTORS:
        known = ", ".join(sorted(DETECTORS))
        what = "has no 'family' field" if family is None else f"has unknown family {family!r}"
        raise DetectorError(f"model manifest {path} {what}; known families: {known}")
    return DETECTORS[family]


def check_manifest(manifest_path: str | Path) -> ModelManifest:
    """Validate a manifest and its model file's sha256 without starting ONNX Runtime.

    Used by ``vigie-edge validate``, so a technician learns of a wrong or missing model
    before the box is deployed, not when it starts.
    """
    path = Path(manifest_path)
    manifest = validate_manifest(read_manifest(path), _family(path).manifest_model, path)
    read_model_bytes(manifest, path)
    return manifest


def load_detector(
    manifest_path: str | Path,
    threads: int = 2,
    *,
    score_threshold: float | None = None,
    iou_threshold: float | None = None,
    class_thresholds: bool = True,
    cross_class: bool = True,
    provider: str = "cpu",
) -> Detector:
    """Load the detector a manifest describes, checking everything before the first frame.

    Order matters: the manifest is validated first, then the model's sha256 is checked, and only then does
    ONNX Runtime parse the bytes and the graph's inputs/outputs get compared with the manifest. A box that
    starts has a model that is exactly the one its manifest pins.

    Args:
        manifest_path: ``<name>.manifest.json``; the model file sits next to it.
        threads: ONNX Runtime intra-op threads (inter-op is 1).
        score_threshold: Minimum score; ``None`` for the family's default.
        iou_threshold: NMS IoU above which the lower-scored box of a class is dropped; ``None`` for the default.
        class_thresholds: Apply the manifest's calibrated ``score_thresholds`` (off only to measure the model
            bare, as the evaluation's threshold sweep does).
        cross_class: Apply the manifest's ``suppress_across`` groups (same).
        provider: ONNX Runtime execution provider, ``cpu`` or ``openvino`` (see :class:`ModelSession`).

    Returns:
        A detector whose ``detect`` takes BGR frames of any size.

    Raises:
        DetectorError: Missing or invalid manifest, unknown family, missing model file, sha256 mismatch, a file
            ONNX Runtime cannot load, a graph that does not match the manifest, a bad threshold, or a provider
            this ONNX Runtime build lacks.
    """
    path = Path(manifest_path)
    cls = _family(path)
    manifest = validate_manifest(read_manifest(path), cls.manifest_model, path)
    model_bytes = read_model_bytes(manifest, path)
    if not class_thresholds:
        manifest = manifest.model_copy(update={"score_thresholds": {}})
    if not cross_class:
        manifest = manifest.model_copy(update={"suppress_across": ()})
    session = ModelSession(model_bytes, threads=threads, source=str(path.parent / manifest.file), provider=provider)
    return cls(manifest, session, score_threshold=score_threshold, iou_threshold=iou_threshold)
