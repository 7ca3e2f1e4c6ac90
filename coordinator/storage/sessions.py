"""Browser sessions kept on the server, so that logout, timeouts and deactivation end them at once.

The signed cookie only carries a random session id; the table keeps its hash, the user, the login
time and the last request. A cookie whose row is ended, missing or out of time opens nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.auth import Principal
from coordinator.auth.sessions import SessionPolicy, needs_touch, verdict

from .schema import auth_sessions, users


@dataclass(frozen=True)
class Resumed:
    """What a session cookie leads to.

    Attributes:
        principal: the logged-in user, or ``None`` when the session is not (or no longer) open.
        ended: why the session ended during this lookup (``idle``, ``expired``, ``deactivated``), if it did.
        username: the session's user, for the audit log of an ending.
    """

    principal: Principal | None
    ended: str | None = None
    username: str | None = None


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def open_session(conn: Connection, user_id: int, now_ms: int) -> str:
    """Record a new session of ``user_id`` and return its id (for the cookie; only its hash is stored)."""
    sid = secrets.token_urlsafe(32)
    conn.execute(auth_sessions.insert().values(sid_sha256=_sid_hash(sid), user_id=user_id, created_ms=now_ms,
                                               seen_ms=now_ms))
    return sid


def _end(conn: Connection, where: sa.ColumnElement[bool], now_ms: int, reason: str) -> int:
    t = auth_sessions
    result = conn.execute(t.update().where(where, t.c.ended_ms.is_(None)).values(ended_ms=now_ms, end_reason=reason))
    return int(result.rowcount)


def resume(conn: Connection, sid: str, policy: SessionPolicy, now_ms: int) -> Resumed:
    """The user of session ``sid`` if it is open; ends it here when it ran out of time or its user was deactivated."""
    t = auth_sessions
    row = conn.execute(
        sa.select(t.c.id, t.c.created_ms, t.c.seen_ms, t.c.ended_ms, users.c.id.label("user_id"), users.c.username,
                  users.c.role, users.c.commune, users.c.active)
        .join(users, users.c.id == t.c.user_id)
        .where(t.c.sid_sha256 == _sid_hash(sid))).first()
    if row is None or row.ended_ms is not None:
        return Resumed(None)
    reason: str | None = "deactivated" if not row.active else None
    if reason is None:
        v = verdict(policy, row.created_ms, row.seen_ms, now_ms)
        reason = None if v == "open" else v
    if reason is not None:
        _end(conn, t.c.id == row.id, now_ms, reason)
        return Resumed(None, reason, row.username)
    if needs_touch(policy, row.seen_ms, now_ms):
        conn.execute(t.update().where(t.c.id == row.id).values(seen_ms=now_ms))
    return Resumed(Principal(user_id=row.user_id, username=row.username, role=row.role, commune=row.commune,
                             via="session"), None, row.username)


def end_session(conn: Connection, sid: str, now_ms: int, reason: str = "logout") -> bool:
    """End one session; False when it was not open."""
    return _end(conn, auth_sessions.c.sid_sha256 == _sid_hash(sid), now_ms, reason) > 0


def end_user_sessions(conn: Connection, user_id: int, now_ms: int, reason: str) -> int:
    """End every open session of ``user_id`` (deactivation); returns how many were open."""
    return _end(conn, auth_sessions.c.user_id == user_id, now_ms, reason)


def is_open(conn: Connection, sid: str, policy: SessionPolicy, now_ms: int) -> bool:
    """Read-only: whether session ``sid`` would still authenticate now (for a long response's re-checks)."""
    t = auth_sessions
    row = conn.execute(sa.select(t.c.created_ms, t.c.seen_ms, t.c.ended_ms, users.c.active)
                       .join(users, users.c.id == t.c.user_id).where(t.c.sid_sha256 == _sid_hash(sid))).first()
    return (row is not None and row.ended_ms is None and bool(row.active)
            and verdict(policy, row.created_ms, row.seen_ms, now_ms) == "open")


def delete_dead(conn: Connection, created_before_ms: int) -> int:
    """Delete the sessions created before ``created_before_ms`` (past any absolute lifetime: dead)."""
    return int(conn.execute(auth_sessions.delete().where(auth_sessions.c.created_ms < created_before_ms)).rowcount)
