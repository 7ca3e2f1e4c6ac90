"""One ingest batch in one transaction: registry check, sequences, events, fleet state, hooks.

Why it is shaped this way:

* **One transaction per batch**, many rows per statement (``executemany``): the commit, not
  the rows, is what costs; the MQTT acknowledgements follow the commit (see the worker).
* **Idempotent by the wire's event id**: ``INSERT .. ON CONFLICT DO NOTHING RETURNING`` tells
  which events are new, on SQLite and PostgreSQL alike; only those reach the hooks.
* **Device rows are locked first, in id order** (``SELECT .. FOR UPDATE``; on SQLite the
  whole batch holds the write lock from ``BEGIN IMMEDIATE``). Everything else a batch writes
  is per device, so two workers sharing the load serialise per device and cannot deadlock,
  and the read-modify-write of sequence counters is never lost.
* **Births and deaths follow bdSeq**: a newer ``bd`` opens a session, a death counts only for
  the current (or a newer) ``bd``; anything older is a stale will or a replayed retained
  birth and changes nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

import vigie_wire as wire
from coordinator.ingest import sequences as seqs
from coordinator.ingest.decode import EVENT_COLUMNS, Decoded, EventRows, add_event_rows, authorise
from coordinator.ingest.hooks import DeviceChange, Hooks, StoredAck, StoredEvent, StoredTelemetry

from .schema import device_sessions, devices, event_streams, events, sequence_gaps, telemetry

ONLINE, OFFLINE, STALE = "online", "offline", "stale"
MESSAGE, EVENT = "message", "event"


@dataclass
class BatchReport:
    """What a batch did, for the worker's metrics (rejects are indexes into the batch)."""

    rejected: list[tuple[int, str]] = field(default_factory=list)
    stored_events: int = 0
    duplicates: Counter[str] = field(default_factory=Counter)  # stream -> repeats
    gaps: Counter[str] = field(default_factory=Counter)  # stream -> holes opened
    missing: Counter[str] = field(default_factory=Counter)  # stream -> numbers newly missing
    filled: Counter[str] = field(default_factory=Counter)  # stream -> late numbers filling a hole
    ignored: Counter[str] = field(default_factory=Counter)  # stale_birth, stale_death, repeated_birth...
    device_changes: int = 0
    telemetry: int = 0
    acks: int = 0


@dataclass
class _Device:
    """A locked device row, changed in memory while the batch is applied, written once."""

    row: dict[str, Any]
    touched: bool = False
    died_bd: int | None = None  # a death of this batch that took it offline

    @property
    def site(self) -> str:
        return str(self.row["site"])


