"""The ingest loop: take a batch off the inbox, have it decoded and stored in one transaction, then acknowledge.

One named thread (``vigie-ingest``) forms the batches: the paho callback only appends bytes to
the inbox (STYLE §7). A message counts as handled once its batch committed; only then is it
acknowledged to the broker, so nothing is lost if the process dies at any point. The batch
itself is handled by a :class:`~.handler.BatchHandler` (decode, store, set aside what cannot
be stored, see there how errors are sorted), either in this process or, with
``storage_process``, in a child process on the other core (see :mod:`.storage_process`); up to
two batches are then in flight, and their outcomes come back and are acknowledged in order.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from sqlalchemy.engine import Engine

from coordinator.storage.ingest import BatchReport
from vigie_wire.rejects import RejectLog

from .config import IngestSettings
from .decode import OVERFLOW, Inbound
from .handler import BatchHandler, Outcome
from .hooks import Hooks
from .inbox import Inbox
from .metrics import IngestMetrics
from .mqtt import IngestClient
from .storage_process import StorageProcess

log = logging.getLogger("vigie.ingest")

#: Batches handed to the storage process and not yet answered: one being stored, one waiting.
_IN_FLIGHT = 2


def _payload_size(item: Inbound) -> int:
    return len(item.payload)


class IngestWorker:
    """One worker: an MQTT client, an inbox, and the batch loop (:meth:`run` or :meth:`start`).

    With ``settings.storage_process`` the batches are stored by a child process, which builds
    its hooks with ``hooks_factory`` (a module-level callable, since it is sent to the child);
    otherwise by ``hooks`` in this process.
    """

    def __init__(self, settings: IngestSettings, engine: Engine, hooks: Hooks | None = None,
                 metrics: IngestMetrics | None = None, clock: Callable[[], float] = time.time,
                 hooks_factory: Callable[[], Hooks] | None = None) -> None:
        if settings.storage_process and hooks is not None:
            raise ValueError("hooks run in the storage process: pass hooks_factory, not hooks")
        self.settings = settings
        self.engine = engine
        self.hooks_factory = hooks_factory or Hooks
        # In-process the handler below stores; with a storage process the child builds its own hooks.
        self.hooks = hooks if hooks is not None else Hooks() if settings.storage_process else self.hooks_factory()
        self.metrics = metrics or IngestMetrics()
        self._stop = threading.Event()
        self.handler = BatchHandler(engine, self.hooks, self._stop, clock, on_retry=self._retrying)
        self.inbox: Inbox[Inbound] = Inbox(maxsize=settings.receive_maximum + 1000, weight=_payload_size)
        self.client = IngestClient(settings, self.inbox, self._overflow)
        self._thread: threading.Thread | None = None
        # Every refusal is counted in the metrics; the log gets one record per reason per minute.
        self._rejects = RejectLog(log, "rejected")
        self.failed: str | None = None
        self.storage: StorageProcess | None = None  # the running storage process, if any
        self.batches = 0
        self.handled = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Run in a background thread (tests, benchmarks); :meth:`run` blocks instead."""
        self._thread = threading.Thread(target=self._run_quietly, name="vigie-ingest", daemon=True)
        self._thread.start()

    def _run_quietly(self) -> None:
        with contextlib.suppress(RuntimeError):  # already logged, and kept in :attr:`failed`
            self.run()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self, stop: threading.Event | None = None) -> None:
        """Serve until ``stop`` (or :meth:`stop`): the batches in progress are finished and acknowledged.

        Raises :class:`RuntimeError` if the storage process died (its batches stay
        unacknowledged; the service manager restarts the worker and the broker resends them).
        """
        if stop is not None:
            self._stop = stop
            self.handler.stop = stop
        if self.settings.metrics_port:
            self.metrics.serve(self.settings.metrics_port)
        self.prepare()  # storing must be able to start before the broker resends a backlog
        self.client.start()
        try:
            if self.settings.storage_process:
                self._run_with_storage_process()
            else:
                while not self._stop.is_set():
                    batch = self._collect()
                    if batch:
                        self.process(batch)
                    self._summarise()
        finally:
            self.client.stop()
        if self.failed:
            raise RuntimeError(self.failed)

    def prepare(self, timeout: float = 60.0) -> None:
        """Start the storage process, if the settings ask for one, and wait until it can store."""
        if self.settings.storage_process and self.storage is None:
            self.storage = StorageProcess(self.settings.database_url, self.hooks_factory, timeout)

    def _run_with_storage_process(self) -> None:
        child = self.storage
        assert child is not None
        slots = threading.Semaphore(_IN_FLIGHT)
        in_flight: deque[list[Inbound]] = deque()

        def finish_in_order() -> None:
            try:
                for reply in child.replies():
                    batch = in_flight.popleft()
                    if reply is not None:
                        self._finish(batch, reply)
                    slots.release()
            except Exception as exc:  # a bug here must stop the worker, not stall it
                log.exception("counting or acknowledging a stored batch failed")
                self.failed = f"acknowledging failed: {exc!r}"
            else:
                if self._stop.is_set():
                    return
                child.process.join(1)
                self.failed = f"storage process exited (code {child.process.exitcode}); {len(in_flight)} " \
                              "batches left unacknowledged"
                log.error("%s", self.failed)
            self._stop.set()
            slots.release()

        replies = threading.Thread(target=finish_in_order, name="vigie-ingest-acks", daemon=True)
        replies.start()
        try:
            while not self._stop.is_set():
                batch = self._collect()
                self._summarise()
                if not batch:
                    continue
                while not slots.acquire(timeout=0.2):
                    if self._stop.is_set():
                        return  # never sent: unacknowledged, the broker sends it again
                if self._stop.is_set():
                    return
                in_flight.append(batch)
                if not child.submit([(i.topic, i.payload, i.retain) for i in batch]):
                    self._stop.wait(5)  # the reply reader sees the end of the pipe and stops the worker
                    return
        finally:
            child.close()
            replies.join(10)
            self.storage = None

    # -- batching ----------------------------------------------------------------------------
    def _collect(self) -> list[Inbound]:
        """Up to ``batch_messages`` messages or ``batch_bytes`` of payload, closed ``batch_ms`` after the first.

        Once a batch is open the worker looks at the inbox every 2 ms instead of being woken for
        each message: waking it per message cost the receiving thread a GIL hand-off each time.
        A look that finds nothing new closes the batch early (the load is light: waiting longer
        would only add latency).
        """
        s, inbox = self.settings, self.inbox
        if not inbox.wait(0.2):
            return []
        batch = inbox.take(s.batch_messages, s.batch_bytes)
        size = sum(len(i.payload) for i in batch)
        deadline = time.monotonic() + s.batch_ms / 1000
        while len(batch) < s.batch_messages and size < s.batch_bytes:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, 0.002))
            more = inbox.take(s.batch_messages - len(batch), s.batch_bytes - size)
            if not more:
                break
            size += sum(len(i.payload) for i in more)
            batch += more
        self.metrics.queue_depth.set(inbox.qsize())
        return batch

    def process(self, batch: Sequence[Inbound]) -> BatchReport | None:
        """Decode, store and acknowledge one batch here; ``None`` if stopped before it could commit."""
        outcome = self.handler.handle([(i.topic, i.payload, i.retain) for i in batch])
        if outcome is None:
            return None
        self._finish(batch, outcome)
        return outcome.report

    def _finish(self, batch: Sequence[Inbound], out: Outcome) -> None:
        """Count a committed batch, log what was set aside, acknowledge it."""
        for reason, detail, error in out.refused:
            self._reject(reason, detail if error is None else f"{detail}\n{error}")
        m = self.metrics
        for kind, n in out.kinds.items():  # per batch: a labelled metric costs microseconds per call
            m.messages.labels(kind).inc(n)
        if out.db_retries:
            m.db_retries.inc(out.db_retries)
        self._count(out.report)
        self.client.ack(batch)
        self.batches += 1
        self.handled += len(batch)
        m.batch_messages.observe(len(batch))
        m.batch_seconds.observe(out.seconds)

    # -- accounting --------------------------------------------------------------------------
    def _retrying(self, exc: BaseException, delay: float) -> None:
        log.warning("database unavailable (%s); retrying the batch in %.1f s", type(exc).__name__, delay)

    def _overflow(self) -> None:
        self._reject(OVERFLOW, "QoS 0 message dropped: ingest queue full")

    def _reject(self, reason: str, detail: str) -> None:
        self.metrics.rejects.labels(reason).inc()
        self._rejects.note(reason, detail)

    def _summarise(self) -> None:
        self._rejects.flush()  # the reasons that went quiet: how many were only counted since their record

    def _count(self, r: BatchReport) -> None:
        m = self.metrics
        m.events_stored.inc(r.stored_events)
        for name, counter in (("duplicates", m.duplicates), ("gaps", m.gaps), ("missing", m.missing)):
            for stream, n in getattr(r, name).items():
                if n:
                    counter.labels(stream).inc(n)
        for what, n in r.ignored.items():
            m.ignored.labels(what).inc(n)
