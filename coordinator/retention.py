"""Retention of raw events (``EVENT_RETENTION_DAYS``), a periodic job (see :mod:`coordinator.periodic`).

Cameras film public space: raw events (where and when somebody crossed a line) are kept only
as long as configured, then deleted. Aggregates are other tables and are kept. Deletion goes in
small chunks, each its own transaction, so ingest never waits long behind it.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from . import settings
from .storage.registry import RETENTION_CHUNK, delete_events_before, delete_sequence_history_before

DAY_MS = 86_400_000
#: Chunks per run at most: a backlog (retention shortened) is worked off over several runs.
MAX_CHUNKS = 200


def enforce_retention(engine: Engine, now_ms: int, days: float) -> int:
    """Delete raw events older than ``days`` (by event time) and the sequence history as old."""
    cutoff = now_ms - int(days * DAY_MS)
    deleted = 0
    for _ in range(MAX_CHUNKS):
        with engine.begin() as conn:
            n = delete_events_before(conn, cutoff)
        deleted += n
        if n < RETENTION_CHUNK:
            break
    with engine.begin() as conn:
        deleted += delete_sequence_history_before(conn, cutoff)
    return deleted


def retention_job(engine: Engine, now_ms: int) -> int:
    """The registered job: reads ``EVENT_RETENTION_DAYS`` at each run, so a change needs no restart."""
    return enforce_retention(engine, now_ms, float(settings.from_env()["EVENT_RETENTION_DAYS"]))
