"""The worker's storage process: decoding and storing beside the MQTT client, not under its GIL.

Why a second process: paho reads, parses and dispatches every message in Python, and so does
the storing (decode, sequences, rows, hooks). In one interpreter both take turns on one GIL,
so a worker could never receive faster than the sum of the two; in two processes the
receiving side only hands over bytes and sends PUBACKs, and the storing side works on the
other core. Batches go over a pipe in order and their outcomes come back in the same order,
so the worker still acknowledges a message only after the transaction holding it committed.

The child ignores SIGINT and SIGTERM (a service manager signals the whole group): the worker
decides when it stops, lets the child finish the batches it has, and only then disconnects.
If the child dies, its batches were never acknowledged and the broker sends them again.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing as mp
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection

from coordinator.storage import make_engine

from .handler import BatchHandler, Outcome, Prepared, Raw
from .hooks import Hooks

log = logging.getLogger("vigie.ingest.storage")

#: What a pipe carries back for a batch: its outcome, or ``None`` if the child stopped before committing.
Reply = Outcome | None
READY = "ready"
_COLLECT_EVERY_S = 5.0


def _serve(conn: Connection, database_url: str, hooks_factory: Callable[[], Hooks], stop: mp.synchronize.Event,
           ) -> None:
    """Child main: handle batches until the worker sends ``None`` or goes away.

    Two threads: one receives and decodes the next batch while the other waits for the
    database to store the current one (decoding holds the GIL, waiting on the server does not).
    Batches stay in order: one queue of depth one between them. The cyclic garbage collector
    is off and runs between batches at most every few seconds, over the batch's leftovers only
    (the start-up objects are frozen): a collection inside a batch sweeps all its live objects
    again and again (see :func:`~.handler.collections_between_batches`).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = make_engine(database_url)

    def on_retry(exc: BaseException, delay: float) -> None:
        log.warning("database unavailable (%s); retrying the batch in %.1f s", type(exc).__name__, delay)

    handler = BatchHandler(engine, hooks_factory(), stop, on_retry=on_retry)  # type: ignore[arg-type]
    decoded: queue.Queue[Prepared | None] = queue.Queue(maxsize=1)

    def receive() -> None:
        try:
            while (batch := conn.recv()) is not None:
                decoded.put(handler.prepare(batch))
        except (EOFError, OSError):
            pass  # the worker is gone: nothing it sent will be acknowledged
        except Exception:  # a bug, not bad data (decoding never raises): end, and the worker stops, not hangs
            log.exception("preparing a batch failed; the storage process stops")
        decoded.put(None)

    gc.freeze()
    gc.disable()
    collected = time.monotonic()
    threading.Thread(target=receive, name="vigie-ingest-decode", daemon=True).start()
    try:
        conn.send(READY)
        while (prepared := decoded.get()) is not None:
            conn.send(handler.store(prepared))
            if time.monotonic() - collected > _COLLECT_EVERY_S:
                gc.collect()
                collected = time.monotonic()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        engine.dispose()


class StorageProcess:
    """A spawned child running a :class:`BatchHandler`; :meth:`submit` batches, :meth:`replies` in order."""

    def __init__(self, database_url: str, hooks_factory: Callable[[], Hooks], timeout: float = 60.0) -> None:
        ctx = mp.get_context("spawn")  # no fork of a process that runs threads (paho, metrics)
        self._stop = ctx.Event()
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, database_url, hooks_factory, self._stop),
                                   name="vigie-ingest-storage", daemon=True)
        self.process.start()
        child.close()
        try:
            ready = self._conn.poll(timeout) and self._conn.recv() == READY
        except (EOFError, OSError):
            ready = False  # it died starting (bad URL, import error): its log says why
        if not ready:
            self.close(5)
            raise RuntimeError(f"storage process not ready after {timeout:.0f} s (exit code {self.process.exitcode})")

    def submit(self, batch: Sequence[Raw]) -> bool:
        """Send ``batch`` to the child; ``False`` if it is gone (its reader reports why)."""
        try:
            self._conn.send(list(batch))
        except OSError:  # BrokenPipeError, ConnectionResetError
            return False
        return True

    def replies(self) -> Iterator[Reply]:
        """Outcomes of the submitted batches, in order, until the child has finished."""
        try:
            while True:
                yield self._conn.recv()
        except (EOFError, OSError):
            return
        finally:
            self._conn.close()

    def close(self, timeout: float = 30.0) -> None:
        """Let the child finish what it was sent (a database outage's back-off ends now) and exit."""
        self._stop.set()
        with contextlib.suppress(OSError):  # already gone
            self._conn.send(None)
        self.process.join(timeout)
        if self.process.is_alive():
            log.error("storage process still busy after %.0f s; killing it", timeout)
            self.process.kill()  # it ignores SIGTERM
            self.process.join(5)
