"""A real RTSP camera for tests: :mod:`tests.rtsp_server` run by Debian's python3, stoppable and restartable.

``gi`` (GStreamer's Python bindings) exists only for the system interpreter, not in the project's venv, so the
server is a subprocess; the test process only starts it, waits for its ``ready`` line and signals it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from coordinator.broker import free_port

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).resolve().parent / "rtsp_server.py"


def transcode_to_h264(src: Path, out: Path) -> Path:
    """The footage as H.264 MP4 (what an IP camera streams), made once by GStreamer's x264enc."""
    if not out.exists():
        partial = out.with_suffix(".partial.mp4")
        subprocess.run([SYSTEM_PYTHON, str(SERVER), "transcode", str(src), str(partial)], check=True, timeout=180)
        partial.rename(out)
    return out


class RtspCamera:
    """gst-rtsp-server on 127.0.0.1 serving ``clip`` at ``/cam``; ``stop()`` then ``start()`` keeps the port.

    Args:
        clip: H.264 MP4 served without re-encoding.
        user: With ``password``, the server demands Basic authentication.
        password: The user's password.
        once: The mount disappears after its first session (a reconnecting client gets 404): one pass exactly.
    """

    def __init__(self, clip: Path, *, user: str | None = None, password: str | None = None,
                 once: bool = False, log: Path | None = None) -> None:
        self.clip = clip
        self.port = free_port()
        self.user = user
        self.password = password
        self.once = once
        self.log = log
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, *, credentials: bool = True) -> str:
        """``rtsp://[user:password@]127.0.0.1:<port>/cam``."""
        auth = f"{self.user}:{self.password}@" if credentials and self.user is not None else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}/cam"

    def start(self, timeout: float = 20.0) -> None:
        """Start listening; returns once the server says ``ready`` (retries while the port is still held)."""
        cmd = [SYSTEM_PYTHON, str(SERVER), "serve", "--port", str(self.port), "--clip", str(self.clip)]
        if self.user is not None:
            cmd += ["--user", self.user, "--password", self.password or ""]
        if self.once:
            cmd.append("--once")
        deadline = time.monotonic() + timeout
        while True:
            stderr = self.log.open("ab") if self.log is not None else subprocess.DEVNULL
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr)
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() == b"ready":
                self._proc = proc
                return
            proc.wait(5)
            if time.monotonic() > deadline:
                raise RuntimeError(f"RTSP server did not start on port {self.port} (exit {proc.returncode})")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server: every client's connection drops, new ones are refused."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> RtspCamera:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
