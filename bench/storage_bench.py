"""Storage bench: the city's traffic aggregates over a year and its raw events over days, on plain and on
partitioned PostgreSQL tables (migration 0004), in throwaway databases.

1. One database at revision 0003 (plain tables) is filled server-side (``generate_series``) at the city's rate:
   ``--cameras`` camera boxes (115 in the métropole) over 23 communes, ``--count-rows`` analytics_counts rows and
   ``--occupancy-rows`` analytics_occupancy rows per camera and minute over ``--days`` days, energy per commune
   group and hour, raw events at ``--event-rate`` per camera and minute over ``--event-days`` days (the footage
   measured in the Vision section gives 288 per minute on a busy street; the default, half of it, stands for a
   day with its quiet night), and two lamp-fault events per light cabinet and day.
2. It is copied (``CREATE DATABASE .. TEMPLATE``) and the copy upgraded to 0004: the migration's time is measured
   on that data, and both databases then hold the same rows.
3. The analytics routes' reads (the product's own query functions), the intervention context's events, the live
   feed's poll and the lighting page's fault read run on both, interleaved round by round; the median of each is
   reported, and partitioned / plain as a ratio (the plain table is the baseline, measured in the same run).
4. Ingest: batches of 250 events through ``store_batch`` on both (events stored per second, ratio).
5. Retention: one day of raw events dropped as a partition, against the same day's rows deleted by the
   retention job's chunked DELETE on the plain table (and the VACUUM it leaves behind), as a ratio.
6. The retention job alone (``enforce_retention``, as the hourly job runs it), wall time and CPU (this process,
   and the PostgreSQL backend serving it, read from ``/proc``): on the partitioned database a run that drops the
   next whole day, and a run with nothing to drop; on SQLite a run over an hour of the city's raw events (115
   cameras at ``--event-rate``: what an hourly run deletes there in steady state), and a run with nothing to delete.

The analytics reads are timed as the routes serve them now (buckets summed by the database, hours over more than
8 days served by day) and, on the same data, as they were served before (every hourly row fetched, days folded in
Python), the earlier way being the baseline of the second table.

Run: ``.venv/bin/python bench/storage_bench.py --write bench/RESULTS.md``
(PostgreSQL: ``VIGIE_BENCH_PG``, default the test server's admin URL). The databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402
from coordinator.analytics.buckets import Bucket, day_runs, fold_days, served_bucket, sql_bucket_ms  # noqa: E402
from coordinator.api.routes.stream import fetch_latest, fetch_since  # noqa: E402
from coordinator.ingest.hooks import Hooks  # noqa: E402
from coordinator.interventions.geo import COMMUNE_SLUGS  # noqa: E402
from coordinator.retention import MAX_CHUNKS, enforce_retention  # noqa: E402
from coordinator.storage import analytics as store  # noqa: E402
from coordinator.storage import make_engine, upgrade  # noqa: E402
from coordinator.storage.ingest import store_batch  # noqa: E402
from coordinator.storage.intervention_context import events_around  # noqa: E402
from coordinator.storage.lighting_state import fault_changes  # noqa: E402
from coordinator.storage.partition_plan import DAY_MS, EVENTS, span_start  # noqa: E402
from coordinator.storage.partitions import drop_expired  # noqa: E402
from coordinator.storage.registry import RETENTION_CHUNK, delete_events_before  # noqa: E402
from coordinator.storage.schema import events, lamp_faults  # noqa: E402
from tests.ingest_helpers import decoded, event_batch, register  # noqa: E402

HEADING = "## Storage: a year of the city on PostgreSQL, plain and partitioned tables (issue 18)"
ADMIN = os.environ.get("VIGIE_BENCH_PG", "postgresql+psycopg://vigie_test:vigie_test@127.0.0.1:5432/postgres")
MIN = 60_000
HOUR = 3_600_000
CABINETS = 340
#: The footage's mix per minute (Vision section), as wire names, with IntervalCounts at its default 1 per minute.
MIX = (("detection", 68), ("occupancy", 68), ("track_end", 44), ("zone_enter", 40), ("zone_leave", 32),
       ("line_crossing", 24), ("loitering", 4), ("counts", 1))


def _admin() -> Engine:
    return make_engine(ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _url(name: str) -> str:
    return ADMIN.rsplit("/", 1)[0] + "/" + name


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _sites() -> str:
    return "ARRAY[" + ", ".join(f"'{s}'" for s in sorted(COMMUNE_SLUGS)) + "]"


def _types(rate: int) -> str:
    """An array of ``rate`` type names in the footage's proportions."""
    total = sum(w for _, w in MIX)
    names: list[str] = []
    for name, w in MIX:
        names += [name] * max(1, round(w * rate / total))
    names = (names * 2)[:rate]
    return "ARRAY[" + ", ".join(f"'{n}'" for n in names) + "]"


