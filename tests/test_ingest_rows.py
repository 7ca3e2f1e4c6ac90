"""What the event insert writes, on SQLite and PostgreSQL, and which events reach which hook.

The insert goes through the DBAPI cursor (multi-row VALUES on SQLite, COPY into a staging
table on PostgreSQL) and hooks may declare the event types they read: these tests pin the
stored columns and bodies, idempotence across the SQLite chunk size, and the hook filter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import vigie_wire as wire
from coordinator.ingest.hooks import Hooks, StoredEvent
from coordinator.ingest_hooks import default_hooks
from coordinator.storage.ingest import store_batch
from coordinator.storage.schema import event_streams, events
from tests.ingest_helpers import T0, decoded, event_batch, event_ids, header, register


def _batch(seq: int, boot: int, bodies: Sequence[tuple[int, wire.Event]], historical: bool = False) -> wire.EventBatch:
    recs = tuple(wire.EventRecord(n, T0 + n, body) for n, body in bodies)
    return wire.EventBatch(header("cam-1", 1, seq), boot, historical, recs)


MIXED: list[tuple[int, wire.Event]] = [
    (0, wire.Detection(cam=2, track=7, cls=0, conf=84, box=(1, 2, 3, 4))),
    (1, wire.ZoneEnter(cam=1, zone="square", track=8, cls=2)),
    (2, wire.LineCrossing(cam=0, line="gate-in", track=9, cls=1, inbound=True)),
    (3, wire.LampFault(lum="lum-4", fault="lampFailure", active=True)),
    (4, wire.IntervalCounts(cam=3, interval_s=60, rows=(wire.CountRow("square", 0, 5, 0),))),
    (5, wire.Occupancy(cam=1, zone="square", counts=((0, 2), (2, 1)))),
    (6, wire.UnknownEvent(500, (b"\x01", math.nan, {"k": [1, 2]}))),
]


def _rows(engine: Engine) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        return {r["n"]: dict(r) for r in conn.execute(sa.select(events)).mappings()}


def test_each_event_type_fills_its_columns_and_body(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    report = store_batch(engine, [decoded("dijon", _batch(1, 3, MIXED, historical=True))], T0 + 99, Hooks())
    assert report.stored_events == len(MIXED)
    rows = _rows(engine)
    typed = {n: (r["type"], r["cam"], r["target"], r["cls"], r["track"]) for n, r in rows.items()}
    assert typed == {
        0: ("detection", 2, None, 0, 7),
        1: ("zone_enter", 1, "square", 2, 8),
        2: ("line_crossing", 0, "gate-in", 1, 9),
        3: ("lamp_fault", None, "lum-4", None, None),
        4: ("counts", 3, None, None, None),
        5: ("occupancy", 1, "square", None, None),
        6: ("unknown", None, None, None, None),
    }
    assert rows[0]["body"] == {"cam": 2, "track": 7, "cls": 0, "conf": 84, "box": [1, 2, 3, 4]}
    assert rows[4]["body"]["rows"] == [{"target": "square", "cls": 0, "inbound": 5, "outbound": 0}]
    assert rows[5]["body"]["counts"] == [[0, 2], [2, 1]]
    assert rows[6]["body"] == {"type_code": 500, "fields": ["01", None, {"k": [1, 2]}]}  # NaN: JSON null
    assert all(r["site"] == "dijon" and r["received_ms"] == T0 + 99 and r["historical"] is True
               and r["stale"] is False and r["ts_ms"] == T0 + n for n, r in rows.items())


def test_a_batch_larger_than_one_insert_statement_is_stored_once(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    ns = list(range(1200))  # more than one SQLite statement's worth of rows
    msgs = [decoded("dijon", event_batch("cam-1", 1, s, boot=0, ns=ns[i:i + 400]))
            for s, i in enumerate(range(0, 1200, 400), start=1)]
    first = store_batch(engine, msgs, T0, Hooks())
    again = store_batch(engine, msgs, T0 + 1, Hooks())
    assert (first.stored_events, again.stored_events, again.duplicates["event"]) == (1200, 0, 1200)
    assert event_ids(engine) == [("cam-1", 0, n) for n in ns]
    with engine.connect() as conn:
        s = conn.execute(sa.select(event_streams)).mappings().one()
    assert (s["last_n"], s["events"], s["duplicates"]) == (1199, 1200, 1200)


def test_an_id_repeated_inside_a_batch_is_stored_once_and_counted_as_duplicate(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    report = store_batch(engine, [decoded("dijon", event_batch("cam-1", 1, 1, boot=0, ns=[0, 1, 1, 2]))], T0,
                         Hooks())
    assert (report.stored_events, report.duplicates["event"]) == (3, 1)


def test_hooks_receive_only_new_events_of_the_types_they_declared(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    zone: list[StoredEvent] = []
    every: list[StoredEvent] = []
    hooks = Hooks()
    hooks.add_events(lambda _c, items: zone.extend(items), types={"zone_enter", "lamp_fault"})
    hooks.add_events(lambda _c, items: every.extend(items))
    store_batch(engine, [decoded("dijon", _batch(1, 0, MIXED[:4]))], T0, hooks)
    store_batch(engine, [decoded("dijon", _batch(2, 0, MIXED))], T0, hooks)  # 0..3 again, then new ones
    assert [(e.n, e.type) for e in zone] == [(1, "zone_enter"), (3, "lamp_fault")]
    assert [e.n for e in every] == [0, 1, 2, 3, 4, 5, 6]
    assert zone[0].body == {"cam": 1, "zone": "square", "track": 8, "cls": 2}
    assert hooks.event_types() is None  # the second hook reads every type


def test_the_product_hooks_read_no_detection() -> None:
    # Detections are most of a camera's events; no product hook reads them, so ingest builds
    # nothing for them beyond their row.
    types = default_hooks().event_types()
    assert types is not None and "detection" not in types
    assert {"counts", "occupancy", "zone_enter", "lamp_fault"} <= types


def test_a_hook_with_no_event_of_its_types_is_not_called(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    calls: list[int] = []
    hooks = Hooks()
    hooks.add_events(lambda _c, items: calls.append(len(items)), types={"loitering"})
    store_batch(engine, [decoded("dijon", _batch(1, 0, MIXED))], T0, hooks)
    assert calls == []


def test_a_rolled_back_batch_leaves_the_connection_able_to_store_the_next(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))

    def failing(_conn: Connection, _items: Sequence[StoredEvent]) -> None:
        raise RuntimeError("rule engine down")

    with pytest.raises(RuntimeError):
        store_batch(engine, [decoded("dijon", event_batch("cam-1", 1, 1, boot=0, ns=[0]))], T0,
                    Hooks(events=[failing]))
    for seq in (1, 2):  # the same pooled connection, twice: its staging table survives commits
        store_batch(engine, [decoded("dijon", event_batch("cam-1", 1, seq, boot=0, ns=[seq]))], T0, Hooks())
    assert event_ids(engine) == [("cam-1", 0, 1), ("cam-1", 0, 2)]
