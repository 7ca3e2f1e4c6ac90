"""A box's site metadata, published retained on ``<site>/<device>/meta``: what it is and what it observes or drives.

Built from the box configuration only (a pure function), so integrators read the site without the configuration
files: the kind of device and its position; per camera its model, the classes it reports with their ``cls``
index, its zones and its counting lines (frame coordinates and the line's "in" direction, and where the config
places them on the ground, WGS84); per luminaire its position, rated power and groups. It changes only with the
configuration, whose hash it carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vigie_config.box import BoxConfig
from vigie_config.vision import CameraConfig

from .errors import EdgeError
from .vision.detectors.manifest import read_manifest


def device_kind(caps: Sequence[str]) -> str:
    """``pole`` (cameras and lights), ``camera``, ``light``, ``presence`` or ``link`` (a bare link)."""
    vision, light = "vision" in caps, "light" in caps
    if vision and light:
        return "pole"
    if vision:
        return "camera"
    if light:
        return "light"
    return "presence" if "presence" in caps else "link"


def _class_indices(cam: CameraConfig) -> dict[str, int | None]:
    """Each reported class with its ``cls`` index in the model's class list (nil if the manifest is unreadable)."""
    try:
        names = read_manifest(cam.model).get("class_names")
    except EdgeError:
        names = None
    known = list(names) if isinstance(names, list) else []
    return {c: known.index(c) if c in known else None for c in cam.classes}


def _camera(index: int, cam: CameraConfig) -> dict[str, Any]:
    return {
        "cam": index,
        "name": cam.name,
        "model": cam.model.name.removesuffix(".manifest.json"),
        "classes": _class_indices(cam),
        "zones": [{"id": z.id, "polygon": [list(p) for p in z.polygon], "loiter_s": z.loiter_s,
                   "geo": None if z.geo is None else [list(p) for p in z.geo]} for z in cam.zones],
        "lines": [{"id": ln.id, "a": list(ln.a), "b": list(ln.b), "inbound": ln.direction,
                   "geo": None if ln.geo is None else {"a": list(ln.geo.a), "b": list(ln.geo.b),
                                                       "in_side": ln.geo.in_side}} for ln in cam.lines],
    }


def site_metadata(config: BoxConfig, caps: Sequence[str]) -> dict[str, Any]:
    """The ``info`` map of the box's ``Meta`` message (see docs/asyncapi.yaml, MetaInfo)."""
    info: dict[str, Any] = {"kind": device_kind(caps), "site": config.site, "district": config.district,
                            "lat": config.lat, "lon": config.lon}
    if config.cameras:
        info["cameras"] = [_camera(i, cam) for i, cam in enumerate(config.cameras)]
    if config.lighting is not None:
        info["luminaires"] = [{"id": lum.id, "rated_w": lum.rated_w, "groups": list(lum.groups), "lat": lum.lat,
                               "lon": lum.lon} for lum in config.lighting.luminaires]
    return info
