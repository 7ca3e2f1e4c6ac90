"""Checks of a box config that need more than its own text: secret files, cross-section rules.

What only the box can check (its detector model files, which the centre does not hold) is added by the box's own
loader through ``load_config(..., checks=...)``; see :func:`edge_agent.box_config.load_box_config`.
"""

from __future__ import annotations

from collections.abc import Callable

from .box import BoxConfig
from .errors import ConfigError
from .lighting import check_lighting
from .secrets import read_password

#: A further check of a loaded config: ``field: reason`` lines, empty when fine.
Check = Callable[[BoxConfig], list[str]]


def semantic_errors(config: BoxConfig) -> list[str]:
    """Problems that pydantic cannot see, as ``field: reason`` lines (empty when fine)."""
    errors: list[str] = []
    if config.lighting is not None:
        errors += [f"lighting.{line}" for line in check_lighting(config.lighting)]
    for i, cam in enumerate(config.cameras):
        if cam.password_file is not None:
            try:
                read_password(cam.password_file)
            except ConfigError as exc:
                errors.append(f"cameras.{i}.password_file: {exc}")
    return errors
