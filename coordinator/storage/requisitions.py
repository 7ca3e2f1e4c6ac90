"""Requisitions, designated agents, authority accounts and download links in the database.

Every change here is made in the caller's transaction together with its register entry, so a
step and its trace commit or roll back as one.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.auth.secrets import hash_token

from .schema import (
    authority_accounts,
    box_upload_tokens,
    download_links,
    legal_designations,
    requisitions,
    users,
)


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


@dataclass(frozen=True)
class Requisition:
    id: int
    authority_id: int
    authority: str
    procedure: str
    legal_basis: str
    legal_basis_text: str | None
    cameras: list[str]
    start_ms: int
    end_ms: int
    reason: str
    status: str
    requested_by: str
    requested_ms: int
    decided_by: str | None
    decided_ms: int | None
    decision_note: str | None


def add_authority(conn: Connection, name: str, at_ms: int) -> tuple[int, str]:
    """Create an authority account; returns its id and bearer token (shown once, stored hashed)."""
    token = secrets.token_urlsafe(32)
    result = conn.execute(authority_accounts.insert().values(name=name, token_sha256=hash_token(token), active=True,
                                                             created_ms=at_ms))
    return _new_id(result), token


def authority_by_token(conn: Connection, token: str) -> tuple[int, str] | None:
    t = authority_accounts
    row = conn.execute(sa.select(t.c.id, t.c.name).where(t.c.token_sha256 == hash_token(token),
                                                         t.c.active.is_(True))).one_or_none()
    return None if row is None else (int(row.id), str(row.name))


def authority_exists(conn: Connection, authority_id: int) -> str | None:
    t = authority_accounts
    row = conn.execute(sa.select(t.c.name).where(t.c.id == authority_id, t.c.active.is_(True))).one_or_none()
    return None if row is None else str(row.name)


def designate(conn: Connection, username: str, by: str, at_ms: int) -> bool:
    """Make ``username`` a designated agent (R252-11); False when there is no such user."""
    uid = conn.execute(sa.select(users.c.id).where(users.c.username == username)).scalar_one_or_none()
    if uid is None:
        return False
    exists = conn.execute(sa.select(legal_designations.c.user_id).where(legal_designations.c.user_id == uid))
    if exists.first() is None:
        conn.execute(legal_designations.insert().values(user_id=uid, designated_ms=at_ms, designated_by=by))
    return True


def is_designated(conn: Connection, user_id: int) -> bool:
    q = sa.select(legal_designations.c.user_id).where(legal_designations.c.user_id == user_id)
    return conn.execute(q).first() is not None


def create(conn: Connection, *, authority_id: int, procedure: str, legal_basis: str, legal_basis_text: str | None,
           cameras: list[str], start_ms: int, end_ms: int, reason: str, requested_by: str, at_ms: int) -> int:
    result = conn.execute(requisitions.insert().values(
        authority_id=authority_id, procedure=procedure, legal_basis=legal_basis, legal_basis_text=legal_basis_text,
        cameras=json.dumps(cameras), start_ms=start_ms, end_ms=end_ms, reason=reason, status="pending",
        requested_by=requested_by, requested_ms=at_ms))
    return _new_id(result)


def _select() -> sa.Select[tuple[object, ...]]:
    r, a = requisitions, authority_accounts
    return sa.select(r, a.c.name.label("authority")).join(a, a.c.id == r.c.authority_id)


def _row(row: sa.Row[tuple[object, ...]]) -> Requisition:
    m = row._mapping
    return Requisition(int(m["id"]), int(m["authority_id"]), str(m["authority"]), str(m["procedure"]),
                       str(m["legal_basis"]), m["legal_basis_text"], list(json.loads(str(m["cameras"]))),
                       int(m["start_ms"]), int(m["end_ms"]), str(m["reason"]), str(m["status"]),
                       str(m["requested_by"]), int(m["requested_ms"]), m["decided_by"], m["decided_ms"],
                       m["decision_note"])


def get(conn: Connection, rid: int, *, for_update: bool = False) -> Requisition | None:
    q = _select().where(requisitions.c.id == rid)
    if for_update and conn.dialect.name == "postgresql":
        q = q.with_for_update(of=requisitions)
    row = conn.execute(q).one_or_none()
    return None if row is None else _row(row)


def listing(conn: Connection, authority_id: int | None = None, status: str | None = None,
            limit: int = 200) -> list[Requisition]:
    q = _select().order_by(requisitions.c.id.desc()).limit(limit)
    if authority_id is not None:
        q = q.where(requisitions.c.authority_id == authority_id)
    if status is not None:
        q = q.where(requisitions.c.status == status)
    return [_row(r) for r in conn.execute(q)]


def set_decision(conn: Connection, rid: int, status: str, by: str, at_ms: int, note: str | None) -> bool:
    """Record the decision unless another one got there first (False then)."""
    r = requisitions
    result = conn.execute(r.update().where(r.c.id == rid, r.c.status == "pending")
                          .values(status=status, decided_by=by, decided_ms=at_ms, decision_note=note))
    return int(result.rowcount) == 1


def add_link(conn: Connection, rid: int, package: str, at_ms: int, expires_ms: int) -> str:
    """A download link for the package of ``rid``; returns its token (stored hashed)."""
    token = secrets.token_urlsafe(32)
    conn.execute(download_links.insert().values(requisition_id=rid, token_sha256=hash_token(token), package=package,
                                                created_ms=at_ms, expires_ms=expires_ms))
    return token


@dataclass(frozen=True)
class Link:
    id: int
    requisition_id: int
    package: str
    expires_ms: int


def link_by_token(conn: Connection, token: str) -> Link | None:
    d = download_links
    row = conn.execute(sa.select(d).where(d.c.token_sha256 == hash_token(token))).one_or_none()
    return None if row is None else Link(int(row.id), int(row.requisition_id), str(row.package), int(row.expires_ms))


def links_of(conn: Connection, rid: int) -> list[tuple[int, int, int]]:
    """(id, created_ms, expires_ms) of every link of a requisition."""
    d = download_links
    q = sa.select(d.c.id, d.c.created_ms, d.c.expires_ms).where(d.c.requisition_id == rid).order_by(d.c.id)
    return [(int(r.id), int(r.created_ms), int(r.expires_ms)) for r in conn.execute(q)]


def authorities(conn: Connection) -> list[tuple[int, str]]:
    """(id, name) of every active authority account, by name."""
    t = authority_accounts
    q = sa.select(t.c.id, t.c.name).where(t.c.active.is_(True)).order_by(t.c.name)
    return [(int(r.id), str(r.name)) for r in conn.execute(q)]


def set_box_token(conn: Connection, device_id: str, at_ms: int) -> str:
    """A new upload token for a box (replacing its previous one); returns it (stored hashed)."""
    token = secrets.token_urlsafe(32)
    t = box_upload_tokens
    conn.execute(t.delete().where(t.c.device_id == device_id))
    conn.execute(t.insert().values(device_id=device_id, token_sha256=hash_token(token), created_ms=at_ms))
    return token


def box_by_token(conn: Connection, token: str) -> str | None:
    t = box_upload_tokens
    found = conn.execute(sa.select(t.c.device_id).where(t.c.token_sha256 == hash_token(token))).scalar_one_or_none()
    return None if found is None else str(found)
