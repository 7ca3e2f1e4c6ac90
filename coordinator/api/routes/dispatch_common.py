"""What the intervention, team, rule and Open311 routes share: domain errors as HTTP errors,
the acting principal as a lifecycle actor, and the JSON of an intervention."""

from __future__ import annotations

import time
from typing import Any

from coordinator.auth import Principal
from coordinator.interventions import errors as domain
from coordinator.interventions.lifecycle import Actor, State, allowed_moves
from coordinator.interventions.sla import deadlines
from coordinator.storage.interventions import InterventionRow

from ..errors import ApiError

#: Domain refusals and their HTTP statuses (subclasses first: NotVerifiedError is an IllegalTransitionError).
_STATUS: tuple[tuple[type[domain.InterventionError], int], ...] = (
    (domain.InvalidRequestError, 400),
    (domain.NotAllowedError, 403),
    (domain.UnknownIdError, 404),
    (domain.NotVerifiedError, 409),
    (domain.IllegalTransitionError, 409),
    (domain.StaleVersionError, 409),
)


def api_error(exc: domain.InterventionError) -> ApiError:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return ApiError(status, str(exc))
    return ApiError(400, str(exc))


def now_ms() -> int:
    return int(time.time() * 1000)


def actor(principal: Principal) -> Actor:
    return Actor("user", principal.username)


def intervention_json(row: InterventionRow) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "state": row.state, "priority": row.priority, "source": row.source,
        "title": row.title, "description": row.description, "commune": row.commune, "lat": row.lat,
        "lon": row.lon, "device_id": row.device_id, "target": row.target, "skill": row.skill,
        "rule_id": row.rule_id, "service_code": row.service_code, "team": row.team_id, "reports": row.reports,
        "escalation": row.escalation, "detail": row.detail or {}, "first_ms": row.first_ms, "last_ms": row.last_ms,
        "created_ms": row.created_ms, "updated_ms": row.updated_ms, "created_by": row.created_by,
        "version": row.version, "deadlines": deadlines(row.domain()),
        "allowed": [s.value for s in allowed_moves(State(row.state))],
    }
