"""Checks of a box config that need more than its own text: secret files, cross-section rules.

What only the box can check (its detector model files, which the centre does not hold) is added by the box's own
loader through ``load_config(..., checks=...)``; see :func:`edge_agent.box_config.load_box_config`.
"""

from __future__ import annotations

from collections.abc import Callable

from .box import BoxConfig
from .errors import ConfigError
from .geo import LonLat, haversine_m
from .lighting import check_lighting
from .recording import check_recording
from .secrets import read_password

#: A further check of a loaded config: ``field: reason`` lines, empty when fine.
Check = Callable[[BoxConfig], list[str]]
#: How far from its box a camera's ground geometry may lie, m: a street camera sees a few tens of metres, a
#: point further than this is a misplaced coordinate (another street, a copy-paste from another box).
GEO_REACH_M = 1000.0


def geo_errors(config: BoxConfig) -> list[str]:
    """Each zone's and line's ground geometry lies within :data:`GEO_REACH_M` of its box (when the box has a place)."""
    if config.lat is None or config.lon is None:
        return []
    lat, lon = config.lat, config.lon

    def far(points: list[LonLat]) -> str | None:
        worst = max(points, key=lambda p: haversine_m(lat, lon, p[1], p[0]))
        dist = haversine_m(lat, lon, worst[1], worst[0])
        if dist <= GEO_REACH_M:
            return None
        return f"[{worst[0]}, {worst[1]}] is {dist:.0f} m from the box ({lat}, {lon}), past {GEO_REACH_M:.0f} m"

    errors: list[str] = []
    for i, cam in enumerate(config.cameras):
        for j, zone in enumerate(cam.zones):
            if zone.geo is not None and (why := far(zone.geo)):
                errors.append(f"cameras.{i}.zones.{j}.geo: {why}")
        for j, line in enumerate(cam.lines):
            if line.geo is not None and (why := far([line.geo.a, line.geo.b])):
                errors.append(f"cameras.{i}.lines.{j}.geo: {why}")
    return errors


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
    return errors + geo_errors(config)
