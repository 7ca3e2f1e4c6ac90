"""The rows the sender has yet to publish, in outbox order, from every producer.

Producers in the link's own process append through :meth:`RowFeed.append` and hand the
stored rows over in memory too; producers in other processes append to the file only. The
sender reads with :meth:`RowFeed.next_rows`: from memory while the next row there is the
one right after its cursor, from disk otherwise (read ahead in chunks).

The in-memory hand-off is safe with other writers because ids are committed in order and
without holes (see :mod:`.outbox`): if the next row in memory is ``cursor + 1``, nothing can
come between. If it is further ahead, another process committed the ids in between (or the
bound dropped them) and the disk, which always holds the truth, says which. A run of memory
rows is taken only as far as it stays contiguous.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence

from .outbox import NewEvent, Outbox, Row

#: Rows handed from producer to sender in memory, at most (beyond, the sender reads the disk).
FRESH_MAX = 20_000
#: Rows read from disk at once while replaying a backlog or catching up with other processes.
READ_AHEAD = 2000


class RowFeed:
    """Producer/sender hand-off over one outbox, for the current boot."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.boot = 0
        #: Id of the last row handed to the broker; rows up to it are never read again.
        self.cursor = 0
        #: Bumped by every in-process append; the io thread compares it before it sleeps.
        self.appends = 0
        self._append_lock = threading.Lock()
        self._fresh: collections.deque[Row] = collections.deque()
        self._fresh_lock = threading.Lock()
        self._disk: collections.deque[Row] = collections.deque()

    def start(self, boot: int) -> None:
        """Start a boot: the backlog is read from disk from the first row on."""
        self.boot, self.cursor = boot, 0
        self._disk.clear()
        with self._fresh_lock:
            self._fresh.clear()

    def append(self, ts: int, packed: Sequence[tuple[int, bytes]], historical: bool = False) -> list[Row]:
        """Durably store packed event bodies taken at ``ts``; returns them as rows."""
        with self._append_lock:  # rows enter the memory queue in id order
            drops = self.outbox.drops_here
            rows = self.outbox.append(self.boot, [NewEvent(ts, items, blob) for items, blob in packed], historical)
            with self._fresh_lock:
                if self.outbox.drops_here != drops or len(self._fresh) + len(rows) > FRESH_MAX:
                    # The bound dropped rows (maybe some held here), or the sender is far behind:
                    # either way it reads back from disk what is really there.
                    self._fresh.clear()
                self._fresh.extend(rows)
            self.appends += 1
        return rows

    def next_rows(self, limit: int) -> list[Row]:
        """Up to ``limit`` rows after :attr:`cursor`, oldest first, none skipped."""
        if not _trim(self._disk, self.cursor):
            with self._fresh_lock:
                contiguous = bool(_trim(self._fresh, self.cursor)) and self._fresh[0].id == self.cursor + 1
            if not contiguous:
                self._disk.extend(self.outbox.read(self.cursor, READ_AHEAD))
        if self._disk:
            return [self._disk[i] for i in range(min(limit, len(self._disk)))]
        with self._fresh_lock:
            out: list[Row] = []
            for row in self._fresh:
                if len(out) == limit or row.id != self.cursor + 1 + len(out):
                    break
                out.append(row)
            return out


def _trim(rows: collections.deque[Row], cursor: int) -> int:
    """Drop rows already sent (id <= cursor); returns how many are left."""
    while rows and rows[0].id <= cursor:
        rows.popleft()
    return len(rows)
