"""Durable store-and-forward queue of events, in SQLite (WAL), shared by several processes.

Every event passes through it: an append commits before the producer goes on, and a row is
deleted only once the broker has acknowledged the message that carried it (PUBACK). After a
crash or an outage the rows still here are replayed in id order.

**Several writers, one sender.** Producers may run in other processes than the link (the
camera role does): each opens an :class:`OutboxWriter` on the same file, and the link's
:class:`Outbox` reads, deletes and rejects. SQLite serialises writers (one write lock), and
row ids come from ``AUTOINCREMENT``: an id is taken under the write lock and never reused,
and a rolled-back append gives its ids back. So the committed ids are always ``1..top``
minus the rows already removed, and a reader that sees id *k* has every id below *k* that
still exists: the sender's cursor ``id > cursor`` never skips a row.

**Event numbers.** An event's wire id is ``(device, boot, n)``. A boot (one run of the link)
is a row of the ``boots`` table holding the first id it may use, and ``n = id - first_id``:
numbered identically by every producer, at send time and at every replay. Only the newest
boot accepts appends (a producer left over from an earlier run is refused with
:class:`StaleBootError`), so boots never interleave in id order and a gap in ``n`` is always
a real loss: rows dropped by the bound or refused by the broker, both counted.

**Historical.** Rows appended while the link is not connected are flagged historical. The
link records its state in the boot's ``live`` column, so producers in other processes flag
their rows the same way without asking it.

**Bound.** The outbox keeps at most the ``max_events`` newest events ever appended: a row
more than ``max_events`` ids behind the newest one is dropped (the newest observations
matter most to operators) and counted persistently, so telemetry reports it; nothing is
lost silently. Each writer counts the rows its own ``DELETE`` removed, so concurrent
writers never count one drop twice. A dropped row that the sender had already read still
reaches the broker; its acknowledgement takes it off the count (:meth:`Outbox.acknowledge`).
A message the broker refuses (a PUBACK failure code, e.g. not authorised) moves its events
to a ``rejected`` table: kept for inspection, counted, never retried blindly.

**Waking the sender.** After each commit a writer in another process sends one datagram to
the link's socket (:func:`wake_address`, Linux abstract namespace); the link also looks at
the file at least every quarter of a second, so a lost datagram only delays.

``synchronous=NORMAL`` (the default) survives a killed process; ``FULL`` also survives a
power cut at the cost of an fsync per append.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

from ..errors import OutboxError

log = logging.getLogger("vigie.link")

#: How long a writer waits for another one's write lock before giving up (SQLite busy handler).
BUSY_TIMEOUT_S = 10.0

_EVENTS = """
CREATE TABLE IF NOT EXISTS events (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    boot  INTEGER NOT NULL,
    ts    INTEGER NOT NULL,
    items INTEGER NOT NULL,
    blob  BLOB    NOT NULL,
    hist  INTEGER NOT NULL
)"""
_TABLES = (
    _EVENTS,
    """CREATE TABLE IF NOT EXISTS boots (
        boot     INTEGER PRIMARY KEY,
        first_id INTEGER NOT NULL,
        live     INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS rejected (
        rid    INTEGER PRIMARY KEY,
        id     INTEGER NOT NULL,
        boot   INTEGER NOT NULL,
        n      INTEGER NOT NULL,
        ts     INTEGER NOT NULL,
        items  INTEGER NOT NULL,
        blob   BLOB    NOT NULL,
        reason TEXT    NOT NULL,
        at     INTEGER NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)

# Only the newest boot takes rows: a writer of an earlier run inserts nothing (rowcount 0).
_INSERT = """
INSERT INTO events(boot, ts, items, blob, hist)
SELECT boot, ?, ?, ?, MAX(?, 1 - live) FROM (SELECT boot, live FROM boots ORDER BY boot DESC LIMIT 1)
WHERE boot = ?
RETURNING id, hist"""
_SELECT = (
    "SELECT e.id, e.boot, e.id - b.first_id, e.ts, e.items, e.blob, e.hist FROM events e JOIN boots b USING (boot)"
)
_SEQ = "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)"


class StaleBootError(OutboxError):
    """An append for a boot that is no longer the newest: its link has stopped or restarted."""


class Row(NamedTuple):
    """One stored event: outbox id, its identity (boot, n), time, and its packed body."""

    id: int
    boot: int
    n: int
    ts: int
    items: int
    blob: bytes
    hist: bool


class NewEvent(NamedTuple):
    """What a producer appends: event time (ms), item count and packed body."""

    ts: int
    items: int
    blob: bytes


def wake_address(path: Path | str) -> str | None:
    """Name of the link's wake socket for the outbox at ``path`` (None where unsupported).

    An abstract Unix socket (Linux): no file to clean up after a crash, gone with its process.
    """
    if not sys.platform.startswith("linux"):
        return None
    digest = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:32]
    return f"\0vigie-outbox-{digest}"


