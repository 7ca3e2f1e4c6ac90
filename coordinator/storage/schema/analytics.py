"""Aggregates fed inside the ingest transaction: counts, occupancy, and energy per group and hour.

Raw events are retention-limited; these tables are what dashboards and open data read, and they are kept: one row
per (camera target, class, minute) with traffic (for the city's 115 cameras, a few hundred million a year), one
per (group, hour) for energy. On PostgreSQL the counts and occupancy tables are partitioned by month of
``minute_ms`` (migration 0004; ``docs/storage.md``).
"""

from __future__ import annotations

import sqlalchemy as sa

from .base import Ident, Millis, metadata

#: From ``counts`` events (IntervalCounts): zone entries (``inbound``) or line crossings in each direction.
analytics_counts = sa.Table(
    "analytics_counts", metadata,
    sa.Column("site", Ident, primary_key=True),
    sa.Column("device_id", Ident, primary_key=True),
    sa.Column("cam", sa.SmallInteger, primary_key=True),
    sa.Column("target", Ident, primary_key=True, doc="zone or line id of the box config"),
    sa.Column("cls", sa.Integer, primary_key=True),
    sa.Column("minute_ms", Millis, primary_key=True, doc="start of the minute the counting interval ends in"),
    sa.Column("inbound", sa.BigInteger, nullable=False, doc="zone entries, or inbound crossings"),
    sa.Column("outbound", sa.BigInteger, nullable=False, doc="outbound crossings (0 for a zone)"),
)
sa.Index("ix_analytics_counts_minute", analytics_counts.c.minute_ms)
#: One camera's rows of a window (the key starts with the commune); migration 0005.
sa.Index("ix_analytics_counts_device_minute", analytics_counts.c.device_id, analytics_counts.c.minute_ms)

#: From ``occupancy`` events: the highest count of a class reported in a zone during the minute.
analytics_occupancy = sa.Table(
    "analytics_occupancy", metadata,
    sa.Column("site", Ident, primary_key=True),
    sa.Column("device_id", Ident, primary_key=True),
    sa.Column("cam", sa.SmallInteger, primary_key=True),
    sa.Column("zone", Ident, primary_key=True),
    sa.Column("cls", sa.Integer, primary_key=True),
    sa.Column("minute_ms", Millis, primary_key=True),
    sa.Column("peak", sa.Integer, nullable=False),
)
sa.Index("ix_analytics_occupancy_minute", analytics_occupancy.c.minute_ms)
sa.Index("ix_analytics_occupancy_device_minute", analytics_occupancy.c.device_id, analytics_occupancy.c.minute_ms)

#: Energy of light groups: what was used, and what the same lit hours would have used at full power.
energy_hourly = sa.Table(
    "energy_hourly", metadata,
    sa.Column("site", Ident, primary_key=True),
    sa.Column("group_name", Ident, primary_key=True, doc="a configured group, or commune-<site> (every luminaire)"),
    sa.Column("hour_ms", Millis, primary_key=True),
    sa.Column("energy_wh", sa.Float, nullable=False, doc="metered energy of every luminaire of the group"),
    sa.Column("rated_energy_wh", sa.Float, nullable=False, doc="part of energy_wh from luminaires of known rating"),
    sa.Column("reference_wh", sa.Float, nullable=False, doc="rated power x lit time of those luminaires"),
    sa.Column("lit_h", sa.Float, nullable=False, doc="luminaire-hours lit"),
)
sa.Index("ix_energy_hourly_hour", energy_hourly.c.hour_ms)

#: Last cumulative meter reading of each luminaire, to turn counters into deltas.
light_meters = sa.Table(
    "light_meters", metadata,
    sa.Column("device_id", Ident, primary_key=True),
    sa.Column("lum_id", Ident, primary_key=True),
    sa.Column("ts_ms", Millis, nullable=False),
    sa.Column("energy_wh", sa.Float, nullable=False),
    sa.Column("hours", sa.Float, nullable=False),
)
