"""Run a box: open its outbox, start its link, publish telemetry until told to stop."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from .config import BoxConfig, config_hash
from .link import Link, Outbox
from .vision.worker import CameraWorker

log = logging.getLogger("vigie.agent")


class Agent:
    """One box process: its link, and the roles its config gives it (cameras for now)."""

    def __init__(self, config: BoxConfig, config_path: Path | None = None) -> None:
        self.config = config
        self.outbox = Outbox(config.outbox.path, config.outbox.max_events, config.outbox.synchronous)
        digest = config_hash(config_path) if config_path else "0" * 64
        caps = ("link", "vision") if config.cameras else ("link",)
        self.link = Link(config, self.outbox, config_hash=digest, capabilities=caps)
        # Models are loaded now, so a missing or corrupt model stops the box at start-up.
        self.cameras = [CameraWorker(i, cam, self.link) for i, cam in enumerate(config.cameras)]
        self._stop = threading.Event()

    def start(self) -> None:
        self.link.start()
        for worker in self.cameras:
            worker.start()

    def metrics(self) -> dict[str, Any]:
        """Everything the box reports each telemetry interval, in one batched map."""
        out = self.link.link_metrics()
        for worker in self.cameras:
            out.update(worker.health())
        return out

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def run_forever(self) -> None:
        """Block until SIGINT/SIGTERM, publishing telemetry every interval."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        self.start()
        interval = self.config.telemetry_interval_s
        while not self._stop.wait(interval):
            self.link.publish_telemetry(self.metrics())
        self.shutdown()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        self._stop.set()

    def shutdown(self, drain_s: float = 2.0) -> None:
        """Stop the roles, give queued events a moment to go out, then leave (death published)."""
        for worker in self.cameras:
            worker.stop()
        self.link.wait_drained(drain_s)
        self.link.stop()
        self.outbox.close()
