"""Login for the web UI, and bearer tokens for integrators and field apps."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from coordinator.storage import users as user_store
from coordinator.storage.flask import get_engine

from ..blueprint import bp
from ..bodies import parse_body
from ..errors import ApiError
from ..openapi import schema_model
from ..security import current_principal, end_session, require, start_session


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
    with get_engine().connect() as conn:
        principal = user_store.authenticate(conn, body.username, body.password)
    if principal is None:
        raise ApiError(401, "wrong username or password")
    csrf = start_session(principal)
    return jsonify({"user": {"id": principal.user_id, "username": principal.username, "role": principal.role,
                             "commune": principal.commune, "via": "session"}, "csrf_token": csrf})


@bp.post("/auth/logout")
def logout() -> ResponseReturnValue:
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
        token = user_store.create_token(conn, principal.user_id, body.name)
    return jsonify({"name": body.name, "token": token}), 201
