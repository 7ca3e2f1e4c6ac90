"""Priorities and their SLA timers, and the escalation level they imply.

Each priority sets three deadlines counted from the start of the intervention's current cycle
(creation, or its reopening): acknowledged, on site, resolved. The escalation level is the
number of those milestones missed so far, so it only grows with time and a periodic job can
notify each new level exactly once by comparing it with the stored level.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lifecycle import Intervention

#: Highest first.
PRIORITIES: tuple[str, ...] = ("urgent", "high", "normal", "low")


def higher(a: str, b: str) -> str:
    """The more urgent of two priorities."""
    return a if PRIORITIES.index(a) <= PRIORITIES.index(b) else b


@dataclass(frozen=True)
class SlaPolicy:
    ack_s: int
    on_site_s: int
    resolve_s: int


#: Defaults in the spirit of municipal CAD practice; a crowd or a danger is urgent, a dark
#: lamp post normal, a citizen's graffiti report low.
DEFAULT_SLA: dict[str, SlaPolicy] = {
    "urgent": SlaPolicy(ack_s=120, on_site_s=15 * 60, resolve_s=4 * 3600),
    "high": SlaPolicy(ack_s=5 * 60, on_site_s=30 * 60, resolve_s=8 * 3600),
    "normal": SlaPolicy(ack_s=15 * 60, on_site_s=4 * 3600, resolve_s=48 * 3600),
    "low": SlaPolicy(ack_s=3600, on_site_s=72 * 3600, resolve_s=7 * 86400),
}

MILESTONES = ("acknowledged", "on_site", "resolved")


def deadlines(iv: Intervention, policies: dict[str, SlaPolicy] | None = None) -> dict[str, int]:
    """Deadline of each milestone, ms since the epoch."""
    p = (policies or DEFAULT_SLA)[iv.priority]
    start = iv.sla_start_ms
    return {"acknowledged": start + p.ack_s * 1000, "on_site": start + p.on_site_s * 1000,
            "resolved": start + p.resolve_s * 1000}


def missed(iv: Intervention, now_ms: int, policies: dict[str, SlaPolicy] | None = None) -> list[str]:
    """Milestones reached late, or not reached and already overdue, in order."""
    reached = {"acknowledged": iv.acknowledged_ms, "on_site": iv.on_site_ms, "resolved": iv.resolved_ms}
    if iv.closed_ms is not None:  # closed without being resolved (cancelled): nothing more is due
        reached = {k: (v if v is not None else iv.closed_ms) for k, v in reached.items()}
    out = []
    for name, due in deadlines(iv, policies).items():
        at = reached[name]
        if (at is None and now_ms > due) or (at is not None and at > due):
            out.append(name)
    return out


def escalation_level(iv: Intervention, now_ms: int, policies: dict[str, SlaPolicy] | None = None) -> int:
    """0 when on time; 1, 2, 3 as the acknowledgement, arrival and resolution deadlines pass."""
    return len(missed(iv, now_ms, policies))
