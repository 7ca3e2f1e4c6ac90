"""The centre's liveness as the field sees it: the retained ``STATE`` of this coordinator, read back from the broker.

The notify worker owns ``STATE`` (:mod:`coordinator.dispatch.notify`); the web app only reads the retained value, so
the operators' screen shows what the boxes see: when it says offline, no dispatch leaves the centre and light boxes
run on their own calendars. A read is one short MQTT subscription (the broker sends the retained message right after
the subscription); :class:`CentreCache` keeps a read for a few seconds so a page reloaded by every operator does
not open a connection each time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import vigie_wire as wire

from .mqtt_publisher import PublisherSettings
from .retained import BrokerUnreadableError, read_retained

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
    """The retained ``STATE`` of ``host``, interpreted. Never raises."""
    topic = wire.state_topic(host)
    try:
        payload = read_retained(settings, topic, wait_s)
    except BrokerUnreadableError as exc:
        return CentreState(host, "unknown", detail=str(exc))
    return interpret(host, topic if payload is not None else None, payload)


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
