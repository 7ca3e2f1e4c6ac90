"""Interventions: list, detail with history, create, transitions, comments, assignment proposal, assign.

Viewers read; operators act. Commune staff see and act on their commune's interventions only
(lists are narrowed, another commune's intervention is a 403). Every change runs in one
transaction: the state, its audit entry and the team notifications are written together or
not at all.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import Connection

from coordinator.auth import Principal
from coordinator.dispatch import service
from coordinator.interventions.assignment import Need, rank
from coordinator.interventions.errors import InterventionError
from coordinator.interventions.geo import nearest_commune
from coordinator.interventions.lifecycle import State
from coordinator.storage import interventions as store
from coordinator.storage import teams as team_store
from coordinator.storage.flask import get_engine, get_read_engine
from coordinator.storage.interventions import Filter, InterventionRow, NewIntervention

from ..blueprint import bp
from ..bodies import parse_body, parse_query
from ..errors import ApiError, bad_request, forbidden, not_found
from ..openapi import schema_model
from ..params import AsciiInteger, Id
from ..schema_rules import absent, all_of, given, together, when
from ..security import check_commune, current_principal, require
from ..vocab import Commune, publish
from .dispatch_common import actor, api_error, intervention_json, now_ms

Priority = Literal["urgent", "high", "normal", "low"]
Skill = Literal["police", "voirie", "eclairage", "proprete"]
StateName = Literal["new", "acknowledged", "assigned", "en_route", "on_site", "resolved", "closed"]
Kind = Literal["crowd", "loitering", "stopped_vehicle", "light_fault", "cabinet_fault", "device_offline", "streetlight",
               "pothole", "obstruction", "dumping", "graffiti", "incident"]
IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"
publish("InterventionKind", get_args(Kind), "a rule's type, an Open311 service code, or incident")


@schema_model
class InterventionCreate(BaseModel):
    """An intervention opened by an operator (never merged: the operator decided it is new)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=all_of(
        together("lat", "lon"), {"anyOf": [given("commune"), given("lat", "lon")]},
        when("kind", "light_fault", given("device_id", "target"))))
    kind: Kind
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    priority: Priority = "normal"
    skill: Skill | None = None
    commune: Commune | None = Field(default=None, description="commune slug; derived from lat/lon when absent")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    device_id: str | None = Field(default=None, pattern=IDENT)
    target: str | None = Field(default=None, pattern=IDENT, description="zone or luminaire id")

    @model_validator(mode="after")
    def _consistent(self) -> InterventionCreate:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        if self.commune is None and self.lat is None:
            raise ValueError("give a commune or a position (lat and lon)")
        if self.kind == "light_fault" and (self.device_id is None or self.target is None):
            raise ValueError("a light_fault needs device_id (the light node) and target (the luminaire id)")
        return self


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: str | None = Field(default=None, description="comma-separated states")
    kind: Kind | None = None
    priority: Priority | None = None
    commune: Commune | None = None
    team: str | None = Field(default=None, max_length=64)
    escalated: bool | None = None
    before: Id | None = Field(default=None, description="id to page before (newest first)")
    limit: Annotated[int, AsciiInteger, Field(ge=1, le=500)] = 100

    @field_validator("state")
    @classmethod
    def _states(cls, value: str | None) -> str | None:
        if value is not None:
            bad = [s for s in value.split(",") if s not in {x.value for x in State}]
            if bad:
                raise ValueError(f"unknown state(s) {', '.join(bad)}")
        return value


