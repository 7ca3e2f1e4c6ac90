"""Users and API tokens in the database."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.auth import ROLES, Principal, hash_password, hash_token, new_token
from coordinator.auth.audit import Actor
from coordinator.auth.secrets import verify_password_or_dummy
from vigie_config.metropole import communes

from . import audit
from .schema import api_tokens, users
from .sessions import end_user_sessions

COMMUNE_SLUGS = frozenset(c.slug for c in communes())


class UserError(ValueError):
    """A user or token request that cannot be honoured (duplicate name, unknown role...)."""


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    role: str
    commune: str | None
    active: bool


def _now_ms() -> int:
    return int(time.time() * 1000)


def _principal(row: sa.Row[tuple[int, str, str, str | None]], via: str) -> Principal:
    return Principal(user_id=row.id, username=row.username, role=row.role, commune=row.commune, via=via)


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    created_ms: int
    last_used_ms: int | None
    revoked: bool


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, got {role!r}")


def _check_commune(commune: str | None) -> None:
    if commune is not None and commune not in COMMUNE_SLUGS:
        raise UserError(f"commune {commune!r} is not a commune of the métropole")


def create_user(conn: Connection, username: str, password: str, role: str, commune: str | None,
                by: Actor | None = None) -> int:
    """Create an account; with ``by``, the creation is written to the audit log in the same transaction."""
    _check_role(role)
    _check_commune(commune)
    if not username or len(username) > 64:
        raise UserError("username must have 1 to 64 characters")
    exists = conn.execute(sa.select(users.c.id).where(users.c.username == username)).first()
    if exists:
        raise UserError(f"user {username!r} already exists")
    try:
        pw = hash_password(password)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    result = conn.execute(users.insert().values(username=username, password_hash=pw, role=role,
                                                commune=commune, active=True, created_ms=_now_ms()))
    uid = int(result.inserted_primary_key[0])  # type: ignore[index]
    if by is not None:
        audit.record(conn, "user_created", by, username, f"role={role} commune={commune or '-'}")
    return uid


@dataclass(frozen=True)
class Authentication:
    """The outcome of a password check: the principal, or why not (for the audit log, never the caller)."""

    principal: Principal | None
    reason: str | None = None


def authenticate(conn: Connection, username: str, password: str) -> Authentication:
    """Check a login; every refusal costs one password hash, so timing does not reveal which names exist."""
    row = conn.execute(sa.select(users).where(users.c.username == username)).first()
    ok = verify_password_or_dummy(None if row is None else row.password_hash, password)
    if row is None:
        return Authentication(None, "unknown account")
    if not ok:
        return Authentication(None, "wrong password")
    if not row.active:
        return Authentication(None, "deactivated account")
    return Authentication(_principal(row, "session"))


def create_token(conn: Connection, user_id: int, name: str, by: Actor | None = None) -> str:
    """Store a new token's hash and return the token itself: it is shown once, never again."""
    token = new_token()
    result = conn.execute(api_tokens.insert().values(user_id=user_id, name=name, token_sha256=hash_token(token),
                                                     created_ms=_now_ms(), revoked=False))
    if by is not None:
        owner = conn.execute(sa.select(users.c.username).where(users.c.id == user_id)).scalar_one()
        audit.record(conn, "token_created", by, owner,
                     f"token={result.inserted_primary_key[0]} name={name}")  # type: ignore[index]
    return token


def principal_by_token(conn: Connection, token: str) -> Principal | None:
    q = (sa.select(users, api_tokens.c.id.label("token_id"))
         .join(api_tokens, api_tokens.c.user_id == users.c.id)
         .where(api_tokens.c.token_sha256 == hash_token(token), api_tokens.c.revoked.is_(False),
                users.c.active.is_(True)))
    row = conn.execute(q).first()
    if row is None:
        return None
    conn.execute(api_tokens.update().where(api_tokens.c.id == row.token_id).values(last_used_ms=_now_ms()))
    return _principal(row, "token")


def token_is_valid(conn: Connection, token: str) -> bool:
    """Read-only: whether ``token`` would still authenticate (not revoked, its user active)."""
    q = (sa.select(api_tokens.c.id).join(users, api_tokens.c.user_id == users.c.id)
         .where(api_tokens.c.token_sha256 == hash_token(token), api_tokens.c.revoked.is_(False),
                users.c.active.is_(True)))
    return conn.execute(q).first() is not None


def list_users(conn: Connection) -> list[UserRow]:
    rows = conn.execute(sa.select(users).order_by(users.c.username)).all()
    return [UserRow(r.id, r.username, r.role, r.commune, r.active) for r in rows]


def get_user(conn: Connection, user_id: int | None = None, username: str | None = None) -> UserRow | None:
    """One account by id or by name."""
    q = sa.select(users).where(users.c.id == user_id if username is None else users.c.username == username)
    r = conn.execute(q).first()
    return None if r is None else UserRow(r.id, r.username, r.role, r.commune, r.active)


def list_tokens(conn: Connection, user_id: int) -> list[TokenRow]:
    t = api_tokens
    rows = conn.execute(sa.select(t).where(t.c.user_id == user_id).order_by(t.c.id)).all()
    return [TokenRow(r.id, r.name, r.created_ms, r.last_used_ms, r.revoked) for r in rows]


def revoke_tokens(conn: Connection, user: UserRow, by: Actor, token_id: int | None = None) -> list[int]:
    """Revoke one token of ``user`` (or all of them); returns the ids revoked now, each written to the audit log."""
    t = api_tokens
    where = [t.c.user_id == user.id, t.c.revoked.is_(False)]
    if token_id is not None:
        where.append(t.c.id == token_id)
    ids = [int(i) for i in conn.execute(sa.select(t.c.id).where(*where).order_by(t.c.id)).scalars()]
    if ids:
        conn.execute(t.update().where(t.c.id.in_(ids)).values(revoked=True))
    for i in ids:
        audit.record(conn, "token_revoked", by, user.username, f"token={i}")
    return ids


def update_user(conn: Connection, user: UserRow, by: Actor, *, active: bool | None = None, role: str | None = None,
                commune: str | None = None, set_commune: bool = False) -> UserRow:
    """Change an account; each change goes to the audit log in the same transaction.

    Deactivating ends the account's browser sessions and revokes its tokens at once: a deactivated
    user keeps no way in, even if reactivated later (new tokens are needed then).
    """
    values: dict[str, object] = {}
    now = _now_ms()
    if role is not None and role != user.role:
        _check_role(role)
        values["role"] = role
        audit.record(conn, "role_changed", by, user.username, f"{user.role} -> {role}", now)
    if set_commune and commune != user.commune:
        _check_commune(commune)
        values["commune"] = commune
        audit.record(conn, "commune_changed", by, user.username, f"{user.commune or '-'} -> {commune or '-'}", now)
    if active is not None and active != user.active:
        values["active"] = active
        audit.record(conn, "user_activated" if active else "user_deactivated", by, user.username, None, now)
    if values:
        conn.execute(users.update().where(users.c.id == user.id).values(**values))
    if active is False and user.active:
        ended = end_user_sessions(conn, user.id, now, "deactivated")
        if ended:
            audit.record(conn, "session_end", by, user.username, f"reason=deactivated sessions={ended}", now)
        revoke_tokens(conn, user, by)
    updated = get_user(conn, user.id)
    assert updated is not None
    return updated
