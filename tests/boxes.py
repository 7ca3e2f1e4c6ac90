"""Box configs for tests, written as real YAML files like ``firmware_configs/`` holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from vigie_config import BoxConfig, load_config


def write_box(tmp: Path, port: int, device_id: str = "cam-test-01", site: str = "dijon",
              **sections: Any) -> tuple[BoxConfig, Path]:
    """Write a box config for a broker on ``port``; ``sections`` override/extend the defaults."""
    raw: dict[str, Any] = {
        "device_id": device_id,
        "site": site,
        "lat": 47.3220,
        "lon": 5.0415,
        "mqtt": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.05, "reconnect_max_s": 0.5,
                 "keepalive_s": 5},
        "outbox": {"path": str(tmp / f"{device_id}-outbox.sqlite3")},
        "batch": {"window_ms": 20, "max_events": 200, "inflight": 20},
        "telemetry_interval_s": 1,
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    path = tmp / f"{device_id}.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return load_config(path), path
