"""From received bytes to typed items or a reject reason (pure: no I/O, no clock, no globals).

The wire contract (:mod:`vigie_wire`) is the only decoder; this module adds what the centre
checks on top of it: the topic kinds ingest stores, whether the sender is in the fleet
registry and publishes under its registered site, and the row shape of a stored event.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable
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


#: Event rows of one message by event id: ``(row, type, body)``, see :func:`add_event_rows`.
EventRows = dict[tuple[str, int, int], tuple[tuple[Any, ...], str, dict[str, Any]]]


class Decoded(NamedTuple):
    """A valid message and where it was published (topic site and device).

    ``rows``: an event batch's rows built ahead of its transaction (a storage process builds
    them while the previous batch commits); ``None``: built when stored.
    """

    site: str
    device: str
    msg: wire.Message
    retain: bool
    rows: EventRows | None = None


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

#: Columns of the ``events`` table, in the order of the tuples :func:`add_event_rows` builds.
EVENT_COLUMNS = ("device_id", "boot", "n", "site", "ts_ms", "received_ms", "type", "cam", "target", "cls", "track",
                 "historical", "stale", "body")

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
    body = {f.name: getattr(ev, f.name) for f, _ in wire.schema.record_fields(type(ev))}
    if isinstance(ev, wire.IntervalCounts):
        body["rows"] = [{f.name: getattr(r, f.name) for f, _ in wire.schema.record_fields(type(r))} for r in ev.rows]
    return ev.wire_name, body


def _nests_record(hint: Any) -> bool:
    if isinstance(hint, type) and issubclass(hint, wire.schema.Record):
        return True
    return any(_nests_record(a) for a in typing.get_args(hint))


Shape = Callable[[wire.Event], tuple[str, Any, Any, Any, Any, dict[str, Any]]]
_SHAPES: dict[type, Shape] = {}


def _shape(cls: type[wire.Event]) -> Shape:
    """How an event of ``cls`` fills the typed columns: derived once per class, not per event.

    Flat event types (scalars and tuples of scalars) are their fields by name as they are, so
    the record's own attribute dict is the body (records hold their fields and nothing else);
    unknown events and types with nested records go through :func:`event_body`.
    """
    flat = cls is not wire.UnknownEvent and not any(_nests_record(h) for _, h in wire.schema.record_fields(cls))
    names = {f.name for f, _ in wire.schema.record_fields(cls)}
    target = next((k for k in _TARGET_FIELDS if k in names), None)
    if not flat:
        def slow(ev: wire.Event) -> tuple[str, Any, Any, Any, Any, dict[str, Any]]:
            name, body = event_body(ev)
            return name, body.get("cam"), body.get(target) if target else None, body.get("cls"), body.get("track"), body
        return slow
    name = cls.wire_name

    def fast(ev: wire.Event) -> tuple[str, Any, Any, Any, Any, dict[str, Any]]:
        b = ev.__dict__
        return name, b.get("cam"), b[target] if target else None, b.get("cls"), b.get("track"), b
    return fast


def add_event_rows(site: str, batch: wire.EventBatch, received_ms: int, dumps: Callable[[Any], Any],
                   out: EventRows) -> None:
    """Add the ``events`` rows of ``batch`` to ``out``, keyed by event id; the first of a repeated id wins.

    Each value is ``(row, type, body)``: the row in :data:`EVENT_COLUMNS` order with the body
    serialised by ``dumps``, then what a hook needs. ``body`` may be the record's own field
    dict: copy it before handing it out. Tuples and one pass per event, because this runs for
    every event of every batch (see ``bench/ingest_bench.py``).
    """
    dev, boot, hist = batch.header.dev, batch.boot, batch.historical
    shapes = _SHAPES
    for rec in batch.events:
        key = (dev, boot, rec.n)
        if key in out:
            continue
        ev = rec.body
        shape = shapes.get(type(ev))
        if shape is None:
            shape = shapes[type(ev)] = _shape(type(ev))
        name, cam, target, cls, track, body = shape(ev)
        out[key] = ((dev, boot, rec.n, site, rec.ts, received_ms, name, cam, target, cls, track, hist, False,
                     dumps(body)), name, body)


def event_rows(site: str, batch: wire.EventBatch, received_ms: int) -> list[dict[str, Any]]:
    """Rows of the ``events`` table for one batch, by column name (``body`` as a dict)."""
    out: EventRows = {}
    add_event_rows(site, batch, received_ms, lambda b: None, out)
    return [{**dict(zip(EVENT_COLUMNS, row, strict=True)), "body": dict(body)} for row, _, body in out.values()]
