"""Refused messages, counted every one and logged without flooding: one record per kind per interval.

Both sides receive messages they must refuse (a payload that does not decode, a command for a handler that
fails, a queue that is full), and a hostile or broken peer can send thousands a second. Each one is counted;
only the first of a kind is logged at once, later ones of that kind at most once per interval (a minute by
default) with how many were only counted in between. A kind that goes quiet gets its last count logged by
:meth:`RejectLog.flush`, which the owner's loop calls, so the log tells the whole story a minute late at
worst while its volume is bounded by the number of kinds, not of messages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

#: Default interval between two records of one kind, in seconds.
EVERY_S = 60.0


class RejectLog:
    """Counts refusals by kind and logs each kind at most once per ``every_s`` seconds.

    Thread-safe: refusals are noted from network callbacks and worker threads alike.

    Args:
        logger: Where the records go.
        what: How each record starts, e.g. ``"rejected"`` or ``"invalid command"``; the kind follows in
            brackets, so records of one kind can be searched for.
        every_s: Least time between two records of the same kind.
        clock: Monotonic seconds; the interval is measured on it.
        level: Level of the records.
    """

    def __init__(self, logger: logging.Logger, what: str, every_s: float = EVERY_S,
                 clock: Callable[[], float] = time.monotonic, level: int = logging.WARNING) -> None:
        self.counts: Counter[str] = Counter()  #: every refusal since creation, by kind
        self._log = logger
        self._what = what
        self._every_s = every_s
        self._clock = clock
        self._level = level
        self._logged_at: dict[str, float] = {}
        self._unlogged: Counter[str] = Counter()  # refusals of a kind since its last record
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        """Refusals of every kind since creation."""
        with self._lock:
            return self.counts.total()

    def by_kind(self) -> dict[str, int]:
        """A copy of :attr:`counts`, safe to take while other threads note refusals."""
        with self._lock:
            return dict(self.counts)

    def note(self, kind: str, detail: str, *, exc_info: BaseException | None = None) -> bool:
        """Count one refusal of ``kind``; log it with ``detail`` (and ``exc_info``'s traceback) if its turn has come.

        Returns whether a record was written.
        """
        with self._lock:
            self.counts[kind] += 1
            now = self._clock()
            last = self._logged_at.get(kind)
            if last is not None and now - last < self._every_s:
                self._unlogged[kind] += 1
                return False
            self._logged_at[kind] = now
            skipped = self._unlogged.pop(kind, 0)
        if not skipped:
            tail = f"further ones of this kind are counted and logged at most once every {self._every_s:.0f} s"
        else:
            tail = f"{skipped} more of this kind since the last record, only counted"
        self._log.log(self._level, "%s (%s): %s; %s", self._what, kind, detail, tail, exc_info=exc_info)
        return True

    def flush(self) -> None:
        """Log, for each kind whose interval has run out, how many were only counted since its last record."""
        with self._lock:
            now = self._clock()
            due = {k: n for k, n in self._unlogged.items() if now - self._logged_at[k] >= self._every_s}
            for kind in due:
                del self._unlogged[kind]
                self._logged_at[kind] = now
        for kind, n in sorted(due.items()):
            self._log.log(self._level, "%s (%s): %d more of this kind since the last record, only counted",
                          self._what, kind, n)