def _insert(conn: Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_nothing/do_update``."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def begin_batch(conn: Connection) -> None:
    """Start the batch transaction; on SQLite take the write lock now, not at the first write.

    A deferred SQLite transaction that reads and then writes fails at once with "database is
    locked" when another writer got in between; an immediate one waits (busy timeout) instead.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def store_batch(engine: Engine, items: Sequence[Decoded], received_ms: int, hooks: Hooks) -> BatchReport:
    """Store ``items`` (decoded, in arrival order) and run the hooks, in one transaction."""
    with engine.connect() as conn:
        begin_batch(conn)
        report = apply_batch(conn, items, received_ms, hooks)
        conn.commit()
    return report


def apply_batch(conn: Connection, items: Sequence[Decoded], received_ms: int, hooks: Hooks) -> BatchReport:
    report = BatchReport()
    ids = sorted({d.device for d in items})
    locked = conn.execute(
        sa.select(devices).where(devices.c.id.in_(ids)).order_by(devices.c.id).with_for_update()
    ).mappings().all()
    reg = {r["id"]: _Device(dict(r)) for r in locked}
    accepted: list[Decoded] = []
    for i, d in enumerate(items):
        dev = reg.get(d.device)
        reason = authorise(d.site, dev.site if dev else None)
        if reason:
            report.rejected.append((i, reason))
        else:
            accepted.append(d)
    if not accepted:
        return report

    repeats = _message_sequences(conn, accepted, received_ms, report)
    sorted_out = _Sorted()
    for d in accepted:
        _route(conn, d, reg[d.device], repeats, received_ms, report, sorted_out)
    changes, batches, latest_tm, acks = sorted_out.changes, sorted_out.batches, sorted_out.telemetry, sorted_out.acks

    first_ts: dict[str, int] = {}
    stored = _store_events(conn, batches, received_ms, report, hooks.event_types(), first_ts)
    _note_session_events(reg, first_ts)
    stored_tm = _store_telemetry(conn, latest_tm)
    _write_devices(conn, reg.values(), received_ms)
    _mark_stale(conn, reg.values(), received_ms)

    report.telemetry = len(stored_tm)
    report.acks = len(acks)
    report.device_changes = len(changes)
    hooks.on_devices(conn, changes)
    hooks.on_events(conn, stored)
    hooks.on_telemetry(conn, stored_tm)
    hooks.on_acks(conn, acks)
    return report


@dataclass
class _Sorted:
    """Accepted messages sorted by what happens to them."""

    changes: list[DeviceChange] = field(default_factory=list)
    batches: list[Decoded] = field(default_factory=list)
    telemetry: dict[str, Decoded] = field(default_factory=dict)
    acks: list[StoredAck] = field(default_factory=list)
    seen: set[tuple[str, int, int]] = field(default_factory=set)


def _route(conn: Connection, d: Decoded, dev: _Device, repeats: set[tuple[str, int, int]], now: int,
           report: BatchReport, out: _Sorted) -> None:
    msg, h = d.msg, d.msg.header
    key = (d.device, h.bd, h.seq)
    dup = not d.retain and not isinstance(msg, wire.Death) and (key in out.seen or key in repeats)
    out.seen.add(key)
    if isinstance(msg, wire.Birth):
        _birth(conn, dev, d, now, out.changes, report)
    elif isinstance(msg, wire.Death):
        _death(dev, msg, now, out.changes, report)
    else:
        if isinstance(msg, wire.EventBatch):
            out.batches.append(d)  # stored idempotently by event id, duplicate or not
        elif dup:
            pass  # a repeated telemetry or ack message: its content reached the hooks already
        elif isinstance(msg, wire.Telemetry):
            prev = out.telemetry.get(d.device)
            if prev is None or prev.msg.header.ts <= h.ts:
                out.telemetry[d.device] = d
        elif isinstance(msg, wire.CommandAck):
            out.acks.append(StoredAck(d.device, d.site, h.ts, msg.cmd_id, msg.result, msg.detail, dict(msg.applied)))
        if not d.retain and h.bd == dev.row["bd_seq"] and dev.row["status"] == STALE:
            _set_status(dev, ONLINE, now, out.changes, d.site)  # silent, then heard again in the same session
    if not d.retain and not isinstance(msg, wire.Death):
        dev.row["last_seen_ms"] = now
        dev.touched = True


# -- births and deaths ----------------------------------------------------------------------

def _set_status(dev: _Device, status: str, now: int, changes: list[DeviceChange], site: str) -> None:
    previous = dev.row["status"]
    if previous != status:
        dev.row["status_since_ms"] = now
    dev.row["status"] = status
    dev.touched = True
    changes.append(DeviceChange(dev.row["id"], site, now, status, previous))


def _birth(conn: Connection, dev: _Device, d: Decoded, now: int, changes: list[DeviceChange],
           report: BatchReport) -> None:
    msg = d.msg
    assert isinstance(msg, wire.Birth)
    bd, current = msg.header.bd, dev.row["bd_seq"]
    if current is not None and bd < current:
        report.ignored["stale_birth"] += 1
        return
    if current is not None and bd == current:
        # The retained birth seen again (a resubscription), or one whose death was already
        # processed: it opens nothing.
        report.ignored["repeated_birth"] += 1
        return
    dev.row.update(bd_seq=bd, firmware=msg.firmware, config_hash=msg.config_hash, caps=list(msg.caps))
    if msg.lat is not None and msg.lon is not None:
        dev.row.update(lat=msg.lat, lon=msg.lon)
    dev.died_bd = None
    dev.row["session_events_from_ms"] = now  # lowered by the session's events older than its birth
    _set_status(dev, ONLINE, now, changes, d.site)
    if d.retain:  # live births are counted by the message sequence; a retained one opens the session here
        conn.execute(_insert(conn, device_sessions).values(
            device_id=d.device, bd_seq=bd, last_seq=0, messages=1, missing=0, duplicates=0, started_ms=now,
        ).on_conflict_do_nothing())


def _death(dev: _Device, msg: wire.Message, now: int, changes: list[DeviceChange], report: BatchReport) -> None:
    bd, current = msg.header.bd, dev.row["bd_seq"]
    if current is not None and bd < current:
        report.ignored["stale_death"] += 1  # the will of an earlier connection, delivered late
        return
    if bd == current and dev.row["status"] == OFFLINE:
        report.ignored["repeated_death"] += 1
        return
    dev.row["bd_seq"] = bd
    dev.died_bd = bd
    _set_status(dev, OFFLINE, now, changes, dev.site)


def _write_devices(conn: Connection, devs: Iterable[_Device], now: int) -> None:
    cols = ("status", "bd_seq", "firmware", "config_hash", "caps", "lat", "lon", "last_seen_ms", "status_since_ms",
            "session_events_from_ms")
    params = [{"k_id": d.row["id"], "updated_ms": now, **{c: d.row[c] for c in cols}}
              for d in sorted(devs, key=lambda d: str(d.row["id"])) if d.touched]
    if params:
        stmt = devices.update().where(devices.c.id == sa.bindparam("k_id")).values(
            {c: sa.bindparam(c) for c in (*cols, "updated_ms")})
        conn.execute(stmt, params)


def _note_session_events(reg: dict[str, _Device], first_ts: dict[str, int]) -> None:
    """Lower each device's ``session_events_from_ms`` to the earliest event time it just stored."""
    for dev_id, ts in first_ts.items():
        dev = reg.get(dev_id)
        if dev is None:
            continue
        known = dev.row.get("session_events_from_ms")
        if known is not None and ts < known:
            dev.row["session_events_from_ms"] = ts
            dev.touched = True


def stale_events_update(dev_id: str, started_ms: int, events_from_ms: int | None) -> sa.Update:
    """Flag stale the events a session stored: received since it started, timed since ``events_from_ms``.

    The time bound is what keeps it cheap on the partitioned table: only the day partitions from the session's
    earliest event are read, not every day kept for that device (a camera's 30 days are ~6 million rows).
    ``None`` (a session opened before migration 0006) reads them all, as before.
    """
    cond = [events.c.device_id == dev_id, events.c.received_ms >= started_ms, events.c.stale.is_(False)]
    if events_from_ms is not None:
        cond.append(events.c.ts_ms >= events_from_ms)
    return events.update().where(*cond).values(stale=True)


def _mark_stale(conn: Connection, devs: Iterable[_Device], now: int) -> None:
    """Sparkplug's STALE: a device that died leaves its last telemetry and its session's events stale."""
    for d in devs:
        if d.died_bd is None or d.row["status"] != OFFLINE:
            continue
        dev_id = d.row["id"]
        conn.execute(telemetry.update().where(telemetry.c.device_id == dev_id).values(stale=True))
        started = conn.execute(sa.select(device_sessions.c.started_ms).where(
            device_sessions.c.device_id == dev_id, device_sessions.c.bd_seq == d.died_bd)).scalar()
        if started is not None:
            conn.execute(stale_events_update(dev_id, started, d.row.get("session_events_from_ms")))
            conn.execute(device_sessions.update().where(
                device_sessions.c.device_id == dev_id, device_sessions.c.bd_seq == d.died_bd,
            ).values(ended_ms=now))


# -- sequences ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Stream:
    """How one numbering is kept: its table, the epoch and counter columns, its gap label."""

    table: sa.Table
    epoch: str
    last: str
    count: str
    name: str


_MESSAGES = _Stream(device_sessions, "bd_seq", "last_seq", "messages", MESSAGE)
_EVENTS = _Stream(event_streams, "boot", "last_n", "events", EVENT)


@dataclass
class _Outcome:
    """Per stream key: the late numbers that were duplicates (received before)."""

    duplicates: set[int]


def _advance(conn: Connection, s: _Stream, numbers: dict[tuple[str, int], list[int]], extra_dups: Counter[Any],
             now: int, report: BatchReport, extra: dict[tuple[str, int], dict[str, int]] | None = None,
             ) -> dict[tuple[str, int], _Outcome]:
    """Advance each stream ``(device, epoch)`` past its distinct new ``numbers``; record holes.

    Two statements per batch whatever the number of streams: one read of their rows, one
    multi-row upsert of the new counters (through the DBAPI cursor, like the events: the
    per-row statements of ``executemany`` cost more than the rows here).
    """
    keys = sorted(numbers)
    if not keys:
        return {}
    state = _read_streams(conn, s, keys)
    values, new_gaps, out = [], [], {}
    for key in keys:
        last, count, missing, duplicates, hist = state.get(key, (-1, 0, 0, 0, 0))
        adv = seqs.advance(last, numbers[key])
        late_dups: list[int] = []
        filled = 0
        if adv.late:
            f = _fill(conn, s.name, key, adv.late)
            late_dups, filled = f.unmatched, len(f.filled)
        dups = extra_dups.get(key, 0) + len(late_dups)
        accepted = len(numbers[key]) - len(late_dups)
        new_gaps += [{"device_id": key[0], "stream": s.name, "epoch": key[1], "first_missing": g.first,
                      "last_missing": g.last, "detected_ms": now} for g in adv.gaps]
        report.gaps[s.name] += len(adv.gaps)
        report.missing[s.name] += adv.missing
        report.filled[s.name] += filled
        report.duplicates[s.name] += dups
        fifth = now if s is _MESSAGES else hist + (extra or {}).get(key, {}).get("historical", 0)
        values.append((key[0], key[1], adv.last, count + accepted, missing + adv.missing - filled,
                       duplicates + dups, fifth))
        out[key] = _Outcome(set(late_dups))
    _write_streams(conn, s, values)
    if new_gaps:
        conn.execute(sequence_gaps.insert(), new_gaps)
    return out


def _placeholder(conn: Connection) -> str:
    return "%s" if conn.dialect.name == "postgresql" else "?"


def _fifth(s: _Stream) -> str:
    """The stream table's fifth counter column: when a message session started, or historical events."""
    return "started_ms" if s is _MESSAGES else "historical"


def _read_streams(conn: Connection, s: _Stream, keys: list[tuple[str, int]],
                  ) -> dict[tuple[str, int], tuple[int, int, int, int, int]]:
    """Current ``(last, count, missing, duplicates, historical or 0)`` of the streams that exist."""
    p = _placeholder(conn)
    hist = "historical" if s is _EVENTS else "0"
    sql = (f"SELECT device_id, {s.epoch}, {s.last}, {s.count}, missing, duplicates, {hist} FROM {s.table.name} "
           f"WHERE ({_key_columns(s)}) IN (VALUES {', '.join([f'({p}, {p})'] * len(keys))})")
    cur = conn.connection.cursor()
    try:
        cur.execute(sql, [v for k in keys for v in k])
        return {(r[0], r[1]): (r[2], r[3], r[4], r[5], r[6]) for r in cur.fetchall()}
    finally:
        cur.close()


def _key_columns(s: _Stream) -> str:
    return f"device_id, {s.epoch}"


def _write_streams(conn: Connection, s: _Stream, values: list[tuple[Any, ...]]) -> None:
    """Insert new streams and update known ones, in one statement (SQLite and PostgreSQL upsert)."""
    p = _placeholder(conn)
    cols = (s.last, s.count, "missing", "duplicates")
    updated = [*cols] + (["historical"] if s is _EVENTS else [])  # a session keeps its start
    one = "(" + ", ".join([p] * 7) + ")"
    sql = (f"INSERT INTO {s.table.name} ({_key_columns(s)}, {', '.join(cols)}, {_fifth(s)}) VALUES "
           f"{', '.join([one] * len(values))} "
           f"ON CONFLICT ({_key_columns(s)}) DO UPDATE SET "
           f"{', '.join(f'{c} = excluded.{c}' for c in updated)}")
    cur = conn.connection.cursor()
    try:
        cur.execute(sql, [v for row in values for v in row])
    finally:
        cur.close()


def _fill(conn: Connection, stream: str, key: tuple[str, int], late: list[int]) -> seqs.Filled:
    """Late numbers shrink, split or close the holes they fall in (rare: only on reordering)."""
    g = sequence_gaps.c
    holes = conn.execute(sa.select(g.id, g.first_missing, g.last_missing, g.detected_ms).where(
        g.device_id == key[0], g.stream == stream, g.epoch == key[1],
        g.first_missing <= max(late), g.last_missing >= min(late))).all()
    detected = {r.id: r.detected_ms for r in holes}
    f = seqs.fill([(r.id, seqs.Gap(r.first_missing, r.last_missing)) for r in holes], late)
    for hid, gap in f.changed.items():
        if gap is None:
            conn.execute(sequence_gaps.delete().where(g.id == hid))
        else:
            conn.execute(sequence_gaps.update().where(g.id == hid).values(first_missing=gap.first,
                                                                          last_missing=gap.last))
    for hid, gap in f.added:
        conn.execute(sequence_gaps.insert().values(device_id=key[0], stream=stream, epoch=key[1],
                                                   first_missing=gap.first, last_missing=gap.last,
                                                   detected_ms=detected[hid]))
    return f


def _message_sequences(conn: Connection, accepted: Sequence[Decoded], now: int,
                       report: BatchReport) -> set[tuple[str, int, int]]:
    """Account every live message's ``seq``; return the ``(device, bd, seq)`` received before."""
    per_key: dict[tuple[str, int], list[int]] = defaultdict(list)
    for d in accepted:
        if d.retain or isinstance(d.msg, wire.Death):
            continue  # a retained replay is not part of the live numbering; a will has no seq of its own
        per_key[(d.device, d.msg.header.bd)].append(d.msg.header.seq)
    distinct: dict[tuple[str, int], list[int]] = {}
    repeats: Counter[tuple[str, int]] = Counter()
    for key, ns in per_key.items():
        distinct[key], repeats[key] = seqs.split_new(ns)
    out = _advance(conn, _MESSAGES, distinct, repeats, now, report)
    return {(k[0], k[1], n) for k, o in out.items() for n in o.duplicates}


# -- events and telemetry ---------------------------------------------------------------

def with_event_rows(d: Decoded, received_ms: int) -> Decoded:
    """``d`` with its event rows built now, if it is an event batch (see :attr:`Decoded.rows`)."""
    if not isinstance(d.msg, wire.EventBatch):
        return d
    rows: EventRows = {}
    add_event_rows(d.site, d.msg, received_ms, _json_text, rows)
    return d._replace(rows=rows)


def _store_events(conn: Connection, batches: list[Decoded], now: int,
                  report: BatchReport, wanted: frozenset[str] | None,
                  first_ts: dict[str, int] | None = None) -> list[StoredEvent]:
    """Insert the batches' events; returns the newly stored ones of the types some hook wants.

    ``wanted`` is :meth:`Hooks.event_types` (``None``: every type): an event no hook reads
    costs no :class:`StoredEvent`. ``first_ts`` receives each device's earliest newly stored event time.
    """
    if not batches:
        return []
    rows: dict[tuple[str, int, int], tuple[tuple[Any, ...], str, dict[str, Any]]] = {}
    received: Counter[tuple[str, int]] = Counter()
    for d in batches:
        b = cast(wire.EventBatch, d.msg)
        if d.rows is None:
            add_event_rows(d.site, b, now, _json_text, rows)
        elif not rows:
            rows.update(d.rows)
        else:  # the first of a repeated id wins, as add_event_rows does
            rows.update({k: v for k, v in d.rows.items() if k not in rows})
        received[(b.header.dev, b.boot)] += len(b.events)
    new_keys = _insert_events(conn, [r[0] for r in rows.values()])
    by_stream: dict[tuple[str, int], list[int]] = defaultdict(list)
    hist: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: {"historical": 0})
    stored = []
    for key in new_keys:
        by_stream[(key[0], key[1])].append(key[2])
        row, name, body = rows[key]
        if first_ts is not None and (key[0] not in first_ts or row[4] < first_ts[key[0]]):
            first_ts[key[0]] = row[4]
        if row[11]:  # historical
            hist[(key[0], key[1])]["historical"] += 1
        if wanted is None or name in wanted:
            stored.append(StoredEvent(key[0], row[3], key[1], key[2], row[4], name, dict(body), row[11]))
    report.stored_events = len(new_keys)
    dups: Counter[tuple[str, int]] = Counter()
    for skey, count in received.items():
        dups[skey] = count - len(by_stream.get(skey, ()))
        by_stream.setdefault(skey, [])
    for skey in list(by_stream):
        hist.setdefault(skey, {"historical": 0})
    _advance(conn, _EVENTS, by_stream, dups, now, report, extra=dict(hist))
    return stored


