"""Light boxes for coordinator tests: configs, their inventory in the database, and an ack/telemetry relay.

The relay stands in for the ingest worker: it decodes acks and telemetry from the broker and calls the domain
hooks in a transaction, as ingest does after storing them.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.engine import Engine

import vigie_wire as wire
from coordinator.ingest.hooks import StoredAck, StoredTelemetry
from coordinator.lighting.inventory import luminaires_of
from coordinator.storage import lighting as light_store
from tests.boxes import write_box
from tests.mqtt_helpers import wait_until
from vigie_config import BoxConfig

NIGHT = dt.datetime(2026, 11, 25, 22, 30, tzinfo=dt.UTC)  # 23:30 in Dijon: the 70 % step of the calendar


def lighting(state_file: Path, groups: tuple[str, ...] = ("rue-liberte",), n: int = 2) -> dict[str, Any]:
    """A cabinet of ``n`` 60 W luminaires in ``groups``, on Dijon's calendar (70 % from 22:00)."""
    return {
        "luminaires": [{"id": f"l{i:02d}", "rated_w": 60, "groups": list(groups)} for i in range(1, n + 1)],
        "calendar": [{"name": "dijon", "program": {"kind": "astro", "steps": [{"at": "22:00", "level": 70},
                                                                               {"at": "05:00", "level": 100}]}}],
        "decision_interval_s": 0.2,
        "state_file": str(state_file),
    }


def light_box(tmp: Path, port: int, device_id: str, site: str = "dijon",
              groups: tuple[str, ...] = ("rue-liberte",)) -> tuple[BoxConfig, Path]:
    return write_box(tmp, port, device_id, site=site, lighting=lighting(tmp / f"{device_id}-state.json", groups))


def register(engine: Engine, *boxes: BoxConfig) -> None:
    """Put the boxes' luminaires in the inventory, as ``vigie-coordinator light-inventory`` does."""
    with engine.begin() as conn:
        for box in boxes:
            light_store.replace_inventory(conn, box.device_id, luminaires_of(box), int(time.time() * 1000))


def running_clock(start: dt.datetime, speed: float = 1.0) -> Callable[[], dt.datetime]:
    t0 = time.monotonic()
    return lambda: start + dt.timedelta(seconds=(time.monotonic() - t0) * speed)


class HookRelay:
    """Subscribes to acks and telemetry and hands them to ``on_acks`` / ``on_telemetry`` like ingest would."""

    def __init__(self, port: int, engine: Engine, on_acks: Any = None, on_telemetry: Any = None) -> None:
        self.engine = engine
        self.on_acks = on_acks
        self.on_telemetry = on_telemetry
        self.acks = 0
        self.telemetry = 0
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=f"relay-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *_: c.subscribe(
            [(wire.subscription(wire.Kind.ACK), 1), (wire.subscription(wire.Kind.TELEMETRY), 1)])
        self.client.on_subscribe = lambda *_: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_until(self._ready.is_set, 10, "relay subscription")

    def _on_message(self, _c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        topic = wire.parse_topic(m.topic)
        msg = wire.decode(m.topic, m.payload)
        assert topic.site is not None and topic.device is not None
        with self._lock, self.engine.begin() as conn:
            if isinstance(msg, wire.CommandAck) and self.on_acks is not None:
                self.on_acks(conn, [StoredAck(topic.device, topic.site, msg.header.ts, msg.cmd_id, msg.result,
                                              msg.detail, dict(msg.applied))])
                self.acks += 1
            elif isinstance(msg, wire.Telemetry) and self.on_telemetry is not None:
                self.on_telemetry(conn, [StoredTelemetry(topic.device, topic.site, msg.header.ts, dict(msg.metrics))])
                self.telemetry += 1

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
