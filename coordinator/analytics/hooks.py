"""Ingest hooks of analytics: aggregates written in the transaction that stores their events and telemetry.

Ingest hands each event and telemetry message over once, when it is first stored, so adding to the aggregates here
never counts a redelivery; and a batch that fails to store rolls its aggregates back with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from coordinator.ingest.hooks import StoredEvent, StoredTelemetry
from coordinator.storage import analytics as store
from coordinator.storage import lighting as light_store

from .counts import CameraEvent, aggregate
from .energy import Delta, Rating, Reading, attribute, delta, readings

#: The event types :func:`on_events` reads; ingest hands it no other (``Hooks.add_events``).
EVENT_TYPES = frozenset({"counts", "occupancy"})


def on_events(conn: Connection, items: Sequence[StoredEvent]) -> None:
    """Counts and occupancy from ``counts`` and ``occupancy`` events (see :mod:`.counts` for the choice)."""
    relevant = [CameraEvent(e.site, e.device_id, e.ts_ms, e.type, e.body) for e in items
                if e.type in EVENT_TYPES]
    if relevant:
        store.add_aggregates(conn, aggregate(relevant))


def on_telemetry(conn: Connection, items: Sequence[StoredTelemetry]) -> None:
    """Energy per group per hour from light nodes' meter readings (see :mod:`.energy`)."""
    batch = [(t.site, r) for t in sorted(items, key=lambda t: t.ts_ms)
             for r in readings(t.device_id, t.ts_ms, t.metrics)]
    if not batch:
        return
    devices = {r.device_id for _, r in batch}
    last: dict[tuple[str, str], Reading] = store.last_readings(conn, devices)
    deltas: list[tuple[str, str, str, Delta]] = []
    for site, r in batch:
        key = (r.device_id, r.lum_id)
        d = delta(last.get(key), r)
        if d is not None:
            deltas.append((site, r.device_id, r.lum_id, d))
        if key not in last or r.ts_ms > last[key].ts_ms:
            last[key] = r
    seen = dict.fromkeys((r.device_id, r.lum_id) for _, r in batch)
    store.save_readings(conn, [last[k] for k in seen])
    if deltas:
        info = light_store.luminaire_info(conn, devices)
        ratings = {k: Rating(v.rated_w, v.groups) for k, v in info.items()}
        store.add_energy(conn, attribute(deltas, ratings))
