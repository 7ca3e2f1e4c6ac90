"""Periodic job of lighting: publish the commands the broker has not acknowledged yet.

The job runner gives jobs an engine and the time only; the publisher is built once per process from the same
settings as the app (``VIGIE_MQTT_*`` over :data:`coordinator.settings.DEFAULTS`).
"""

from __future__ import annotations

import json
import os
from typing import Any

from sqlalchemy.engine import Engine

from coordinator import settings
from coordinator.mqtt_publisher import Publisher, PublisherSettings

from . import service

#: One publisher per process, created by the first run (a dict, not a rebound global).
_PUBLISHERS: dict[str, Publisher] = {}


def _env_config() -> dict[str, Any]:
    """The ``MQTT_*`` and ``COORDINATOR_ID`` settings as the app would read them (defaults, then environment)."""
    config = dict(settings.DEFAULTS)
    for key, raw in os.environ.items():
        if key.startswith("VIGIE_"):
            name = key[len("VIGIE_"):]
            try:
                config[name] = json.loads(raw)
            except ValueError:
                config[name] = raw
    path = config.get("MQTT_PASSWORD_FILE")
    if path and not config.get("MQTT_PASSWORD"):
        config["MQTT_PASSWORD"] = settings.read_secret_file(str(path))
    return config


def republish_job(engine: Engine, now_ms: int) -> int:
    """``lighting.republish``: publish pending, unexpired lighting commands; returns how many the broker took."""
    if "jobs" not in _PUBLISHERS:
        _PUBLISHERS["jobs"] = Publisher(PublisherSettings.from_config(_env_config(), "jobs"))
    return service.publish_pending(engine, _PUBLISHERS["jobs"], now_ms)
