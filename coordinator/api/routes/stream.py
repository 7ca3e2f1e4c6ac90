"""Live event feed as server-sent events: ``GET /api/v1/events/stream``.

Why the database and not MQTT: the feed shows what the coordinator has *stored*, so what an
operator sees live is exactly what the history and the interventions were built from; any
number of web processes (gunicorn workers, threads, the Flask dev server) can serve it without
each opening a broker session; commune scoping is a ``WHERE``; and a browser that reconnects
resumes from ``Last-Event-ID`` without a gap. The cost is a small indexed query every
``EVENT_STREAM_POLL_MS`` (250 ms) per open stream, which holds no connection while it sleeps.

Events have no serial id (their key is the wire's ``(device, boot, n)``), so the cursor is the
``received_ms`` the ingest worker stamped. Batches commit out of order across workers, so each
poll looks back ``EVENT_STREAM_LAG_MS`` and skips what it already sent. The query is bounded by
box time (``ts_ms``, indexed) to the last ``EVENT_STREAM_WINDOW_S``: an event replayed from a box's
outbox long after it happened is stored and listed, but not pushed live (nor sent in the backlog).

Under gunicorn, each open stream holds one thread (``-k gthread --threads N``); a stream ends
after ``EVENT_STREAM_MAX_S`` and the browser's EventSource reconnects by itself, so dead clients
cannot pin threads for long, and a comment line every 15 s lets the server notice them sooner.
Every ``EVENT_STREAM_AUTH_CHECK_S`` (5 s) the stream checks that the caller's session or token
still holds: a logout, a deactivation or a revoked token ends an open stream too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy.engine import Connection, Engine

from coordinator.interventions.geo import COMMUNE_SLUGS
from coordinator.storage.flask import get_read_engine
from coordinator.storage.schema import events

from ..blueprint import bp
from ..errors import bad_request
from ..params import MAX_MS, parse_digits
from ..security import check_commune, credential_check, current_principal, require

HEARTBEAT_S = 15.0
MAX_BACKLOG = 200
BATCH = 500


@dataclass
class Cursor:
    """Where a stream is: events received after ``floor_ms``, minus those already sent."""

    floor_ms: int
    lag_ms: int
    high_ms: int = 0
    sent: dict[tuple[str, int, int], int] = field(default_factory=dict)

    def since_ms(self) -> int:
        return max(self.floor_ms, self.high_ms - self.lag_ms)

    def take(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows not sent yet, in received order; remembers them for the look-back."""
        fresh = []
        for row in rows:
            key = (row["device_id"], row["boot"], row["n"])
            if key in self.sent or row["received_ms"] <= self.floor_ms:
                continue
            self.sent[key] = row["received_ms"]
            self.high_ms = max(self.high_ms, row["received_ms"])
            fresh.append(row)
        horizon = self.high_ms - self.lag_ms
        if len(self.sent) > 4 * BATCH:
            self.sent = {k: v for k, v in self.sent.items() if v >= horizon}
        return fresh


def _columns() -> list[sa.ColumnElement[Any]]:
    c = events.c
    return [c.device_id, c.boot, c.n, c.site, c.ts_ms, c.received_ms, c.type, c.cam, c.target, c.cls, c.track,
            c.historical, c.body]


def _scoped(query: sa.Select[Any], site: str | None, types: Sequence[str]) -> sa.Select[Any]:
    if site is not None:
        query = query.where(events.c.site == site)
    if types:
        query = query.where(events.c.type.in_(types))
    return query


def fetch_since(conn: Connection, since_ms: int, window_start_ms: int, site: str | None,
                types: Sequence[str]) -> list[dict[str, Any]]:
    query = (sa.select(*_columns())
             .where(events.c.ts_ms >= window_start_ms, events.c.received_ms > since_ms)
             .order_by(events.c.received_ms, events.c.device_id, events.c.boot, events.c.n)
             .limit(BATCH))
    return [dict(r._mapping) for r in conn.execute(_scoped(query, site, types))]


def fetch_latest(conn: Connection, count: int, site: str | None, types: Sequence[str],
                 window_start_ms: int) -> list[dict[str, Any]]:
    """The backlog: the last ``count`` events received whose box time is in the live window, as the polls see.

    The time bound is what keeps it an indexed read of the last minutes: ``received_ms`` has no index, and without
    it the read sorted every raw event kept (all the retention's partitions on PostgreSQL).
    """
    query = (sa.select(*_columns())
             .where(events.c.ts_ms >= window_start_ms)
             .order_by(events.c.received_ms.desc(), events.c.device_id, events.c.boot, events.c.n)
             .limit(count))
    rows = [dict(r._mapping) for r in conn.execute(_scoped(query, site, types))]
    rows.reverse()
    return rows


