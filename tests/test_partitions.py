"""Time partitions: the plan (pure), the job and retention on both databases, and migration 0004 with data kept.

On PostgreSQL ``events`` is partitioned by day and the traffic aggregates by month; on SQLite the same calls leave
plain tables and delete rows, which these tests check as well.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from coordinator.analytics.buckets import sql_bucket_ms
from coordinator.cli import main as cli
from coordinator.ingest.hooks import Hooks
from coordinator.retention import enforce_retention, partitions_job
from coordinator.storage import analytics as analytics_store
from coordinator.storage import make_engine, schema_drift, upgrade
from coordinator.storage.ingest import store_batch
from coordinator.storage.migrate import current_revision
from coordinator.storage.partition_plan import (
    COUNTS,
    DAY_MS,
    EVENTS,
    LAYOUTS,
    OCCUPANCY,
    expired,
    is_partition,
    missing,
    parse_bound,
    partition_name,
    ranges_ahead,
    ranges_for_rows,
    span_range,
)
from coordinator.storage.partitions import is_partitioned, maintain, partitions
from coordinator.storage.schema import analytics_counts, analytics_occupancy, events, metadata
from tests.db_helpers import DatabaseFactory
from tests.ingest_helpers import T0, decoded, event_batch, event_ids, register


def _ms(*ymd_h: int) -> int:
    return int(datetime(*ymd_h, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


# -- the plan ------------------------------------------------------------------------------------------------------

def test_days_and_months_are_cut_at_utc_boundaries() -> None:
    assert span_range(_ms(2026, 12, 7, 23), "day") == (_ms(2026, 12, 7), _ms(2026, 12, 8))
    assert span_range(_ms(2026, 12, 31, 23), "month") == (_ms(2026, 12, 1), _ms(2027, 1, 1))
    assert span_range(_ms(2028, 2, 29, 12), "month") == (_ms(2028, 2, 1), _ms(2028, 3, 1))
    assert partition_name(EVENTS, _ms(2026, 12, 7)) == "events_p20261207"
    assert partition_name(COUNTS, _ms(2027, 1, 1)) == "analytics_counts_p202701"
    assert is_partition("events_p20261207") and is_partition("analytics_occupancy_default")
    assert not is_partition("events") and not is_partition("telemetry_p20261207")


def test_ranges_ahead_are_contiguous_and_only_missing_ones_are_made() -> None:
    now = _ms(2026, 12, 31, 12)
    ahead = ranges_ahead(COUNTS, now)
    assert ahead == [(_ms(2026, 12, 1), _ms(2027, 1, 1)), (_ms(2027, 1, 1), _ms(2027, 2, 1)),
                     (_ms(2027, 2, 1), _ms(2027, 3, 1))]
    assert missing(COUNTS, ahead[:2], now) == ahead[2:]
    assert len(ranges_ahead(EVENTS, now)) == EVENTS.ahead + 1
    assert missing(EVENTS, ranges_ahead(EVENTS, now), now + DAY_MS) == [ranges_ahead(EVENTS, now + DAY_MS)[-1]]


def test_only_ranges_wholly_past_the_cutoff_expire() -> None:
    days = [(d * DAY_MS, (d + 1) * DAY_MS) for d in range(10)]
    assert expired(days, 3 * DAY_MS) == days[:3]
    assert expired(days, 3 * DAY_MS + 1) == days[:3]  # the day holding the cutoff waits for its last event
    assert expired(reversed(days), 0) == []


def test_rows_at_absurd_times_get_no_range_of_their_own() -> None:
    now = _ms(2026, 12, 7, 9)
    days = [0, _ms(2026, 11, 2) // DAY_MS, _ms(2090, 1, 1) // DAY_MS]
    got = ranges_for_rows(EVENTS, days, now)
    assert got == sorted({span_range(_ms(2026, 11, 2), "day"), *ranges_ahead(EVENTS, now)})
    assert parse_bound("FOR VALUES FROM ('1') TO ('86400001')") == (1, 86_400_001)
    assert parse_bound("DEFAULT") is None
    with pytest.raises(ValueError, match="not a range"):
        parse_bound("FOR VALUES IN (1)")


def test_layouts_follow_the_declared_tables_and_migration_0004_froze_them() -> None:
    for layout in LAYOUTS:
        table = metadata.tables[layout.table]
        assert tuple(table.primary_key.columns.keys()) == layout.plain_key
        assert layout.column in layout.key and set(layout.plain_key) <= set(layout.key)
        assert {(ix.name, tuple(c.name for c in ix.columns)) for ix in table.indexes} == set(layout.indexes)
    step = importlib.import_module("coordinator.storage.migrations.versions.0004_time_partitions")
    later = importlib.import_module("coordinator.storage.migrations.versions.0005_device_time_indexes")
    added = {table: tuple((name, cols) for name, t, cols in later.INDEXES if t == table) for _, table, _ in
             later.INDEXES}
    assert tuple(dataclasses.replace(layout, indexes=layout.indexes + added.get(layout.table, ()))
                 for layout in step.LAYOUTS) == LAYOUTS, "0004's layouts and 0005's indexes are today's"


# -- the job and retention on both databases ------------------------------------------------------------------------

def _where(conn: Connection, table: str, col: str) -> dict[int, str]:
    """Each row's time column -> the partition holding it (PostgreSQL)."""
    rows = conn.execute(sa.text(f"SELECT {col}, tableoid::regclass::text FROM {table}")).all()
    return {int(r[0]): str(r[1]) for r in rows}