@schema_model
class TransitionRequest(BaseModel):
    """A move: ``team`` only (and always) to go to ``assigned``; a ``reason`` to reopen, cancel or unassign."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=all_of(
        when("to", "assigned", given("team"), absent("team")), when("to", "new", given("reason"))))
    to: StateName
    reason: str | None = Field(default=None, max_length=1000, description="required to cancel, unassign, reopen")
    team: str | None = Field(default=None, pattern=IDENT, description="for assigned: the team")
    version: Id | None = Field(default=None, description="if given, refuse (409) unless it is the current one")


@schema_model
class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team: str = Field(pattern=IDENT)
    reason: str | None = Field(default=None, max_length=1000)


@schema_model
class CommentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)


def _visible(conn: Connection, iid: int) -> InterventionRow:
    row = store.get(conn, iid)
    if row is None:
        raise not_found("intervention", iid)
    check_commune(current_principal(), row.commune)
    return row


def _check_team_scope(conn: Connection, principal: Principal, team: str | None) -> None:
    if team is None:
        return
    t = team_store.get_team(conn, team)
    if t is not None and not principal.sees(t.commune):
        raise forbidden(f"team {team!r} belongs to commune {t.commune!r}")


@bp.get("/interventions")
@require("viewer")
def list_interventions() -> ResponseReturnValue:
    q = parse_query(ListQuery)
    p = current_principal()
    if q.commune is not None:
        check_commune(p, q.commune)
    f = Filter(states=q.state.split(",") if q.state else (), kind=q.kind, priority=q.priority,
               commune=q.commune or p.scope, team=q.team, escalated=q.escalated, before_id=q.before, limit=q.limit)
    with get_read_engine().connect() as conn:
        rows = store.search(conn, f)
    nxt = rows[-1].id if len(rows) == q.limit else None
    return jsonify({"interventions": [intervention_json(r) for r in rows], "next_before": nxt})


@bp.post("/interventions")
@require("operator")
def create_intervention() -> ResponseReturnValue:
    body = parse_body(InterventionCreate)
    p = current_principal()
    commune = body.commune
    if commune is None:
        assert body.lat is not None and body.lon is not None
        commune = nearest_commune(body.lat, body.lon)
    check_commune(p, commune)
    now = now_ms()
    with get_engine().begin() as conn:
        iid = store.insert(conn, NewIntervention(
            kind=body.kind, priority=body.priority, source="operator", title=body.title,
            created_by=str(actor(p)), ts_ms=now, description=body.description, commune=commune, lat=body.lat,
            lon=body.lon, device_id=body.device_id, target=body.target, skill=body.skill), now)
        row = store.get(conn, iid)
    assert row is not None
    return jsonify(intervention_json(row)), 201


@bp.get("/interventions/<id:iid>")
@require("viewer")
def get_intervention(iid: int) -> ResponseReturnValue:
    with get_read_engine().connect() as conn:
        row = _visible(conn, iid)
        out = intervention_json(row)
        out["history"] = store.history(conn, iid)
        out["deliveries"] = team_store.list_deliveries(conn, iid)
    return jsonify(out)


def _transition(iid: int, to: str, reason: str | None, team: str | None, version: int | None) -> ResponseReturnValue:
    p = current_principal()
    try:
        with get_engine().begin() as conn:
            row = _visible(conn, iid)
            if version is not None and version != row.version:
                raise ApiError(409, f"intervention {iid} is at version {row.version}, not {version}; reload")
            _check_team_scope(conn, p, team)
            saved = service.apply_transition(conn, iid, to, actor(p), reason, now_ms(), team=team)
    except InterventionError as exc:
        raise api_error(exc) from exc
    return jsonify(intervention_json(saved))


@bp.post("/interventions/<id:iid>/transitions")
@require("operator")
def transition_intervention(iid: int) -> ResponseReturnValue:
    body = parse_body(TransitionRequest)
    if body.to == "assigned" and body.team is None:
        raise bad_request("team: required to go to assigned")
    if body.to != "assigned" and body.team is not None:
        raise bad_request("team: only for a move to assigned")
    return _transition(iid, body.to, body.reason, body.team, body.version)


@bp.post("/interventions/<id:iid>/assign")
@require("operator")
def assign_intervention(iid: int) -> ResponseReturnValue:
    body = parse_body(AssignRequest)
    return _transition(iid, State.ASSIGNED.value, body.reason, body.team, None)


@bp.post("/interventions/<id:iid>/comments")
@require("operator")
def comment_intervention(iid: int) -> ResponseReturnValue:
    body = parse_body(CommentRequest)
    p = current_principal()
    with get_engine().begin() as conn:
        _visible(conn, iid)
        service.comment(conn, iid, actor(p), body.text, now_ms())
        history = store.history(conn, iid)
    return jsonify({"intervention": iid, "history": history}), 201


@bp.get("/interventions/<id:iid>/proposal")
@require("viewer")
def propose_teams(iid: int) -> ResponseReturnValue:
    """Teams ranked for this intervention; commune staff are offered their commune's teams only."""
    p = current_principal()
    with get_read_engine().connect() as conn:
        row = _visible(conn, iid)
        teams = [t.view() for t in team_store.list_teams(conn, p.scope)]
    need = Need(row.skill, row.commune, row.lat, row.lon)
    return jsonify({"intervention": iid, "need": {"skill": need.skill, "commune": need.commune, "lat": need.lat,
                                                   "lon": need.lon},
                    "proposals": [{"team": pr.team, "score": pr.score, "distance_m": pr.distance_m, "load": pr.load,
                                   "reasons": pr.reasons} for pr in rank(need, teams)]})
