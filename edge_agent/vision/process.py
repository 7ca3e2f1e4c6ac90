"""The camera role in its own process, started and supervised by the agent.

Why a process: per-frame Python work (masks, motion gate, tracking, analytics) and each event's
durable commit would otherwise compete with the link's sender for one interpreter lock. In
its own process a camera commits its events straight into the outbox file (an
:class:`~edge_agent.link.OutboxSink`), in parallel with the sender, which finds them there;
the outbox is the durable queue between the two.

Layout, for camera ``<name>``:

* child process ``vigie-vision-<name>`` (spawned, so it shares no lock or thread state with
  the agent; its kernel name is set so ``top``/``ps -o comm`` show it): runs the
  :class:`~.worker.CameraWorker`; sends its health twice a second and its snapshots to the
  parent over a pipe, which the link then publishes (snapshots are never stored);
* thread ``vigie-camsup-<name>`` in the agent: starts the child, relays what it sends, and
  restarts it with exponential back-off when it dies (``cam.<i>.process_restarts``). A child
  whose source simply ended (a file, not looped) is not restarted.

A child watches the pipe: when the agent dies, even by SIGKILL, the pipe closes and the
child stops. Events it stored before are replayed by the next run; an append after the agent
restarted is refused by the outbox (stale boot), so two runs never mix their numbering.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from vigie_config.link import OutboxConfig
from vigie_config.recording import RecordingConfig
from vigie_config.vision import CameraConfig

from ..errors import EdgeError
from ..link.outbox import OutboxWriter
from ..link.producer import OutboxSink
from .worker import CameraWorker

log = logging.getLogger("vigie.vision")

#: How often a camera process reports its health to the agent.
HEALTH_EVERY_S = 0.5
#: How long the agent waits for a camera process's first word (imports, model load).
READY_TIMEOUT_S = 120.0

SnapshotSender = Callable[[int, tuple[int, int], bytes], bool]


class CameraProcess:
    """The agent's handle on one camera process: start, supervise, relay, stop."""

    def __init__(
        self,
        cam: int,
        config: CameraConfig,
        outbox: OutboxConfig,
        snapshots: SnapshotSender,
        *,
        backoff_min_s: float = 1.0,
        backoff_max_s: float = 60.0,
        recording: RecordingConfig | None = None,
    ) -> None:
        self.cam = cam
        self._recording = recording
        self.config = config
        self.name = f"vigie-vision-{config.name}"
        self.restarts = 0
        self._outbox = outbox
        self._snapshots = snapshots
        self._backoff = (backoff_min_s, backoff_max_s)
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._health: dict[str, Any] = {}
        self._stop = threading.Event()
        self._first = threading.Event()
        self._first_error: str | None = None
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """Process id of the running camera process, if any."""
        proc = self._proc
        return proc.pid if proc is not None and proc.is_alive() else None

    def start(self, boot: int) -> None:
        """Spawn the camera process for the link's ``boot``; it is then kept running."""
        self._thread = threading.Thread(target=self._supervise, args=(boot,),
                                        name=f"vigie-camsup-{self.config.name}", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Block until the first camera process runs; raise if it could not even start.

        A camera whose model or config cannot be loaded stops the box at start-up, as it
        would in one process; a later failure only restarts the camera process.
        """
        if not self._first.wait(timeout):
            log.warning("camera %s: no word from its process after %.0f s", self.config.name, timeout)
            return
        if self._first_error is not None:
            self.stop()
            raise EdgeError(f"camera {self.config.name}: {self._first_error}")

    def health(self) -> dict[str, Any]:
        """The camera's last reported health, and its process's own counters."""
        out = dict(self._health)
        out[f"cam.{self.cam}.process_alive"] = self.pid is not None
        out[f"cam.{self.cam}.process_restarts"] = self.restarts
        return out

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the camera process to stop, then make sure it has."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout + 2)

    # -- supervisor thread -------------------------------------------------------------
    def _supervise(self, boot: int) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set():
            started = time.monotonic()
            code = self._run_once(boot)
            if self._stop.is_set():
                break
            if code == 0:
                log.info("camera %s: source ended, process finished", self.config.name)
                break
            if not self._first.is_set():  # died before its first word (e.g. killed while loading)
                self._first.set()
            self.restarts += 1
            if time.monotonic() - started > 10 * self._backoff[1]:
                delay = self._backoff[0]  # it had run well for a while: start over quickly
            log.warning("camera %s: process exited (%s), restart %d in %.1f s",
                        self.config.name, code, self.restarts, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self._backoff[1])
        self._first.set()

    def _run_once(self, boot: int) -> int | None:
        """Run one camera process until it exits or the agent stops; returns its exit code."""
        ours, theirs = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=_camera_main, name=self.name, daemon=True,
            args=(self.cam, self.config, self._outbox, boot, theirs, self._recording),
        )
        proc.start()
        theirs.close()  # only the child holds it now: its end closes when the child dies
        self._proc = proc
        try:
            while not self._stop.is_set():
                try:
                    if ours.poll(0.2):
                        self._relay(ours.recv())
                    elif not proc.is_alive():
                        break
                except (EOFError, OSError):
                    proc.join(5)  # the child closed its end: it is exiting
                    break
            if self._stop.is_set():
                with contextlib.suppress(OSError):
                    ours.send(("stop",))
                self._drain(ours, proc, 10.0)
            proc.join(2)
            if proc.is_alive():
                log.warning("camera %s: process did not stop, killing it", self.config.name)
                proc.kill()
                proc.join(5)
            return proc.exitcode
        finally:
            ours.close()
            self._proc = None

    def _drain(self, conn: multiprocessing.connection.Connection, proc: multiprocessing.process.BaseProcess,
               timeout: float) -> None:
        """Keep relaying (last health, snapshots) while a stopping child winds down."""
        deadline = time.monotonic() + timeout
        while proc.is_alive() and time.monotonic() < deadline:
            try:
                if conn.poll(0.1):
                    self._relay(conn.recv())
            except (EOFError, OSError):
                return

    def _relay(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "health":
            self._health = msg[1]
        elif kind == "snapshot":
            _, cam, event_id, jpeg = msg
            self._snapshots(cam, event_id, jpeg)
        elif kind == "ready":
            self._first.set()
        elif kind == "failed":
            self._first_error = msg[1]
            self._first.set()


# -- the camera process ----------------------------------------------------------------------


def _name_process(name: str) -> None:
    """Set the kernel's name of this process (``/proc/<pid>/comm``, ``top``, ``ps -o comm``)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME; the kernel keeps 15 bytes


def _camera_main(cam: int, config: CameraConfig, outbox: OutboxConfig, boot: int,
                 conn: multiprocessing.connection.Connection, recording: RecordingConfig | None = None) -> None:
    """Body of a camera process: run the worker, report, stop with the agent."""
    _name_process(f"vigie-cam-{config.name}")
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s [%(processName)s/%(threadName)s] %(message)s")

    send_lock = threading.Lock()

    def send(msg: tuple[Any, ...]) -> bool:
        try:
            with send_lock:
                conn.send(msg)
            return True
        except (OSError, ValueError):
            return False

    try:
        writer = OutboxWriter(outbox.path, outbox.max_events, outbox.synchronous)
        sink = OutboxSink(writer, boot, snapshots=lambda c, eid, jpeg: send(("snapshot", c, eid, jpeg)))
        worker = CameraWorker(cam, config, sink, recording=recording)
    except Exception as exc:  # reported to the agent, which stops the box at start-up
        send(("failed", f"{type(exc).__name__}: {exc}"))
        sys.exit(2)
    stop = threading.Event()

    def listen() -> None:
        """The agent's orders; end of file means the agent is gone."""
        try:
            while not stop.is_set():
                if conn.poll(0.5) and conn.recv()[0] == "stop":
                    break
        except (EOFError, OSError):
            log.warning("camera %s: the agent is gone, stopping", config.name)
        stop.set()

    threading.Thread(target=listen, name="vigie-cam-orders", daemon=True).start()
    worker.start()
    send(("ready",))

    def report() -> None:
        health = worker.health()
        health[f"cam.{cam}.events_emitted"] = sink.emitted
        send(("health", health))

    while not stop.wait(HEALTH_EVERY_S) and not worker.finished.is_set():
        report()
    worker.stop()
    report()
    writer.close()
    sys.exit(1 if worker.error is not None else 0)
