"""Bytes <-> messages. The only module of Vigie that imports MessagePack.

A message is one MessagePack array: the five header fields, then the fields of the message
type in declaration order (:mod:`vigie_wire.messages`). An event inside a batch is the array
``[n, dt, code, *fields]`` where ``dt`` is the event time minus the header time, in ms, so a
live event costs one byte of time.

Decoding never raises anything but :class:`WireError`: whatever MessagePack or the schema
objects to is translated here, at the boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import msgpack

from .compiled import Mismatch, builder
from .errors import WireError
from .limits import (
    INT64_MAX,
    MAX_EVENTS_PER_BATCH,
    MAX_LIST_ITEMS,
    MAX_MAP_ITEMS,
    MAX_PAYLOAD_BYTES,
    MAX_TEXT_LEN,
    SCHEMA_VERSION,
    UINT32_MAX,
    UINT64_MAX,
)
from .messages import (
    EVENT_TYPES,
    MESSAGE_TYPES,
    Command,
    Dispatch,
    Event,
    EventBatch,
    EventRecord,
    Header,
    Message,
    UnknownEvent,
)
from .schema import from_list, to_list
from .topics import Kind, Topic, parse_topic

_HEADER_LEN = 5
# Decoder bounds: a hostile payload cannot make the decoder allocate without limit.
_MAX_STR_BYTES = MAX_TEXT_LEN * 4
_MAX_ARRAY = max(MAX_LIST_ITEMS, MAX_EVENTS_PER_BATCH) + 16


class PackedEvent(NamedTuple):
    """An event body already packed, as the outbox stores it: no re-encoding on replay."""

    n: int
    ts: int
    items: int
    blob: bytes


def _header_list(h: Header) -> list[Any]:
    return [h.v, h.dev, h.bd, h.seq, h.ts]


def _check_size(payload: bytes) -> None:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError("size", f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")


def pack_event(body: Event) -> tuple[int, bytes]:
    """Pack ``[code, *fields]`` of an event body; returns (item count, bytes)."""
    if isinstance(body, UnknownEvent):
        items: list[Any] = [body.type_code, *body.fields]
    else:
        items = [body.code, *to_list(body)]
    packed = msgpack.packb(items, use_bin_type=True)
    return len(items), packed[_array_header_len(len(items)):]


def _array_header_len(n: int) -> int:
    """Bytes of a MessagePack array header for ``n`` items (fixarray, array16, array32)."""
    return 1 if n < 16 else 3 if n < 65536 else 5


def encode_batch(header: Header, boot: int, historical: bool, events: Sequence[PackedEvent]) -> bytes:
    """Encode an event batch from packed events, splicing their stored bytes."""
    if not 1 <= len(events) <= MAX_EVENTS_PER_BATCH:
        raise WireError("field", f"a batch holds 1..{MAX_EVENTS_PER_BATCH} events, got {len(events)}", "events")
    # The batch fields are checked here since no EventBatch object is built on this path.
    if type(boot) is not int or not 0 <= boot <= UINT32_MAX:
        raise WireError("field", f"boot must be an integer 0..{UINT32_MAX}, got {boot!r}", "boot")
    if type(historical) is not bool:
        raise WireError("field", f"expected a boolean, got {type(historical).__name__}", "historical")
    for i, ev in enumerate(events):
        n_ok = type(ev.n) is int and 0 <= ev.n <= UINT64_MAX
        if not n_ok or type(ev.ts) is not int or not 0 <= ev.ts <= INT64_MAX:
            raise WireError("field", f"n must be 0..{UINT64_MAX} and ts 0..{INT64_MAX}", f"events[{i}]")
    packer = msgpack.Packer(use_bin_type=True)
    # [*header, boot, historical, []] packed in one call, the empty events array re-headed.
    head = packer.pack([header.v, header.dev, header.bd, header.seq, header.ts, boot, historical, []])
    parts = [head[:-1], packer.pack_array_header(len(events))]
    for ev in events:
        parts.append(packer.pack_array_header(2 + ev.items))
        parts.append(packer.pack(ev.n))
        parts.append(packer.pack(ev.ts - header.ts))
        parts.append(ev.blob)
    payload = b"".join(parts)
    _check_size(payload)
    return payload


def encode(msg: Message) -> bytes:
    """Encode a validated message (messages validate on construction)."""
    if isinstance(msg, EventBatch):
        packed = [PackedEvent(r.n, r.ts, *pack_event(r.body)) for r in msg.events]
        return encode_batch(msg.header, msg.boot, msg.historical, packed)
    fields = to_list(msg)
    payload = msgpack.packb(_header_list(msg.header) + fields[1:], use_bin_type=True)
    _check_size(payload)
    return payload


def _map(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """A MessagePack map, refused when it repeats a key: which value wins would be the decoder's whim."""
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("a map repeats a key")
    return out


