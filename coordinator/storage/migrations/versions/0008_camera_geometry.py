"""where the cameras' zones and counting lines lie on the ground

One row per zone or line of a camera whose box config gives its WGS84 geometry, written when the fleet is seeded,
so that the map draws them for a whole commune in one query.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('camera_geometry',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('cam', sa.SmallInteger(), nullable=False),
    sa.Column('target', sa.String(length=64), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('camera', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=4), nullable=False),
    sa.Column('geo', sa.JSON(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("kind IN ('zone', 'line')", name=op.f('ck_camera_geometry_kind')),
    sa.PrimaryKeyConstraint('device_id', 'cam', 'target', name=op.f('pk_camera_geometry'))
    )
    with op.batch_alter_table('camera_geometry', schema=None) as batch_op:
        batch_op.create_index('ix_camera_geometry_site', ['site'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('camera_geometry', schema=None) as batch_op:
        batch_op.drop_index('ix_camera_geometry_site')
    op.drop_table('camera_geometry')