def _sql(conn: Connection, statement: str) -> None:
    """A statement written here (``sa.text`` escapes its ``%`` operators for the driver)."""
    conn.execute(sa.text(statement))


def fill(engine: Engine, args: argparse.Namespace, now: int, say: Callable[[str], None]) -> dict[str, int]:
    """Write the city's rows with ``generate_series``, a month of aggregates (a day of events) per statement."""
    start = span_start(now - args.days * DAY_MS, "day")
    ev_start = span_start(now - args.event_days * DAY_MS, "day")
    cams, sites = args.cameras, _sites()
    cam = "'cam-' || lpad(c::text, 3, '0')"
    site = f"({sites})[c % {len(COMMUNE_SLUGS)} + 1]"
    for t0 in range(start, now, 30 * DAY_MS):
        minutes = min(30 * DAY_MS, now - t0) // MIN
        with engine.begin() as conn:
            _sql(conn, "SET LOCAL synchronous_commit = off")
            _sql(conn,
                f"INSERT INTO analytics_counts SELECT {site}, {cam}, 0, 'l' || (k / 2), (k % 2) * 2, "
                f"{t0} + m * {MIN}, (c * 7 + m * 13 + k) % 17, (c * 5 + m * 11 + k) % 13 "
                f"FROM generate_series(0, {cams - 1}) c, generate_series(0::bigint, {minutes - 1}) m, "
                f"generate_series(0, {args.count_rows - 1}) k")
            _sql(conn,
                f"INSERT INTO analytics_occupancy SELECT {site}, {cam}, 0, 'z' || (k / 2), (k % 2) * 2, "
                f"{t0} + m * {MIN}, (c + m + k) % 9 "
                f"FROM generate_series(0, {cams - 1}) c, generate_series(0::bigint, {minutes - 1}) m, "
                f"generate_series(0, {args.occupancy_rows - 1}) k")
        say(f"aggregates to {datetime.datetime.fromtimestamp((t0 + minutes * MIN) / 1000, datetime.UTC):%Y-%m-%d}")
    with engine.begin() as conn:
        hours = (now - start) // HOUR
        _sql(conn,
            f"INSERT INTO energy_hourly SELECT ({sites})[s], g, {start} + h * {HOUR}, 900 + (h % 24) * 10, 900, "
            f"1400, 100 FROM generate_series(1, {len(COMMUNE_SLUGS)}) s, "
            f"unnest(ARRAY['commune', 'g1', 'g2', 'g3', 'g4']) g, generate_series(0::bigint, {hours - 1}) h")
    rate, types = args.event_rate, _types(args.event_rate)
    for day in range(ev_start, now, DAY_MS):
        with engine.begin() as conn:
            _sql(conn, "SET LOCAL synchronous_commit = off")
            _sql(conn,
                f"INSERT INTO events SELECT {cam}, 1, ((m + {(day - ev_start) // MIN}) * {rate} + i), {site}, "
                f"{day} + m * {MIN} + i * {MIN // rate}, {day} + m * {MIN} + i * {MIN // rate} + 150, "
                f"({types})[i + 1], 0, 'z' || (i % 2), (i % 3) * 2, m * 100 + i / 3, false, false, "
                f"json_build_object('cam', 0, 'track', m * 100 + i / 3, 'cls', 0, 'conf', 80, "
                f"'box', json_build_array(10, 20, 30, 40)) "
                f"FROM generate_series(0, {cams - 1}) c, generate_series(0::bigint, {DAY_MS // MIN - 1}) m, "
                f"generate_series(0, {rate - 1}) i")
            _sql(conn,
                f"INSERT INTO events SELECT 'light-' || lpad(c::text, 3, '0'), 1, "
                f"{(day - ev_start) // DAY_MS * 2} + k, {site}, {day} + c * 1000 + k * {HOUR}, "
                f"{day} + c * 1000 + k * {HOUR}, 'lamp_fault', NULL, 'lum-' || (c % 100), NULL, NULL, false, "
                f"false, json_build_object('lum', 'lum-' || (c % 100), 'fault', 'lampFailure', 'active', k = 0) "
                f"FROM generate_series(0, {CABINETS - 1}) c, generate_series(0, 1) k")
        say(f"events of {datetime.datetime.fromtimestamp(day / 1000, datetime.UTC):%Y-%m-%d}")
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        _sql(conn, "VACUUM (ANALYZE)")  # both layouts start with the visibility map and statistics set
        return {t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in ("analytics_counts", "analytics_occupancy", "energy_hourly", "events")}


