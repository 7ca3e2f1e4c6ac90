"""Clean-up of authentication state, a periodic job (see :mod:`coordinator.periodic`).

Sessions older than their absolute lifetime can no longer open anything, and failure counters
past their window count for nothing: both are deleted, so the tables stay the size of the live
state. Security events are kept ``SECURITY_EVENT_RETENTION_DAYS`` (a year by default: long enough
for an audit, not forever, since they name people and addresses).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from . import settings
from .storage.audit import delete_before
from .storage.sessions import delete_dead
from .storage.throttle import delete_stale

DAY_MS = 86_400_000


def cleanup(engine: Engine, now_ms: int, absolute_s: float, window_s: float, retention_days: float) -> int:
    """Delete dead sessions, stale failure counters and security events past retention; returns the rows deleted."""
    with engine.begin() as conn:
        return (delete_dead(conn, now_ms - int(absolute_s * 1000) - DAY_MS)
                + delete_stale(conn, now_ms - int(window_s * 1000), now_ms)
                + delete_before(conn, now_ms - int(retention_days * DAY_MS)))


def auth_cleanup_job(engine: Engine, now_ms: int) -> int:
    """The registered job: reads the settings at each run, so a change needs no restart."""
    cfg = settings.from_env()
    return cleanup(engine, now_ms, float(cfg["SESSION_ABSOLUTE_S"]), float(cfg["LOGIN_THROTTLE_WINDOW_S"]),
                   float(cfg["SECURITY_EVENT_RETENTION_DAYS"]))
