"""The object classes the fleet's detector models know, read from their manifests.

Rules name classes by index (COCO for NanoDet); a rule on an index no model produces would never
fire, silently. The manifests (``*.manifest.json``, each listing ``class_names``) are plain JSON, so
the coordinator reads them without importing the edge agent's detector code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ModelManifestError

MANIFEST_GLOB = "*.manifest.json"


def models_dir(config: Mapping[str, Any]) -> Path:
    """``MODELS_DIR``, or ``models/`` beside the box configs' folder (the repository's and the deployment's layout)."""
    configured = config.get("MODELS_DIR")
    if configured:
        return Path(str(configured))
    return Path(str(config.get("FIRMWARE_CONFIGS") or "firmware_configs")).resolve().parent / "models"


def class_ids(directory: Path) -> frozenset[int]:
    """Every class index some manifest in ``directory`` names (the union over the models)."""
    ids: set[int] = set()
    for path in sorted(directory.glob(MANIFEST_GLOB)):
        try:
            names = json.loads(path.read_text(encoding="utf-8"))["class_names"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelManifestError(f"{path}: not a model manifest with 'class_names' ({exc})") from exc
        if not isinstance(names, list):
            raise ModelManifestError(f"{path}: 'class_names' must be a list")
        ids.update(range(len(names)))
    return frozenset(ids)


def unknown_classes(classes: list[int], known: frozenset[int]) -> list[int]:
    """The entries of ``classes`` that no model produces, in their order."""
    return [c for c in classes if c not in known]
