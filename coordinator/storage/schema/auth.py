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

auth_sessions = sa.Table(
    "auth_sessions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sid_sha256", sa.String(64), nullable=False, unique=True,
              doc="hash of the session id the browser's signed cookie carries; the id itself is never stored"),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("created_ms", Millis, nullable=False),
    sa.Column("seen_ms", Millis, nullable=False, doc="last request of the session, for the idle timeout"),
    sa.Column("ended_ms", Millis, nullable=True, doc="NULL while the session is open"),
    sa.Column("end_reason", sa.String(16), nullable=True, doc="logout, idle, expired or deactivated"),
)

login_throttle = sa.Table(
    "login_throttle", metadata,
    sa.Column("key", sa.String(80), primary_key=True, doc="'account:<username>' or 'address:<client address>'"),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_ms", Millis, nullable=False),
    sa.Column("locked_until_ms", Millis, nullable=False),
)

security_events = sa.Table(
    "security_events", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at_ms", Millis, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(64), nullable=True, doc="who did it; NULL for an anonymous caller"),
    sa.Column("via", sa.String(16), nullable=False, doc="session, token, cli or anonymous"),
    sa.Column("subject", sa.String(64), nullable=True, doc="the account concerned, as named by the request"),
    sa.Column("address", sa.String(64), nullable=True, doc="client address of an HTTP request"),
    sa.Column("detail", sa.String(400), nullable=True),
    sa.Index("ix_security_events_kind_id", "kind", "id"),
)
