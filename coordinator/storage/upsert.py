"""``INSERT ... ON CONFLICT`` on both databases (SQLite and PostgreSQL share the syntax, not the SQLAlchemy class).

Aggregates are updated by several ingest workers at once: an additive upsert is one atomic statement, where a
read-then-write would lose counts between two workers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def _insert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for {conn.dialect.name}")


def dialect_insert(conn: Connection, table: sa.Table) -> Any:
    """The dialect's ``INSERT``, which has ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    return _insert(conn, table)


def upsert(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    *,
    add: Sequence[str] = (),
    greatest: Sequence[str] = (),
    replace: Sequence[str] = (),
) -> None:
    """Insert ``rows``; on a key conflict add ``add`` columns, keep the larger of ``greatest``, overwrite ``replace``.

    With none of them, a conflicting row is left as it is (insert-if-absent).
    """
    if not rows:
        return
    stmt = _insert(conn, table)
    ex = stmt.excluded
    sets: dict[str, Any] = {c: table.c[c] + ex[c] for c in add}
    sets.update({c: sa.case((ex[c] > table.c[c], ex[c]), else_=table.c[c]) for c in greatest})
    sets.update({c: ex[c] for c in replace})
    if sets:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=sets)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, [dict(r) for r in rows])
