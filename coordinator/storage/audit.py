"""The security audit log: append an event, read a page of them (newest first)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.auth.audit import KINDS, Actor

from .schema import security_events

DETAIL_MAX = 400


@dataclass(frozen=True)
class SecurityEvent:
    id: int
    at_ms: int
    kind: str
    actor: str | None
    via: str
    subject: str | None
    address: str | None
    detail: str | None


def record(conn: Connection, kind: str, actor: Actor, subject: str | None = None, detail: str | None = None,
           at_ms: int | None = None) -> None:
    """Append one event in the caller's transaction, so the event and the change it reports commit together."""
    if kind not in KINDS:
        raise ValueError(f"unknown security event kind {kind!r}")
    conn.execute(security_events.insert().values(
        at_ms=int(time.time() * 1000) if at_ms is None else at_ms, kind=kind, actor=actor.name, via=actor.via,
        subject=None if subject is None else subject[:64], address=actor.address,
        detail=None if detail is None else detail[:DETAIL_MAX]))


def page(conn: Connection, limit: int, before: int | None = None, kind: str | None = None,
         subject: str | None = None, actor: str | None = None) -> list[SecurityEvent]:
    """Up to ``limit`` events with ids below ``before``, newest first, filtered by kind, subject or actor."""
    t = security_events
    q = sa.select(t).order_by(t.c.id.desc()).limit(limit)
    if before is not None:
        q = q.where(t.c.id < before)
    if kind is not None:
        q = q.where(t.c.kind == kind)
    if subject is not None:
        q = q.where(t.c.subject == subject)
    if actor is not None:
        q = q.where(t.c.actor == actor)
    return [SecurityEvent(r.id, r.at_ms, r.kind, r.actor, r.via, r.subject, r.address, r.detail)
            for r in conn.execute(q)]


def delete_before(conn: Connection, at_before_ms: int) -> int:
    """Delete the events older than ``at_before_ms`` (retention)."""
    return int(conn.execute(security_events.delete().where(security_events.c.at_ms < at_before_ms)).rowcount)
