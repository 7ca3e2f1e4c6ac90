"""Ingest hook of the register: what the boxes report of their recordings becomes register entries.

A camera box sends ``recording`` (started / stopped) and ``segment_destroyed`` events through its
durable outbox; ingest hands each over once, when first stored, and this hook appends the entry
in the same transaction: an event is never stored without its entry, nor an entry written twice
for a redelivered event. The entry's time is the box's (when it happened), its actor the box.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from coordinator.ingest.hooks import StoredEvent
from coordinator.storage import register as register_store

#: The event types :func:`on_events` reads.
EVENT_TYPES = frozenset({"recording", "segment_destroyed"})


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def entry_of(e: StoredEvent) -> tuple[str, str, str | None, str | None]:
    """(kind, camera, subject, detail) of the register entry an event makes."""
    body = e.body
    camera = f"{e.site}/{e.device_id}/{body['camera']}"[:64]
    if e.type == "recording":
        return ("recording_started" if body["on"] else "recording_stopped", camera, None, str(body["reason"]))
    start, end = int(body["start_ms"]), int(body["end_ms"])
    return ("destruction", camera, f"segment {start}-{end}",
            f"{body['reason']}: images {_utc(start)} to {_utc(end)}, {body['size']} bytes, destroyed on the box")


def on_events(conn: Connection, items: Sequence[StoredEvent]) -> None:
    for e in sorted((e for e in items if e.type in EVENT_TYPES), key=lambda e: (e.ts_ms, e.boot, e.n)):
        kind, camera, subject, detail = entry_of(e)
        register_store.append(conn, kind, f"box:{e.device_id}"[:64], camera=camera, subject=subject, detail=detail,
                              at_ms=e.ts_ms)
