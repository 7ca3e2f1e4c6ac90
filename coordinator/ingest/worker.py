"""The ingest loop: take a batch off the queue, decode, store in one transaction, then acknowledge.

One named thread (``vigie-ingest``) does everything after the socket: the paho callback only
enqueues bytes (STYLE §7). A message counts as handled once its batch committed; only then is
it acknowledged to the broker, so nothing is lost if the process dies at any point. Errors
are sorted at this boundary:

* a payload the wire contract refuses, or a sender the registry does not know: counted per
  reason, logged once per reason, acknowledged (sending it again would not make it valid);
* a transient database error (connection lost, deadlock, serialisation): the batch is
  retried with back-off, unacknowledged meanwhile;
* any other error while storing: the batch is replayed one message per transaction, so
  only the message the database or a hook refuses on its own is set aside (``storage``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coordinator.storage.ingest import BatchReport, store_batch

from .config import IngestSettings
from .decode import OVERFLOW, STORAGE, Decoded, Inbound, Reject, decode
from .hooks import Hooks
from .metrics import IngestMetrics
from .mqtt import IngestClient

log = logging.getLogger("vigie.ingest")

_RETRY_MIN_S, _RETRY_MAX_S = 0.1, 5.0
_SUMMARY_EVERY_S = 60.0


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying the same batch for: the database, not the data, is the problem."""
    if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and bool(exc.connection_invalidated)


