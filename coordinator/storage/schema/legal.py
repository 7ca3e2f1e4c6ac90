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

legal_designations = sa.Table(
    "legal_designations", metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
              autoincrement=False),
    sa.Column("designated_ms", Millis, nullable=False),
    sa.Column("designated_by", sa.String(64), nullable=False),
)

authority_accounts = sa.Table(
    "authority_accounts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True, doc="e.g. 'Parquet de Dijon' or an OPJ's service"),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_ms", Millis, nullable=False),
)

requisitions = sa.Table(
    "requisitions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("authority_id", sa.Integer, sa.ForeignKey("authority_accounts.id"), nullable=False, index=True),
    sa.Column("procedure", sa.String(PROCEDURE_MAX), nullable=False),
    sa.Column("legal_basis", sa.String(8), nullable=False),
    sa.Column("legal_basis_text", sa.String(200), nullable=True),
    sa.Column("cameras", sa.String(2000), nullable=False, doc="JSON list of '<site>/<device>/<camera>'"),
    sa.Column("start_ms", Millis, nullable=False),
    sa.Column("end_ms", Millis, nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("requested_by", sa.String(64), nullable=False),
    sa.Column("requested_ms", Millis, nullable=False),
    sa.Column("decided_by", sa.String(64), nullable=True),
    sa.Column("decided_ms", Millis, nullable=True),
    sa.Column("decision_note", sa.String(1000), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'refused')", name="status"),
    sa.CheckConstraint("legal_basis IN ('60-1', '77-1-1', '99-3', 'other')", name="legal_basis"),
)

download_links = sa.Table(
    "download_links", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("requisition_id", sa.Integer, sa.ForeignKey("requisitions.id"), nullable=False, index=True),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("package", sa.String(400), nullable=False, doc="path of the package archive on the coordinator"),
    sa.Column("created_ms", Millis, nullable=False),
    sa.Column("expires_ms", Millis, nullable=False),
)

analytics_mode_log = sa.Table(
    "analytics_mode_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("legal_basis", sa.String(400), nullable=True, doc="the text authorising alerting"),
    sa.Column("start_ms", Millis, nullable=True),
    sa.Column("end_ms", Millis, nullable=True),
    sa.Column("set_by", sa.String(64), nullable=False),
    sa.Column("set_ms", Millis, nullable=False),
    sa.CheckConstraint("mode IN ('statistics', 'alerting')", name="mode"),
)

box_upload_tokens = sa.Table(
    "box_upload_tokens", metadata,
    sa.Column("device_id", Ident, primary_key=True, doc="the box; its token uploads only its own segments"),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_ms", Millis, nullable=False),
)
