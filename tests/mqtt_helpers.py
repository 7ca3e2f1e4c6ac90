"""Real-broker helpers for the tests: a private Mosquitto and a recording subscriber."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import vigie_wire as wire
from coordinator.broker import LocalBroker

#: The test fixtures run the same broker process helper as the demo and the benchmarks.
Mosquitto = LocalBroker


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    #: The MQTT v5 content type property, if the message carried one.
    content_type: str | None = None


class Recorder:
    """A subscriber with a persistent session (QoS 1), reconnecting by itself, keeping all."""

    def __init__(self, port: int, topic: str = "vigie/v1/#", client_id: str | None = None,
                 username: str | None = None, password: str | None = None) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        cid = client_id or f"recorder-{port}-{time.monotonic_ns()}"
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=cid,
                                  protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, keepalive=10, clean_start=False, properties=props)
        self.client.loop_start()
        wait_until(self.subscribed.is_set, 10, "recorder subscription")

    def _on_message(self, _c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(m.topic, m.payload, m.retain, getattr(m.properties, "ContentType", None)))

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def decoded(self, kind: wire.Kind | None = None) -> list[Any]:
        out = []
        for r in self.snapshot():
            t = wire.parse_topic(r.topic)
            if kind is None or t.kind is kind:
                out.append(wire.decode(r.topic, r.payload))
        return out

    def event_ids(self) -> list[tuple[str, int, int]]:
        """Every event id received, in arrival order, duplicates included."""
        return [(b.header.dev, b.boot, r.n) for b in self.decoded(wire.Kind.EVENT) for r in b.events]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def first_seen_in_order(ids: list[tuple[str, int, int]]) -> tuple[list[tuple[str, int, int]], bool]:
    """De-duplicate by id; report whether first arrivals are in per-device order."""
    seen: set[tuple[str, int, int]] = set()
    last: dict[str, tuple[int, int]] = {}
    unique, ordered = [], True
    for i in ids:
        if i in seen:
            continue
        seen.add(i)
        unique.append(i)
        key = (i[1], i[2])
        if i[0] in last and key <= last[i[0]]:
            ordered = False
        last[i[0]] = key
    return unique, ordered
