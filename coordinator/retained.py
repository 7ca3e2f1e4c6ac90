"""Read what a broker retains on one topic, by one short subscription (the retained message follows the SUBACK).

The web app reads retained messages it does not own (the centre's ``STATE``, a box's ``meta``) rather than keeping a
session open per web worker: a read costs one connection, and the callers cache what they read.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .mqtt_publisher import PublisherSettings


class BrokerUnreadableError(RuntimeError):
    """The broker could not be asked (unreachable, refused, silent)."""


def read_retained(settings: PublisherSettings, topic: str, wait_s: float = 0.3) -> bytes | None:
    """The retained payload of ``topic`` (None when nothing is retained), by one short subscription.

    Raises:
        BrokerUnreadableError: the broker could not be reached or did not answer within ``settings.timeout_s``.
    """
    got: list[bytes] = []
    subscribed = threading.Event()
    arrived = threading.Event()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                         client_id=f"{settings.client_id}-{secrets.token_hex(3)}")
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    if settings.tls_ca:
        client.tls_set(ca_certs=settings.tls_ca)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()

    def on_message(_c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        got.append(bytes(m.payload))
        arrived.set()

    client.on_message = on_message
    try:
        client.connect(settings.host, settings.port, keepalive=10)
    except OSError as exc:
        raise BrokerUnreadableError(f"broker unreachable: {exc}"[:200]) from exc
    client.loop_start()
    try:
        if not subscribed.wait(settings.timeout_s):
            raise BrokerUnreadableError(f"no answer from the broker within {settings.timeout_s} s")
        arrived.wait(wait_s)  # a retained message follows the SUBACK at once; none came: nothing is retained
        return got[0] if got else None
    finally:
        client.disconnect()
        client.loop_stop()
