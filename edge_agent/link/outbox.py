"""Durable store-and-forward queue of events, in SQLite (WAL).

Every event passes through it: :meth:`Outbox.append` commits before the producer goes on,
and a row is deleted only once the broker has acknowledged the message that carried it
(PUBACK). After a crash or an outage the rows still here are replayed in insertion order.

The queue is bounded. When full, the oldest rows are dropped (the newest observations matter
most to operators) and the drop is counted persistently, so telemetry reports it; nothing is
ever lost silently. A message the broker refuses (a PUBACK failure code, e.g. not authorised)
moves its events to a ``rejected`` table: kept for inspection, counted, never retried blindly.

``synchronous=NORMAL`` (the default) survives a killed process; ``FULL`` also survives a
power cut at the cost of an fsync per append.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

from ..errors import OutboxError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id    INTEGER PRIMARY KEY,
    boot  INTEGER NOT NULL,
    n     INTEGER NOT NULL,
    ts    INTEGER NOT NULL,
    items INTEGER NOT NULL,
    blob  BLOB    NOT NULL,
    hist  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    rid    INTEGER PRIMARY KEY,
    id     INTEGER NOT NULL,
    boot   INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    ts     INTEGER NOT NULL,
    items  INTEGER NOT NULL,
    blob   BLOB    NOT NULL,
    reason TEXT    NOT NULL,
    at     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


_INSERT = "INSERT INTO events(id, boot, n, ts, items, blob, hist) VALUES(?, ?, ?, ?, ?, ?, ?)"


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
    """What a producer hands to :meth:`Outbox.append`: identity, time and packed body."""

    n: int
    ts: int
    items: int
    blob: bytes


class Outbox:
    """A bounded, durable FIFO of packed events shared by a producer and the sender thread."""

    def __init__(
        self,
        path: Path | str,
        max_events: int = 1_000_000,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> None:
        if max_events < 1:
            raise OutboxError(f"outbox max_events must be >= 1, got {max_events}")
        self.path = Path(path)
        self.max_events = max_events
        #: Rows dropped by this object (cheap to read; ``dropped_total`` is the persistent sum).
        self.drops_here = 0
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            # Rows are ~60 bytes: small pages make each per-event commit write (and checksum) less.
            self._db.execute("PRAGMA page_size=1024")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
            count, top = self._db.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM events").fetchone()
            self._count: int = int(count)
            # Ids are given here, not by SQLite, so they only grow while this object lives even when
            # the table empties (the sender's cursor relies on it); no AUTOINCREMENT bookkeeping either.
            (removed,) = self._db.execute("SELECT COALESCE(MAX(value), 0) FROM meta WHERE key = 'id_hw'").fetchone()
            self._next_id: int = max(int(top), int(removed)) + 1
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc

    # -- counters kept in the file, so they survive restarts ------------------------------
    def _get(self, key: str, default: int = 0) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def _put(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _bump(self, key: str, seed: int) -> int:
        with self._lock, self._tx():
            value = max(self._get(key, seed - 1) + 1, seed)
            self._put(key, value)
            return value

    def next_boot(self) -> int:
        """A new run number for event ids, persisted.

        A fresh file seeds it with the current Unix time, so event ids stay unique even if
        a box loses its outbox file and starts again.
        """
        return self._bump("boot", seed=int(time.time()))

    def next_bdseq(self) -> int:
        """A new birth/death sequence for the next MQTT connection, persisted."""
        return self._bump("bdseq", seed=0)

    @property
    def dropped_total(self) -> int:
        with self._lock:
            return self._get("dropped")

    @property
    def rejected_total(self) -> int:
        with self._lock:
            return self._get("rejected")

    def __len__(self) -> int:
        return self._count

    # -- queue operations --------------------------------------------------------------
    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    def append(self, boot: int, events: Sequence[NewEvent], historical: bool) -> list[Row]:
        """Durably add events (one transaction) and return them as stored rows.

        When the queue is over its bound, the oldest rows are dropped in the same
        transaction and the persistent ``dropped`` counter grows by as many.
        """
        if not events:
            return []
        hist = int(historical)
        try:
            with self._lock:
                first = self._next_id
                if len(events) == 1 and self._count < self.max_events:
                    # The common case: one statement is one implicit transaction, no BEGIN/COMMIT.
                    e = events[0]
                    self._db.execute(_INSERT, (first, boot, e.n, e.ts, e.items, e.blob, hist))
                    self._count += 1
                else:
                    with self._tx():
                        self._db.executemany(
                            _INSERT, [(first + i, boot, e.n, e.ts, e.items, e.blob, hist) for i, e in enumerate(events)]
                        )
                        self._count += len(events)
                        self._drop_oldest()
                self._next_id = first + len(events)
        except sqlite3.Error as exc:
            with self._lock:
                (self._count,) = self._db.execute("SELECT COUNT(*) FROM events").fetchone()
            raise OutboxError(f"cannot append to outbox {self.path}: {exc}") from exc
        return [Row(first + i, boot, e.n, e.ts, e.items, e.blob, bool(hist)) for i, e in enumerate(events)]

    def _note_removed(self, top: int) -> None:
        """Remember the highest id ever removed, so a reopened outbox never reuses an id."""
        if top > self._get("id_hw"):
            self._put("id_hw", top)

    def _drop_oldest(self) -> None:
        overflow = self._count - self.max_events
        if overflow > 0:
            (top,) = self._db.execute(
                "SELECT MAX(id) FROM (SELECT id FROM events ORDER BY id LIMIT ?)", (overflow,)
            ).fetchone()
            self._db.execute("DELETE FROM events WHERE id <= ?", (top,))
            self._note_removed(int(top))
            self._put("dropped", self._get("dropped") + overflow)
            self._count -= overflow
            self.drops_here += overflow

    def read(self, after_id: int, limit: int) -> list[Row]:
        """Up to ``limit`` rows with id greater than ``after_id``, oldest first."""
        with self._lock:
            cur = self._db.execute(
                "SELECT id, boot, n, ts, items, blob, hist FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            )
            return [Row(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6])) for r in cur]

    def delete(self, ids: Iterable[int]) -> None:
        """Forget rows the broker acknowledged (ids already dropped are ignored)."""
        batch = [(i,) for i in ids]
        if not batch:
            return
        with self._lock, self._tx():
            before = self._db.total_changes
            self._db.executemany("DELETE FROM events WHERE id = ?", batch)
            self._count -= self._db.total_changes - before
            self._note_removed(max(i for (i,) in batch))

    def reject(self, ids: Sequence[int], reason: str) -> None:
        """Move rows the broker refused to the ``rejected`` table and count them."""
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        now = int(time.time() * 1000)
        with self._lock, self._tx():
            moved = self._db.execute(
                f"INSERT INTO rejected(id, boot, n, ts, items, blob, reason, at) "
                f"SELECT id, boot, n, ts, items, blob, ?, ? FROM events WHERE id IN ({marks})",
                (reason, now, *ids),
            ).rowcount
            self._db.execute(f"DELETE FROM events WHERE id IN ({marks})", tuple(ids))
            self._note_removed(max(ids))
            self._count -= moved
            self._put("rejected", self._get("rejected") + moved)

    def mark_all_historical(self) -> int:
        """Flag every pending row as historical (called at start: they come from a past run)."""
        with self._lock, self._tx():
            return self._db.execute("UPDATE events SET hist = 1 WHERE hist = 0").rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on error: nothing is half-written."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
