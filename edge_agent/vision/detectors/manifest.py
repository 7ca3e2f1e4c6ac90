"""Model manifests: the JSON file that says how to feed and read an ONNX model, and pins its bytes.

A manifest sits next to its ``.onnx`` file (``models/<name>.manifest.json``). Loading is strict and ordered so
that each failure gets its own message: the manifest must exist and validate (``extra="forbid"``: a typo in a
field name is an error, not a silently ignored option), the model file must exist, and its sha256 must match
*before* ONNX Runtime parses a single byte of it.

Families extend :class:`ModelManifest` in their own module, with ``family`` as a literal, as Frigate's detector
plugins do with their config models.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Annotated, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import DetectorError

#: An expected tensor shape; ``None`` where any size is fine (e.g. the number of YOLO anchors).
Shape = tuple[int | None, ...]
PositiveInt = Annotated[int, Field(gt=0)]
Score = Annotated[float, Field(gt=0, le=1)]
M = TypeVar("M", bound="ModelManifest")


class ModelManifest(BaseModel, ABC):
    """Fields every family needs; subclasses add their pre- and post-processing parameters.

    Attributes:
        file: Bare file name of the ONNX model, in the manifest's directory (no paths: a manifest cannot
            point elsewhere on the box).
        sha256: Lower-case hex digest of the file, checked before loading.
        family: Registry key of the decoder.
        input_name: Name of the single image input of the graph.
        input_size: ``(width, height)`` of that input.
        colour_order: Channel order the model was trained on.
        layout: Only ``NCHW`` for now; a field so that an ``NHWC`` export fails loudly rather than oddly.
        class_names: Labels, indexed by class id.
        licence: SPDX identifier of the weights, for the fleet inventory.
        score_thresholds: Calibrated minimum score per class name, measured on labelled footage
            (``bench/detection_eval.py``); a camera's own threshold can only raise them. Classes not listed use
            the camera's threshold.
        suppress_across: Groups of class names that NMS treats as one class, so that one object scored as
            several of them (a van as both ``car`` and ``truck``) is one detection, of its best class.
        precision: How the weights are stored. ``int8`` models are quantized from an ``fp32`` one (e.g. by
            ``models/quantize_nanodet.py``): about twice the frames per core, kept only where the evaluation
            harness shows F1 within one point of the ``fp32`` model.
        quantized_from: sha256 of the ``fp32`` model an ``int8`` model was made from, so the fleet inventory can
            tell which calibration it inherits; required for ``int8``, refused for ``fp32``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(pattern=r"^[^/\\]+\.onnx$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    family: str
    input_name: str = Field(min_length=1)
    input_size: tuple[PositiveInt, PositiveInt]
    colour_order: Literal["BGR", "RGB"]
    layout: Literal["NCHW"] = "NCHW"
    class_names: tuple[str, ...] = Field(min_length=1)
    licence: str | None = None
    score_thresholds: dict[str, Score] = Field(default_factory=dict)
    suppress_across: tuple[tuple[str, ...], ...] = ()
    precision: Literal["fp32", "int8"] = "fp32"
    quantized_from: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _calibration_names_classes(self) -> Self:
        """Every class named by the calibration exists, and no class is in two suppression groups."""
        known = set(self.class_names)
        named = [*self.score_thresholds, *(name for group in self.suppress_across for name in group)]
        unknown = sorted({name for name in named if name not in known})
        if unknown:
            raise ValueError(f"calibration names classes the model does not have: {', '.join(unknown)}")
        grouped = [name for group in self.suppress_across for name in group]
        twice = sorted({name for name in grouped if grouped.count(name) > 1})
        if twice:
            raise ValueError(f"classes in more than one suppress_across group: {', '.join(twice)}")
        if (self.precision == "int8") != (self.quantized_from is not None):
            raise ValueError("quantized_from (the sha256 of the fp32 model) is required for precision int8 only")
        return self

    @abstractmethod
    def expected_outputs(self) -> dict[str, Shape]:
        """Output names, in the order the decoder wants them from ``session.run``, with their shapes."""

    def expected_inputs(self) -> dict[str, Shape]:
        """The graph's single input and its ``[1, 3, H, W]`` shape."""
        width, height = self.input_size
        return {self.input_name: (1, 3, height, width)}


def read_manifest(path: Path) -> dict[str, object]:
    """Read the manifest as a JSON object, with a message that says which of the three ways it failed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DetectorError(f"model manifest not found: {path}") from exc
    except OSError as exc:
        raise DetectorError(f"model manifest {path} cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DetectorError(f"model manifest {path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DetectorError(f"model manifest {path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise DetectorError(f"model manifest {path} must be a JSON object, got {type(raw).__name__}")
    return raw


def validate_manifest(raw: dict[str, object], model: type[M], path: Path) -> M:
    """Validate ``raw`` against a family's model; list every bad field as ``field: reason``."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
        )
        raise DetectorError(f"invalid model manifest {path}: {problems}") from exc


def read_model_bytes(manifest: ModelManifest, manifest_path: Path) -> bytes:
    """Read the ONNX file next to the manifest and check its sha256 before anything parses it.

    The bytes that were hashed are the bytes returned, and the session is built from them, so no one can
    swap the file between the check and the load.
    """
    model_path = manifest_path.parent / manifest.file
    try:
        data = model_path.read_bytes()
    except FileNotFoundError as exc:
        raise DetectorError(f"model file not found: {model_path} (named by manifest {manifest_path})") from exc
    except OSError as exc:
        raise DetectorError(f"model file {model_path} cannot be read: {exc.strerror or exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != manifest.sha256:
        raise DetectorError(
            f"sha256 mismatch for model file {model_path}: manifest {manifest_path} expects {manifest.sha256}, "
            f"file has {actual}"
        )
    return data
