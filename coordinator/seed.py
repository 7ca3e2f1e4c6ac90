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

from vigie_config.errors import ConfigError
from vigie_config.loader import config_hash, load_config

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
                                          config_hash(path))
    return list(seeds.values()), errors


def seed_fleet(engine: Engine, configs: Path, now_ms: int | None = None) -> SeedResult:
    """Upsert every valid box config of ``configs`` into the registry (idempotent)."""
    seeds, errors = read_seeds(configs)
    with engine.begin() as conn:
        created, updated = upsert_devices(conn, seeds, int(time.time() * 1000) if now_ms is None else now_ms)
    return SeedResult(created, updated, errors)
