"""Load the luminaire inventory from the box configs (``firmware_configs/*.yaml``) into the database.

Run after a config change (``vigie-coordinator light-inventory``), or by whatever seeds the registry from the same
files. A config that does not validate is reported and skipped: the others still load.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from coordinator.storage import lighting as store
from vigie_config import load_config
from vigie_config.errors import ConfigError

from .inventory import luminaires_of


@dataclass
class SyncReport:
    boxes: int = 0
    luminaires: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def sync_inventory(engine: Engine, configs: Path) -> SyncReport:
    """Replace the inventory of every light box configured in ``configs`` (one transaction per box)."""
    report = SyncReport()
    now = int(time.time() * 1000)
    for path in sorted(configs.glob("*.yaml")):
        try:
            box = load_config(path)
        except (ConfigError, OSError, ValueError) as exc:
            report.errors[path.name] = str(exc)[:300]
            continue
        lums = luminaires_of(box)
        if not lums:
            continue
        with engine.begin() as conn:
            store.replace_inventory(conn, box.device_id, lums, now)
        report.boxes += 1
        report.luminaires += len(lums)
    return report
