"""Users and API tokens. Passwords and tokens are stored hashed only."""

from __future__ import annotations

import sqlalchemy as sa

from .base import Ident, Millis, metadata

ROLES = ("viewer", "operator", "supervisor", "admin")

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("commune", Ident, nullable=True, doc="NULL: métropole staff, sees every commune"),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_ms", Millis, nullable=False),
    sa.CheckConstraint("role IN ('viewer', 'operator', 'supervisor', 'admin')", name="role"),
)

api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_ms", Millis, nullable=False),
    sa.Column("last_used_ms", Millis, nullable=True),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)
