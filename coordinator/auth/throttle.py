"""Login throttling: growing delays after repeated failures, as a pure rule.

Failures are counted per account name (as typed, so an unknown name is throttled exactly like a
known one and lockouts reveal nothing) and per client address (one address trying many names).
The first ``free`` failures cost nothing; each further one locks the key for a delay that doubles,
up to ``max_s``. A quiet ``window_s`` after the last failure forgets the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["account", "address"]


@dataclass(frozen=True)
class ThrottlePolicy:
    """Free failures and delays of one scope.

    Attributes:
        free: failures allowed before the first delay.
        base_s: the first delay; each further failure doubles it.
        max_s: the longest delay.
        window_s: failures older than this (counted from the last one) are forgotten.
    """

    free: int
    base_s: float = 1.0
    max_s: float = 15 * 60
    window_s: float = 15 * 60

    def __post_init__(self) -> None:
        if self.free < 0 or self.base_s <= 0 or self.max_s < self.base_s or self.window_s <= 0:
            raise ValueError("throttle: free >= 0, 0 < base_s <= max_s and window_s > 0")


@dataclass(frozen=True)
class Failures:
    """The stored state of one key after a failure: the count and until when the key is locked."""

    count: int
    locked_until_ms: int


def delay_s(policy: ThrottlePolicy, failures: int) -> float:
    """The lock that follows the ``failures``-th consecutive failure (0 while within the free ones)."""
    over = failures - policy.free
    if over <= 0:
        return 0.0
    # 2 ** 30 already exceeds any sane max_s: cap the exponent so huge counts cannot overflow.
    return float(min(policy.max_s, policy.base_s * 2 ** min(over - 1, 30)))


def after_failure(policy: ThrottlePolicy, previous: int, last_ms: int | None, now_ms: int) -> Failures:
    """The key's state after one more failure at ``now_ms``, the previous one at ``last_ms``."""
    count = 1 if last_ms is None or now_ms - last_ms > policy.window_s * 1000 else previous + 1
    return Failures(count, now_ms + round(delay_s(policy, count) * 1000))


def retry_after_s(locked_until_ms: int, now_ms: int) -> int:
    """Whole seconds until a locked key opens again (at least 1 while it is locked, else 0)."""
    if locked_until_ms <= now_ms:
        return 0
    return max(1, -(-(locked_until_ms - now_ms) // 1000))