def _json_text(body: dict[str, Any]) -> str:
    """The JSON column's text: orjson is ~10x faster than ``json.dumps`` on these small dicts.

    Tuples become arrays and non-finite floats ``null`` (as :func:`json_safe` makes them).
    """
    return orjson.dumps(body).decode()


_COLUMNS = ", ".join(EVENT_COLUMNS)
_KEY = "device_id, boot, n"
#: Rows per SQLite statement: 14 parameters each, well under SQLite's 32,766 per statement.
_SQLITE_CHUNK = 500


@cache
def _sqlite_insert_sql(rows: int) -> str:
    one = "(" + ", ".join("?" * len(EVENT_COLUMNS)) + ")"
    return (f"INSERT INTO events ({_COLUMNS}) VALUES {', '.join([one] * rows)} "
            f"ON CONFLICT ({_KEY}) DO NOTHING RETURNING {_KEY}")


_PG_STAGE = "vigie_ingest_events"
_PG_CREATE = (f"CREATE TEMP TABLE IF NOT EXISTS {_PG_STAGE} (LIKE events INCLUDING DEFAULTS) "
              "ON COMMIT DELETE ROWS")
_PG_COPY = f"COPY {_PG_STAGE} ({_COLUMNS}) FROM STDIN"
#: No conflict target: the key is the only unique constraint of ``events``, and on PostgreSQL it is
#: (device_id, boot, n, ts_ms) once the table is partitioned (migration 0004: the partition column must be in it),
#: (device_id, boot, n) before. An event id comes with the same time every time its box sends it (both are kept
#: in the box's outbox), so a retransmission conflicts on either key.
_PG_INSERT = (f"INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM {_PG_STAGE} "
              f"ON CONFLICT DO NOTHING RETURNING {_KEY}")


