"""Registry rows for tests: what ingest would have written (births, telemetry) and light inventories."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coordinator.storage.schema import devices, telemetry


def now_ms() -> int:
    return int(time.time() * 1000)


def add_device(engine: Engine, device_id: str, site: str = "dijon", **fields: Any) -> None:
    """A registry row; ``fields`` override the defaults (an online camera seen just now)."""
    t = now_ms()
    row: dict[str, Any] = {
        "id": device_id, "site": site, "district": None, "roles": ["camera"], "lat": 47.322, "lon": 5.041,
        "caps": ["link", "vision"], "firmware": "vigie-edge 0.9.0", "config_hash": "abcdef0123456789",
        "seed_config_hash": "abcdef0123456789", "status": "online", "bd_seq": 1, "last_seen_ms": t,
        "status_since_ms": t, "created_ms": t, "updated_ms": t,
    }
    row.update(fields)
    with engine.begin() as conn:
        conn.execute(devices.insert(), row)


def add_devices(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(devices.insert(), rows)


def set_telemetry(engine: Engine, device_id: str, metrics: dict[str, Any], ts_ms: int | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(telemetry).where(telemetry.c.device_id == device_id))
        conn.execute(telemetry.insert(), {"device_id": device_id, "ts_ms": ts_ms or now_ms(), "metrics": metrics,
                                          "stale": False})