def served_counts(conn: Connection, f: store.CountFilter, asked: Bucket) -> list[store.CountRow]:
    """``/analytics/counts`` as the route reads it now."""
    bucket = served_bucket(asked, f.start_ms, f.end_ms)
    return store.counts(conn, f, day_runs(f.start_ms, f.end_ms) if bucket == "day" else sql_bucket_ms(bucket))


def served_energy(conn: Connection, start: int, end: int, asked: Bucket) -> list[store.EnergyRow]:
    """``/analytics/energy`` (city) as the route reads it now."""
    bucket = served_bucket(asked, start, end)
    return store.energy(conn, start, end, None, None, day_runs(start, end) if bucket == "day" else None)


def python_days_counts(conn: Connection, f: store.CountFilter) -> list[store.CountRow]:
    """Days as the route made them before: every hourly row of the window fetched, then folded in Python."""
    return fold_days(store.counts(conn, f, sql_bucket_ms("hour")),
                     key=lambda r: (r.site, r.device_id, r.cam, r.target, r.cls), t=lambda r: r.t,
                     merge=lambda a, b: dataclasses.replace(a, inbound=a.inbound + b.inbound,
                                                            outbound=a.outbound + b.outbound),
                     retime=lambda r, day: dataclasses.replace(r, t=day))


def python_days_energy(conn: Connection, start: int, end: int) -> list[store.EnergyRow]:
    return fold_days(store.energy(conn, start, end, None, None), key=lambda r: (r.site, r.group), t=lambda r: r.t,
                     merge=lambda a, b: dataclasses.replace(a, energy_wh=a.energy_wh + b.energy_wh,
                                                            rated_energy_wh=a.rated_energy_wh + b.rated_energy_wh,
                                                            reference_wh=a.reference_wh + b.reference_wh,
                                                            lit_h=a.lit_h + b.lit_h),
                     retime=lambda r, day: dataclasses.replace(r, t=day))


#: (read as served now, the same read as served before) for the second table.
BEFORE = {
    "/analytics/counts, one camera, 30 d by day":
        "(before) counts, one camera, 30 d by day: its hourly rows fetched, folded in Python",
    "/analytics/counts, one camera and line, 390 d asked by hour (served by day)":
        "(before) counts, one camera and line, 390 d by hour: its hourly rows",
    "/analytics/energy, city, 390 d asked by hour (served by day)":
        "(before) energy, city, 390 d by hour: its hourly rows",
    "/analytics/energy, city, 390 d by day":
        "(before) energy, city, 390 d by day: its hourly rows fetched, folded in Python",
}


