"""systemd's notify protocol: readiness and watchdog pings, without a dependency.

Under ``Type=notify`` with ``WatchdogSec=``, systemd passes ``NOTIFY_SOCKET`` and ``WATCHDOG_USEC`` and
restarts the box agent when the pings stop: a hung main loop is then restarted in the field instead of
waiting for a technician. Outside systemd both variables are absent and every call does nothing.
"""

from __future__ import annotations

import os
import socket


def notify(state: str) -> bool:
    """Send ``state`` (``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``...) to systemd; whether it was sent."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(state.encode(), address)
        except OSError:
            return False
    return True


def watchdog_interval_s() -> float | None:
    """How often to ping: half of ``WATCHDOG_USEC``, as sd_watchdog_enabled(3) advises; None without one."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6
