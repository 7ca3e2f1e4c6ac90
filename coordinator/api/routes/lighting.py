"""Lighting: overrides (operators), group calendars (supervisors), and the commands' acknowledgements.

A command is stored with the devices that must answer it, then published at QoS 1; the response says whether the
broker took it. If not, it stays pending and the ``lighting.republish`` job publishes it while it is unexpired.
Commune staff command their commune's groups and boxes only; city-wide commands need métropole staff.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal, Self

from flask import current_app, jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field, SkipValidation, model_validator

from coordinator.auth import Principal
from coordinator.lighting import service
from coordinator.lighting.calendars import Calendar, CalendarError, entry_groups, validate_calendar
from coordinator.lighting.commands import (
    CALENDAR_COMMAND,
    CITY,
    OVERRIDE_COMMAND,
    Address,
    StoredCommand,
    address,
    override_args,
    summarise_acks,
)
from coordinator.mqtt_publisher import Publisher, PublisherSettings
from coordinator.storage import lighting as store
from coordinator.storage.flask import get_engine, get_read_engine

from ..blueprint import bp
from ..bodies import parse_body, parse_query
from ..errors import bad_request, conflict, forbidden, not_found
from ..openapi import schema_model
from ..params import AsciiInteger, Millis
from ..schema_rules import absent, exactly_one, when
from ..security import check_commune, current_principal, require
from ..vocab import Commune
from .fleet import scoped_site

_PUBLISHER = "vigie.publisher"
_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
#: Longest override and longest delay before a calendar push must be applied.
MAX_OVERRIDE_S = 7 * 86_400


def publisher() -> Publisher:
    """The app's MQTT publisher, created on first use (a web worker that never commands never connects)."""
    pub = current_app.extensions.get(_PUBLISHER)
    if pub is None:
        pub = current_app.extensions[_PUBLISHER] = Publisher(PublisherSettings.from_config(current_app.config, "api"))
    assert isinstance(pub, Publisher)
    return pub


class _Addressed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Literal["group", "commune", "city", "device"] = Field(
        description="group: a group of a commune; commune: every light of a commune (group commune-<site>); "
        "city: every light of the métropole (group city); device: one box, with lum or group")
    site: Commune | None = Field(None, description="commune slug (group and commune scopes)")
    group: str | None = Field(None, pattern=_ID, description="group name (group scope; or within a device)")
    device: str | None = Field(None, pattern=_ID, description="box id (device scope)")

    def address(self) -> Address:
        try:
            return address(self.scope, self.site, self.group, None if self.scope != "device" else self.device)
        except ValueError as exc:
            raise bad_request(str(exc)) from exc


@schema_model
class OverrideRequest(_Addressed):
    """A TALQ override: hold ``level`` from ``start`` until the expiry; ``level`` null returns to the program.

    Exactly one of ``expires`` and ``duration_s``; the device scope names exactly one of ``lum`` and ``group``.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={"allOf": [
        exactly_one("expires", "duration_s"), when("scope", "device", exactly_one("lum", "group"), absent("lum"))]})

    lum: str | None = Field(None, pattern=_ID, description="luminaire id (device scope, instead of group)")
    level: float | None = Field(..., ge=0, le=100, description="percent; null: cancel, back to the program")
    ramp_up_s: float = Field(0, ge=0, le=3600)
    ramp_down_s: float = Field(0, ge=0, le=3600)
    start: Millis | None = Field(None, description="ms since epoch; null: at once")
    expires: Millis | None = Field(None, description="ms since epoch; or give duration_s")
    duration_s: int | None = Field(None, ge=1, le=MAX_OVERRIDE_S, description="from now; or give expires")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.expires is None) == (self.duration_s is None):
            raise ValueError("give exactly one of expires and duration_s")
        if self.scope == "device" and (self.lum is None) == (self.group is None):
            raise ValueError("a device override names exactly one of lum and group")
        if self.scope != "device" and self.lum is not None:
            raise ValueError("lum is only for the device scope")
        return self


@schema_model
class CalendarRequest(_Addressed):
    """The calendar a group follows from now on; null returns its boxes to their configured calendars.

    A box follows one calendar for all its luminaires: the boxes of the group adopt it whole, so entries meant for
    the group only name it in their ``groups``.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "not": {"required": ["scope"], "properties": {"scope": {"const": "device"}}}})

    calendar: Annotated[Calendar, SkipValidation] | None = Field(
        ..., description="as in a box config ({'entries': [...]}), or null; checked by validate_calendar")
    valid_s: int = Field(86_400, ge=60, le=MAX_OVERRIDE_S, description="how late a box may still apply it")

    @model_validator(mode="after")
    def _not_device(self) -> Self:
        if self.scope == "device":
            raise ValueError("calendars are set per group, commune or city")
        return self


class CommandQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: Commune | None = None
    limit: Annotated[int, AsciiInteger, Field(ge=1, le=500)] = 50


class CalendarQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: Commune | None = None


