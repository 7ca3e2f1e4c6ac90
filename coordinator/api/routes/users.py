"""User management (admins only)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from coordinator.storage import users as user_store
from coordinator.storage.flask import get_engine

from ..blueprint import bp
from ..bodies import parse_body
from ..errors import ApiError
from ..openapi import schema_model
from ..security import require

Role = Literal["viewer", "operator", "supervisor", "admin"]


@schema_model
class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    password: str = Field(min_length=10, max_length=256)
    role: Role
    commune: str | None = Field(default=None, max_length=64, description="commune slug; null for métropole staff")


@bp.get("/users")
@require("admin")
def list_users() -> ResponseReturnValue:
    with get_engine().connect() as conn:
        return jsonify({"users": [asdict(u) for u in user_store.list_users(conn)]})


@bp.post("/users")
@require("admin")
def create_user() -> ResponseReturnValue:
    body = parse_body(UserCreate)
    try:
        with get_engine().begin() as conn:
            uid = user_store.create_user(conn, body.username, body.password, body.role, body.commune)
    except user_store.UserError as exc:
        status = 409 if "already exists" in str(exc) else 400
        raise ApiError(status, str(exc)) from exc
    return jsonify({"id": uid, "username": body.username, "role": body.role, "commune": body.commune,
                    "active": True}), 201
