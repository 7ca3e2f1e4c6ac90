"""The city-wide analytics mode: read by supervisors, decided by admins, each decision in the register."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from coordinator.legal.analytics_mode import ModeState, check_decision, rule_refusal
from coordinator.storage import analytics_mode as mode_store
from coordinator.storage import register as register_store
from coordinator.storage.flask import get_engine

from ..blueprint import bp
from ..bodies import parse_body
from ..errors import bad_request
from ..openapi import schema_model
from ..security import current_principal, require
from .dispatch_common import now_ms


@schema_model
class AnalyticsModeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: str = Field(pattern="^(statistics|alerting)$")
    legal_basis: str | None = Field(default=None, min_length=1, max_length=400,
                                    description="required for alerting: the text that authorises it")
    start_ms: int | None = Field(default=None, ge=0, le=2**53)
    end_ms: int | None = Field(default=None, ge=0, le=2**53)


def _body(state: ModeState, by: str | None, at: int | None, now: int) -> dict[str, object]:
    return {"mode": state.mode, "effective": state.effective(now), "legal_basis": state.legal_basis,
            "start_ms": state.start_ms, "end_ms": state.end_ms, "set_by": by, "set_ms": at}


@bp.get("/analytics-mode")
@require("supervisor")
def get_analytics_mode() -> ResponseReturnValue:
    with get_engine().connect() as conn:
        state, by, at = mode_store.current(conn)
    return jsonify(_body(state, by, at, now_ms()))


@bp.put("/analytics-mode")
@require("admin")
def set_analytics_mode() -> ResponseReturnValue:
    """Decide the mode; alerting needs a legal basis and a period, and ends by itself with it."""
    body = parse_body(AnalyticsModeIn)
    refusal = check_decision(body.mode, body.legal_basis, body.start_ms, body.end_ms)
    if refusal:
        raise bad_request(refusal)
    state = ModeState(body.mode, body.legal_basis, body.start_ms, body.end_ms) if body.mode == "alerting" \
        else ModeState()
    who, now = current_principal().username, now_ms()
    with get_engine().begin() as conn:
        mode_store.record(conn, state, who, now)
        register_store.append(conn, "analytics_mode_changed", who, subject=f"analytics_mode {state.mode}",
                              detail=None if state.mode == "statistics" else
                              f"{state.legal_basis} [{state.start_ms}, {state.end_ms})"[:2000], at_ms=now)
    return jsonify(_body(state, who, now, now))


def check_rule_allowed(rule_type: str) -> None:
    """400 with the legal reason when the mode in force does not allow a rule of this type."""
    with get_engine().connect() as conn:
        state, _by, _at = mode_store.current(conn)
    reason = rule_refusal(rule_type, state, now_ms())
    if reason:
        field = "config.type"
        raise bad_request(f"{field}: {reason}", [{"field": field, "reason": reason}])