def queries(now: int, args: argparse.Namespace) -> list[tuple[str, Callable[[Connection], Any]]]:
    """The reads to time: (label, function of a connection), each as the product runs it."""
    hour = 3_600_000
    day = 24 * hour
    a_site = sorted(COMMUNE_SLUGS)[0]
    dev = "cam-001"
    around = now - 2 * day
    lights = [f"light-{i:03d}" for i in range(100)]
    cam30 = store.CountFilter(now - 30 * day, now, device_id=dev)
    line390 = store.CountFilter(now - 390 * day, now, device_id=dev, target="l0")
    return [
        ("/analytics/counts, city, 24 h by hour", lambda c: served_counts(c, store.CountFilter(now - day, now),
                                                                          "hour")),
        ("/analytics/counts, one commune, 7 d by hour",
         lambda c: served_counts(c, store.CountFilter(now - 7 * day, now, a_site), "hour")),
        ("/analytics/counts, one camera, 30 d by day", lambda c: served_counts(c, cam30, "day")),
        (BEFORE["/analytics/counts, one camera, 30 d by day"], lambda c: python_days_counts(c, cam30)),
        ("/analytics/counts, one camera and line, 390 d asked by hour (served by day)",
         lambda c: served_counts(c, line390, "hour")),
        (BEFORE["/analytics/counts, one camera and line, 390 d asked by hour (served by day)"],
         lambda c: store.counts(c, line390, sql_bucket_ms("hour"))),
        ("/analytics/counts, one camera, 390 d by day",
         lambda c: served_counts(c, store.CountFilter(now - 390 * day, now, device_id=dev), "day")),
        ("/analytics/occupancy, one commune, 24 h by minute",
         lambda c: store.occupancy(c, store.CountFilter(now - day, now, a_site), 60_000)),
        ("/analytics/energy, city, 7 d by hour (the longest window served by hour)",
         lambda c: served_energy(c, now - 7 * day, now, "hour")),
        ("/analytics/energy, city, 30 d asked by hour (served by day)",
         lambda c: served_energy(c, now - 30 * day, now, "hour")),
        ("/analytics/energy, city, 390 d asked by hour (served by day)",
         lambda c: served_energy(c, now - 390 * day, now, "hour")),
        (BEFORE["/analytics/energy, city, 390 d asked by hour (served by day)"],
         lambda c: store.energy(c, now - 390 * day, now, None, None)),
        ("/analytics/energy, city, 390 d by day", lambda c: served_energy(c, now - 390 * day, now, "day")),
        (BEFORE["/analytics/energy, city, 390 d by day"], lambda c: python_days_energy(c, now - 390 * day, now)),
        ("intervention context: one camera's events, 1 h, first 200",
         lambda c: events_around(c, dev, "z0", around, around + hour, 200)),
        ("live feed poll: last 2 s received, 10 min window", lambda c: fetch_since(c, now - 2_000, now - 600_000,
                                                                                    None, ())),
        ("lighting page: lamp faults of 100 cabinets", lambda c: fault_changes(c, lights)),
        ("live feed opening: latest 200 events in the 10 min window", lambda c: fetch_latest(c, 200, None, (),
                                                                                             now - 600_000)),
        ("the same, as it was read before: latest 200 events, no time bound", lambda c: unbounded_latest(c, 200)),
    ]


def unbounded_latest(conn: Connection, count: int) -> list[Any]:
    """The live feed's backlog as it was read until the time bound: every raw event kept sorted by reception."""
    e = events.c
    return list(conn.execute(sa.select(e.device_id, e.boot, e.n, e.received_ms)
                             .order_by(e.received_ms.desc(), e.device_id, e.boot, e.n).limit(count)))


def ingest(engine: Engine, now: int, batches: int, dev: str) -> float:
    """Events stored per second through ``store_batch``, 250-event batches of one camera at ``now``."""
    msgs = [decoded("dijon", event_batch(dev, 1, s + 1, boot=1, ns=range(s * 250, (s + 1) * 250), ts=now))
            for s in range(batches)]
    t = time.perf_counter()
    for m in msgs:
        store_batch(engine, [m], now, Hooks())
    return batches * 250 / (time.perf_counter() - t)


def chunked_delete(engine: Engine, cutoff: int) -> int:
    """The retention job's row deletion, as :func:`coordinator.retention.enforce_retention` runs it."""
    deleted = 0
    for _ in range(MAX_CHUNKS * 100):
        with engine.begin() as conn:
            n = delete_events_before(conn, cutoff)
        deleted += n
        if n < RETENTION_CHUNK:
            break
    return deleted


