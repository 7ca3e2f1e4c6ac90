"""Retention of raw events (``EVENT_RETENTION_DAYS``), a periodic job (see :mod:`coordinator.periodic`).

Cameras film public space: raw events (where and when somebody crossed a line) are kept only
as long as configured, then deleted. Aggregates are other tables and are kept.

On PostgreSQL ``events`` is partitioned by UTC day (migration 0004): a day leaves whole, by dropping its
partition, once every event in it is past the retention, so an event goes between ``days`` and ``days + 1`` after
it happened, and removing a day of the city's events costs the same instant as an empty one. Only the default
partition (events timed outside every range: a box clock gone wrong) is deleted row by row there.
On SQLite (and a PostgreSQL database not migrated to 0004) rows are deleted at the hour. Deletion goes in
small chunks, each its own transaction, so ingest never waits long behind it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import settings
from .storage.partition_plan import EVENTS
from .storage.partitions import drop_expired, is_partitioned, maintain
from .storage.registry import RETENTION_CHUNK, delete_events_before, delete_sequence_history_before

DAY_MS = 86_400_000
#: Chunks per run at most: a backlog (retention shortened) is worked off over several runs.
MAX_CHUNKS = 200


def enforce_retention(engine: Engine, now_ms: int, days: float) -> int:
    """Remove raw events older than ``days`` (by event time) and the sequence history as old; returns about how
    many rows went (for dropped partitions, the planner's count)."""
    cutoff = now_ms - int(days * DAY_MS)
    deleted = 0
    table: sa.TableClause | None = None
    with engine.begin() as conn:
        if is_partitioned(conn, EVENTS.table):
            _names, deleted = drop_expired(conn, EVENTS, cutoff)
            table = sa.table(EVENTS.default, *(sa.column(c) for c in ("device_id", "boot", "n", "ts_ms")))
    for _ in range(MAX_CHUNKS):
        with engine.begin() as conn:
            n = delete_events_before(conn, cutoff, table=table)
        deleted += n
        if n < RETENTION_CHUNK:
            break
    with engine.begin() as conn:
        deleted += delete_sequence_history_before(conn, cutoff)
    return deleted


def retention_job(engine: Engine, now_ms: int) -> int:
    """The registered job: reads ``EVENT_RETENTION_DAYS`` at each run, so a change needs no restart."""
    return enforce_retention(engine, now_ms, float(settings.from_env()["EVENT_RETENTION_DAYS"]))


def partitions_job(engine: Engine, now_ms: int) -> int:
    """Keep the time partitions of the current span and the ones ahead ready (PostgreSQL); returns how many were
    made. Hourly, for ranges made a week (days) or two months ahead: a job stopped for days still finds them."""
    with engine.begin() as conn:
        return len(maintain(conn, now_ms))
