"""Fleet registry seeding from the box configs of ``firmware_configs/`` (``vigie-coordinator fleet seed``).

The configs are read with the shared loader (:mod:`vigie_config`), the one the box runs too, so a
file the box would refuse is refused here too, with the same message; only the detector model files,
which are installed on the boxes, are left to ``vigie-edge validate``. Seeding tells the registry where
each box is and which roles it plays; the box tells the rest (firmware, capabilities, liveness) in its birth.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from vigie_config import BoxConfig
from vigie_config.errors import ConfigError
from vigie_config.loader import config_hash, load_config

from .storage.camera_geometry import GeoTarget, replace_geometry
from .storage.registry import DeviceSeed, upsert_devices


@dataclass
class SeedResult:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


def read_seeds(configs: Path) -> tuple[list[DeviceSeed], list[str]]:
    """One seed per valid ``*.yaml`` box config of ``configs``, and one message per invalid file."""
    seeds: dict[str, DeviceSeed] = {}
    errors: list[str] = []
    for path in sorted(configs.glob("*.yaml")):
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            errors.append(str(exc))
            continue
        if cfg.device_id in seeds:
            errors.append(f"{path}: device id {cfg.device_id!r} already used by another config")
            continue
        roles = tuple(r for r, present in (("camera", bool(cfg.cameras)), ("light", cfg.lighting is not None))
                      if present)
        # ``district`` is optional in the box config; older configs may not have the field at all.
        district = getattr(cfg, "district", None)
        seeds[cfg.device_id] = DeviceSeed(cfg.device_id, cfg.site, district, roles, cfg.lat, cfg.lon,
                                          config_hash(path), ground_geometry(cfg))
    return list(seeds.values()), errors


def ground_geometry(cfg: BoxConfig) -> tuple[GeoTarget, ...]:
    """The zones and lines of the box's cameras that say where they lie on the ground (``geo``), for the map."""
    out: list[GeoTarget] = []
    for i, cam in enumerate(cfg.cameras):
        out += [GeoTarget(i, cam.name, z.id, "zone", [list(p) for p in z.geo]) for z in cam.zones if z.geo]
        out += [GeoTarget(i, cam.name, ln.id, "line", {"a": list(ln.geo.a), "b": list(ln.geo.b),
                                                       "in_side": ln.geo.in_side})
                for ln in cam.lines if ln.geo is not None]
    return tuple(out)


def seed_fleet(engine: Engine, configs: Path, now_ms: int | None = None) -> SeedResult:
    """Upsert every valid box config of ``configs`` into the registry, with its cameras' ground geometry
    (idempotent)."""
    seeds, errors = read_seeds(configs)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    with engine.begin() as conn:
        created, updated = upsert_devices(conn, seeds, now)
        for s in seeds:
            replace_geometry(conn, s.id, s.site, s.geometry, now)
    return SeedResult(created, updated, errors)
