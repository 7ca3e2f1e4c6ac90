"""the current state of each luminaire fault, kept at ingest

A luminaire's faults were read from its raw ``lamp_fault`` events: a fault reported longer ago than the events'
retention left with them, and the lamp showed healthy again. ``lamp_faults`` keeps the latest report of each
(device, luminaire, fault); it is filled here from the events still kept.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table('lamp_faults',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('lum_id', sa.String(length=64), nullable=False),
    sa.Column('fault', sa.String(length=32), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('ts_ms', sa.BigInteger(), nullable=False),
    sa.Column('boot', sa.BigInteger(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'lum_id', 'fault', name=op.f('pk_lamp_faults'))
    )
    assert table is not None
    events = sa.table('events', sa.column('device_id'), sa.column('boot'), sa.column('n'), sa.column('ts_ms'),
                      sa.column('type'), sa.column('body', sa.JSON))
    e = events.c
    latest: dict[tuple[str, str, str], dict[str, object]] = {}
    rows = op.get_bind().execute(sa.select(e.device_id, e.boot, e.n, e.ts_ms, e.body).where(e.type == 'lamp_fault')
                                 .order_by(e.ts_ms, e.device_id, e.boot, e.n))
    for r in rows:
        body = r.body or {}
        lum, fault = body.get('lum'), body.get('fault')
        if isinstance(lum, str) and isinstance(fault, str):
            latest[(r.device_id, lum, fault)] = {'device_id': r.device_id, 'lum_id': lum, 'fault': fault,
                                                 'active': bool(body.get('active')), 'ts_ms': r.ts_ms,
                                                 'boot': r.boot, 'n': r.n}
    if latest:
        op.bulk_insert(table, [latest[k] for k in sorted(latest)])


def downgrade() -> None:
    op.drop_table('lamp_faults')
