"""time partitions of raw events and traffic aggregates (PostgreSQL)

``events`` becomes partitioned by UTC day of ``ts_ms``, ``analytics_counts`` and ``analytics_occupancy`` by UTC
month of ``minute_ms``, each with a default partition; every row is kept and lands in the partition of its time.
The events' key becomes (device_id, boot, n, ts_ms): PostgreSQL requires the partition column in it, and an event
id always comes with the same time (the box stores both in its outbox), so storing stays idempotent. SQLite keeps
its plain tables: nothing to do there, both ways.

The layouts are written out here rather than read from the code, so that later changes to the code do not change
what this step did.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from alembic import op

from coordinator.storage.partition_plan import TimeLayout
from coordinator.storage.partitions import partition_table, unpartition_table

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNT_KEY = ("site", "device_id", "cam", "target", "cls", "minute_ms")
_OCC_KEY = ("site", "device_id", "cam", "zone", "cls", "minute_ms")
LAYOUTS = (
    TimeLayout("events", "ts_ms", "day", ahead=7,
               key=("device_id", "boot", "n", "ts_ms"), plain_key=("device_id", "boot", "n"),
               indexes=(("ix_events_ts", ("ts_ms",)), ("ix_events_site_ts", ("site", "ts_ms")))),
    TimeLayout("analytics_counts", "minute_ms", "month", ahead=2, key=_COUNT_KEY, plain_key=_COUNT_KEY,
               indexes=(("ix_analytics_counts_minute", ("minute_ms",)),)),
    TimeLayout("analytics_occupancy", "minute_ms", "month", ahead=2, key=_OCC_KEY, plain_key=_OCC_KEY,
               indexes=(("ix_analytics_occupancy_minute", ("minute_ms",)),)),
)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    now_ms = int(time.time() * 1000)
    for layout in LAYOUTS:
        partition_table(conn, layout, now_ms)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for layout in LAYOUTS:
        unpartition_table(conn, layout)