def to_message(row: dict[str, Any]) -> str:
    """One SSE message: ``id`` is the cursor the browser sends back as ``Last-Event-ID``."""
    data = {**row, "key": f"{row['device_id']}/{row['boot']}/{row['n']}", "historical": bool(row["historical"])}
    payload = json.dumps(data, separators=(",", ":"), default=str, ensure_ascii=False)
    return f"id: {row['received_ms']}\nevent: event\ndata: {payload}\n\n"


def generate(engine: Engine, cursor: Cursor, site: str | None, types: Sequence[str], *, poll_s: float,
             window_ms: int, max_s: float, backlog: list[dict[str, Any]],
             authorised: Callable[[Connection], bool] | None = None, auth_check_s: float = 5.0) -> Iterator[str]:
    """The stream's body; holds a database connection only while it queries.

    Every ``auth_check_s`` it asks ``authorised`` whether the caller's session or token still holds,
    and ends the stream when it does not (the browser's reconnection then gets a 401).
    """
    yield "retry: 2000\n: vigie event stream\n\n"
    for row in cursor.take(backlog):
        yield to_message(row)
    started = last_write = last_check = time.monotonic()
    while time.monotonic() - started < max_s:
        now_ms = int(time.time() * 1000)
        with engine.connect() as conn:
            if authorised is not None and time.monotonic() - last_check >= auth_check_s:
                last_check = time.monotonic()
                if not authorised(conn):
                    return
            rows = fetch_since(conn, cursor.since_ms(), now_ms - window_ms, site, types)
        fresh = cursor.take(rows)
        for row in fresh:
            yield to_message(row)
        if fresh:
            last_write = time.monotonic()
        elif time.monotonic() - last_write >= HEARTBEAT_S:
            yield ": keep-alive\n\n"
            last_write = time.monotonic()
        if len(rows) < BATCH:
            time.sleep(poll_s)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = parse_digits(raw, low, high)
    if value is None:
        raise bad_request(f"{name} must be an integer (ASCII digits) between {low} and {high}",
                          [{"field": name, "reason": f"not an integer in {low}..{high}"}])
    return value


def _resume_ms() -> int | None:
    """``Last-Event-ID``: the ``received_ms`` of the last event the browser got, or None when absent."""
    raw = request.headers.get("Last-Event-ID", "").strip()
    if not raw:
        return None
    value = parse_digits(raw, 0, MAX_MS)
    if value is None:
        raise bad_request(f"Last-Event-ID must be an id this stream sent: ASCII digits, 0 to {MAX_MS}",
                          [{"field": "Last-Event-ID", "reason": "not a stream event id"}])
    return value


@bp.get("/events/stream")
@require("viewer")
def event_stream() -> ResponseReturnValue:
    """Events as they are stored, scoped to the caller's commune; ``?backlog=N`` sends the last N first."""
    principal = current_principal()
    if any("\x00" in value for values in request.args.listvalues() for value in values):
        raise bad_request("NUL (%00) characters are not accepted in the query")
    site = request.args.get("site")
    if site is not None and site not in COMMUNE_SLUGS:
        raise bad_request(f"site: unknown commune {site!r}", [{"field": "site", "reason": "not a commune slug"}])
    if site is not None:
        check_commune(principal, site)
    site = site or principal.scope
    types = [t for arg in request.args.getlist("type") for t in arg.split(",") if t]
    backlog_n = _int_arg("backlog", 0, 0, MAX_BACKLOG)
    cfg = current_app.config
    lag_ms = int(cfg.get("EVENT_STREAM_LAG_MS", 2000))
    engine = get_read_engine()
    resume = _resume_ms()
    backlog: list[dict[str, Any]] = []
    if resume is not None:
        cursor = Cursor(floor_ms=resume, lag_ms=lag_ms, high_ms=resume)
    else:
        now_ms = int(time.time() * 1000)
        cursor = Cursor(floor_ms=now_ms - lag_ms, lag_ms=lag_ms, high_ms=now_ms)
        if backlog_n:
            with engine.connect() as conn:
                backlog = fetch_latest(conn, backlog_n, site, types,
                                       now_ms - int(cfg.get("EVENT_STREAM_WINDOW_S", 600)) * 1000)
            cursor.floor_ms = min([cursor.floor_ms, *(r["received_ms"] - 1 for r in backlog)])
    body = generate(engine, cursor, site, types, poll_s=int(cfg.get("EVENT_STREAM_POLL_MS", 250)) / 1000,
                    window_ms=int(cfg.get("EVENT_STREAM_WINDOW_S", 600)) * 1000,
                    max_s=float(cfg.get("EVENT_STREAM_MAX_S", 300)), backlog=backlog,
                    authorised=credential_check(), auth_check_s=float(cfg.get("EVENT_STREAM_AUTH_CHECK_S", 5)))
    resp = Response(body, mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"  # a reverse proxy must not buffer the stream
    return resp
