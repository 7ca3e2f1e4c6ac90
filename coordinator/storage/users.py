"""Users and API tokens in the database."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.auth import ROLES, Principal, hash_password, hash_token, new_token, verify_password

from .schema import api_tokens, users


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


def create_user(conn: Connection, username: str, password: str, role: str, commune: str | None) -> int:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
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
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def authenticate(conn: Connection, username: str, password: str) -> Principal | None:
    row = conn.execute(sa.select(users).where(users.c.username == username, users.c.active.is_(True))).first()
    if row is None or not verify_password(row.password_hash, password):
        return None
    return _principal(row, "session")


def principal_by_id(conn: Connection, user_id: int) -> Principal | None:
    row = conn.execute(sa.select(users).where(users.c.id == user_id, users.c.active.is_(True))).first()
    return None if row is None else _principal(row, "session")


def create_token(conn: Connection, user_id: int, name: str) -> str:
    """Store a new token's hash and return the token itself: it is shown once, never again."""
    token = new_token()
    conn.execute(api_tokens.insert().values(user_id=user_id, name=name, token_sha256=hash_token(token),
                                            created_ms=_now_ms(), revoked=False))
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


def list_users(conn: Connection) -> list[UserRow]:
    rows = conn.execute(sa.select(users).order_by(users.c.username)).all()
    return [UserRow(r.id, r.username, r.role, r.commune, r.active) for r in rows]
