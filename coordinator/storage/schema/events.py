"""Raw events (retention-limited) and the latest telemetry per device."""

from __future__ import annotations

import sqlalchemy as sa

from .base import Ident, Millis, metadata

#: Primary key (device, boot, n) is the wire's event id: storing is idempotent by construction. On PostgreSQL the
#: table is partitioned by day of ``ts_ms`` (migration 0004, :mod:`coordinator.storage.partition_plan`) and its key
#: is (device, boot, n, ts_ms), the partition column being required in it; an id always comes with its time.
events = sa.Table(
    "events", metadata,
    sa.Column("device_id", Ident, primary_key=True),
    sa.Column("boot", sa.BigInteger, primary_key=True),
    sa.Column("n", sa.BigInteger, primary_key=True),
    sa.Column("site", Ident, nullable=False),
    sa.Column("ts_ms", Millis, nullable=False, doc="event time on the box"),
    sa.Column("received_ms", Millis, nullable=False),
    sa.Column("type", sa.String(24), nullable=False, doc="wire name of the event type"),
    sa.Column("cam", sa.SmallInteger, nullable=True),
    sa.Column("target", Ident, nullable=True, doc="zone, line or luminaire the event is about"),
    sa.Column("cls", sa.Integer, nullable=True),
    sa.Column("track", sa.BigInteger, nullable=True),
    sa.Column("historical", sa.Boolean, nullable=False, default=False),
    sa.Column("stale", sa.Boolean, nullable=False, default=False, doc="its device died after sending it"),
    sa.Column("body", sa.JSON, nullable=False, doc="the event's fields by name"),
)
sa.Index("ix_events_ts", events.c.ts_ms)
sa.Index("ix_events_site_ts", events.c.site, events.c.ts_ms)

#: Latest telemetry of each device (history lives in the aggregates).
telemetry = sa.Table(
    "telemetry", metadata,
    sa.Column("device_id", Ident, primary_key=True),
    sa.Column("ts_ms", Millis, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("stale", sa.Boolean, nullable=False, default=False),
)
