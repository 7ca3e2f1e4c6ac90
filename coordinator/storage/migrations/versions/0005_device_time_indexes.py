"""indexes of the traffic aggregates by camera and time

``/analytics/counts`` and ``/analytics/occupancy`` for one camera read its rows of the window; the aggregates'
only time index was on ``minute_ms`` alone and their key starts with the commune, so such a read went through every
camera's rows of the window. ``(device_id, minute_ms)`` serves it. On PostgreSQL the index is declared on the
partitioned parent: every partition gets its own, and partitions made later get it when attached.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (index, table, columns), written out here so that later changes to the code do not change this step.
INDEXES = (
    ("ix_analytics_counts_device_minute", "analytics_counts", ("device_id", "minute_ms")),
    ("ix_analytics_occupancy_device_minute", "analytics_occupancy", ("device_id", "minute_ms")),
)


def upgrade() -> None:
    for name, table, cols in INDEXES:
        op.create_index(name, table, list(cols))


def downgrade() -> None:
    for name, table, _cols in INDEXES:
        op.drop_index(name, table_name=table)
