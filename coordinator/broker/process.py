"""A local Mosquitto process run with the project's configuration.

Used by the demo, the benchmarks and the test fixtures, so that all three exercise the broker
configuration that is deployed. Not for production: there, systemd runs the broker.
"""

from __future__ import annotations

import getpass
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from .config import BrokerSettings, render_mosquitto_conf

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    """A TCP port free on the loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalBroker:
    """Mosquitto on loopback, with data, config and log in ``workdir``; restartable."""

    def __init__(self, workdir: Path, **overrides: Any) -> None:
        self.dir = Path(workdir).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        port = overrides.pop("port", None) or free_port()
        # Run as whoever starts it, so the broker can write its persistence into workdir.
        base = BrokerSettings(data_dir=self.dir, port=port, allow_anonymous=True, user=getpass.getuser())
        self.settings = replace(base, **overrides)
        self.port = port
        self.conf = self.dir / "mosquitto.conf"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log_text(self) -> str:
        log = self.dir / "mosquitto.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until every listener accepts connections."""
        self.conf.write_text(render_mosquitto_conf(self.settings), encoding="utf-8")
        with open(self.dir / "mosquitto.stderr", "ab") as err:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=err)
        ports = [p for p in (self.settings.port, self.settings.tls.port if self.settings.tls else None) if p]
        deadline = time.monotonic() + timeout
        pending = list(ports)
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {self.log_text[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not listen on {pending} within {timeout}s")
            try:
                socket.create_connection(("127.0.0.1", pending[0]), timeout=0.2).close()
                pending.pop(0)
            except OSError:
                time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop (SIGTERM saves the persistence file; SIGKILL does not)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()
