"""``vigie-coordinator notify``: the notification worker, until SIGTERM.

Settings are the ``VIGIE_*`` variables of the app (``DATABASE_URL``, ``MQTT_HOST``, ``MQTT_PORT``,
``MQTT_USERNAME``, ``MQTT_PASSWORD`` or ``MQTT_PASSWORD_FILE``, ``MQTT_TLS_CA``, ``COORDINATOR_ID``)
plus ``NOTIFY_CLIENT_ID``, ``WEBHOOK_ATTEMPTS``, ``WEBHOOK_BACKOFF_S`` and ``WEBHOOK_BACKOFF_MAX_S``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from coordinator import settings
from coordinator.storage import make_engine

from .notify import Notifier, NotifySettings


def cmd_notify(_args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    s = NotifySettings.from_config(settings.from_env())
    engine = make_engine(s.database_url)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    logging.getLogger("vigie.notify").info("notification worker %s on %s:%d", s.client_id, s.mqtt_host, s.mqtt_port)
    Notifier(s, engine).run(stop)
    engine.dispose()
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    n = sub.add_parser("notify", help="send team notifications (MQTT, webhooks) and apply field status updates")
    n.set_defaults(func=cmd_notify)
