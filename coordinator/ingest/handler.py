"""One batch from received bytes to a commit: decode, store, and set aside what cannot be stored.

This is the part of the worker that needs neither MQTT nor the metrics registry, so it runs
the same in the worker's process or in its storage process (:mod:`.storage_process`), and
what it did travels back as a picklable :class:`Outcome`. Errors are sorted here:

* a payload the wire contract refuses, or a sender the registry does not know: a reject with
  its reason (the worker counts it, logs it once per reason per minute, and acknowledges it:
  sending it again would not make it valid);
* a transient database error (connection lost, deadlock, serialisation): the batch is retried
  with back-off, unacknowledged meanwhile;
* any other error while storing: the batch is replayed one message per transaction, so only
  the message the database or a hook refuses on its own is set aside (``storage``).
"""

from __future__ import annotations

import gc
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coordinator.storage.ingest import BatchReport, store_batch, with_event_rows

from .decode import STORAGE, Decoded, Reject, decode
from .hooks import Hooks

_RETRY_MIN_S, _RETRY_MAX_S = 0.1, 5.0


#: What storing needs of a received message: ``(topic, payload, retain)`` (the MQTT bookkeeping
#: stays with the worker). A plain tuple, since batches are pickled to the storage process and a
#: named tuple costs seven times as much per message there.
Raw = tuple[str, bytes, bool]


class Refused(NamedTuple):
    """A message set aside: why, about what, and the database's error if it was one."""

    reason: str
    detail: str
    error: str | None = None


@dataclass
class Outcome:
    """What a committed batch did, for the worker's counters and logs."""

    report: BatchReport
    kinds: Counter[str] = field(default_factory=Counter)  # messages per wire kind, "invalid" if undecodable
    refused: list[Refused] = field(default_factory=list)
    db_retries: int = 0
    seconds: float = 0.0  # decoding and storing, waits between them excluded


class Prepared(NamedTuple):
    """A decoded batch, waiting for its transaction; ``outcome`` holds its decoding rejects already."""

    items: list[Decoded]
    outcome: Outcome
    received_ms: int  # the batch's one timestamp: its rows, sessions and device states agree on it



def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying the same batch for: the database, not the data, is the problem."""
    if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and bool(exc.connection_invalidated)


class BatchHandler:
    """Decode and store batches on ``engine`` with ``hooks``; :meth:`handle` returns ``None`` once stopped.

    ``stop`` interrupts the back-off of a database outage (a ``threading.Event`` in the
    worker's process, a ``multiprocessing.Event`` in the storage process).
    """

    def __init__(self, engine: Engine, hooks: Hooks, stop: threading.Event | None = None,
                 clock: Callable[[], float] = time.time,
                 on_retry: Callable[[BaseException, float], None] | None = None) -> None:
        self.engine = engine
        self.hooks = hooks
        self.stop = stop or threading.Event()
        self._clock = clock
        self._on_retry = on_retry

    def handle(self, batch: Sequence[Raw]) -> Outcome | None:
        """Decode, store and commit ``batch``; ``None`` if stopped before it could commit."""
        with collections_between_batches():
            return self.store(self.prepare(batch))

    def prepare(self, batch: Sequence[Raw]) -> Prepared:
        """Decode ``batch`` and build its event rows (no database): what a storage process does for
        the next batch while the current one commits."""
        t0 = time.perf_counter()
        received_ms = int(self._clock() * 1000)
        out = Outcome(BatchReport())
        items: list[Decoded] = []
        for topic, payload, retain in batch:
            d = decode(topic, payload, retain)
            if isinstance(d, Reject):
                out.kinds["invalid"] += 1
                out.refused.append(Refused(d.reason, d.detail))
                continue
            out.kinds[d.msg.kind] += 1
            items.append(with_event_rows(d, received_ms))
        out.seconds = time.perf_counter() - t0
        return Prepared(items, out, received_ms)

    def store(self, prepared: Prepared) -> Outcome | None:
        """Store a prepared batch in one transaction; ``None`` if stopped before it could commit."""
        t0 = time.perf_counter()
        items, out, received_ms = prepared
        if items:
            report = self._store(items, out, received_ms)
            if report is None:
                return None
            out.report = report
            for idx, reason in report.rejected:
                d = items[idx]
                out.refused.append(Refused(reason, f"{d.site}/{d.device}: {type(d.msg).__name__} "
                                                   f"(bd {d.msg.header.bd})"))
        out.seconds += time.perf_counter() - t0
        return out

    def _store(self, items: list[Decoded], out: Outcome, received_ms: int) -> BatchReport | None:
        stored = self._with_retries(items, out, received_ms)
        if isinstance(stored, BaseException):
            return self._isolate(items, out, received_ms)
        return stored

    def _with_retries(self, items: list[Decoded], out: Outcome, received_ms: int,
                      ) -> BatchReport | BaseException | None:
        """Store ``items`` in one transaction, retrying transient errors; the error if not transient."""
        delay = _RETRY_MIN_S
        while True:
            try:
                return store_batch(self.engine, items, received_ms, self.hooks)
            except Exception as exc:
                if not is_transient(exc):
                    return exc
                out.db_retries += 1
                if self._on_retry is not None:
                    self._on_retry(exc, delay)
                if self.stop.wait(delay):
                    return None  # unacknowledged: the broker sends it again to the next run
                delay = min(delay * 2, _RETRY_MAX_S)

    def _isolate(self, items: list[Decoded], out: Outcome, received_ms: int) -> BatchReport | None:
        """Store one message per transaction, so a poison message cannot hold the others back."""
        total = BatchReport()
        for i, d in enumerate(items):
            one = self._with_retries([d], out, received_ms)
            if one is None:
                return None
            if isinstance(one, BaseException):
                out.refused.append(Refused(STORAGE, f"{d.site}/{d.device} {type(d.msg).__name__}: {one!r}",
                                           "".join(traceback.format_exception(one))))
                continue
            _merge(total, one, offset=i)
        return total


@contextmanager
def collections_between_batches() -> Iterator[None]:
    """Keep Python's cyclic garbage collector out of a batch; it runs again after it.

    A batch allocates a few objects per event (decoded records, rows, returned ids) that all
    live until its commit. With thousands of events CPython's collector counts them as
    survivors, promotes them and sweeps the growing older generations again and again: that
    took half of the worker's time on 250-event messages. They are freed by reference
    counting when the batch ends; the allocations counted meanwhile trigger the next
    collection after it, when it is cheap, and any cyclic garbage a batch made is collected
    then. Handlers sharing a process leave the collector enabled whichever finishes last.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _merge(total: BatchReport, one: BatchReport, offset: int) -> None:
    total.rejected += [(offset + i, reason) for i, reason in one.rejected]
    total.stored_events += one.stored_events
    for name in ("duplicates", "gaps", "missing", "filled", "ignored"):
        getattr(total, name).update(getattr(one, name))
    total.device_changes += one.device_changes
    total.telemetry += one.telemetry
    total.acks += one.acks