def _days_made(engine: Engine, first_ms: int, last_ms: int) -> None:
    """Run the partitions job as if it had run every week from ``first_ms``: contiguous days up to ``last_ms``."""
    for now in range(first_ms, last_ms + 1, 7 * DAY_MS):
        partitions_job(engine, now)


def test_retention_drops_whole_past_days_on_postgresql_and_deletes_rows_on_sqlite(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    cutoff = T0 - 30 * DAY_MS
    _days_made(engine, T0 - 45 * DAY_MS, T0)
    times = {0: T0 - 40 * DAY_MS, 1: cutoff - 3_600_000, 2: cutoff + 3_600_000, 3: T0 - DAY_MS, 4: 5}
    store_batch(engine, [decoded("dijon", event_batch("cam-1", 1, i + 1, boot=0, ns=[n], ts=ts))
                         for i, (n, ts) in enumerate(times.items())], T0, Hooks())
    with engine.connect() as conn:
        pg = is_partitioned(conn, "events")
        before = {p.name for p in partitions(conn, "events")} if pg else set()
    assert pg == (engine.dialect.name == "postgresql")
    removed = enforce_retention(engine, T0, days=30)
    left = [n for _, _, n in event_ids(engine)]
    if not pg:
        assert left == [2, 3] and removed == 3  # to the millisecond, row by row
        assert partitions_job(engine, T0) == 0
        return
    # The day holding the cutoff stays whole until its last event is past it; the default partition (the event
    # at 1970) is cleaned row by row; every day before the cutoff's went as a table.
    assert left == [1, 2, 3]
    with engine.connect() as conn:
        kept = partitions(conn, "events")
    gone = before - {p.name for p in kept}
    assert partition_name(EVENTS, span_range(times[0], "day")[0]) in gone
    assert all(p.range is None or p.range[1] > cutoff for p in kept)
    assert len(gone) == 15 and EVENTS.default in {p.name for p in kept}  # days T0-45 .. T0-31


def test_an_event_ahead_of_its_day_is_kept_then_moves_into_it_and_replays_still_conflict(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    late = T0 + 20 * DAY_MS
    _days_made(engine, T0, T0)
    batch = [decoded("dijon", event_batch("cam-1", 1, 1, boot=4, ns=[0, 1], ts=late))]
    assert store_batch(engine, batch, T0, Hooks()).stored_events == 2
    pg = engine.dialect.name == "postgresql"
    if pg:
        with engine.connect() as conn:
            assert set(_where(conn, "events", "ts_ms").values()) == {EVENTS.default}
    with engine.connect() as conn:
        days_before = len(partitions(conn, "events")) if pg else 0
    made = partitions_job(engine, late)
    if not pg:
        assert made == 0
    else:
        with engine.connect() as conn:
            assert len(partitions(conn, "events")) - days_before == EVENTS.ahead + 1  # the late day and a week on
            assert set(_where(conn, "events", "ts_ms").values()) == {partition_name(EVENTS, span_range(late, "day")[0])}
    again = store_batch(engine, [decoded("dijon", event_batch("cam-1", 1, 2, boot=4, ns=[0, 1], ts=late,
                                                              historical=True))], T0 + 1, Hooks())
    assert again.stored_events == 0 and again.duplicates["event"] == 2
    assert event_ids(engine) == [("cam-1", 4, 0), ("cam-1", 4, 1)]


# -- migration 0004 with data --------------------------------------------------------------------------------------

@pytest.fixture
def empty_engine(db_factory: DatabaseFactory) -> Iterator[Engine]:
    url = db_factory.new_empty_url()
    e = make_engine(url)
    yield e
    e.dispose()
    db_factory.release(url)


def _event(dev: str, n: int, ts: int) -> dict[str, object]:
    return {"device_id": dev, "boot": 1, "n": n, "site": "dijon", "ts_ms": ts, "received_ms": ts, "type": "detection",
            "cam": 0, "target": "z1", "cls": 0, "track": n, "historical": False, "stale": False, "body": {"n": n}}


def _count(site: str, minute: int, inbound: int) -> dict[str, object]:
    return {"site": site, "device_id": "cam-1", "cam": 0, "target": "l1", "cls": 0, "minute_ms": minute,
            "inbound": inbound, "outbound": 1}


def _snapshot(conn: Connection) -> dict[str, list[tuple[object, ...]]]:
    return {t.name: sorted(tuple(r) for r in conn.execute(sa.select(*(c for c in t.c if c.name != "body"))))
            for t in (events, analytics_counts, analytics_occupancy)}


def test_migration_0004_keeps_every_row_in_its_partition_and_goes_back(empty_engine: Engine) -> None:
    engine = empty_engine
    upgrade(engine, "0003")
    now = int(time.time() * 1000)
    minute = now - now % 60_000
    old_month = _ms(2025, 3, 14, 8)
    with engine.begin() as conn:
        conn.execute(events.insert(), [_event("cam-1", i, ts) for i, ts in enumerate(
            [now, now - DAY_MS, now - 3 * DAY_MS, now - 29 * DAY_MS, 5, _ms(2090, 1, 1)])])
        conn.execute(analytics_counts.insert(), [_count("dijon", minute, 3), _count("dijon", old_month, 4),
                                                 _count("talant", minute, 5), _count("dijon", 60_000, 6)])
        conn.execute(analytics_occupancy.insert(), [{"site": "dijon", "device_id": "cam-1", "cam": 0, "zone": "z1",
                                                     "cls": 0, "minute_ms": m, "peak": 2} for m in (minute, old_month)])
        before = _snapshot(conn)
    upgrade(engine)
    pg = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        assert _snapshot(conn) == before
        assert [is_partitioned(conn, t) for t in ("events", "analytics_counts", "analytics_occupancy")] == [pg] * 3
        if pg:
            for layout in (EVENTS, COUNTS, OCCUPANCY):
                ranges = {p.name: p.range for p in partitions(conn, layout.table)}
                for ts, name in _where(conn, layout.table, layout.column).items():
                    r = ranges[name]
                    assert (r is None and (ts < _ms(2000, 1, 1) or ts >= _ms(2080, 1, 1))) or (
                        r is not None and r[0] <= ts < r[1]), (layout.table, ts, name)
                assert layout.default in ranges and len(ranges) >= layout.ahead + 2
    assert schema_drift(engine) == []
    # The routes' reads and ingest work on the migrated tables.
    with engine.connect() as conn:
        rows = analytics_store.counts(conn, analytics_store.CountFilter(minute - 3_600_000, minute + 60_000, "dijon"),
                                      sql_bucket_ms("hour"))
    assert [(r.site, r.inbound) for r in rows] == [("dijon", 3)]
    register(engine, ("cam-9", "dijon"))
    batch = [decoded("dijon", event_batch("cam-9", 1, 1, boot=0, ns=[0, 1], ts=now))]
    assert store_batch(engine, batch, now, Hooks()).stored_events == 2
    assert store_batch(engine, batch, now + 1, Hooks()).duplicates["event"] == 2
    with engine.begin() as conn:
        conn.execute(events.delete().where(events.c.device_id == "cam-9"))
    assert cli(["db", "--database-url", engine.url.render_as_string(hide_password=False), "downgrade", "0003"]) == 0
    assert current_revision(engine) == "0003"
    with engine.connect() as conn:
        assert _snapshot(conn) == before
        assert not is_partitioned(conn, "events")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # the wire id alone is the key again
        conn.execute(events.insert(), _event("cam-1", 0, now + 1))


# -- migration 0005: the aggregates' (device_id, minute_ms) indexes ------------------------------------------------

def _index_tables(engine: Engine, name: str) -> set[str]:
    """Tables holding an index built from ``name`` (PostgreSQL names each partition's copy after its table)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(sa.text("SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name = :n"),
                                {"n": name})
            return {str(r[0]) for r in rows}
        rows = conn.execute(sa.text(
            "SELECT t.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid WHERE i.relname = :n OR i.oid IN "
            "(SELECT inhrelid FROM pg_inherits WHERE inhparent = (SELECT oid FROM pg_class WHERE relname = :n))"),
            {"n": name})
        return {str(r[0]) for r in rows}


def test_migration_0005_indexes_every_partition_and_goes_back(empty_engine: Engine) -> None:
    engine = empty_engine
    upgrade(engine)
    pg = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        parts = {p.name for p in partitions(conn, "analytics_counts")} if pg else set()
    assert _index_tables(engine, "ix_analytics_counts_device_minute") == {"analytics_counts", *parts}
    assert pg is False or len(parts) >= COUNTS.ahead + 2
    url = engine.url.render_as_string(hide_password=False)
    assert cli(["db", "--database-url", url, "downgrade", "0004"]) == 0
    assert _index_tables(engine, "ix_analytics_counts_device_minute") == set()
    assert _index_tables(engine, "ix_analytics_occupancy_device_minute") == set()
    upgrade(engine)
    assert schema_drift(engine) == []
    if pg:  # a month made later by the job gets the index when attached
        with engine.begin() as conn:
            assert maintain(conn, _ms(2027, 12, 15))
            parts = {p.name for p in partitions(conn, "analytics_counts")}
        assert _index_tables(engine, "ix_analytics_counts_device_minute") == {"analytics_counts", *parts}
