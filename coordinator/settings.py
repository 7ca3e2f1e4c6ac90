"""Coordinator settings: Flask config defaults, overridden by ``VIGIE_*`` environment variables.

``VIGIE_DATABASE_URL=postgresql://...`` becomes ``app.config["DATABASE_URL"]``, as Flask's
``from_prefixed_env`` does (values are parsed as JSON when they can be: numbers, booleans).
There is no default secret key: outside tests and the demo, a missing key stops the start.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from flask import Config

from .storage import DEFAULT_URL

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": DEFAULT_URL,
    # A read-only streaming replica for the operators' read-only screens (see coordinator/storage/flask.py),
    # and how long a client that has just written keeps reading the primary.
    "DATABASE_READ_URL": None,
    "READ_PRIMARY_AFTER_WRITE_S": 10,
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
    # The opt-in keyed-JSON bridge (``vigie-coordinator bridge``): its own MQTT account, see coordinator/json_bridge/.
    "BRIDGE_CLIENT_ID": "vigie-bridge",
    "BRIDGE_MQTT_USERNAME": None,
    "BRIDGE_MQTT_PASSWORD": None,
    "BRIDGE_SESSION_EXPIRY_S": 7 * 24 * 3600,
    "BRIDGE_RECEIVE_MAXIMUM": 1000,
    # Largest request body read, in bytes (VIGIE_MAX_CONTENT_LENGTH): a bigger one is refused with 413 unread.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Strict",
    # Secure cookies always; without this, still whenever the request came over HTTPS (see TRUSTED_PROXIES).
    "SESSION_COOKIE_SECURE": False,
    # Browser sessions live on the server: a shift at most, half an hour without a request.
    "SESSION_IDLE_S": 30 * 60,
    "SESSION_ABSOLUTE_S": 12 * 3600,
    "SESSION_TOUCH_S": 30,
    # Reverse proxies in front of gunicorn whose X-Forwarded-For/-Proto headers are believed (0: none).
    "TRUSTED_PROXIES": 0,
    # Login throttling: free failures per account name and per client address, then doubling delays.
    "LOGIN_THROTTLE_ACCOUNT_FREE": 5,
    "LOGIN_THROTTLE_ADDRESS_FREE": 20,
    "LOGIN_THROTTLE_BASE_S": 1.0,
    "LOGIN_THROTTLE_MAX_S": 15 * 60,
    "LOGIN_THROTTLE_WINDOW_S": 15 * 60,
    # Security events (logins, lockouts, account changes) are deleted after this many days.
    "SECURITY_EVENT_RETENTION_DAYS": 365,
    # /metrics answers only a bearer of this token (or VIGIE_METRICS_TOKEN_FILE); unset: not served.
    "METRICS_TOKEN": None,
    # Detector model manifests (rule classes are checked against them); unset: <FIRMWARE_CONFIGS>/../models.
    "MODELS_DIR": None,
    "VALIDATE_RESPONSES": False,
    # Judicial requisitions: the centre's Ed25519 key (``vigie-coordinator evidence keygen``), the segment
    # files received from the boxes (<site>/<device>/<camera>/<start_ms>-<end_ms>.mp4), the packages made.
    "EVIDENCE_KEY_FILE": None,
    "SEGMENTS_DIR": "var/segments",
    "EVIDENCE_DIR": "var/evidence",
    "DOWNLOAD_LINK_DAYS": 14,
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
    for key in ("SECRET_KEY", "MQTT_PASSWORD", "METRICS_TOKEN"):
        path = config.get(f"{key}_FILE") or os.environ.get(f"VIGIE_{key}_FILE")
        if path and not config.get(key):
            config[key] = read_secret_file(path)
    if not config.get("SECRET_KEY"):
        raise SettingsError("no secret key: set VIGIE_SECRET_KEY or VIGIE_SECRET_KEY_FILE")
    for key in ("SESSION_IDLE_S", "SESSION_ABSOLUTE_S"):
        if not isinstance(config.get(key), int | float) or config[key] <= 0:
            raise SettingsError(f"{key} must be a positive number of seconds, got {config.get(key)!r}")
    # The cookie does not outlive the session it names.
    config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=config["SESSION_ABSOLUTE_S"])


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
