"""The register in the database: append in the caller's transaction, read filtered, verify the chain.

Appends are serialised by updating the head row first: on PostgreSQL its row lock makes a second
writer wait until the first commits (and then read the new head); on SQLite that first write takes
the database's write lock. Two writers therefore never chain onto the same previous entry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.register.chain import GENESIS, KINDS, Break, Entry, entry_hash, first_break
from coordinator.register.errors import RegisterError

from .schema import register_entries, register_head
from .schema.legal import ACTOR_MAX, DETAIL_MAX, PROCEDURE_MAX, SUBJECT_MAX

_LIMITS = {"actor": ACTOR_MAX, "camera": 64, "procedure": PROCEDURE_MAX, "subject": SUBJECT_MAX,
           "detail": DETAIL_MAX}


def _check(kind: str, values: dict[str, str | None]) -> None:
    if kind not in KINDS:
        raise RegisterError(f"unknown register entry kind {kind!r}")
    for name, value in values.items():
        if value is not None and len(value) > _LIMITS[name]:
            raise RegisterError(f"register entry {name} is {len(value)} characters, at most {_LIMITS[name]}")


def append(conn: Connection, kind: str, actor: str, *, camera: str | None = None, procedure: str | None = None,
           subject: str | None = None, detail: str | None = None, at_ms: int | None = None) -> Entry:
    """Append one entry in the caller's transaction (it commits with the change it records)."""
    _check(kind, {"actor": actor, "camera": camera, "procedure": procedure, "subject": subject, "detail": detail})
    at = int(time.time() * 1000) if at_ms is None else at_ms
    h = register_head
    # Write first: the lock is taken before the previous hash is read.
    conn.execute(h.update().where(h.c.id == 1).values(seq=h.c.seq + 1))
    row = conn.execute(sa.select(h.c.seq, h.c.hash).where(h.c.id == 1)).one_or_none()
    if row is None:
        raise RegisterError("the register has no head row (database not migrated to 0003?)")
    seq, prev = int(row.seq), str(row.hash)
    digest = entry_hash(seq, at, kind, actor, camera, procedure, subject, detail, prev)
    conn.execute(register_entries.insert().values(seq=seq, at_ms=at, kind=kind, actor=actor, camera=camera,
                                                  procedure=procedure, subject=subject, detail=detail, prev=prev,
                                                  hash=digest))
    conn.execute(h.update().where(h.c.id == 1).values(hash=digest))
    return Entry(seq, at, kind, actor, camera, procedure, subject, detail, prev, digest)


def _entry(r: sa.Row[tuple[object, ...]]) -> Entry:
    m = r._mapping
    return Entry(int(m["seq"]), int(m["at_ms"]), str(m["kind"]), str(m["actor"]), m["camera"], m["procedure"],
                 m["subject"], m["detail"], str(m["prev"]), str(m["hash"]))


@dataclass(frozen=True)
class Filter:
    """Which entries to read; every field optional."""

    camera: str | None = None
    procedure: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    kind: str | None = None


def _where(q: sa.Select[tuple[object, ...]], f: Filter) -> sa.Select[tuple[object, ...]]:
    t = register_entries
    if f.camera is not None:
        q = q.where(t.c.camera == f.camera)
    if f.procedure is not None:
        q = q.where(t.c.procedure == f.procedure)
    if f.since_ms is not None:
        q = q.where(t.c.at_ms >= f.since_ms)
    if f.until_ms is not None:
        q = q.where(t.c.at_ms < f.until_ms)
    if f.kind is not None:
        q = q.where(t.c.kind == f.kind)
    return q


def page(conn: Connection, f: Filter, limit: int, after: int = 0) -> list[Entry]:
    """Up to ``limit`` matching entries with ``seq > after``, oldest first."""
    t = register_entries
    q = _where(sa.select(t), f).where(t.c.seq > after).order_by(t.c.seq).limit(limit)
    return [_entry(r) for r in conn.execute(q)]


def iter_all(conn: Connection, f: Filter | None = None, chunk: int = 1000) -> Iterator[Entry]:
    """Every matching entry, oldest first, read ``chunk`` at a time (an export of years stays small in memory)."""
    after = 0
    while True:
        batch = page(conn, f or Filter(), chunk, after)
        yield from batch
        if len(batch) < chunk:
            return
        after = batch[-1].seq


def head(conn: Connection) -> tuple[int, str]:
    row = conn.execute(sa.select(register_head.c.seq, register_head.c.hash)
                       .where(register_head.c.id == 1)).one_or_none()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))


def verify(conn: Connection) -> tuple[int, Break | None]:
    """(entries checked, first break or None) over the whole register and its head."""
    count = 0

    def counted() -> Iterator[Entry]:
        nonlocal count
        for e in iter_all(conn):
            count += 1
            yield e

    broken = first_break(counted(), head(conn))
    return count, broken
