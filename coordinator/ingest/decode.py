"""From received bytes to typed items or a reject reason (pure: no I/O, no clock, no globals).

The wire contract (:mod:`vigie_wire`) is the only decoder; this module adds what the centre
checks on top of it: the topic kinds ingest stores, whether the sender is in the fleet
registry and publishes under its registered site, and the row shape of a stored event.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache
from typing import Any, NamedTuple

import vigie_wire as wire

#: Topic kinds an ingest worker subscribes to. Snapshots are only counted (their ``seq`` is
#: part of the message numbering, so a worker that ignored them would see false gaps).
INGESTED = (wire.Kind.BIRTH, wire.Kind.DEATH, wire.Kind.EVENT, wire.Kind.TELEMETRY, wire.Kind.ACK,
            wire.Kind.SNAPSHOT)

#: Reasons added to the wire's own (``topic``, ``size``, ``msgpack``, ``schema``, ``field``,
#: ``version``, ``mismatch``). ``cleared`` is an empty retained payload: not an error.
UNKNOWN_DEVICE = "unknown_device"
WRONG_SITE = "wrong_site"
CLEARED = "cleared"
OVERFLOW = "overflow"  # a QoS 0 message that found the worker's queue full
STORAGE = "storage"  # a message the database refused on its own (poison), after isolation
UNEXPECTED = "unexpected_kind"


class Inbound(NamedTuple):
    """A message as the MQTT thread hands it over: bytes and what is needed to acknowledge it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    generation: int  # connection it arrived on; an ack is only valid on that connection


class Decoded(NamedTuple):
    """A valid message and where it was published (topic site and device)."""

    site: str
    device: str
    msg: wire.Message
    retain: bool


class Reject(NamedTuple):
    reason: str
    detail: str


@lru_cache(maxsize=65536)
def _topic(topic: str) -> wire.Topic:
    """Topics repeat (one per device and kind): parse each once. Errors are not cached."""
    return wire.parse_topic(topic)


def decode(topic: str, payload: bytes, retain: bool = False) -> Decoded | Reject:
    """Decode one message with the wire contract; never raises."""
    try:
        t = _topic(topic)
        if t.kind not in INGESTED or t.device is None or t.site is None:
            return Reject(UNEXPECTED, f"not an ingested topic: {topic[:200]!r}")
        if not payload and t.kind in (wire.Kind.BIRTH, wire.Kind.DEATH):
            return Reject(CLEARED, f"cleared retained message on {topic[:200]!r}")
        msg = wire.decode_payload(t.kind, payload)
        wire.check_consistency(t, msg)
    except wire.WireError as exc:
        return Reject(exc.reason, f"{topic[:200]}: {exc}")
    return Decoded(t.site, t.device, msg, retain)


def authorise(topic_site: str, registered_site: str | None) -> str | None:
    """Reject reason for a sender, or ``None``: it must be registered, under that site."""
    if registered_site is None:
        return UNKNOWN_DEVICE
    if registered_site != topic_site:
        return WRONG_SITE
    return None


# -- stored shape of events ----------------------------------------------------------------

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


#: Which field names the event's ``target`` column (zone, line or luminaire), in order of preference.
_TARGET_FIELDS = ("zone", "line", "lum")


def json_safe(value: Any) -> Any:
    """A value the JSON column of both databases accepts (free-form parts of unknown events).

    Bytes become hex text and non-finite floats ``None``: PostgreSQL's ``json`` refuses NaN.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, bytes) else k.hex(): json_safe(v) for k, v in value.items()}
    return value


def event_body(ev: wire.Event) -> tuple[str, dict[str, Any]]:
    """Wire name and fields by name of an event body (``CountRow`` rows become dicts)."""
    if isinstance(ev, wire.UnknownEvent):
        return "unknown", {"type_code": ev.type_code, "fields": json_safe(list(ev.fields))}
    body = {name: getattr(ev, name) for name in _field_names(type(ev))}
    if isinstance(ev, wire.IntervalCounts):
        body["rows"] = [{n: getattr(r, n) for n in _field_names(type(r))} for r in ev.rows]
    return ev.wire_name, body


def event_rows(site: str, batch: wire.EventBatch, received_ms: int) -> list[dict[str, Any]]:
    """Rows of the ``events`` table for one batch (keys are its column names)."""
    dev, boot, hist = batch.header.dev, batch.boot, batch.historical
    rows = []
    for rec in batch.events:
        ev = rec.body
        name, body = event_body(ev)
        target = None
        for key in _TARGET_FIELDS:
            if key in body:
                target = body[key]
                break
        rows.append({
            "device_id": dev, "boot": boot, "n": rec.n, "site": site, "ts_ms": rec.ts, "received_ms": received_ms,
            "type": name, "cam": body.get("cam"), "target": target, "cls": body.get("cls"),
            "track": body.get("track"), "historical": hist, "stale": False, "body": body,
        })
    return rows
