"""The security audit log, read by admins: logins, failures, lockouts, tokens and account changes."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from coordinator.storage import audit
from coordinator.storage.flask import get_engine

from ..blueprint import bp
from ..bodies import parse_query
from ..security import require

Kind = Literal["login", "login_failure", "lockout", "login_throttled", "logout", "session_end", "token_created",
               "token_revoked", "user_created", "user_deactivated", "user_activated", "role_changed",
               "commune_changed"]


class SecurityEventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=100, ge=1, le=500)
    before: int | None = Field(default=None, ge=1, le=2**63 - 1)
    kind: Kind | None = None
    subject: str | None = Field(default=None, min_length=1, max_length=64)
    actor: str | None = Field(default=None, min_length=1, max_length=64)


@bp.get("/security-events")
@require("admin")
def list_security_events() -> ResponseReturnValue:
    """One page, newest first; ``next_before`` continues with older events (null on the last page)."""
    q = parse_query(SecurityEventQuery)
    with get_engine().connect() as conn:
        events = audit.page(conn, q.limit + 1, q.before, q.kind, q.subject, q.actor)
    more = len(events) > q.limit
    events = events[:q.limit]
    return jsonify({"events": [asdict(e) for e in events], "next_before": events[-1].id if more else None})
