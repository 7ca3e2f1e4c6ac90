"""Judicial requisitions: designated agents record them, another supervisor decides, an agent extracts.

Every step appends to the register in the same transaction. Authorities (``authority`` accounts,
their own bearer tokens, unknown to the rest of the API) download the package of their own
requisitions through a time-limited link; each download, and each refused one, is registered.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Literal

from flask import current_app, jsonify, request, send_file
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from coordinator.auth import Principal
from coordinator.evidence import EvidenceError, build_package, find_segments, load_private_key
from coordinator.legal.box_commands import COMMAND_TTL_MS, BoxCommand, release_commands, upload_commands
from coordinator.legal.errors import BadRequisitionError, LegalError, NotAllowedError, WrongStateError
from coordinator.legal.requisitions import check_basis, check_window, decide
from coordinator.lighting import service as command_service
from coordinator.lighting.commands import Address
from coordinator.storage import register as register_store
from coordinator.storage import requisitions as store
from coordinator.storage.flask import get_engine

from ..blueprint import bp
from ..bodies import parse_body, parse_query
from ..errors import ApiError, not_found
from ..openapi import schema_model
from ..security import current_principal, for_accounts, require
from .lighting import publisher

log = logging.getLogger("vigie.requisitions")

Camera = str
DAY_MS = 24 * 3600 * 1000


@schema_model
class RequisitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    authority_id: int = Field(ge=1, le=2**31 - 1)
    procedure: str = Field(min_length=1, max_length=64, description="procedure number (PV, parquet...)")
    legal_basis: Literal["60-1", "77-1-1", "99-3", "other"]
    legal_basis_text: str | None = Field(default=None, min_length=1, max_length=200,
                                         description="the text relied on, required with 'other'")
    cameras: list[Camera] = Field(min_length=1, max_length=16,
                                  description="'<site>/<device>/<camera>'")
    start_ms: int = Field(ge=0, le=2**53)
    end_ms: int = Field(ge=0, le=2**53)
    reason: str = Field(min_length=1, max_length=1000)


@schema_model
class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool
    note: str | None = Field(default=None, max_length=1000)


@schema_model
class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=1000, description="why the hold ends (procedure closed...)")


@schema_model
class PackageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    link_days: int | None = Field(default=None, ge=1, le=30, description="default DOWNLOAD_LINK_DAYS (14)")


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["pending", "approved", "refused"] | None = None


def _now() -> int:
    return int(time.time() * 1000)


def _to_api(err: LegalError) -> ApiError:
    status = 400 if isinstance(err, BadRequisitionError) else 403 if isinstance(err, NotAllowedError) else 409
    return ApiError(status, str(err))


def _designated(principal: Principal) -> bool:
    with get_engine().connect() as conn:
        return store.is_designated(conn, principal.user_id)


def _require_designated() -> Principal:
    principal = current_principal()
    if not _designated(principal):
        raise ApiError(403, f"{principal.username!r} is not a designated agent (R252-11): only designated agents "
                            "record requisitions and extract images")
    return principal


def _camera_ok(camera: str) -> bool:
    parts = camera.split("/")
    return len(parts) == 3 and all(0 < len(p) <= 64 for p in parts) and len(camera) <= 64


@bp.post("/requisitions")
@require("operator")
def create_requisition() -> ResponseReturnValue:
    """A designated agent records a requisition received from an authority."""
    principal = _require_designated()
    body = parse_body(RequisitionIn)
    now = _now()
    bad = [c for c in body.cameras if not _camera_ok(c)]
    if bad:
        raise ApiError(400, f"cameras must be '<site>/<device>/<camera>' (at most 64 characters): {bad}")
    try:
        check_window(body.start_ms, body.end_ms, now)
        check_basis(body.legal_basis, body.legal_basis_text)
    except LegalError as exc:
        raise _to_api(exc) from exc
    with get_engine().begin() as conn:
        authority = store.authority_exists(conn, body.authority_id)
        if authority is None:
            raise ApiError(400, f"authority_id {body.authority_id}: no such active authority account")
        rid = store.create(conn, authority_id=body.authority_id, procedure=body.procedure,
                           legal_basis=body.legal_basis, legal_basis_text=body.legal_basis_text,
                           cameras=sorted(set(body.cameras)), start_ms=body.start_ms, end_ms=body.end_ms,
                           reason=body.reason, requested_by=principal.username, at_ms=now)
        register_store.append(conn, "requisition_created", principal.username, procedure=body.procedure,
                              subject=f"requisition {rid}", at_ms=now, detail=json.dumps(
                                  {"authority": authority, "legal_basis": body.legal_basis,
                                   "cameras": sorted(set(body.cameras)), "start_ms": body.start_ms,
                                   "end_ms": body.end_ms}, ensure_ascii=False)[:2000])
        created = store.get(conn, rid)
    assert created is not None
    return jsonify(_out(created)), 201


def _out(r: store.Requisition) -> dict[str, object]:
    return asdict(r)


def _reader() -> Principal:
    principal = current_principal()
    if not (principal.can("supervisor") or _designated(principal)):
        raise ApiError(403, "requisitions are read by designated agents and supervisors")
    return principal


@bp.get("/requisitions")
@require("operator")
def list_requisitions() -> ResponseReturnValue:
    _reader()
    q = parse_query(ListQuery)
    with get_engine().connect() as conn:
        return jsonify({"requisitions": [_out(r) for r in store.listing(conn, status=q.status)]})


@bp.get("/requisitions/<id32:rid>")
@require("operator")
def get_requisition(rid: int) -> ResponseReturnValue:
    _reader()
    with get_engine().connect() as conn:
        r = store.get(conn, rid)
        if r is None:
            raise not_found("requisition", rid)
        links = store.links_of(conn, rid)
    return jsonify({**_out(r), "links": [{"id": i, "created_ms": c, "expires_ms": e} for i, c, e in links]})


@bp.post("/requisitions/<id32:rid>/decision")
@require("supervisor")
def decide_requisition(rid: int) -> ResponseReturnValue:
    """Approve or refuse; never the requester (two different people), never twice."""
    principal = current_principal()
    body = parse_body(DecisionIn)
    now = _now()
    with get_engine().begin() as conn:
        r = store.get(conn, rid, for_update=True)
        if r is None:
            raise not_found("requisition", rid)
        try:
            d = decide(r.status, r.requested_by, principal.username, body.approve, now, body.note)
        except LegalError as exc:
            raise _to_api(exc) from exc
        if not store.set_decision(conn, rid, d.status, d.by, d.at_ms, d.note):
            raise ApiError(409, "the requisition was decided meanwhile")
        register_store.append(conn, f"requisition_{d.status}", principal.username, procedure=r.procedure,
                              subject=f"requisition {rid}", detail=d.note, at_ms=now)
        if d.status == "approved":  # the window's recordings are kept past their retention until released
            for camera in r.cameras:
                register_store.append(conn, "legal_hold_set", principal.username, camera=camera,
                                      procedure=r.procedure, subject=f"requisition {rid}",
                                      detail=f"window [{r.start_ms}, {r.end_ms})", at_ms=now)
        updated = store.get(conn, rid)
    assert updated is not None
    if d.status == "approved":
        _send_to_boxes(upload_commands(rid, r.cameras, r.start_ms, r.end_ms), principal.username, now)
    return jsonify(_out(updated))


@bp.post("/requisitions/<id32:rid>/release")
@require("supervisor")
def release_requisition(rid: int) -> ResponseReturnValue:
    """End the legal hold of an approved requisition: its recordings go back under their retention."""
    principal = current_principal()
    body = parse_body(ReleaseIn)
    now = _now()
    with get_engine().begin() as conn:
        r = store.get(conn, rid, for_update=True)
        if r is None:
            raise not_found("requisition", rid)
        if r.status != "approved":
            raise _to_api(WrongStateError(f"only an approved requisition holds recordings; this one is {r.status}"))
        subject = f"requisition {rid}"
        done = register_store.iter_all(conn, register_store.Filter(procedure=r.procedure, kind="legal_hold_released"))
        if any(e.subject == subject for e in done):
            raise ApiError(409, "the hold of this requisition was already released")
        for camera in r.cameras:
            register_store.append(conn, "legal_hold_released", principal.username, camera=camera,
                                  procedure=r.procedure, subject=subject, detail=body.note, at_ms=now)
    _send_to_boxes(release_commands(rid, r.cameras), principal.username, now)
    return jsonify(_out(r))


def _send_to_boxes(commands: list[BoxCommand], requested_by: str, now: int) -> None:
    """Store, then publish, each box's command; a box unknown to the registry is logged and skipped.

    A broker outage leaves the commands pending: the periodic job publishes them later.
    """
    engine = get_engine()
    ids = []
    for c in commands:
        try:
            issued = command_service.issue(engine, addr=Address("device", c.site, c.device), name=c.name,
                                           args=c.args, issuer=current_app.config["COORDINATOR_ID"],
                                           requested_by=requested_by, now_ms=now, expires_ms=now + COMMAND_TTL_MS)
        except command_service.NoTargetError as exc:
            log.warning("%s for %s/%s not sent: %s", c.name, c.site, c.device, exc)
            continue
        ids.append(issued.command.cmd_id)
    if ids:
        command_service.publish_pending(engine, publisher(), _now(), ids)


@bp.post("/requisitions/<id32:rid>/package")
@require("operator")
def package_requisition(rid: int) -> ResponseReturnValue:
    """A designated agent extracts the approved window into a signed package and a download link."""
    principal = _require_designated()
    body = parse_body(PackageIn)
    cfg = current_app.config
    if not cfg.get("EVIDENCE_KEY_FILE"):
        raise ApiError(409, "no evidence signing key configured (EVIDENCE_KEY_FILE; "
                            "'vigie-coordinator evidence keygen' creates one)")
    now = _now()
    with get_engine().connect() as conn:
        r = store.get(conn, rid)
    if r is None:
        raise not_found("requisition", rid)
    if r.status != "approved":
        raise _to_api(WrongStateError(f"only an approved requisition is extracted; this one is {r.status}"))
    segments = find_segments(Path(cfg["SEGMENTS_DIR"]), r.cameras, r.start_ms, r.end_ms)
    if not segments:
        raise ApiError(409, "no segment of these cameras covers the window on the coordinator yet")
    out = Path(cfg["EVIDENCE_DIR"]) / f"requisition-{rid}-{now}"
    try:
        key = load_private_key(Path(cfg["EVIDENCE_KEY_FILE"]))
        archive = build_package(out, segments, {
            "id": r.id, "authority": r.authority, "procedure": r.procedure, "legal_basis": r.legal_basis,
            "legal_basis_text": r.legal_basis_text, "cameras": r.cameras, "start_ms": r.start_ms,
            "end_ms": r.end_ms, "reason": r.reason, "requested_by": r.requested_by}, r.decided_by or "",
            r.decided_ms or now, key, now)
    except (EvidenceError, OSError) as exc:
        raise ApiError(409, f"the package could not be made: {exc}") from exc
    days = body.link_days or int(cfg["DOWNLOAD_LINK_DAYS"])
    expires = now + days * DAY_MS
    with get_engine().begin() as conn:
        for camera in sorted({s.camera for s in segments}):
            files = [s.path.name for s in segments if s.camera == camera]
            register_store.append(conn, "extraction", principal.username, camera=camera, procedure=r.procedure,
                                  subject=f"requisition {rid}", detail=f"{len(files)} files: {' '.join(files)}"[:2000],
                                  at_ms=now)
        token = store.add_link(conn, rid, str(archive), now, expires)
        register_store.append(conn, "transmission", principal.username, procedure=r.procedure,
                              subject=f"requisition {rid}",
                              detail=f"download link for {r.authority}, valid until {expires}", at_ms=now)
    return jsonify({"download_path": f"/api/v1/downloads/{token}", "expires_ms": expires,
                    "files": len(segments)}), 201


def _authority() -> tuple[int, str]:
    """The authority account of this request's bearer token; 401 otherwise."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "an authority account's bearer token is required")
    with get_engine().connect() as conn:
        found = store.authority_by_token(conn, token.strip())
    if found is None:
        raise ApiError(401, "unknown or inactive authority token")
    return found


