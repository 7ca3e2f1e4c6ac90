"""``vigie-coordinator bridge``: run the keyed-JSON bridge until SIGTERM (opt-in: nothing starts it by default)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

from .. import settings
from .service import Bridge, BridgeSettings


def cmd_bridge(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = settings.from_env()
    path = args.password_file or config.get("BRIDGE_MQTT_PASSWORD_FILE")
    if path and (args.password_file or not config.get("BRIDGE_MQTT_PASSWORD")):
        config["BRIDGE_MQTT_PASSWORD"] = settings.read_secret_file(str(path))
    if args.username:
        config["BRIDGE_MQTT_USERNAME"] = args.username
    if args.client_id:
        config["BRIDGE_CLIENT_ID"] = args.client_id
    if args.host:
        config["MQTT_HOST"] = args.host
    if args.port:
        config["MQTT_PORT"] = args.port
    bridge = Bridge(BridgeSettings.from_config(config))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    bridge.start()
    log = logging.getLogger("vigie.bridge")
    log.info("bridge %s: broker %s:%d", bridge.settings.client_id, bridge.settings.mqtt_host, bridge.settings.mqtt_port)
    while not stop.wait(60):
        bridge.rejects.flush()
        log.info("bridge: %d published, %d refused", bridge.published, bridge.rejects.total)
    bridge.stop()
    return 0


def add_parsers(sub: Any) -> None:
    b = sub.add_parser("bridge", help="republish the contract's events and metadata as keyed JSON (vigie-json/v1)")
    b.add_argument("--host", help="broker host (default $VIGIE_MQTT_HOST)")
    b.add_argument("--port", type=int, help="broker port (default $VIGIE_MQTT_PORT)")
    b.add_argument("--username", help="the bridge's MQTT user (default $VIGIE_BRIDGE_MQTT_USERNAME)")
    b.add_argument("--password-file", help="its password file (default $VIGIE_BRIDGE_MQTT_PASSWORD_FILE)")
    b.add_argument("--client-id", help="fixed MQTT client id (default $VIGIE_BRIDGE_CLIENT_ID, vigie-bridge)")
    b.set_defaults(func=cmd_bridge)
