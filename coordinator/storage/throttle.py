"""Login failure counters shared by every web worker (they live in the database, not in a process)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.auth.throttle import Failures, ThrottlePolicy, after_failure

from .schema import login_throttle
from .upsert import upsert

KEY_MAX = 80


def key(scope: str, value: str) -> str:
    """The counter's key: ``account:<name>`` (case-folded, as a user would retype it) or ``address:<ip>``."""
    value = value.casefold() if scope == "account" else value
    return f"{scope}:{value}"[:KEY_MAX]


def locked_until(conn: Connection, keys: Sequence[str], now_ms: int) -> dict[str, int]:
    """The keys among ``keys`` locked at ``now_ms``, with the end of their lock."""
    t = login_throttle
    rows = conn.execute(sa.select(t.c.key, t.c.locked_until_ms).where(t.c.key.in_(keys),
                                                                    t.c.locked_until_ms > now_ms))
    return {r.key: int(r.locked_until_ms) for r in rows}


def fail(conn: Connection, k: str, policy: ThrottlePolicy, now_ms: int) -> Failures:
    """Count one failure of key ``k`` and store its new lock."""
    t = login_throttle
    row = conn.execute(sa.select(t.c.failures, t.c.last_ms).where(t.c.key == k).with_for_update()).first()
    state = after_failure(policy, 0 if row is None else int(row.failures), None if row is None else int(row.last_ms),
                          now_ms)
    # An upsert: two workers failing the same new key at once must not collide on its insert.
    upsert(conn, t, [{"key": k, "failures": state.count, "last_ms": now_ms, "locked_until_ms": state.locked_until_ms}],
           ["key"], replace=["failures", "last_ms", "locked_until_ms"])
    return state


def clear(conn: Connection, k: str) -> None:
    """Forget the failures of ``k`` (a successful login of that account)."""
    conn.execute(login_throttle.delete().where(login_throttle.c.key == k))


def delete_stale(conn: Connection, last_before_ms: int, now_ms: int) -> int:
    """Delete the counters whose last failure is older than ``last_before_ms`` and that lock nothing now."""
    t = login_throttle
    return int(conn.execute(t.delete().where(t.c.last_ms < last_before_ms, t.c.locked_until_ms <= now_ms)).rowcount)