class OutboxWriter:
    """Producer side of the outbox: open the file, append, nothing else. Usable in any process.

    Each :meth:`append` is one transaction, durable when it returns. Thread-safe (one lock).
    """

    def __init__(
        self,
        path: Path | str,
        max_events: int = 1_000_000,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        *,
        wake: bool = True,
    ) -> None:
        if max_events < 1:
            raise OutboxError(f"outbox max_events must be >= 1, got {max_events}")
        self.path = Path(path)
        self.max_events = max_events
        #: Rows dropped by the bound through this object (cheap to read; ``dropped_total`` is persistent).
        self.drops_here = 0
        self._lock = threading.Lock()
        self._first_ids: dict[int, int] = {}
        #: A lower bound of the smallest id present: ids only grow, so it stays one.
        self._low = 0
        #: The last append overflowed: the next ones insert and drop in one transaction.
        self._full = False
        self._wake: socket.socket | None = None
        self._wake_to = wake_address(self.path) if wake else None
        if self._wake_to is not None:
            self._wake = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._wake.setblocking(False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None
            )
            # Rows are ~60 bytes: small pages make each per-event commit write (and checksum) less.
            self._db.execute("PRAGMA page_size=1024")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            with self._tx():
                _migrate_v1(self._db)
                for ddl in _TABLES:
                    self._db.execute(ddl)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc

    # -- helpers ------------------------------------------------------------------------
    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    def _get(self, key: str, default: int = 0) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def _put(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _add(self, key: str, delta: int) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
            (key, delta),
        )

    def _first_id(self, boot: int) -> int:
        first = self._first_ids.get(boot)
        if first is None:
            row = self._db.execute("SELECT first_id FROM boots WHERE boot = ?", (boot,)).fetchone()
            if row is None:
                raise StaleBootError(f"boot {boot} was never opened in outbox {self.path}")
            first = self._first_ids[boot] = int(row[0])
        return first

    # -- append -------------------------------------------------------------------------
    def append(self, boot: int, events: Sequence[NewEvent], historical: bool = False) -> list[Row]:
        """Durably add events to ``boot`` (one transaction); returns them as stored rows.

        Rows are flagged historical when ``historical`` is set or the link is not connected.
        Raises :class:`StaleBootError` when ``boot`` is no longer the newest boot.
        """
        if not events:
            return []
        hist = int(historical)
        try:
            with self._lock:
                first_id = self._first_id(boot)
                if len(events) == 1 and not self._full:
                    # The common case: one statement is one implicit transaction, no BEGIN/COMMIT.
                    e = events[0]
                    stored = self._db.execute(_INSERT, (e.ts, e.items, e.blob, hist, boot)).fetchall()
                    if stored and stored[0][0] - self.max_events >= self._low:
                        with self._tx():
                            self._drop_oldest(stored[0][0])
                else:
                    with self._tx():
                        stored = []
                        for e in events:
                            stored += self._db.execute(_INSERT, (e.ts, e.items, e.blob, hist, boot)).fetchall()
                        if len(stored) == len(events):
                            self._drop_oldest(stored[-1][0])
                        else:  # the boot ended before all were in: none is kept
                            raise StaleBootError(f"boot {boot} is over in outbox {self.path}")
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot append to outbox {self.path}: {exc}") from exc
        if len(stored) != len(events):
            raise StaleBootError(f"boot {boot} is over in outbox {self.path}")
        self._wake_link()
        pairs = zip(stored, events, strict=True)
        return [Row(i, boot, i - first_id, e.ts, e.items, e.blob, bool(h)) for (i, h), e in pairs]

    def _drop_oldest(self, newest: int) -> None:
        """Drop rows more than ``max_events`` ids behind ``newest``; caller holds the write lock."""
        limit = newest - self.max_events
        if limit < self._low:
            self._full = False
            return
        (low,) = self._db.execute("SELECT MIN(id) FROM events").fetchone()
        self._low = int(low if low is not None else newest + 1)
        if limit < self._low:
            self._full = False
            return
        dropped = self._db.execute("DELETE FROM events WHERE id <= ?", (limit,)).rowcount
        self._low = limit + 1
        self._full = True
        if dropped:
            self._add("dropped", dropped)
            self.drops_here += dropped

    def _wake_link(self) -> None:
        """One datagram to the link's socket; never blocks, never fails (the link also polls)."""
        if self._wake is not None and self._wake_to is not None:
            with contextlib.suppress(OSError):
                self._wake.sendto(b"\0", self._wake_to)

    @property
    def dropped_total(self) -> int:
        """Rows dropped by the bound and never delivered, since the file was created."""
        with self._lock:
            return self._get("dropped")

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._wake is not None:
                self._wake.close()


