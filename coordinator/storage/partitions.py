"""Time partitions on PostgreSQL: convert a table, create ranges ahead, drop expired ones (see :mod:`.partition_plan`).

Every statement here is PostgreSQL DDL; on SQLite the tables stay plain and the callers skip these functions
(:func:`is_partitioned` is false there).

Locks: a partition is created as a plain table and then attached, which takes only a SHARE UPDATE EXCLUSIVE lock
on the parent (ingest and reads go on). Detaching takes an ACCESS EXCLUSIVE lock on the parent for an instant;
``lock_timeout`` bounds how long the job may queue behind a long query (and so hold ingest behind itself): past
it the job gives up and the next run tries again, which is harmless since ranges are made days ahead.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .partition_plan import (
    DAY_MS,
    LAYOUTS,
    Range,
    TimeLayout,
    expired,
    missing,
    parse_bound,
    partition_name,
    ranges_for_rows,
)

LOCK_TIMEOUT = "2s"


@dataclass(frozen=True)
class Partition:
    name: str
    range: Range | None  # None: the default partition


def _q(name: str) -> str:
    """A quoted identifier; names here come from :data:`LAYOUTS`, never from input."""
    return '"' + name.replace('"', '""') + '"'


def _cols(names: tuple[str, ...]) -> str:
    return ", ".join(_q(n) for n in names)


def is_partitioned(conn: Connection, table: str) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(sa.text(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = :t AND pg_table_is_visible(c.oid))"), {"t": table}).scalar())


def partitions(conn: Connection, table: str) -> list[Partition]:
    """The partitions of ``table`` with their ranges, oldest first, the default last."""
    rows = conn.execute(sa.text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relname = :t AND pg_table_is_visible(p.oid)"), {"t": table}).all()
    parts = [Partition(name, parse_bound(expr)) for name, expr in rows]
    return sorted(parts, key=lambda p: (p.range is None, p.range or (0, 0)))


def _lock_timeout(conn: Connection) -> None:
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def create_partition(conn: Connection, layout: TimeLayout, r: Range) -> str:
    """Create and attach the partition of ``r``, moving into it the rows the default partition holds for ``r``.

    Such rows exist when events came in for a range not made yet (the job stopped for a week, a box clock ahead):
    they were kept in the default partition and now join their range, so nothing is lost or duplicated. The
    indexes and the key are built by ``ATTACH`` from the parent's.
    """
    name = partition_name(layout, r[0])
    t, col = _q(layout.table), _q(layout.column)
    _lock_timeout(conn)
    conn.exec_driver_sql(f"CREATE TABLE {_q(name)} (LIKE {t} INCLUDING DEFAULTS)")
    if any(p.range is None for p in partitions(conn, layout.table)):
        # ATTACH will take this lock to check the default partition anyway; taking it first means no event can be
        # routed there for ``r`` between the move and the check (which would fail the ATTACH).
        conn.exec_driver_sql(f"LOCK TABLE {_q(layout.default)} IN ACCESS EXCLUSIVE MODE")
        conn.exec_driver_sql(
            f"WITH moved AS (DELETE FROM {_q(layout.default)} WHERE {col} >= {r[0]} AND {col} < {r[1]} RETURNING *) "
            f"INSERT INTO {_q(name)} SELECT * FROM moved")
    conn.exec_driver_sql(f"ALTER TABLE {t} ATTACH PARTITION {_q(name)} FOR VALUES FROM ({r[0]}) TO ({r[1]})")
    return name


def drop_partition(conn: Connection, layout: TimeLayout, name: str) -> None:
    """Detach, then drop: no row is read or written, whatever the partition holds."""
    _lock_timeout(conn)
    conn.exec_driver_sql(f"ALTER TABLE {_q(layout.table)} DETACH PARTITION {_q(name)}")
    conn.exec_driver_sql(f"DROP TABLE {_q(name)}")


def ensure_ahead(conn: Connection, layout: TimeLayout, now_ms: int) -> list[str]:
    """Create the ranges of the current span and the ones ahead that do not exist yet; returns their names."""
    have = [p.range for p in partitions(conn, layout.table) if p.range is not None]
    return [create_partition(conn, layout, r) for r in missing(layout, have, now_ms)]


def drop_expired(conn: Connection, layout: TimeLayout, cutoff_ms: int) -> tuple[list[str], int]:
    """Drop the partitions whose whole range is older than ``cutoff_ms``; returns their names and about how many
    rows they held (the planner's estimate: counting them would read what dropping spares)."""
    parts = {p.range: p.name for p in partitions(conn, layout.table) if p.range is not None}
    names = [parts[r] for r in expired(parts, cutoff_ms)]
    if not names:
        return [], 0
    rows = conn.execute(sa.text(
        "SELECT coalesce(sum(greatest(reltuples, 0)), 0) FROM pg_class WHERE relname = ANY(:n)"),
        {"n": names}).scalar()
    for name in names:
        drop_partition(conn, layout, name)
    return names, int(rows or 0)


# -- migration: an existing plain table to a partitioned one, and back ------------------------------------------

def _columns(conn: Connection, table: str) -> tuple[str, ...]:
    return tuple(conn.execute(sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = :t ORDER BY ordinal_position"), {"t": table}).scalars())


def partition_table(conn: Connection, layout: TimeLayout, now_ms: int) -> list[str]:
    """Turn the plain ``layout.table`` into a partitioned one holding the same rows; returns the partitions made.

    One range per span holding rows, plus the current span and those ahead; other rows go to the default
    partition. Rows are copied once through the parent (PostgreSQL routes each to its partition) before any
    index exists, then the key and the indexes are built on every partition at once.
    """
    t, old = layout.table, f"{layout.table}_unpartitioned"
    conn.exec_driver_sql(f"ALTER TABLE {_q(t)} RENAME TO {_q(old)}")
    conn.exec_driver_sql(f"ALTER TABLE {_q(old)} RENAME CONSTRAINT {_q('pk_' + t)} TO {_q('pk_' + old)}")
    for ix, _ in layout.indexes:
        conn.exec_driver_sql(f"ALTER INDEX {_q(ix)} RENAME TO {_q(ix + '_unpartitioned')}")
    cols = _columns(conn, old)
    col = _q(layout.column)
    conn.exec_driver_sql(f"CREATE TABLE {_q(t)} (LIKE {_q(old)} INCLUDING DEFAULTS) PARTITION BY RANGE ({col})")
    days = conn.execute(sa.text(f"SELECT DISTINCT {col} / {DAY_MS} FROM {_q(old)}")).scalars()
    made = []
    for r in ranges_for_rows(layout, (int(d) for d in days), now_ms):
        name = partition_name(layout, r[0])
        conn.exec_driver_sql(f"CREATE TABLE {_q(name)} PARTITION OF {_q(t)} FOR VALUES FROM ({r[0]}) TO ({r[1]})")
        made.append(name)
    conn.exec_driver_sql(f"CREATE TABLE {_q(layout.default)} PARTITION OF {_q(t)} DEFAULT")
    conn.exec_driver_sql(f"INSERT INTO {_q(t)} ({_cols(cols)}) SELECT {_cols(cols)} FROM {_q(old)}")
    conn.exec_driver_sql(f"ALTER TABLE {_q(t)} ADD CONSTRAINT {_q('pk_' + t)} PRIMARY KEY ({_cols(layout.key)})")
    for ix, ix_cols in layout.indexes:
        conn.exec_driver_sql(f"CREATE INDEX {_q(ix)} ON {_q(t)} ({_cols(ix_cols)})")
    conn.exec_driver_sql(f"DROP TABLE {_q(old)}")
    return made


def unpartition_table(conn: Connection, layout: TimeLayout) -> None:
    """The reverse of :func:`partition_table`: one plain table with ``layout.plain_key``, the same rows.

    Should two rows share the plain key (the same event id at two times, which no box sends), the earliest is
    kept, as the plain key would have kept the first one stored.
    """
    t, part = layout.table, f"{layout.table}_partitioned"
    conn.exec_driver_sql(f"ALTER TABLE {_q(t)} RENAME TO {_q(part)}")
    conn.exec_driver_sql(f"ALTER TABLE {_q(part)} RENAME CONSTRAINT {_q('pk_' + t)} TO {_q('pk_' + part)}")
    for ix, _ in layout.indexes:
        conn.exec_driver_sql(f"ALTER INDEX {_q(ix)} RENAME TO {_q(ix + '_partitioned')}")
    cols = _columns(conn, part)
    conn.exec_driver_sql(f"CREATE TABLE {_q(t)} (LIKE {_q(part)} INCLUDING DEFAULTS)")
    pk, time_col = _cols(layout.plain_key), _q(layout.column)
    conn.exec_driver_sql(
        f"INSERT INTO {_q(t)} ({_cols(cols)}) SELECT DISTINCT ON ({pk}) {_cols(cols)} FROM {_q(part)} "
        f"ORDER BY {pk}, {time_col}")
    conn.exec_driver_sql(f"ALTER TABLE {_q(t)} ADD CONSTRAINT {_q('pk_' + t)} PRIMARY KEY ({pk})")
    for ix, ix_cols in layout.indexes:
        conn.exec_driver_sql(f"CREATE INDEX {_q(ix)} ON {_q(t)} ({_cols(ix_cols)})")
    conn.exec_driver_sql(f"DROP TABLE {_q(part)}")


def maintain(conn: Connection, now_ms: int) -> list[str]:
    """The periodic job's work on one connection: every partitioned table gets its ranges ahead."""
    made: list[str] = []
    for layout in LAYOUTS:
        if is_partitioned(conn, layout.table):
            made += ensure_ahead(conn, layout, now_ms)
    return made
