"""The box's own reading of its config: the shared loader, plus the checks only the box can make.

The config models and their loader live in :mod:`vigie_config`, shared with the coordinator, which seeds the fleet
and computes ACLs from the same files. The detector model a camera names is a file installed on the box (its
manifest pins the ONNX file's sha256): the box checks it before it starts, the centre does not hold it.
"""

from __future__ import annotations

from pathlib import Path

from vigie_config import BoxConfig, load_config

from .vision.detectors import DetectorError, check_manifest


def model_errors(config: BoxConfig) -> list[str]:
    """Each camera's model manifest and file, and its classes in the model, as ``field: reason`` lines."""
    errors: list[str] = []
    for i, cam in enumerate(config.cameras):
        try:
            manifest = check_manifest(cam.model)
        except DetectorError as exc:
            errors.append(f"cameras.{i}.model: {exc}")
            continue
        unknown = sorted(set(cam.classes) - set(manifest.class_names))
        if unknown:
            errors.append(f"cameras.{i}.classes: not in the model {cam.model}: {', '.join(unknown)}")
    return errors


def load_box_config(path: Path | str) -> BoxConfig:
    """Load ``path`` as the box does (``vigie-edge validate``, ``run``): every shared check, then its models.

    Raises:
        vigie_config.errors.ConfigError: Every problem found, one ``file: field: reason`` line each.
    """
    return load_config(path, checks=(model_errors,))
