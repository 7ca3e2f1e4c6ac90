"""Run a box: open its outbox, start its link, publish telemetry until told to stop."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from .config import BoxConfig, config_hash
from .link import Link, Outbox

log = logging.getLogger("vigie.agent")


class Agent:
    """One box process. Roles (vision, lighting) attach to :attr:`link` as they are added."""

    def __init__(self, config: BoxConfig, config_path: Path | None = None) -> None:
        self.config = config
        self.outbox = Outbox(config.outbox.path, config.outbox.max_events, config.outbox.synchronous)
        digest = config_hash(config_path) if config_path else "0" * 64
        self.link = Link(config, self.outbox, config_hash=digest, capabilities=("link",))
        self._stop = threading.Event()

    def start(self) -> None:
        self.link.start()

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def run_forever(self) -> None:
        """Block until SIGINT/SIGTERM, publishing telemetry every interval."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        self.start()
        interval = self.config.telemetry_interval_s
        while not self._stop.wait(interval):
            self.link.publish_telemetry(self.link.link_metrics())
        self.shutdown()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        self._stop.set()

    def shutdown(self, drain_s: float = 2.0) -> None:
        """Give queued events a moment to go out, then leave cleanly (death published)."""
        self.link.wait_drained(drain_s)
        self.link.stop()
        self.outbox.close()
