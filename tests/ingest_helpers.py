"""Wire messages and registry rows for the ingest tests, built with the real wire contract."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

import vigie_wire as wire
from coordinator.ingest.decode import Decoded, decode
from coordinator.storage.registry import DeviceSeed, upsert_devices
from coordinator.storage.schema import events, sequence_gaps

T0 = 1_790_000_000_000


def register(engine: Engine, *devices: tuple[str, str]) -> None:
    """Put ``(device id, site)`` pairs in the fleet registry, as seeding would."""
    with engine.begin() as conn:
        upsert_devices(conn, [DeviceSeed(d, s, None, ("camera",), 47.32, 5.04, "ab" * 32) for d, s in devices],
                       T0)


def header(dev: str, bd: int, seq: int, ts: int = T0) -> wire.Header:
    return wire.Header(wire.SCHEMA_VERSION, dev, bd, seq, ts)


def detection(track: int = 1) -> wire.Detection:
    return wire.Detection(cam=0, track=track, cls=0, conf=80, box=(1, 2, 3, 4))


def event_batch(dev: str, bd: int, seq: int, boot: int, ns: Sequence[int], historical: bool = False,
                ts: int = T0) -> wire.EventBatch:
    recs = tuple(wire.EventRecord(n, ts, detection(n)) for n in ns)
    return wire.EventBatch(header(dev, bd, seq, ts), boot, historical, recs)


def birth(dev: str, bd: int, ts: int = T0) -> wire.Birth:
    return wire.Birth(header(dev, bd, 0, ts), "vigie-edge/0.1.0", "cd" * 32, ("camera",), 47.3225, 5.0353)


def death(dev: str, bd: int, ts: int = T0) -> wire.Death:
    return wire.Death(header(dev, bd, 0, ts))


def telemetry(dev: str, bd: int, seq: int, ts: int = T0, **metrics: Any) -> wire.Telemetry:
    return wire.Telemetry(header(dev, bd, seq, ts), {"cpu": 0.5, **metrics})


def topic_of(site: str, msg: wire.Message) -> str:
    return wire.device_topic(site, msg.header.dev, msg.kind)  # type: ignore[attr-defined]


def decoded(site: str, msg: wire.Message, retain: bool = False) -> Decoded:
    """A message as the worker sees it after decoding its bytes (round trip through the codec)."""
    out = decode(topic_of(site, msg), wire.encode(msg), retain)
    assert isinstance(out, Decoded), out
    return out


def event_ids(engine: Engine) -> list[tuple[str, int, int]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(events.c.device_id, events.c.boot, events.c.n)
                                               .order_by(events.c.device_id, events.c.boot, events.c.n))]


def gaps(engine: Engine, stream: str) -> list[tuple[str, int, int, int]]:
    g = sequence_gaps.c
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(g.device_id, g.epoch, g.first_missing, g.last_missing)
                                               .where(g.stream == stream).order_by(g.device_id, g.epoch,
                                                                                    g.first_missing))]


def now_ms() -> int:
    return int(time.time() * 1000)
