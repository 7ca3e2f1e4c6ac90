"""Checks of a box config that need more than its own text: model files, class names."""

from __future__ import annotations

from ..errors import ConfigError
from ..vision.detectors import DetectorError, check_manifest
from .box import BoxConfig
from .lighting import check_lighting
from .recording import check_recording
from .secrets import read_password


def semantic_errors(config: BoxConfig) -> list[str]:
    """Problems that pydantic cannot see, as ``field: reason`` lines (empty when fine)."""
    errors: list[str] = []
    if config.lighting is not None:
        errors += [f"lighting.{line}" for line in check_lighting(config.lighting)]
    errors += check_recording(config)
    for i, cam in enumerate(config.cameras):
        if cam.password_file is not None:
            try:
                read_password(cam.password_file)
            except ConfigError as exc:
                errors.append(f"cameras.{i}.password_file: {exc}")
        try:
            manifest = check_manifest(cam.model)
        except DetectorError as exc:
            errors.append(f"cameras.{i}.model: {exc}")
            continue
        unknown = sorted(set(cam.classes) - set(manifest.class_names))
        if unknown:
            errors.append(f"cameras.{i}.classes: not in the model {cam.model}: {', '.join(unknown)}")
    return errors
