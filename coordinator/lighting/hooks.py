"""Ingest hook of lighting: the nodes' answers to lighting commands, recorded in the ingest transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from coordinator.ingest.hooks import StoredAck
from coordinator.storage import lighting as store


def on_acks(conn: Connection, items: Sequence[StoredAck]) -> None:
    """Record which device answered what to a lighting command (acks to other commands pass by)."""
    store.record_acks(conn, [store.Ack(a.cmd_id, a.device_id, a.result, a.detail, dict(a.applied), a.ts_ms)
                             for a in items])
