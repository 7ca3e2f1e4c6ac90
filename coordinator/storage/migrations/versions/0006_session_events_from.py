"""the earliest event time of each device's current session

At a device's death its session's events are flagged stale (``received_ms`` since the session started). With no
bound on the event time that UPDATE read every event kept for the device, in every day partition on PostgreSQL; the
session's earliest event time, kept on the device row at ingest, bounds it. Null for sessions opened before this
step: their death is handled as before.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_events_from_ms', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('session_events_from_ms')