class Outbox(OutboxWriter):
    """The link's side of the outbox: boots, reads, acknowledgements, rejections, counters.

    It appends too (producers living in the link's process), without a wake datagram: the
    link wakes itself.
    """

    def __init__(
        self,
        path: Path | str,
        max_events: int = 1_000_000,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> None:
        super().__init__(path, max_events, synchronous, wake=False)

    # -- counters kept in the file, so they survive restarts ------------------------------
    def next_boot(self) -> int:
        """Open a new run of the link: its number, persisted, and the first id its events get.

        A fresh file seeds the number with the current Unix time, so event ids stay unique
        even if a box loses its outbox file and starts again. From now on only this boot
        accepts appends; it starts offline (rows historical until :meth:`set_live`).
        """
        with self._lock, self._tx():
            boot = max(self._get("boot", int(time.time()) - 1) + 1, int(time.time()))
            self._put("boot", boot)
            (seq,) = self._db.execute(_SEQ).fetchone()
            self._db.execute("INSERT INTO boots(boot, first_id, live) VALUES(?, ?, 0)", (boot, int(seq) + 1))
            # Boots older than the oldest pending row have nothing left to number.
            self._db.execute(
                "DELETE FROM boots WHERE boot < COALESCE((SELECT boot FROM events ORDER BY id LIMIT 1), ?)", (boot,)
            )
            self._first_ids = {boot: int(seq) + 1}
            return boot

    def next_bdseq(self) -> int:
        """A new birth/death sequence for the next MQTT connection, persisted."""
        with self._lock, self._tx():
            value = self._get("bdseq", -1) + 1
            self._put("bdseq", value)
            return value

    def set_live(self, boot: int, live: bool) -> None:
        """Record whether the link is connected: appends to ``boot`` are historical while not."""
        with self._lock, self._tx():
            self._db.execute("UPDATE boots SET live = ? WHERE boot = ?", (int(live), boot))

    def appended(self, boot: int) -> int:
        """Events appended to ``boot`` by every producer, while it is the newest boot."""
        with self._lock:
            (seq,) = self._db.execute(_SEQ).fetchone()
            return max(0, int(seq) + 1 - self._first_id(boot))

    @property
    def rejected_total(self) -> int:
        with self._lock:
            return self._get("rejected")

    def __len__(self) -> int:
        """Rows pending (an exact count: a scan, for telemetry, not for hot paths)."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def holds_only(self, ids: Iterable[int]) -> bool:
        """True when every pending row is among ``ids`` (cheap: reads at most len(ids) + 1 ids)."""
        known = set(ids)
        with self._lock:
            rows = self._db.execute("SELECT id FROM events ORDER BY id LIMIT ?", (len(known) + 1,)).fetchall()
        return all(r[0] in known for r in rows)

    # -- sender operations ------------------------------------------------------------
    def read(self, after_id: int, limit: int) -> list[Row]:
        """Up to ``limit`` rows with id greater than ``after_id``, oldest first."""
        with self._lock:
            cur = self._db.execute(f"{_SELECT} WHERE e.id > ? ORDER BY e.id LIMIT ?", (after_id, limit))
            return [Row(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6])) for r in cur]

    def delete(self, ids: Iterable[int]) -> int:
        """Forget rows by id (unknown ids are ignored); returns how many were removed."""
        batch = [(i,) for i in ids]
        if not batch:
            return 0
        with self._lock, self._tx():
            before = self._db.total_changes
            self._db.executemany("DELETE FROM events WHERE id = ?", batch)
            return self._db.total_changes - before

    def acknowledge(self, ids: Sequence[int], wait: bool = True) -> bool:
        """Forget rows the broker acknowledged; returns False if ``wait`` is off and a writer holds the file.

        An acknowledged row that is no longer here was dropped by the bound after the sender
        had read it: it reached the broker after all, so it leaves the ``dropped`` count.

        The sender calls this with ``wait=False``: while producers of other processes commit
        thousands of events a second, SQLite's busy handler would put the sending thread to
        sleep for a millisecond or more at each collision. A deletion that finds the write lock
        taken is simply retried later; until then the rows stay (the cursor keeps them from
        being sent again, and after a crash a replay is idempotent downstream).
        """
        batch = [(i,) for i in set(ids)]
        if not batch:
            return True
        with self._lock:
            if not wait:
                self._db.execute("PRAGMA busy_timeout = 0")
            try:
                with self._tx():
                    before = self._db.total_changes
                    self._db.executemany("DELETE FROM events WHERE id = ?", batch)
                    delivered_anyway = len(batch) - (self._db.total_changes - before)
                    if delivered_anyway:
                        self._add("dropped", -delivered_anyway)
            except sqlite3.OperationalError as exc:
                if wait or "locked" not in str(exc):
                    raise
                return False
            finally:
                if not wait:
                    self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return True

    def reject(self, ids: Sequence[int], reason: str) -> None:
        """Move rows the broker refused to the ``rejected`` table and count them."""
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        now = int(time.time() * 1000)
        with self._lock, self._tx():
            moved = self._db.execute(
                f"INSERT INTO rejected(id, boot, n, ts, items, blob, reason, at) "
                f"SELECT e.id, e.boot, e.id - b.first_id, e.ts, e.items, e.blob, ?, ? "
                f"FROM events e JOIN boots b USING (boot) WHERE e.id IN ({marks})",
                (reason, now, *ids),
            ).rowcount
            self._db.execute(f"DELETE FROM events WHERE id IN ({marks})", tuple(ids))
            if moved:
                self._add("rejected", moved)

    def mark_all_historical(self) -> int:
        """Flag every pending row of earlier boots as historical (called at start)."""
        with self._lock, self._tx():
            return self._db.execute(
                "UPDATE events SET hist = 1 WHERE hist = 0 AND boot < (SELECT MAX(boot) FROM boots)"
            ).rowcount


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on error: nothing is half-written.

    IMMEDIATE takes the write lock first: a transaction that reads then writes could
    otherwise fail with SQLITE_BUSY(_SNAPSHOT) at once, whatever the busy timeout.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _migrate_v1(db: sqlite3.Connection) -> None:
    """Carry a single-writer outbox (ids given by the process, ``n`` stored) over, in place.

    That layout numbered ids and ``n`` together within a boot, so ``id - n`` is the same for
    every row of a boot: it becomes the boot's ``first_id`` and replayed events keep their ids.
    """
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone()
    if row is None or "AUTOINCREMENT" in row[0].upper():
        return
    db.execute("ALTER TABLE events RENAME TO events_v1")
    for ddl in _TABLES:
        db.execute(ddl)
    db.execute(
        "INSERT INTO events(id, boot, ts, items, blob, hist) SELECT id, boot, ts, items, blob, hist FROM events_v1"
    )
    offsets = db.execute("SELECT boot, MIN(id - n), MAX(id - n) FROM events_v1 GROUP BY boot").fetchall()
    for boot, low, high in offsets:
        if low != high:
            log.warning("outbox boot %d had irregular event numbers; its pending events are renumbered", boot)
        db.execute("INSERT OR IGNORE INTO boots(boot, first_id, live) VALUES(?, ?, 0)", (boot, low))
    (top,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM events_v1").fetchone()
    hw = db.execute("SELECT value FROM meta WHERE key = 'id_hw'").fetchone()
    seq = max(int(top), int(hw[0]) if hw else 0)
    db.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
    db.execute("INSERT INTO sqlite_sequence(name, seq) VALUES('events', ?)", (seq,))
    db.execute("DELETE FROM meta WHERE key = 'id_hw'")
    db.execute("DROP TABLE events_v1")
