"""Citizen reports, Open311 GeoReport v2 style: ``GET /open311/services``, ``POST /open311/requests``,
``GET /open311/requests/{id}``.

These routes are public, on purpose. GeoReport's ``api_key`` identifies a client app, and a key
shipped inside a citizen app is public anyway; asking citizens for accounts would exclude most
of them. What protects the service instead: strict validation (a known service code, a point
inside the métropole, bounded text, no unknown field), a per-client quota kept in the database
(so every web worker shares it; the client is a keyed hash of its address, never the address),
deduplication (a flood of the same report becomes one intervention with a count), and the
fact that a report never dispatches anyone by itself: it opens a ``new`` intervention for an
operator to triage. Personal fields GeoReport allows (name, e-mail, phone) are accepted for
compatibility and dropped, never stored.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from coordinator.dispatch import service
from coordinator.interventions.geo import BBOX, in_metropole, nearest_commune
from coordinator.interventions.services import SERVICES
from coordinator.storage import interventions as store
from coordinator.storage import teams as team_store
from coordinator.storage.flask import get_engine

from ..blueprint import bp
from ..bodies import parse_body, parse_form
from ..errors import ApiError, not_found
from ..openapi import schema_model
from .dispatch_common import now_ms

DEFAULT_RATE_LIMIT = 5
DEFAULT_RATE_WINDOW_S = 3600
_IGNORED = ("api_key", "jurisdiction_id", "email", "device_id", "account_id", "first_name", "last_name", "phone",
            "media_url")


@schema_model
class Open311Request(BaseModel):
    """A service request as GeoReport v2 posts it (form-encoded or JSON)."""

    model_config = ConfigDict(extra="forbid")
    service_code: str = Field(max_length=32, description="one of GET /open311/services")
    lat: float = Field(ge=-90, le=90, description="WGS84 latitude, inside the métropole's box",
                       json_schema_extra={"minimum": BBOX[0], "maximum": BBOX[2]})
    long: float = Field(ge=-180, le=180, description="WGS84 longitude, inside the métropole's box",
                        json_schema_extra={"minimum": BBOX[1], "maximum": BBOX[3]})
    description: str | None = Field(default=None, max_length=4000)
    address_string: str | None = Field(default=None, max_length=250)
    api_key: str | None = Field(default=None, max_length=128, description="accepted, not required, not stored")
    jurisdiction_id: str | None = Field(default=None, max_length=64, description="accepted, not used")
    email: str | None = Field(default=None, max_length=254, description="accepted, never stored")
    device_id: str | None = Field(default=None, max_length=128, description="accepted, never stored")
    account_id: str | None = Field(default=None, max_length=128, description="accepted, never stored")
    first_name: str | None = Field(default=None, max_length=128, description="accepted, never stored")
    last_name: str | None = Field(default=None, max_length=128, description="accepted, never stored")
    phone: str | None = Field(default=None, max_length=64, description="accepted, never stored")
    media_url: str | None = Field(default=None, max_length=512, description="accepted, never fetched nor stored")

    @field_validator("service_code")
    @classmethod
    def _known_service(cls, value: str) -> str:
        if value not in SERVICES:
            raise ValueError(f"unknown service_code {value!r}; see GET /open311/services")
        return value

    @model_validator(mode="after")
    def _inside(self) -> Open311Request:
        if not in_metropole(self.lat, self.long):
            raise ValueError("lat/long: the point is outside Dijon Métropole")
        return self


def _parse() -> Open311Request:
    if request.is_json:
        return parse_body(Open311Request)
    if request.mimetype != "application/x-www-form-urlencoded":
        raise ApiError(415, "expected application/x-www-form-urlencoded (GeoReport v2) or application/json")
    return parse_form(Open311Request)


def _client_key() -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, (request.remote_addr or "?").encode(), hashlib.sha256).hexdigest()


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@bp.get("/open311/services")
def open311_services() -> ResponseReturnValue:
    return jsonify([{"service_code": s.code, "service_name": s.name, "description": s.description,
                     "metadata": False, "type": "realtime", "keywords": s.skill, "group": s.group}
                    for s in SERVICES.values()])


@bp.post("/open311/requests")
def open311_post() -> ResponseReturnValue:
    body = _parse()
    svc = SERVICES[body.service_code]
    limit = int(current_app.config.get("OPEN311_RATE_LIMIT", DEFAULT_RATE_LIMIT))
    window_s = int(current_app.config.get("OPEN311_RATE_WINDOW_S", DEFAULT_RATE_WINDOW_S))
    now = now_ms()
    with get_engine().begin() as conn:
        if not team_store.take_quota(conn, _client_key(), limit, window_s * 1000, now):
            raise ApiError(429, f"at most {limit} reports per {window_s} s from one client; try again later")
        iid, merged = service.open_citizen_report(
            conn, svc.code, svc.skill, svc.priority, svc.name, body.lat, body.long,
            nearest_commune(body.lat, body.long), body.description, body.address_string, now)
    notice = ("already reported nearby: your report was added to it" if merged
              else "thank you: the report will be reviewed by the control post")
    return jsonify([{"service_request_id": str(iid), "service_notice": notice, "account_id": None}]), 201


@bp.get("/open311/requests/<id:request_id>")
def open311_get(request_id: int) -> ResponseReturnValue:
    """Status of a citizen report (not its text: it may hold personal data)."""
    with get_engine().connect() as conn:
        row = store.get(conn, request_id)
    if row is None or row.source != "citizen" or row.service_code is None:
        raise not_found("service request", str(request_id))
    status = "closed" if row.state in ("resolved", "closed") else "open"
    return jsonify([{"service_request_id": str(row.id), "status": status, "service_code": row.service_code,
                     "service_name": SERVICES[row.service_code].name, "requested_datetime": _iso(row.first_ms),
                     "updated_datetime": _iso(row.updated_ms), "lat": row.lat, "long": row.lon}])
