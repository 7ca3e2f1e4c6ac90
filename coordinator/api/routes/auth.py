"""Login for the web UI, and bearer tokens for integrators and field apps."""

from __future__ import annotations

from typing import Any

from flask import jsonify, session
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from coordinator.storage import audit
from coordinator.storage import users as user_store
from coordinator.storage.flask import get_engine

from .. import login_guard
from ..blueprint import bp
from ..bodies import parse_body
from ..errors import ApiError, error_response
from ..openapi import schema_model
from ..security import actor, check_csrf, current_principal, end_session, require, session_principal


@schema_model
class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@schema_model
class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, description="what the token is for, e.g. 'open-data portal'")


def _me() -> dict[str, Any]:
    p = current_principal()
    return {"id": p.user_id, "username": p.username, "role": p.role, "commune": p.commune, "via": p.via}


@bp.post("/auth/login")
def login() -> ResponseReturnValue:
    body = parse_body(LoginRequest)
    outcome = login_guard.login(body.username, body.password)
    if outcome.retry_after_s is not None:
        resp = error_response(429, f"too many failed logins: try again in {outcome.retry_after_s} s")
        resp.headers["Retry-After"] = str(outcome.retry_after_s)
        return resp
    principal = outcome.principal
    if principal is None:
        raise ApiError(401, "wrong username or password")
    return jsonify({"user": {"id": principal.user_id, "username": principal.username, "role": principal.role,
                             "commune": principal.commune, "via": "session"}, "csrf_token": outcome.csrf})


@bp.post("/auth/logout")
def logout() -> ResponseReturnValue:
    """End the browser session on the server; like every session change, it needs the CSRF header."""
    if "sid" in session:
        principal = session_principal()
        if principal is not None:
            check_csrf()
            with get_engine().begin() as conn:
                audit.record(conn, "logout", actor(principal), principal.username)
    end_session()
    return "", 204


@bp.get("/auth/me")
@require("viewer")
def me() -> ResponseReturnValue:
    return jsonify(_me())


@bp.post("/auth/tokens")
@require("viewer")
def create_token() -> ResponseReturnValue:
    """A token for the caller, with the caller's role and commune; shown once."""
    body = parse_body(TokenRequest)
    principal = current_principal()
    with get_engine().begin() as conn:
        token = user_store.create_token(conn, principal.user_id, body.name, by=actor(principal))
    return jsonify({"name": body.name, "token": token}), 201