class IngestWorker:
    """One worker: an MQTT client, a queue, and the batch loop (:meth:`run` or :meth:`start`)."""

    def __init__(self, settings: IngestSettings, engine: Engine, hooks: Hooks | None = None,
                 metrics: IngestMetrics | None = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.engine = engine
        self.hooks = hooks or Hooks()
        self.metrics = metrics or IngestMetrics()
        self._clock = clock
        self.inbox: queue.Queue[Inbound] = queue.Queue(maxsize=settings.receive_maximum + 1000)
        self.client = IngestClient(settings, self.inbox, self._overflow)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._logged: set[str] = set()
        self._rejects: Counter[str] = Counter()
        self._reported: Counter[str] = Counter()
        self._summary_at = time.monotonic() + _SUMMARY_EVERY_S
        self.batches = 0
        self.handled = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Run in a background thread (tests, benchmarks); :meth:`run` blocks instead."""
        self._thread = threading.Thread(target=self.run, name="vigie-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self, stop: threading.Event | None = None) -> None:
        """Serve until ``stop`` (or :meth:`stop`): the batch in progress is finished and acknowledged."""
        if stop is not None:
            self._stop = stop
        if self.settings.metrics_port:
            self.metrics.serve(self.settings.metrics_port)
        self.client.start()
        try:
            while not self._stop.is_set():
                batch = self._collect()
                if batch:
                    self.process(batch)
                self._summarise()
        finally:
            self.client.stop()

    # -- batching ----------------------------------------------------------------------------
    def _collect(self) -> list[Inbound]:
        """Up to ``batch_messages`` messages, closed ``batch_ms`` after the first one arrived."""
        s = self.settings
        try:
            first = self.inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + s.batch_ms / 1000
        while len(batch) < s.batch_messages:
            try:
                batch.append(self.inbox.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self.inbox.get(timeout=min(left, 0.002)))
            except queue.Empty:
                # Nothing for 2 ms: the load is light, a longer wait would only add latency.
                break
        self.metrics.queue_depth.set(self.inbox.qsize())
        return batch

    def process(self, batch: Sequence[Inbound]) -> BatchReport | None:
        """Decode, store and acknowledge one batch; ``None`` if stopped before it could commit."""
        t0 = time.perf_counter()
        items: list[Decoded] = []
        kinds: Counter[str] = Counter()  # counted per batch: a labelled metric costs microseconds per call
        for inb in batch:
            out = decode(inb.topic, inb.payload, inb.retain)
            if isinstance(out, Reject):
                kinds["invalid"] += 1
                self._reject(out.reason, out.detail)
                continue
            kinds[out.msg.kind] += 1
            items.append(out)
        for kind, n in kinds.items():
            self.metrics.messages.labels(kind).inc(n)
        report = self._store(items) if items else BatchReport()
        if report is None:
            return None
        for idx, reason in report.rejected:
            d = items[idx]
            self._reject(reason, f"{d.site}/{d.device}: {type(d.msg).__name__} (bd {d.msg.header.bd})")
        self._count(report)
        self.client.ack(batch)
        self.batches += 1
        self.handled += len(batch)
        self.metrics.batch_messages.observe(len(batch))
        self.metrics.batch_seconds.observe(time.perf_counter() - t0)
        return report

    def _store(self, items: list[Decoded]) -> BatchReport | None:
        delay = _RETRY_MIN_S
        while True:
            try:
                return store_batch(self.engine, items, int(self._clock() * 1000), self.hooks)
            except Exception as exc:
                if not is_transient(exc):
                    return self._isolate(items)
                self.metrics.db_retries.inc()
                log.warning("database unavailable (%s); retrying the batch in %.1f s", type(exc).__name__, delay)
                if self._stop.wait(delay):
                    return None  # unacknowledged: the broker sends it again to the next run
                delay = min(delay * 2, _RETRY_MAX_S)

    def _isolate(self, items: list[Decoded]) -> BatchReport | None:
        """Store one message per transaction, so a poison message cannot hold the others back."""
        total = BatchReport()
        for i, d in enumerate(items):
            one = self._store_one(d)
            if one is None:
                return None
            if isinstance(one, BaseException):
                self._reject(STORAGE, f"{d.site}/{d.device} {type(d.msg).__name__}: {one!r}", exc=one)
                continue
            _merge(total, one, offset=i)
        return total

    def _store_one(self, d: Decoded) -> BatchReport | BaseException | None:
        delay = _RETRY_MIN_S
        while True:
            try:
                return store_batch(self.engine, [d], int(self._clock() * 1000), self.hooks)
            except Exception as exc:
                if not is_transient(exc):
                    return exc
                self.metrics.db_retries.inc()
                if self._stop.wait(delay):
                    return None
                delay = min(delay * 2, _RETRY_MAX_S)

    # -- accounting --------------------------------------------------------------------------
    def _overflow(self) -> None:
        self._reject(OVERFLOW, "QoS 0 message dropped: ingest queue full")

    def _reject(self, reason: str, detail: str, exc: BaseException | None = None) -> None:
        self.metrics.rejects.labels(reason).inc()
        self._rejects[reason] += 1
        if reason not in self._logged:  # once per kind; the counters and the summary say the rest
            self._logged.add(reason)
            log.warning("rejected (%s): %s; further rejects of this kind are only counted", reason, detail,
                        exc_info=exc)

    def _summarise(self) -> None:
        if time.monotonic() < self._summary_at:
            return
        self._summary_at = time.monotonic() + _SUMMARY_EVERY_S
        if self._rejects != self._reported:
            new = self._rejects - self._reported
            log.warning("rejected in the last %.0f s: %s", _SUMMARY_EVERY_S, dict(new))
            self._reported = Counter(self._rejects)

    def _count(self, r: BatchReport) -> None:
        m = self.metrics
        m.events_stored.inc(r.stored_events)
        for name, counter in (("duplicates", m.duplicates), ("gaps", m.gaps), ("missing", m.missing)):
            for stream, n in getattr(r, name).items():
                if n:
                    counter.labels(stream).inc(n)
        for what, n in r.ignored.items():
            m.ignored.labels(what).inc(n)


def _merge(total: BatchReport, one: BatchReport, offset: int) -> None:
    total.rejected += [(offset + i, reason) for i, reason in one.rejected]
    total.stored_events += one.stored_events
    for name in ("duplicates", "gaps", "missing", "filled", "ignored"):
        getattr(total, name).update(getattr(one, name))
    total.device_changes += one.device_changes
    total.telemetry += one.telemetry
    total.acks += one.acks
