"""Field teams: read by everyone, managed by supervisors; field status updates relayed over HTTP.

A team's id is part of its MQTT topics, so it is a slug and never changes. The webhook secret
is write-only: responses say whether one is set, never what it is.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

import vigie_wire as wire
from coordinator.dispatch import service
from coordinator.interventions.errors import InterventionError
from coordinator.interventions.lifecycle import Actor
from coordinator.storage import teams as team_store
from coordinator.storage.flask import get_engine, get_read_engine
from coordinator.storage.teams import TeamRow

from ..blueprint import bp
from ..bodies import parse_body
from ..errors import ApiError, bad_request, not_found
from ..openapi import schema_model
from ..params import Id
from ..schema_rules import all_of, requires, together
from ..security import check_commune, current_principal, require
from ..vocab import Commune
from .dispatch_common import api_error, intervention_json, now_ms

Skill = Literal["police", "voirie", "eclairage", "proprete"]
IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"


@schema_model
class TeamUpdate(BaseModel):
    """A team's full description (PUT replaces it; an omitted webhook secret keeps the stored one).

    A ``webhook_url`` needs a ``webhook_secret``, given here or stored before.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=together("lat", "lon"))
    name: str = Field(min_length=1, max_length=128)
    commune: Commune = Field(description="home commune slug, the <site> of the team's topics")
    skills: list[Skill] = Field(min_length=1, max_length=4, json_schema_extra={"uniqueItems": True})
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    active: bool = True
    webhook_url: str | None = Field(default=None, max_length=512, pattern=r"^https?://[^\s]+$")
    webhook_secret: str | None = Field(default=None, min_length=16, max_length=128,
                                       description="HMAC-SHA256 key of the X-Vigie-Signature header; write-only")

    @field_validator("skills")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("skills must not repeat")
        return value

    @model_validator(mode="after")
    def _pairs(self) -> TeamUpdate:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        return self


@schema_model
class TeamCreate(TeamUpdate):
    model_config = ConfigDict(extra="forbid", json_schema_extra=all_of(
        together("lat", "lon"), requires("webhook_url", "webhook_secret")))
    id: str = Field(pattern=IDENT, description="slug, part of the team's MQTT topics")


@schema_model
class FieldStatus(BaseModel):
    """A team's status update relayed over HTTP (the same as the MQTT ``TeamStatus`` message)."""

    model_config = ConfigDict(extra="forbid")
    intervention: Id
    state: Literal["acknowledged", "en_route", "on_site", "resolved"]
    reason: str | None = Field(default=None, max_length=512)


def team_json(t: TeamRow) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "commune": t.commune, "skills": t.skills, "lat": t.lat, "lon": t.lon,
            "active": t.active, "webhook_url": t.webhook_url, "has_webhook_secret": bool(t.webhook_secret),
            "load": t.load,
            "topics": {"dispatch": wire.team_topic(t.commune, t.id, wire.Kind.DISPATCH),
                       "status": wire.team_topic(t.commune, t.id, wire.Kind.STATUS)}}


def _row(team_id: str, body: TeamUpdate, secret: str | None) -> TeamRow:
    if body.webhook_url and not secret:
        raise bad_request("webhook_secret: required with a webhook_url (the receiver checks the signature)")
    return TeamRow(team_id, body.name, body.commune, list(body.skills), body.lat, body.lon, body.active,
                   body.webhook_url, secret if body.webhook_url else None)


def _visible_team(team_id: str) -> TeamRow:
    with get_engine().connect() as conn:
        team = team_store.get_team(conn, team_id)
    if team is None:
        raise not_found("team", team_id)
    check_commune(current_principal(), team.commune)
    return team


@bp.get("/teams")
@require("viewer")
def list_teams() -> ResponseReturnValue:
    with get_read_engine().connect() as conn:
        teams = team_store.list_teams(conn, current_principal().scope)
    return jsonify({"teams": [team_json(t) for t in teams]})


@bp.post("/teams")
@require("supervisor")
def create_team() -> ResponseReturnValue:
    body = parse_body(TeamCreate)
    check_commune(current_principal(), body.commune)
    row = _row(body.id, body, body.webhook_secret)
    with get_engine().begin() as conn:
        if team_store.get_team(conn, body.id) is not None:
            raise ApiError(409, f"team {body.id!r} already exists")
        team_store.save_team(conn, row, now_ms(), create=True)
        saved = team_store.get_team(conn, body.id)
    assert saved is not None
    return jsonify(team_json(saved)), 201


@bp.get("/teams/<team_id>")
@require("viewer")
def get_team(team_id: str) -> ResponseReturnValue:
    return jsonify(team_json(_visible_team(team_id)))


@bp.put("/teams/<team_id>")
@require("supervisor")
def update_team(team_id: str) -> ResponseReturnValue:
    body = parse_body(TeamUpdate)
    old = _visible_team(team_id)
    check_commune(current_principal(), body.commune)
    row = _row(team_id, body, body.webhook_secret or old.webhook_secret)
    with get_engine().begin() as conn:
        team_store.save_team(conn, row, now_ms(), create=False)
        saved = team_store.get_team(conn, team_id)
    assert saved is not None
    return jsonify(team_json(saved))


@bp.delete("/teams/<team_id>")
@require("supervisor")
def delete_team(team_id: str) -> ResponseReturnValue:
    """Only a team that never had an intervention can go: history must keep naming its teams."""
    _visible_team(team_id)
    with get_engine().begin() as conn:
        if team_store.ever_assigned(conn, team_id):
            raise ApiError(409, f"team {team_id!r} has interventions in its history; set active to false instead")
        team_store.delete_team(conn, team_id)
    return "", 204


@bp.post("/teams/<team_id>/status")
@require("operator")
def team_status(team_id: str) -> ResponseReturnValue:
    """The HTTP twin of the MQTT status topic: the team is the actor, the relaying user is recorded."""
    body = parse_body(FieldStatus)
    _visible_team(team_id)
    who = Actor("team", team_id, via=f"user:{current_principal().username}")
    try:
        with get_engine().begin() as conn:
            saved = service.apply_transition(conn, body.intervention, body.state, who, body.reason, now_ms())
    except InterventionError as exc:
        raise api_error(exc) from exc
    return jsonify(intervention_json(saved))
