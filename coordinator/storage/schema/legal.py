"""The R252-11 register (hash-chained) and its head row."""

from __future__ import annotations

import sqlalchemy as sa

from .base import Ident, Millis, metadata

#: Longest values an entry may hold; longer is refused, never cut (the hash covers what is stored).
ACTOR_MAX, PROCEDURE_MAX, SUBJECT_MAX, DETAIL_MAX = 64, 64, 128, 2000

register_entries = sa.Table(
    "register_entries", metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False,
              doc="1, 2, 3... without gaps; the chain's order"),
    sa.Column("at_ms", Millis, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(ACTOR_MAX), nullable=False, doc="user name, 'system' or 'box:<device>'"),
    sa.Column("camera", Ident, nullable=True, doc="'<site>/<device>/<camera>' or NULL"),
    sa.Column("procedure", sa.String(PROCEDURE_MAX), nullable=True, doc="procedure number of a requisition"),
    sa.Column("subject", sa.String(SUBJECT_MAX), nullable=True, doc="what: a requisition, a file, a segment..."),
    sa.Column("detail", sa.String(DETAIL_MAX), nullable=True),
    sa.Column("prev", sa.String(64), nullable=False, doc="hash of entry seq-1 (64 zeros for the first)"),
    sa.Column("hash", sa.String(64), nullable=False, doc="SHA-256 of the canonical entry"),
    sa.Index("ix_register_entries_camera_at", "camera", "at_ms"),
    sa.Index("ix_register_entries_procedure", "procedure"),
    sa.Index("ix_register_entries_at", "at_ms"),
)

#: One row, updated first by every append: its row lock serialises writers so the chain never forks.
register_head = sa.Table(
    "register_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False, doc="always 1"),
    sa.Column("seq", sa.BigInteger, nullable=False, doc="seq of the last entry (0: empty register)"),
    sa.Column("hash", sa.String(64), nullable=False, doc="hash of the last entry"),
)
