"""The centre's liveness as the field sees it: the retained ``STATE`` of this coordinator, read back from the broker.

The notify worker owns ``STATE`` (:mod:`coordinator.dispatch.notify`); the web app only reads the retained value, so
the operators' screen shows what the boxes see: when it says offline, no dispatch leaves the centre and light boxes
run on their own calendars. A read is one short MQTT subscription (the broker sends the retained message right after
the subscription); :class:`CentreCache` keeps a read for a few seconds so a page reloaded by every operator does
not open a connection each time.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import vigie_wire as wire

from .mqtt_publisher import PublisherSettings

Liveness = Literal["online", "offline", "unknown"]


@dataclass(frozen=True)
class CentreState:
    """What the retained ``STATE`` of ``host`` says; ``detail`` tells why it is ``unknown``."""

    host: str
    state: Liveness
    since_ms: int | None = None
    detail: str = ""


def interpret(host: str, topic: str | None, payload: bytes | None) -> CentreState:
    """The state a retained ``STATE`` message (or its absence) stands for; never raises on bad bytes."""
    if topic is None or payload is None:
        return CentreState(host, "unknown", detail="no STATE retained: the notify worker never ran on this broker")
    if not payload:
        return CentreState(host, "unknown", detail="the retained STATE was cleared")
    try:
        msg = wire.decode(topic, payload)
    except wire.WireError as exc:
        return CentreState(host, "unknown", detail=f"unreadable STATE: {exc}"[:200])
    if not isinstance(msg, wire.State):  # pragma: no cover - the topic is a STATE topic
        return CentreState(host, "unknown", detail="not a STATE message")
    return CentreState(host, "online" if msg.online else "offline", msg.header.ts)


def read_state(settings: PublisherSettings, host: str, wait_s: float = 0.3) -> CentreState:
    """Subscribe to ``STATE/<host>``, take the retained message if any, leave. Never raises."""
    topic = wire.state_topic(host)
    got: list[tuple[str, bytes]] = []
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
        got.append((m.topic, bytes(m.payload)))
        arrived.set()

    client.on_message = on_message
    try:
        client.connect(settings.host, settings.port, keepalive=10)
    except OSError as exc:
        return CentreState(host, "unknown", detail=f"broker unreachable: {exc}"[:200])
    client.loop_start()
    try:
        if not subscribed.wait(settings.timeout_s):
            return CentreState(host, "unknown", detail=f"no answer from the broker within {settings.timeout_s} s")
        arrived.wait(wait_s)  # a retained message follows the SUBACK at once; none came: nothing is retained
        return interpret(host, *got[0]) if got else interpret(host, None, None)
    finally:
        client.disconnect()
        client.loop_stop()


class CentreCache:
    """One read of the centre's state per ``ttl_s``, shared by the threads of a web worker."""

    def __init__(self, read: Callable[[], CentreState], ttl_s: float = 5.0) -> None:
        self._read = read
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._value: tuple[float, CentreState] | None = None

    def get(self) -> CentreState:
        with self._lock:
            now = time.monotonic()
            if self._value is None or now - self._value[0] > self._ttl_s:
                self._value = (now, self._read())
            return self._value[1]
