"""A read-only subscriber that decodes every Vigie message and prints it, one line each.

Used by operators and integrators to see what is on the wire, and by ``make demo`` before
the full coordinator runs. Malformed messages are printed as such and counted; they never
stop the watcher.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import vigie_wire as wire


def describe(topic: str, payload: bytes) -> dict[str, Any]:
    """One message as a JSON-ready dict (pure), or an ``error`` entry for a bad one."""
    try:
        msg = wire.decode(topic, payload)
    except wire.WireError as exc:
        return {"topic": topic, "error": exc.reason, "detail": str(exc), "bytes": len(payload)}
    out: dict[str, Any] = {
        "topic": topic,
        "type": type(msg).__name__,
        "dev": msg.header.dev,
        "bd": msg.header.bd,
        "seq": msg.header.seq,
        "bytes": len(payload),
    }
    if isinstance(msg, wire.EventBatch):
        out["boot"] = msg.boot
        out["historical"] = msg.historical
        out["events"] = [
            {"n": r.n, "ts": r.ts, "type": r.body.wire_name, **_fields(r.body)} for r in msg.events
        ]
    else:
        out.update({k: v for k, v in _fields(msg).items() if k != "header"})
    return out


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def watch(host: str, port: int, topic: str, emit: Callable[[str], None], stop: threading.Event) -> Counter[str]:
    """Subscribe to ``topic`` and call ``emit`` with one JSON line per message until ``stop``."""
    inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
    counts: Counter[str] = Counter()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_message = lambda _c, _u, m: inbox.put((m.topic, bytes(m.payload)))
    client.connect(host, port)
    client.loop_start()
    try:
        while not stop.is_set():
            try:
                t, p = inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            line = describe(t, p)
            counts[line.get("type", "invalid:" + str(line.get("error")))] += 1
            emit(json.dumps(line, default=list, ensure_ascii=False))
    finally:
        client.loop_stop()
        client.disconnect()
    return counts