def _backend_cpu_s(pid: int) -> float:
    """CPU (user + system) used so far by the PostgreSQL backend ``pid``, from ``/proc`` (same machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def job_cost(engine: Engine, now: int, days: float) -> tuple[float, float, float, int]:
    """One run of the retention job: (wall s, CPU s of this process, CPU s of the PostgreSQL backend, rows).

    ``engine`` has one pooled connection, so every transaction of the run is served by the same backend."""
    pid = None
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            pid = int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
    server0 = _backend_cpu_s(pid) if pid else 0.0
    cpu0, t0 = time.process_time(), time.perf_counter()
    removed = enforce_retention(engine, now, days)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    server = _backend_cpu_s(pid) - server0 if pid else 0.0
    if pid:
        with engine.connect() as conn:
            assert int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()) == pid
    return wall, cpu, server, removed


def sqlite_hour_of_city(path: Path, hour_start: int, rate: int) -> int:
    """A SQLite database at head with an hour of the city's raw events (115 cameras at ``rate`` a minute)."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    n = 115 * 60 * rate
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < ?) "
            "INSERT INTO events (device_id, boot, n, site, ts_ms, received_ms, type, cam, target, cls, track, "
            "historical, stale, body) SELECT printf('cam-%03d', i % 115), 1, i / 115, 'dijon', "
            "? + (i / 115) * ?, ? + (i / 115) * ? + 150, 'detection', 0, 'z' || (i % 2), 0, i / 3, 0, 0, "
            "json_object('cam', 0, 'track', i / 3, 'cls', 0, 'conf', 80, 'box', json_array(10, 20, 30, 40)) "
            "FROM k", (n - 1, hour_start, MIN // rate, hour_start, MIN // rate))
    engine.dispose()
    return n


def _size(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c WHERE c.relname = :t "
            "OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = (SELECT oid FROM pg_class "
            "WHERE relname = :t))"), {"t": table}).scalar_one())