def _unpack(payload: bytes) -> list[Any]:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise WireError("size", f"payload must be bytes, got {type(payload).__name__}")
    if len(payload) == 0:
        raise WireError("size", "empty payload (a cleared retained message)")
    _check_size(bytes(payload))
    try:
        data = msgpack.unpackb(
            payload,
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=_MAX_STR_BYTES,
            max_bin_len=MAX_PAYLOAD_BYTES,  # snapshots; binary anywhere else fails its field check
            max_array_len=_MAX_ARRAY,
            max_map_len=MAX_MAP_ITEMS,
            max_ext_len=0,
            object_pairs_hook=_map,
        )
    except Exception as exc:  # msgpack raises a zoo of types; all mean "not valid MessagePack"
        raise WireError("msgpack", f"not a valid MessagePack payload ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, list) or len(data) < _HEADER_LEN:
        raise WireError("schema", "expected an array starting with the 5 header fields")
    if type(data[0]) is not int or data[0] != SCHEMA_VERSION:
        raise WireError("version", f"unsupported schema version {data[0]!r} (this decoder reads {SCHEMA_VERSION})")
    return data


def _decode_events(raw: Any, header_ts: Any) -> Any:
    if not isinstance(raw, list) or not isinstance(header_ts, int) or isinstance(header_ts, bool):
        return raw  # let the schema report the type error with its path
    out = []
    for i, item in enumerate(raw):
        path = f"events[{i}]"
        if not isinstance(item, list) or len(item) < 3:
            raise WireError("schema", "an event is [n, dt, code, *fields]", path)
        n, dt, code, *fields = item
        if not isinstance(dt, int) or isinstance(dt, bool):
            raise WireError("field", f"expected an integer, got {type(dt).__name__}", f"{path}.dt")
        if not isinstance(code, int) or isinstance(code, bool) or not 0 <= code <= 65535:
            raise WireError("field", f"event code must be an integer 0..65535, got {code!r}", f"{path}.code")
        cls = EVENT_TYPES.get(code)
        body: Event = from_list(cls, fields, path) if cls else UnknownEvent(code, tuple(fields))
        out.append(from_list(EventRecord, [n, header_ts + dt, body], path))
    return out


def decode_payload(kind: Kind, payload: bytes) -> Message:
    """Decode and validate a payload of topic kind ``kind`` (no topic consistency check).

    The compiled builders (:mod:`vigie_wire.compiled`) try first; whatever they decline, the
    reference walk decides, so a bad payload gets the reference's error.
    """
    data = _unpack(payload)
    cls = MESSAGE_TYPES[kind]
    try:
        if cls is EventBatch:
            return _fast_batch(data)
        build = builder(cls, _HEADER_LEN - 1, flat_header=True)
        if build is not None:
            return cast(Message, build(data))
    except Mismatch:
        pass
    return _reference(cls, data)


def decode_payload_reference(kind: Kind, payload: bytes) -> Message:
    """:func:`decode_payload` by the generic walk alone: the yardstick of the property tests."""
    return _reference(MESSAGE_TYPES[kind], _unpack(payload))


def _reference(cls: type[Any], data: list[Any]) -> Message:
    rest = data[_HEADER_LEN:]
    if cls is EventBatch and len(rest) >= 3:
        rest = [rest[0], rest[1], _decode_events(rest[2], data[4]), *rest[3:]]
    return cast(Message, from_list(cls, [data[:_HEADER_LEN], *rest]))


_new = object.__new__
_set = object.__setattr__


def _fast_batch(data: list[Any]) -> EventBatch:
    """An event batch by the compiled builders; :class:`Mismatch` sends it to the reference.

    Event types a builder cannot handle (custom checks, nested records) and unknown codes are
    built per event by the reference constructors; an error there also defers to the reference,
    which reports it with the batch's path.
    """
    if len(data) < _HEADER_LEN + 3:
        raise Mismatch
    header = _HEADER(data)
    boot, historical, raw = data[5], data[6], data[7]
    if (type(boot) is not int or not 0 <= boot <= UINT32_MAX or type(historical) is not bool
            or type(raw) is not list or not 1 <= len(raw) <= MAX_EVENTS_PER_BATCH):
        raise Mismatch
    hts = header.ts
    builders = _EVENT_BUILDERS
    records = []
    for item in raw:
        if type(item) is not list or len(item) < 3:
            raise Mismatch
        n, dt, code = item[0], item[1], item[2]
        # Exact type checks: True would otherwise pass for 1, and find code 1 in the table.
        if type(n) is not int or type(dt) is not int or type(code) is not int or n < 0 or n > UINT64_MAX:
            raise Mismatch
        ts = hts + dt
        if ts < 0 or ts > INT64_MAX:
            raise Mismatch
        build = builders.get(code)
        body = build(item) if build is not None else _slow_event(code, item)
        rec = _new(EventRecord)
        _set(rec, "__dict__", {"n": n, "ts": ts, "body": body})
        records.append(rec)
    batch = _new(EventBatch)
    _set(batch, "__dict__", {"header": header, "boot": boot, "historical": historical, "events": tuple(records)})
    return batch


def _slow_event(code: Any, item: list[Any]) -> Event:
    if type(code) is not int or not 0 <= code <= 65535:
        raise Mismatch
    cls = EVENT_TYPES.get(code)
    try:
        return from_list(cls, item[3:]) if cls else UnknownEvent(code, tuple(item[3:]))
    except WireError:
        raise Mismatch from None


def _header_builder() -> Any:
    build = builder(Header)
    assert build is not None
    return build


_HEADER = _header_builder()
#: Compiled builders by event code, reading the fields after ``[n, dt, code]``.
_EVENT_BUILDERS = {code: b for code, cls in EVENT_TYPES.items() if (b := builder(cls, 3)) is not None}


def decode(topic: str, payload: bytes) -> Message:
    """Decode a message received on ``topic``, checking that topic and payload agree."""
    t = parse_topic(topic)
    msg = decode_payload(t.kind, payload)
    check_consistency(t, msg)
    return msg


def check_consistency(t: Topic, msg: Message) -> None:
    """The sender or target (device, group, team) named by the topic must be the one named in the payload."""
    if isinstance(msg, Command):
        expected = t.group if t.group is not None else t.device
        if msg.target != expected:
            raise WireError("mismatch", f"command target {msg.target!r} but topic names {expected!r}", "target")
        return
    if isinstance(msg, Dispatch):
        if msg.team != t.team:
            raise WireError("mismatch", f"dispatch for team {msg.team!r} but topic names {t.team!r}", "team")
        return
    expected = t.host if t.kind is Kind.STATE else t.team if t.team is not None else t.device
    if msg.header.dev != expected:
        raise WireError("mismatch", f"payload from {msg.header.dev!r} on the topic of {expected!r}", "header.dev")
