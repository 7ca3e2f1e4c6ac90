"""The intervention lifecycle as data: states, the allowed moves, and the one function that applies them.

CAD practice: ``new -> acknowledged -> assigned -> en_route -> on_site -> resolved -> closed``,
with reopening. Every accepted move yields an :class:`AuditEntry` (who, when, what, why); the
caller stores both the new state and the entry in one transaction, so history and state never
disagree. Nothing here reads a clock or a database: ``now_ms`` and the telemetry verdict of a
light fault are arguments.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import IllegalTransitionError, InvalidRequestError, NotAllowedError, NotVerifiedError


class State(enum.StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    CLOSED = "closed"


#: States where a team is (or may be) working: they count in a team's load.
ACTIVE_STATES = frozenset({State.ASSIGNED, State.EN_ROUTE, State.ON_SITE})
#: States where the intervention is still to be handled (dedupe merges into these only).
OPEN_STATES = frozenset({State.NEW, State.ACKNOWLEDGED, State.ASSIGNED, State.EN_ROUTE, State.ON_SITE})

#: Kind whose resolution needs the luminaire's ``lamp_fault`` events to show every fault cleared.
LIGHT_FAULT = "light_fault"


@dataclass(frozen=True)
class Move:
    """One allowed edge of the lifecycle."""

    action: str
    needs_reason: bool = False
    needs_team: bool = False
    field_team: bool = False  # the assigned team itself may make this move from the field


S = State
#: Every allowed (from, to) edge. Anything else is an :class:`IllegalTransitionError`.
TRANSITIONS: dict[tuple[State, State], Move] = {
    (S.NEW, S.ACKNOWLEDGED): Move("acknowledge"),
    (S.NEW, S.ASSIGNED): Move("assign", needs_team=True),
    (S.NEW, S.CLOSED): Move("cancel", needs_reason=True),
    (S.ACKNOWLEDGED, S.ASSIGNED): Move("assign", needs_team=True),
    (S.ACKNOWLEDGED, S.CLOSED): Move("cancel", needs_reason=True),
    (S.ASSIGNED, S.ASSIGNED): Move("reassign", needs_team=True),
    (S.ASSIGNED, S.ACKNOWLEDGED): Move("unassign", needs_reason=True, field_team=True),
    (S.ASSIGNED, S.EN_ROUTE): Move("depart", field_team=True),
    (S.ASSIGNED, S.CLOSED): Move("cancel", needs_reason=True),
    (S.EN_ROUTE, S.ASSIGNED): Move("reassign", needs_team=True),
    (S.EN_ROUTE, S.ON_SITE): Move("arrive", field_team=True),
    (S.EN_ROUTE, S.CLOSED): Move("cancel", needs_reason=True),
    (S.ON_SITE, S.RESOLVED): Move("resolve", field_team=True),
    (S.RESOLVED, S.CLOSED): Move("close"),
    (S.RESOLVED, S.NEW): Move("reopen", needs_reason=True),
    (S.CLOSED, S.NEW): Move("reopen", needs_reason=True),
}


@dataclass(frozen=True)
class Actor:
    """Who acts: a user of the API, a field team, a rule, a citizen or the system's timers."""

    kind: str  # user | team | rule | citizen | system
    id: str
    via: str | None = None  # e.g. the user who relayed a team's status through the API

    def __str__(self) -> str:
        base = f"{self.kind}:{self.id}"
        return f"{base} via {self.via}" if self.via else base


@dataclass(frozen=True)
class Intervention:
    """What the lifecycle needs to know of an intervention."""

    id: int
    kind: str
    state: State
    priority: str
    team: str | None = None
    sla_start_ms: int = 0
    acknowledged_ms: int | None = None
    on_site_ms: int | None = None
    resolved_ms: int | None = None
    closed_ms: int | None = None
    escalation: int = 0


@dataclass(frozen=True)
class AuditEntry:
    ts_ms: int
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def allowed_moves(state: State) -> list[State]:
    """Target states reachable from ``state`` (for clients building their buttons)."""
    return [to for (frm, to) in TRANSITIONS if frm is state]


def transition(iv: Intervention, to: State | str, actor: Actor, reason: str | None, now_ms: int, *,
               team: str | None = None, verified_healthy: bool | None = None) -> tuple[Intervention, AuditEntry]:
    """Apply one move; return the new intervention and its audit entry, or raise.

    Raises:
        InvalidRequestError: unknown target state, a reason or a team is missing.
        IllegalTransitionError: no such edge from the current state.
        NotAllowedError: a team acting on an intervention that is not its own, or on a move
            reserved to the control post.
        NotVerifiedError: resolving a light fault whose luminaire is not known healthy.
    """
    try:
        target = State(to)
    except ValueError:
        raise InvalidRequestError(f"unknown state {to!r}; states are {', '.join(s.value for s in State)}") from None
    move = TRANSITIONS.get((iv.state, target))
    if move is None:
        reachable = ", ".join(s.value for s in allowed_moves(iv.state)) or "none"
        raise IllegalTransitionError(f"intervention {iv.id} is {iv.state.value}: cannot go to {target.value} "
                                f"(allowed: {reachable})")
    if actor.kind == "team":
        if iv.team != actor.id:
            raise NotAllowedError(f"team {actor.id!r} is not assigned to intervention {iv.id}")
        if not move.field_team:
            raise NotAllowedError(f"a team may not {move.action} an intervention; the control post does")
    reason = (reason or "").strip() or None
    if move.needs_reason and reason is None:
        raise InvalidRequestError(f"{move.action} needs a reason")
    if move.needs_team and not team:
        raise InvalidRequestError(f"{move.action} needs a team")
    if move.needs_team and team == iv.team:
        raise IllegalTransitionError(f"intervention {iv.id} is already assigned to team {team!r}")
    if iv.kind == LIGHT_FAULT and target is State.RESOLVED and not verified_healthy:
        raise NotVerifiedError(f"intervention {iv.id}: the luminaire's lamp_fault events do not show every fault "
                               "cleared yet; it can be resolved once the node reports the fault cleared")
    new = _apply(iv, target, move, team, now_ms)
    detail: dict[str, Any] = {}
    if move.needs_team:
        detail["team"] = team
        if iv.team:
            detail["previous_team"] = iv.team
    elif iv.team and new.team is None:
        detail["previous_team"] = iv.team
    entry = AuditEntry(now_ms, str(actor), move.action, iv.state.value, target.value, reason, detail)
    return new, entry


def _apply(iv: Intervention, target: State, move: Move, team: str | None, now_ms: int) -> Intervention:
    changes: dict[str, Any] = {"state": target}
    if move.needs_team:
        changes["team"] = team
    if target is State.ACKNOWLEDGED:
        changes["team"] = None
    if iv.acknowledged_ms is None and target in (State.ACKNOWLEDGED, State.ASSIGNED):
        changes["acknowledged_ms"] = now_ms  # assigning acknowledges too
    if target is State.ON_SITE and iv.on_site_ms is None:
        changes["on_site_ms"] = now_ms
    if target is State.RESOLVED:
        changes["resolved_ms"] = now_ms
    if target is State.CLOSED:
        changes["closed_ms"] = now_ms
    if move.action == "reopen":  # a new cycle: new SLA clock, no team, no escalation
        changes.update(team=None, sla_start_ms=now_ms, acknowledged_ms=None, on_site_ms=None,
                       resolved_ms=None, closed_ms=None, escalation=0)
    return replace(iv, **changes)
