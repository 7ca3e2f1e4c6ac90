"""Decoded Vigie messages as keyed JSON, for integrators who cannot read positional MessagePack arrays.

Pure: a decoded :mod:`vigie_wire` message in, ``(topic, JSON bytes, retain)`` out. The namespace is separate,
``vigie-json/v1/<site>/<device>/<kind>``, so that nothing written for the v1 contract ever reads a JSON payload by
mistake, and the broker's ACL grants it apart (the bridge's own user writes it, integrators read it).

Every key is the position's title in docs/asyncapi.yaml (header ``v``, ``dev``, ``bd``, ``seq``, ``ts``, then the
message's fields); an event is ``{"n", "ts", "type", ...its fields}``. Births, deaths and metadata keep the
retained flag of the message they come from, so a late JSON subscriber gets a box's state at once. Only what the
read-only integrator account may read of the contract is bridged: births, deaths, metadata, events and
telemetry; never commands, acks, snapshots or team topics.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

import vigie_wire as wire

#: The bridge's namespace: ``vigie-json/v1/<site>/<device>/<kind>``.
ROOT = "vigie-json/v1"
#: Contract kinds the bridge republishes.
BRIDGED = (wire.Kind.BIRTH, wire.Kind.DEATH, wire.Kind.META, wire.Kind.EVENT, wire.Kind.TELEMETRY)
#: Content type of every bridged payload (MQTT v5 property).
CONTENT_TYPE = "application/json"


def json_topic(site: str, device: str, kind: wire.Kind) -> str:
    """The bridged topic of ``<site>/<device>/<kind>``."""
    return f"{ROOT}/{site}/{device}/{kind.value}"


def subscriptions() -> list[str]:
    """The contract's topic filters the bridge reads."""
    return [wire.subscription(kind) for kind in BRIDGED]


def _fields(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def _event(rec: wire.EventRecord) -> dict[str, Any]:
    body = rec.body
    return {"n": rec.n, "ts": rec.ts, "type": body.wire_name, **_fields(body)}


def keyed(msg: wire.Message) -> dict[str, Any]:
    """``msg`` as one JSON object: the header's keys, then the message's own (events keyed one by one)."""
    out: dict[str, Any] = _fields(msg.header)
    for name, value in _fields(msg).items():
        if name == "header":
            continue
        out[name] = [_event(e) for e in value] if name == "events" else value
    return out


def to_json(topic: str, msg: wire.Message, retain: bool) -> tuple[str, bytes, bool] | None:
    """The bridged ``(topic, payload, retain)`` of ``msg`` received on ``topic``; ``None`` for a kind not bridged.

    Integers above 2^53 (``seq``, ``n`` may be uint64) are written exactly: JavaScript readers should parse them
    with a BigInt-aware JSON reader or read them as strings if they need more than 53 bits.
    """
    t = wire.parse_topic(topic)
    if t.kind not in BRIDGED or t.site is None or t.device is None:
        return None
    body = orjson.dumps(keyed(msg), option=orjson.OPT_PASSTHROUGH_DATACLASS, default=_default)
    return json_topic(t.site, t.device, t.kind), body, retain and t.kind in _RETAINED


_RETAINED = frozenset({wire.Kind.BIRTH, wire.Kind.DEATH, wire.Kind.META})


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