def _authorise(principal: Principal, addr: Address, device_site: str | None = None) -> None:
    if addr.scope == "city":
        if principal.commune is not None:
            raise forbidden("a city-wide command needs métropole staff")
        return
    check_commune(principal, device_site or addr.site)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _issue(addr: Address, name: str, args: dict[str, Any], now: int, expires: int,
           calendar_group: tuple[str, str] | None = None) -> ResponseReturnValue:
    principal = current_principal()
    engine = get_engine()
    if addr.scope == "device":
        with engine.connect() as conn:
            site = store.device_site(conn, addr.target)
        if site is None:
            raise not_found("device", addr.target)
        addr = Address("device", site, addr.target)
    _authorise(principal, addr)
    try:
        issued = service.issue(engine, addr=addr, name=name, args=args,
                               issuer=current_app.config["COORDINATOR_ID"], requested_by=principal.username,
                               now_ms=now, expires_ms=expires, calendar_group=calendar_group)
    except service.NoTargetError as exc:
        raise conflict(str(exc)) from exc
    service.publish_pending(engine, publisher(), _now_ms(), [issued.command.cmd_id])
    return jsonify(_command_json(issued.command)), 201


@bp.post("/lighting/overrides")
@require("operator")
def set_override() -> ResponseReturnValue:
    body = parse_body(OverrideRequest)
    addr = body.address()
    now = _now_ms()
    expires = body.expires if body.expires is not None else now + 1000 * (body.duration_s or 0)
    if expires <= now:
        raise bad_request("expires: already past")
    if expires - now > MAX_OVERRIDE_S * 1000:
        raise bad_request(f"expires: an override lasts at most {MAX_OVERRIDE_S // 86_400} days")
    if body.start is not None and body.start >= expires:
        raise bad_request("start: must be before the expiry")
    inner_group = body.group if body.scope == "device" else None
    args = override_args(body.level, body.ramp_up_s, body.ramp_down_s, body.start, body.lum, inner_group)
    return _issue(addr, OVERRIDE_COMMAND, args, now, expires)


@bp.post("/lighting/calendars")
@require("supervisor")
def set_calendar() -> ResponseReturnValue:
    body = parse_body(CalendarRequest)
    addr = body.address()
    # Documented as a Calendar, validated here and kept as given: what is stored and pushed is the client's
    # mapping, which the nodes parse again (see coordinator.lighting.calendars).
    calendar: Any = body.calendar
    if calendar is not None:
        if not isinstance(calendar, dict):
            raise bad_request("calendar: must be an object ({'entries': [...]}) or null")
        try:
            validate_calendar(calendar)
        except CalendarError as exc:
            raise bad_request(str(exc), exc.details) from exc
    now = _now_ms()
    assert addr.group is not None
    return _issue(addr, CALENDAR_COMMAND, {"calendar": calendar}, now, now + 1000 * body.valid_s,
                  calendar_group=(addr.site, addr.group))


@bp.get("/lighting/calendars")
@require("viewer")
def list_calendars() -> ResponseReturnValue:
    q = parse_query(CalendarQuery)
    site = scoped_site(q.site)
    with get_read_engine().connect() as conn:
        cals = store.list_calendars(conn, site)
    out = []
    for c in cals:
        groups: list[str] = []
        if c.calendar is not None:
            try:
                groups = entry_groups(validate_calendar(c.calendar))
            except CalendarError:
                groups = []
        out.append({"site": None if c.site == CITY else c.site, "group": c.group, "calendar": c.calendar,
                    "entry_groups": groups, "updated_ms": c.updated_ms, "updated_by": c.updated_by,
                    "cmd_id": c.cmd_id})
    return jsonify({"calendars": out})


@bp.get("/lighting/commands")
@require("viewer")
def list_commands() -> ResponseReturnValue:
    q = parse_query(CommandQuery)
    site = scoped_site(q.site)
    with get_read_engine().connect() as conn:
        cmds = store.list_commands(conn, site, q.limit)
    return jsonify({"commands": [_command_json(c) for c in cmds]})


@bp.get("/lighting/commands/<cmd_id>")
@require("viewer")
def get_command(cmd_id: str) -> ResponseReturnValue:
    with get_read_engine().connect() as conn:
        cmd = store.get_command(conn, cmd_id)
        if cmd is None:
            raise not_found("command", cmd_id)
        if cmd.site != CITY:
            check_commune(current_principal(), cmd.site)
    return jsonify(_command_json(cmd))


def _command_json(cmd: StoredCommand) -> dict[str, Any]:
    with get_read_engine().connect() as conn:
        topics = store.command_topics(conn, cmd.cmd_id)
        acks = store.command_acks(conn, cmd.cmd_id)
    summary = summarise_acks(acks, cmd.expires_ms, _now_ms())
    return {
        "cmd_id": cmd.cmd_id, "name": cmd.name, "scope": cmd.scope, "site": None if cmd.site == CITY else cmd.site,
        "target": cmd.target, "issuer": cmd.issuer, "cseq": cmd.cseq, "created_ms": cmd.created_ms,
        "expires_ms": cmd.expires_ms, "args": cmd.args, "requested_by": cmd.requested_by,
        "published": all(t.published_ms is not None for t in topics),
        "topics": [{"topic": t.topic, "published_ms": t.published_ms, "attempts": t.attempts,
                    "last_error": t.last_error} for t in topics],
        "state": summary.state, "expected": summary.expected, "results": summary.by_result,
        "no_answer": summary.no_answer,
        "acks": [{"device_id": a.device_id, "expected": a.expected, "result": a.result, "detail": a.detail,
                  "applied": a.applied, "ack_ms": a.ack_ms} for a in acks],
    }
