"""Read a box config file and turn every problem into a :class:`ConfigError` naming the field."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import ValidationError

from .box import BoxConfig
from .checks import Check, semantic_errors
from .errors import ConfigError


def config_hash(path: Path) -> str:
    """sha256 of the file's bytes, announced in the birth so the centre sees config drift."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _resolve_paths(config: BoxConfig, base: Path) -> BoxConfig:
    """Relative model, file-source and state paths are relative to the config file, not to the cwd."""

    def resolve(p: Path) -> Path:
        return p if p.is_absolute() else (base / p).resolve()

    cameras = []
    for cam in config.cameras:
        source = cam.source
        if "://" not in source and not source.isdigit() and not Path(source).is_absolute():
            source = str(resolve(Path(source)))
        update_cam: dict[str, object] = {"model": resolve(cam.model), "source": source}
        if cam.password_file is not None:
            update_cam["password_file"] = resolve(cam.password_file)
        cameras.append(cam.model_copy(update=update_cam))
    update: dict[str, object] = {"cameras": cameras}
    if config.recording is not None:
        update["recording"] = config.recording.model_copy(update={
            k: resolve(v) for k, v in (("dir", config.recording.dir), ("key_file", config.recording.key_file),
                                       ("token_file", config.recording.token_file)) if v is not None})
    if config.lighting is not None:
        update["lighting"] = config.lighting.model_copy(update={"state_file": resolve(config.lighting.state_file)})
    return config.model_copy(update=update)


def load_config(path: Path | str, *, checks: Sequence[Check] = ()) -> BoxConfig:
    """Load and validate ``path``; raise :class:`ConfigError` listing every error found.

    Args:
        path: The box config file.
        checks: Further checks run after the shared ones, with their lines reported the same way (the box adds its
            detector models'; the centre, which does not hold them, does not).
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        config = BoxConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"{path}: {'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigError("\n".join(lines)) from exc
    config = _resolve_paths(config, path.parent)
    problems = semantic_errors(config)
    for check in checks:
        problems += check(config)
    if problems:
        raise ConfigError("\n".join(f"{path}: {line}" for line in problems))
    return config