@bp.get("/authority/requisitions")
@for_accounts("authority")
def authority_requisitions() -> ResponseReturnValue:
    """An authority's own requisitions, and nothing else."""
    aid, _name = _authority()
    with get_engine().connect() as conn:
        own = store.listing(conn, authority_id=aid)
        body = [{**_out(r), "links": [{"id": i, "created_ms": c, "expires_ms": e}
                                      for i, c, e in store.links_of(conn, r.id)]} for r in own]
    return jsonify({"requisitions": body})


@bp.get("/downloads/<token>")
@for_accounts("authority")
def download_package(token: str) -> ResponseReturnValue:
    """The package behind a link, for the authority that asked for it, before the link expires."""
    aid, name = _authority()
    now = _now()
    with get_engine().begin() as conn:
        link = store.link_by_token(conn, token)
        if link is None:
            raise ApiError(404, "unknown download link")
        r = store.get(conn, link.requisition_id)
        assert r is not None
        refusal = None
        if r.authority_id != aid:
            refusal = ApiError(403, "this package belongs to another authority's requisition")
        elif now >= link.expires_ms:
            refusal = ApiError(410, "this download link has expired; ask the centre for a new one")
        register_store.append(conn, "download_refused" if refusal else "download", f"authority:{aid}"[:64],
                              procedure=r.procedure, subject=f"requisition {r.id} link {link.id}",
                              detail=f"{name}: {refusal.message}" if refusal else name, at_ms=now)
    if refusal is not None:
        raise refusal
    return send_file(link.package, mimetype="application/zip", as_attachment=True,
                     download_name=f"requisition-{r.id}.zip")


@bp.get("/authorities")
@require("operator")
def list_authorities() -> ResponseReturnValue:
    """The active authority accounts a requisition can name (designated agents and supervisors)."""
    _reader()
    with get_engine().connect() as conn:
        return jsonify({"authorities": [{"id": i, "name": n} for i, n in store.authorities(conn)]})
