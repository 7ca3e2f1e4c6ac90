"""The rows the sender has yet to publish, in outbox order, and the producers' side of it.

Producers append through :meth:`RowFeed.append` (durable before it returns). The sender reads
with :meth:`RowFeed.next_rows`: from disk while it replays a backlog (read ahead in chunks),
then, once it has caught up, from the rows producers hand over in memory, so the steady state
costs no read at all. Any doubt — the memory queue grew too long, the outbox dropped rows —
sends it back to disk, which always holds the truth.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence

from .outbox import NewEvent, Outbox, Row

#: Rows handed from producer to sender in memory while the sender is caught up.
FRESH_MAX = 20_000
#: Rows read from disk at once while replaying a backlog.
READ_AHEAD = 2000


class RowFeed:
    """Producer/sender hand-off over one outbox; event numbers ``n`` are given here."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.boot = 0
        #: Id of the last row handed to the broker; rows up to it are never read again.
        self.cursor = 0
        #: Bumped by every append; the io thread compares it before it sleeps.
        self.appends = 0
        self._n = 0
        self._append_lock = threading.Lock()
        self._fresh: collections.deque[Row] = collections.deque()
        self._fresh_lock = threading.Lock()
        self._disk: collections.deque[Row] = collections.deque()
        self._caught_up = False

    def start(self, boot: int) -> None:
        """Start a boot: event numbers restart at 0, the backlog is read from disk."""
        self.boot, self._n, self.cursor, self._caught_up = boot, 0, 0, False

    def append(self, ts: int, packed: Sequence[tuple[int, bytes]], historical: bool) -> list[Row]:
        """Durably store packed event bodies taken at ``ts``; returns them as rows."""
        with self._append_lock:
            first = self._n
            new = [NewEvent(first + i, ts, items, blob) for i, (items, blob) in enumerate(packed)]
            drops = self.outbox.drops_here
            rows = self.outbox.append(self.boot, new, historical=historical)
            overflowed = self.outbox.drops_here != drops
            self._n += len(rows)
            with self._fresh_lock:
                if self._caught_up:
                    if overflowed or len(self._fresh) + len(rows) > FRESH_MAX:
                        self._caught_up = False  # the sender reads back from disk what is really there
                        self._fresh.clear()
                    else:
                        self._fresh.extend(rows)
            self.appends += 1
        return rows

    def next_rows(self, limit: int) -> list[Row]:
        """Up to ``limit`` rows after :attr:`cursor`, oldest first."""
        if not self._disk and not self._caught_up:
            with self._append_lock:  # no append may slip between a disk read and the switch to memory
                rows = self.outbox.read(self.cursor, READ_AHEAD)
                if len(rows) < READ_AHEAD:  # nothing more on disk: new rows now come by memory
                    with self._fresh_lock:
                        self._caught_up = True
                        self._fresh.clear()
                        self._fresh.extend(rows)
                    rows = []
            self._disk.extend(rows)
        if self._disk:
            return _take(self._disk, self.cursor, limit)
        with self._fresh_lock:
            return _take(self._fresh, self.cursor, limit)


def _take(rows: collections.deque[Row], cursor: int, limit: int) -> list[Row]:
    """Drop rows already sent (id <= cursor) and return up to ``limit`` of the next ones."""
    while rows and rows[0].id <= cursor:
        rows.popleft()
    return [rows[i] for i in range(min(limit, len(rows)))]
