"""Coordinator settings: Flask config defaults, overridden by ``VIGIE_*`` environment variables.

``VIGIE_DATABASE_URL=postgresql://...`` becomes ``app.config["DATABASE_URL"]``, as Flask's
``from_prefixed_env`` does (values are parsed as JSON when they can be: numbers, booleans).
There is no default secret key: outside tests and the demo, a missing key stops the start.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Config

from .storage import DEFAULT_URL

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": DEFAULT_URL,
    "SECRET_KEY": None,
    "MQTT_HOST": "127.0.0.1",
    "MQTT_PORT": 1883,
    "MQTT_USERNAME": None,
    "MQTT_PASSWORD": None,
    "MQTT_TLS_CA": None,
    "MQTT_PUBLISH_TIMEOUT_S": 3.0,
    "COORDINATOR_ID": "coordinator",
    "FIRMWARE_CONFIGS": "firmware_configs",
    "EVENT_RETENTION_DAYS": 30,
    # Ingest workers (``vigie-coordinator ingest``): see coordinator/ingest/config.py.
    "INGEST_CLIENT_ID": "vigie-ingest-1",
    "INGEST_SHARE_GROUP": "vigie-ingest",
    "INGEST_SESSION_EXPIRY_S": 7 * 24 * 3600,
    "INGEST_BATCH_MESSAGES": 500,
    "INGEST_BATCH_MS": 50,
    "INGEST_BATCH_BYTES": 256 * 1024,
    "INGEST_RECEIVE_MAXIMUM": 1000,
    "INGEST_METRICS_PORT": None,
    "INGEST_STORAGE_PROCESS": True,
    "MQTT_KEEPALIVE_S": 30,
    # Largest request body read, in bytes (VIGIE_MAX_CONTENT_LENGTH): a bigger one is refused with 413 unread.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Strict",
    "VALIDATE_RESPONSES": False,
}


class SettingsError(RuntimeError):
    """The coordinator cannot start with this configuration."""


def read_secret_file(value: str | None) -> str | None:
    """``VIGIE_SECRET_KEY_FILE``-style indirection: keep secrets out of the environment listing."""
    if value is None:
        return None
    with open(value, encoding="utf-8") as fh:
        return fh.read().strip()


def finalise(config: dict[str, Any]) -> None:
    """Resolve ``*_FILE`` secrets and refuse to start without a secret key."""
    for key in ("SECRET_KEY", "MQTT_PASSWORD"):
        path = config.get(f"{key}_FILE") or os.environ.get(f"VIGIE_{key}_FILE")
        if path and not config.get(key):
            config[key] = read_secret_file(path)
    if not config.get("SECRET_KEY"):
        raise SettingsError("no secret key: set VIGIE_SECRET_KEY or VIGIE_SECRET_KEY_FILE")


def from_env() -> dict[str, Any]:
    """Settings of a process without a Flask app (ingest worker, jobs): defaults, then ``VIGIE_*``.

    Parsed exactly as the app parses them (Flask's ``from_prefixed_env``), secrets files resolved.
    """
    config = Config(os.getcwd())
    config.from_mapping(DEFAULTS)
    config.from_prefixed_env("VIGIE")
    path = config.get("MQTT_PASSWORD_FILE") or os.environ.get("VIGIE_MQTT_PASSWORD_FILE")
    if path and not config.get("MQTT_PASSWORD"):
        config["MQTT_PASSWORD"] = read_secret_file(path)
    return dict(config)
