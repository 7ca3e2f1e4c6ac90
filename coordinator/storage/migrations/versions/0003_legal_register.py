"""the R252-11 register and judicial requisitions

A hash-chained, append-only register of what happens to recordings, and its head row (the last
sequence number and hash), whose row lock serialises appends; designated agents, authority accounts, requisitions and their
time-limited download links; the decisions on the city-wide analytics mode; the boxes' segment upload tokens.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('register_entries',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('camera', sa.String(length=64), nullable=True),
    sa.Column('procedure', sa.String(length=64), nullable=True),
    sa.Column('subject', sa.String(length=128), nullable=True),
    sa.Column('detail', sa.String(length=2000), nullable=True),
    sa.Column('prev', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_register_entries'))
    )
    with op.batch_alter_table('register_entries', schema=None) as batch_op:
        batch_op.create_index('ix_register_entries_at', ['at_ms'], unique=False)
        batch_op.create_index('ix_register_entries_camera_at', ['camera', 'at_ms'], unique=False)
        batch_op.create_index('ix_register_entries_procedure', ['procedure'], unique=False)

    head = op.create_table('register_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_register_head'))
    )
    op.bulk_insert(head, [{'id': 1, 'seq': 0, 'hash': '0' * 64}])
    op.create_table('authority_accounts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authority_accounts')),
    sa.UniqueConstraint('name', name=op.f('uq_authority_accounts_name')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_authority_accounts_token_sha256'))
    )
    op.create_table('legal_designations',
    sa.Column('user_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('designated_ms', sa.BigInteger(), nullable=False),
    sa.Column('designated_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_legal_designations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_legal_designations'))
    )
    op.create_table('requisitions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.Column('procedure', sa.String(length=64), nullable=False),
    sa.Column('legal_basis', sa.String(length=8), nullable=False),
    sa.Column('legal_basis_text', sa.String(length=200), nullable=True),
    sa.Column('cameras', sa.String(length=2000), nullable=False),
    sa.Column('start_ms', sa.BigInteger(), nullable=False),
    sa.Column('end_ms', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('requested_ms', sa.BigInteger(), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_ms', sa.BigInteger(), nullable=True),
    sa.Column('decision_note', sa.String(length=1000), nullable=True),
    sa.CheckConstraint("legal_basis IN ('60-1', '77-1-1', '99-3', 'other')", name=op.f('ck_requisitions_legal_basis')),
    sa.CheckConstraint("status IN ('pending', 'approved', 'refused')", name=op.f('ck_requisitions_status')),
    sa.ForeignKeyConstraint(['authority_id'], ['authority_accounts.id'], name=op.f('fk_requisitions_authority_id_authority_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_requisitions'))
    )
    op.create_index(op.f('ix_requisitions_authority_id'), 'requisitions', ['authority_id'], unique=False)
    op.create_table('download_links',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('requisition_id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('package', sa.String(length=400), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('expires_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['requisition_id'], ['requisitions.id'], name=op.f('fk_download_links_requisition_id_requisitions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_download_links')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_download_links_token_sha256'))
    )
    op.create_index(op.f('ix_download_links_requisition_id'), 'download_links', ['requisition_id'], unique=False)
    op.create_table('analytics_mode_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('legal_basis', sa.String(length=400), nullable=True),
    sa.Column('start_ms', sa.BigInteger(), nullable=True),
    sa.Column('end_ms', sa.BigInteger(), nullable=True),
    sa.Column('set_by', sa.String(length=64), nullable=False),
    sa.Column('set_ms', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("mode IN ('statistics', 'alerting')", name=op.f('ck_analytics_mode_log_mode')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_mode_log'))
    )
    op.create_table('box_upload_tokens',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_box_upload_tokens')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_box_upload_tokens_token_sha256'))
    )


def downgrade() -> None:
    op.drop_table('box_upload_tokens')
    op.drop_table('analytics_mode_log')
    op.drop_index(op.f('ix_download_links_requisition_id'), table_name='download_links')
    op.drop_table('download_links')
    op.drop_index(op.f('ix_requisitions_authority_id'), table_name='requisitions')
    op.drop_table('requisitions')
    op.drop_table('legal_designations')
    op.drop_table('authority_accounts')
    op.drop_table('register_head')
    with op.batch_alter_table('register_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_register_entries_procedure')
        batch_op.drop_index('ix_register_entries_camera_at')
        batch_op.drop_index('ix_register_entries_at')

    op.drop_table('register_entries')
