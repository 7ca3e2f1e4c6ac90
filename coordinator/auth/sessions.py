"""When a browser session stops: idle and absolute timeouts, as a pure rule.

A control room keeps one screen logged in for a shift, so the absolute limit is a shift
(12 h by default) and the idle limit is long enough for a quiet night hour (30 min). The
server keeps each session's creation and last request; this rule decides, the store applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verdict = Literal["open", "idle", "expired"]


@dataclass(frozen=True)
class SessionPolicy:
    """Timeouts of a browser session, in seconds.

    Attributes:
        idle_s: a session with no request for this long ends.
        absolute_s: a session ends this long after the login, whatever its activity.
        touch_s: the last-request time is written at most this often (a write per request would
            make every page load a database write); the idle timeout is exact to within it.
    """

    idle_s: float = 30 * 60
    absolute_s: float = 12 * 3600
    touch_s: float = 30

    def __post_init__(self) -> None:
        if self.idle_s <= 0 or self.absolute_s <= 0 or self.touch_s < 0:
            raise ValueError("session timeouts must be positive (touch interval: zero or more)")


def verdict(policy: SessionPolicy, created_ms: int, seen_ms: int, now_ms: int) -> Verdict:
    """Whether a session created at ``created_ms`` and last seen at ``seen_ms`` is still open at ``now_ms``.

    The absolute limit wins over the idle one, so an expired session reports ``expired`` even when
    it also sat idle.
    """
    if now_ms - created_ms >= policy.absolute_s * 1000:
        return "expired"
    if now_ms - seen_ms >= policy.idle_s * 1000:
        return "idle"
    return "open"


def needs_touch(policy: SessionPolicy, seen_ms: int, now_ms: int) -> bool:
    """True when the session's last-request time is older than the touch interval."""
    return now_ms - seen_ms >= policy.touch_s * 1000