def main() -> int:  # noqa: PLR0915 (one run, in the order the docstring tells)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=115)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--count-rows", type=int, default=3, help="analytics_counts rows per camera and minute")
    ap.add_argument("--occupancy-rows", type=int, default=2, help="analytics_occupancy rows per camera and minute")
    ap.add_argument("--event-days", type=int, default=8)
    ap.add_argument("--event-rate", type=int, default=144, help="raw events per camera and minute")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--ingest-batches", type=int, default=40)
    ap.add_argument("--ingest-rounds", type=int, default=5)
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    t_start = time.monotonic()
    load_before = _load()
    now = int(time.time() * 1000)
    now -= now % MIN
    plain_db, part_db = (f"vigie_bench_storage_{k}_{uuid.uuid4().hex[:8]}" for k in ("plain", "part"))
    admin = _admin()
    made: list[str] = []

    def say(msg: str) -> None:
        print(f"[{time.monotonic() - t_start:7.1f} s] {msg}", flush=True)

    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{plain_db}"'))
        made.append(plain_db)
        plain = make_engine(_url(plain_db), poolclass=sa.pool.NullPool)
        upgrade(plain, "0003")
        t = time.perf_counter()
        rows = fill(plain, args, now, say)
        fill_s = time.perf_counter() - t
        say(f"filled: {rows} in {fill_s:.0f} s")
        register(plain, *((f"cam-{i:03d}", sorted(COMMUNE_SLUGS)[i % len(COMMUNE_SLUGS)])
                          for i in range(args.cameras)),
                 *((f"cam-ingest{r}", "dijon") for r in range(args.ingest_rounds + 1)))
        plain.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{part_db}" TEMPLATE "{plain_db}"'))
        made.append(part_db)
        part = make_engine(_url(part_db), poolclass=sa.pool.NullPool)
        plain = make_engine(_url(plain_db), poolclass=sa.pool.NullPool)
        migrate_s = _timed(lambda: upgrade(part, "0004"))
        index_s = _timed(lambda: upgrade(part, "0005"))  # the aggregates' (device_id, minute_ms) indexes
        upgrade(part)
        # The plain tables get the same indexes and the lamp fault state, so that both layouts are read alike.
        later = importlib.import_module("coordinator.storage.migrations.versions.0005_device_time_indexes")
        with plain.begin() as conn:
            t = time.perf_counter()
            for ix, table, cols in later.INDEXES:
                conn.execute(sa.text(f"CREATE INDEX {ix} ON {table} ({', '.join(cols)})"))
            plain_index_s = time.perf_counter() - t
            lamp_faults.create(conn)
            conn.execute(sa.text("INSERT INTO lamp_faults SELECT DISTINCT ON (device_id, body->>'lum', "
                                 "body->>'fault') device_id, body->>'lum', body->>'fault', (body->>'active')::bool, "
                                 "ts_ms, boot, n FROM events WHERE type = 'lamp_fault' "
                                 "ORDER BY device_id, body->>'lum', body->>'fault', ts_ms DESC, boot DESC, n DESC"))
        with part.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
            n_parts = int(conn.execute(sa.text(
                "SELECT count(*) FROM pg_class WHERE relispartition AND relkind = 'r'")).scalar_one())
        say(f"migrated to 0004 in {migrate_s:.0f} s ({n_parts} partitions), 0005 in {index_s:.0f} s; "
            f"the same indexes on the plain tables in {plain_index_s:.0f} s")
        sizes = {t: (_size(plain, t), _size(part, t)) for t in ("events", "analytics_counts", "analytics_occupancy")}

        qs = queries(now, args)
        times: dict[str, dict[str, list[float]]] = {label: {"plain": [], "part": []} for label, _ in qs}
        result_rows: dict[str, int] = {}
        for r in range(args.rounds):
            order = [("plain", plain), ("part", part)] if r % 2 == 0 else [("part", part), ("plain", plain)]
            for label, fn in qs:
                for kind, eng in order:
                    with eng.connect() as conn:
                        t = time.perf_counter()
                        out = fn(conn)
                        times[label][kind].append(time.perf_counter() - t)
                    n = len(out[1]) if isinstance(out, tuple) else len(out)
                    if result_rows.setdefault(label, n) != n:
                        raise SystemExit(f"{label}: {n} rows on {kind}, {result_rows[label]} on the other")
            say(f"queries, round {r + 1}/{args.rounds}")
        # Ingest as the worker runs it: one pooled connection kept across batches (its session caches warm, its
        # staging table made once), a first untimed batch per database.
        ingest_rates: dict[str, list[float]] = {"plain": [], "part": []}
        pooled = {k: make_engine(_url(db), pool_size=1, max_overflow=0) for k, db in (("plain", plain_db),
                                                                                      ("part", part_db))}
        for eng in pooled.values():
            ingest(eng, now - 1000, 1, "cam-ingest0")
        for r in range(args.ingest_rounds):
            for kind in (("plain", "part") if r % 2 == 0 else ("part", "plain")):
                rate = ingest(pooled[kind], now + r * 1000, args.ingest_batches, f"cam-ingest{r + 1}")
                ingest_rates[kind].append(rate)
        for eng in pooled.values():
            eng.dispose()
        say(f"ingest: {ingest_rates}")

        # Retention: the oldest day of events, dropped as a partition, against the same day deleted row by row.
        day0 = span_start(now - args.event_days * DAY_MS, "day")
        cutoff = day0 + DAY_MS
        with plain.connect() as conn:
            day_rows = int(conn.execute(sa.text(f"SELECT count(*) FROM events WHERE ts_ms < {cutoff}")).scalar_one())
        with part.begin() as conn:
            t = time.perf_counter()
            dropped, estimate = drop_expired(conn, EVENTS, cutoff)
        drop_s = time.perf_counter() - t
        delete_s = _timed(lambda: chunked_delete(plain, cutoff))
        with plain.connect() as conn:
            left = int(conn.execute(sa.text(f"SELECT count(*) FROM events WHERE ts_ms < {cutoff}")).scalar_one())
        ac = plain.execution_options(isolation_level="AUTOCOMMIT")
        with ac.connect() as conn:
            vacuum_s = _timed(lambda: conn.exec_driver_sql("VACUUM events"))
        say(f"retention: {day_rows} rows; drop {drop_s:.3f} s ({dropped}), delete {delete_s:.1f} s, "
            f"vacuum {vacuum_s:.1f} s")
        assert left == 0 and dropped == [f"events_p{datetime.datetime.fromtimestamp(day0 / 1000, datetime.UTC):%Y%m%d}"]
        # The retention job alone, as it runs every hour: on the partitions the run that drops the next day, then
        # a run with nothing to drop.
        days = 30.0
        job_now = cutoff + DAY_MS + int(days * DAY_MS)  # its cutoff: the end of the next day
        one_conn = make_engine(_url(part_db), pool_size=1, max_overflow=0)
        with one_conn.connect() as conn:
            next_day_rows = int(conn.execute(sa.text(
                f"SELECT count(*) FROM events WHERE ts_ms >= {cutoff} AND ts_ms < {cutoff + DAY_MS}")).scalar_one())
        job_pg = job_cost(one_conn, job_now, days)
        job_pg_idle = job_cost(one_conn, job_now + HOUR, days)
        one_conn.dispose()
        say(f"retention job on partitions: {next_day_rows} rows, {job_pg}; idle {job_pg_idle}")
        plain.dispose()
        part.dispose()
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    # SQLite: an hour of the city's raw events, what an hourly run deletes there once the retention is reached.
    with tempfile.TemporaryDirectory() as tmp:
        hour0 = span_start(now, "day") - DAY_MS
        t = time.perf_counter()
        sqlite_rows = sqlite_hour_of_city(Path(tmp) / "vigie.db", hour0, args.event_rate)
        sqlite_fill_s = time.perf_counter() - t
        lite = make_engine(f"sqlite:///{Path(tmp) / 'vigie.db'}")
        job_lite = job_cost(lite, hour0 + HOUR + int(days * DAY_MS), days)
        job_lite_idle = job_cost(lite, hour0 + 2 * HOUR + int(days * DAY_MS), days)
        sqlite_bytes = (Path(tmp) / "vigie.db").stat().st_size
        lite.dispose()
    say(f"retention job on SQLite: {sqlite_rows} rows written in {sqlite_fill_s:.0f} s, {job_lite}; "
        f"idle {job_lite_idle}")

    elapsed = time.monotonic() - t_start
    load_after = _load()
    pg_version = subprocess.run(["psql", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    med = {label: (statistics.median(v["plain"]), statistics.median(v["part"])) for label, v in times.items()}
    per_day_events = day_rows - 2 * CABINETS  # the oldest whole day, without the lamp faults
    per_year_aggr = (rows["analytics_counts"] + rows["analytics_occupancy"]) * 365 / args.days
    scale = 115 / args.cameras
    cmd = " ".join(["bench/storage_bench.py", *sys.argv[1:]])
    lines = [
        HEADING, "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other work, Python "
        f"{platform.python_version()}, {pg_version} (local, default settings), SQLAlchemy {sa.__version__}.",
        f"Command: `.venv/bin/python {cmd}` ({datetime.date.today()}, {elapsed:.0f} s; load average 1/5/15 min "
        f"{load_before} before, {load_after} after).",
        f"Data: {args.cameras} cameras over the 23 communes, {args.days} days of aggregates ({args.count_rows} "
        f"analytics_counts and {args.occupancy_rows} analytics_occupancy rows per camera and minute), "
        f"{args.event_days} days of raw events at {args.event_rate} per camera and minute in the footage's mix, "
        f"{CABINETS} light cabinets with 2 lamp-fault events a day each, energy for 5 groups per commune and hour. "
        f"Written with generate_series in {fill_s:.0f} s.",
        "",
        "| rows | count | size plain / partitioned (MB) |",
        "|---|---|---|",
        *(f"| {t} | {rows[t]:,} | {sizes[t][0] / 1e6:,.0f} / {sizes[t][1] / 1e6:,.0f} |" if t in sizes
          else f"| {t} | {rows[t]:,} | |" for t in rows),
        "",
        f"Migration 0004 on this data (copy into {n_parts} partitions, then keys and indexes built): "
        f"**{migrate_s:.0f} s**. Migration 0005 (the aggregates' `(device_id, minute_ms)` indexes, on every "
        f"partition): **{index_s:.0f} s** (the same indexes on the plain tables: {plain_index_s:.0f} s; both "
        "layouts are read below with them).",
        "",
        "| read (the product's query function), median of "
        f"{args.rounds} interleaved rounds | rows | plain (ms) | partitioned (ms) | partitioned / plain |",
        "|---|---|---|---|---|",
        *(f"| {label} | {result_rows[label]:,} | {p * 1000:,.1f} | {q * 1000:,.1f} | {q / p:.2f} |"
          for label, (p, q) in med.items()),
        "",
        "| route read as served now | served in | rows | partitioned (ms) | the same read as served before | "
        "rows | partitioned (ms) | before / now |",
        "|---|---|---|---|---|---|---|---|",
        *(f"| {now_l} | {'day' if 'day' in now_l.rsplit(',', 1)[-1] else 'hour'} | {result_rows[now_l]:,} | "
          f"{med[now_l][1] * 1000:,.1f} | {before_l} | {result_rows[before_l]:,} | {med[before_l][1] * 1000:,.1f} | "
          f"{med[before_l][1] / med[now_l][1]:,.1f}x |" for now_l, before_l in BEFORE.items()),
        "",
        "| write | plain | partitioned | ratio |",
        "|---|---|---|---|",
        f"| ingest, 250-event batches through store_batch, one pooled connection (events/s, median of "
        f"{args.ingest_rounds} interleaved rounds) | "
        f"{statistics.median(ingest_rates['plain']):,.0f} | {statistics.median(ingest_rates['part']):,.0f} | "
        f"{statistics.median(ingest_rates['part']) / statistics.median(ingest_rates['plain']):.2f} |",
        f"| retention of one day, {day_rows:,} events: chunked DELETE (the job's) vs DETACH + DROP (s) | "
        f"{delete_s:.2f} (+ VACUUM {vacuum_s:.2f}) | {drop_s:.3f} | DELETE / DROP = "
        f"{delete_s / drop_s:,.0f}x ({(delete_s + vacuum_s) / drop_s:,.0f}x with the VACUUM) |",
        "",
        "| one run of the retention job (`enforce_retention`, hourly) | rows removed | wall (s) | CPU, job "
        "process (s) | CPU, PostgreSQL backend (s) |",
        "|---|---|---|---|---|",
        f"| PostgreSQL, partitions: the run that drops a day ({next_day_rows:,} events here) | {job_pg[3]:,} | "
        f"{job_pg[0]:.3f} | {job_pg[1]:.3f} | {job_pg[2]:.3f} |",
        f"| PostgreSQL, partitions: a run with nothing to drop (23 runs a day) | {job_pg_idle[3]:,} | "
        f"{job_pg_idle[0]:.3f} | {job_pg_idle[1]:.3f} | {job_pg_idle[2]:.3f} |",
        f"| SQLite: an hour of the city's events ({sqlite_rows:,}, 115 cameras at {args.event_rate} a minute; "
        f"written in {sqlite_fill_s:.0f} s, file {sqlite_bytes / 1e6:,.0f} MB) | {job_lite[3]:,} | "
        f"{job_lite[0]:.2f} | {job_lite[1]:.2f} | (in process) |",
        f"| SQLite: a run with nothing to delete | {job_lite_idle[3]:,} | {job_lite_idle[0]:.3f} | "
        f"{job_lite_idle[1]:.3f} | (in process) |",
        "",
        "Notes.",
        "",
        f"- The city: 115 cameras. Per day here: {per_day_events:,.0f} camera events; for the city, "
        f"{per_day_events * scale:,.0f} a day ({per_day_events * scale * 30:,.0f} over a 30-day retention, "
        f"about {sizes['events'][1] / rows['events'] * per_day_events * scale * 30 / 1e9:,.0f} GB with indexes at "
        f"this run's {sizes['events'][1] / rows['events']:.0f} bytes per row). Aggregates: {per_year_aggr:,.0f} "
        f"rows a year here, {per_year_aggr * scale:,.0f} for the city "
        f"({(sizes['analytics_counts'][1] + sizes['analytics_occupancy'][1]) * scale * 365 / args.days / 1e9:,.0f}"
        " GB a year).",
        "- Reads that name a time window touch the partitions of that window only; their cost follows the rows in "
        "the window and the filter, not the years kept, so the city's figures are these times the rows' ratio "
        f"({scale:.1f}x more cameras) for the city-wide reads, and these times for one camera or one commune.",
        f"- Ingest runs per round: plain {', '.join(f'{x:,.0f}' for x in ingest_rates['plain'])}; partitioned "
        f"{', '.join(f'{x:,.0f}' for x in ingest_rates['part'])} events/s (one batch per transaction, no hooks: "
        "the storage alone, far below the worker's figures in the Ingest section, which batch many messages).",
        "- Analytics routes: every bucket is now summed by the database (days as runs of whole days plus the "
        "clock-change days, integer arithmetic on both engines) and hour buckets over more than 8 days are "
        "served by day, so the longest reads return at most a row per key and day; one camera's rows are found "
        "through `(device_id, minute_ms)` (migration 0005). The per-camera reads fetch the camera's rows of the "
        "window whatever the camera count; they visit more heap pages the more cameras share a page (at 115 "
        "cameras a camera's minute sits on about one page in five, here one in two), so the city's figure is "
        "this one times up to the ratio of pages visited, see the section's reading below.",
        "- Retention: a dropped partition is a catalogue change whatever it holds; the DELETE writes every row "
        "(WAL, dead tuples) and leaves a VACUUM to do. The estimate of dropped rows reported by the job here: "
        f"{estimate:,}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        write_section(args.write, HEADING, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