def _insert_events(conn: Connection, rows: list[tuple[Any, ...]]) -> list[tuple[str, int, int]]:
    """Insert event rows (distinct ids), skipping known ids; returns the ids actually inserted.

    Through the DBAPI cursor, since SQLAlchemy's per-row parameter processing cost more than
    the database's insert. SQLite: multi-row ``INSERT .. ON CONFLICT DO NOTHING RETURNING`` in
    chunks (one prepared statement per chunk size). PostgreSQL: ``COPY`` into a session-local
    staging table emptied at commit, then one ``INSERT .. SELECT .. ON CONFLICT DO NOTHING
    RETURNING``; COPY's text format is written by psycopg's C code, where ``unnest`` of
    parameter arrays spent most of its time escaping elements in Python. The table is created
    (if missing) in every batch's transaction, so a rolled-back batch cannot leave the session
    without it.
    """
    dbapi = conn.connection
    cur = dbapi.cursor()
    try:
        if conn.dialect.name != "postgresql":
            out: list[tuple[str, int, int]] = []
            for i in range(0, len(rows), _SQLITE_CHUNK):
                chunk = rows[i:i + _SQLITE_CHUNK]
                cur.execute(_sqlite_insert_sql(len(chunk)), [v for r in chunk for v in r])
                out += cast(list[tuple[str, int, int]], cur.fetchall())
            return out
        cur.execute(_PG_CREATE)
        with cur.copy(_PG_COPY) as copy:
            for r in rows:
                copy.write_row(r)
        cur.execute(_PG_INSERT)
        return cast(list[tuple[str, int, int]], cur.fetchall())
    finally:
        cur.close()


def _store_telemetry(conn: Connection, latest: dict[str, Decoded]) -> list[StoredTelemetry]:
    """Keep the newest telemetry per device; an older message arriving late changes nothing."""
    if not latest:
        return []
    t = telemetry.c
    params: list[dict[str, Any]] = []
    for dev, d in sorted(latest.items()):
        assert isinstance(d.msg, wire.Telemetry)
        params.append({"device_id": dev, "ts_ms": d.msg.header.ts, "metrics": dict(d.msg.metrics), "stale": False})
    ins = _insert(conn, telemetry)
    stmt = ins.on_conflict_do_update(
        index_elements=[t.device_id],
        set_={"ts_ms": ins.excluded.ts_ms, "metrics": ins.excluded.metrics, "stale": False},
        where=ins.excluded.ts_ms >= t.ts_ms,
    ).returning(t.device_id)
    stored_ids = {r[0] for r in conn.execute(stmt, params).all()}
    return [StoredTelemetry(p["device_id"], latest[p["device_id"]].site, p["ts_ms"], p["metrics"])
            for p in params if p["device_id"] in stored_ids]
