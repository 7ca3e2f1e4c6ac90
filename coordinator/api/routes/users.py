"""User management (admins only): accounts, their roles and communes, deactivation and tokens.

Every change is written to the security audit log in the transaction that makes it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field, field_validator

from coordinator.storage import users as user_store
from coordinator.storage.flask import get_engine
from coordinator.storage.users import COMMUNE_SLUGS, UserRow

from ..blueprint import bp
from ..bodies import parse_body
from ..errors import ApiError, conflict, not_found
from ..openapi import schema_model
from ..security import actor, current_principal, require

Role = Literal["viewer", "operator", "supervisor", "admin"]
ID_MAX = 2**63 - 1
_COMMUNE_ENUM: list[Any] = [*sorted(COMMUNE_SLUGS), None]


def _known_commune(value: str | None) -> str | None:
    if value is not None and value not in COMMUNE_SLUGS:
        raise ValueError(f"{value!r} is not a commune of the métropole")
    return value


@schema_model
class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    password: str = Field(min_length=10, max_length=256)
    role: Role
    commune: str | None = Field(default=None, max_length=64, json_schema_extra={"enum": _COMMUNE_ENUM},
                                description="commune slug; null for métropole staff")

    _commune = field_validator("commune")(_known_commune)


@schema_model
class UserUpdate(BaseModel):
    """Fields to change; absent ones stay. ``commune: null`` makes the user métropole staff."""

    model_config = ConfigDict(extra="forbid")
    active: bool | None = Field(default=None, description="false: deactivate (ends sessions, revokes tokens)")
    role: Role | None = None
    commune: str | None = Field(default=None, max_length=64, json_schema_extra={"enum": _COMMUNE_ENUM},
                                description="commune slug; null for métropole staff")

    _commune = field_validator("commune")(_known_commune)


def _user(user_id: int) -> UserRow:
    if not 0 < user_id <= ID_MAX:
        raise not_found("user", user_id)
    with get_engine().connect() as conn:
        user = user_store.get_user(conn, user_id)
    if user is None:
        raise not_found("user", user_id)
    return user


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
            uid = user_store.create_user(conn, body.username, body.password, body.role, body.commune,
                                         by=actor(current_principal()))
    except user_store.UserError as exc:
        status = 409 if "already exists" in str(exc) else 400
        raise ApiError(status, str(exc)) from exc
    return jsonify({"id": uid, "username": body.username, "role": body.role, "commune": body.commune,
                    "active": True}), 201


@bp.patch("/users/<id32:user_id>")
@require("admin")
def update_user(user_id: int) -> ResponseReturnValue:
    """Change role, commune or activity; an admin cannot deactivate or demote their own account."""
    body = parse_body(UserUpdate)
    user = _user(user_id)
    p = current_principal()
    if user.id == p.user_id and (body.active is False or (body.role is not None and body.role != "admin")):
        raise conflict("an admin cannot deactivate or demote their own account; ask another admin")
    with get_engine().begin() as conn:
        updated = user_store.update_user(conn, user, actor(p), active=body.active, role=body.role,
                                         commune=body.commune, set_commune="commune" in body.model_fields_set)
    return jsonify(asdict(updated))


@bp.get("/users/<id32:user_id>/tokens")
@require("admin")
def list_tokens(user_id: int) -> ResponseReturnValue:
    user = _user(user_id)
    with get_engine().connect() as conn:
        return jsonify({"tokens": [asdict(t) for t in user_store.list_tokens(conn, user.id)]})


@bp.delete("/users/<id32:user_id>/tokens")
@require("admin")
def revoke_all_tokens(user_id: int) -> ResponseReturnValue:
    """Revoke every token of the user at once (a lost phone, a leaked integration)."""
    user = _user(user_id)
    with get_engine().begin() as conn:
        revoked = user_store.revoke_tokens(conn, user, actor(current_principal()))
    return jsonify({"revoked": revoked})


@bp.delete("/users/<id32:user_id>/tokens/<id32:token_id>")
@require("admin")
def revoke_token(user_id: int, token_id: int) -> ResponseReturnValue:
    user = _user(user_id)
    if not 0 < token_id <= ID_MAX:
        raise not_found("token", token_id)
    with get_engine().begin() as conn:
        if token_id not in {t.id for t in user_store.list_tokens(conn, user.id)}:
            raise not_found("token", token_id)
        revoked = user_store.revoke_tokens(conn, user, actor(current_principal()), token_id)
    return jsonify({"revoked": revoked})
