"""The R252-11 register, read by supervisors (a page of entries, a CSV export, a check of the chain), and the
viewings designated agents record in it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import asdict
from typing import Literal

from flask import Response, jsonify, stream_with_context
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field, model_validator

from coordinator.register.csv_export import rows
from coordinator.storage import register as register_store
from coordinator.storage import requisitions as requisition_store
from coordinator.storage.flask import get_engine

from ..blueprint import bp
from ..bodies import parse_body, parse_query
from ..errors import ApiError
from ..openapi import schema_model
from ..security import current_principal, require

Kind = Literal["recording_started", "recording_stopped", "viewing", "extraction", "requisition_created",
               "requisition_approved", "requisition_refused", "transmission", "download", "download_refused",
               "destruction", "legal_hold_set", "legal_hold_released", "analytics_mode_changed"]
MAX_MS = 2**53


class RegisterFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera: str | None = Field(default=None, min_length=1, max_length=64)
    procedure: str | None = Field(default=None, min_length=1, max_length=64)
    since: int | None = Field(default=None, ge=0, le=MAX_MS)
    until: int | None = Field(default=None, ge=0, le=MAX_MS)
    kind: Kind | None = None

    @model_validator(mode="after")
    def _period(self) -> RegisterFilter:
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValueError("until must be after since")
        return self

    def store_filter(self) -> register_store.Filter:
        return register_store.Filter(self.camera, self.procedure, self.since, self.until, self.kind)


class RegisterQuery(RegisterFilter):
    limit: int = Field(default=100, ge=1, le=1000)
    after: int = Field(default=0, ge=0, le=2**63 - 1)


@bp.get("/register")
@require("supervisor")
def list_register() -> ResponseReturnValue:
    """One page, oldest first; ``next_after`` continues (null on the last page)."""
    q = parse_query(RegisterQuery)
    with get_engine().connect() as conn:
        entries = register_store.page(conn, q.store_filter(), q.limit + 1, q.after)
    more = len(entries) > q.limit
    entries = entries[:q.limit]
    return jsonify({"entries": [asdict(e) for e in entries], "next_after": entries[-1].seq if more else None})


@bp.get("/register/export.csv")
@require("supervisor")
def export_register() -> ResponseReturnValue:
    """Every matching entry as CSV, streamed (the whole register may be large)."""
    f = parse_query(RegisterFilter).store_filter()
    engine = get_engine()

    def generate() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        with engine.connect() as conn:
            for row in rows(register_store.iter_all(conn, f)):
                writer.writerow(row)
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()

    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="registre.csv"'})


@bp.get("/register/verify")
@require("supervisor")
def verify_register() -> ResponseReturnValue:
    """Recompute the whole chain now; names the first bad entry."""
    with get_engine().connect() as conn:
        count, broken = register_store.verify(conn)
    return jsonify({"intact": broken is None, "entries": count,
                    "first_bad": None if broken is None else {"seq": broken.seq, "reason": broken.reason}})


@schema_model
class ViewingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera: str = Field(min_length=5, max_length=64, description="'<site>/<device>/<camera>'",
                        pattern=r"^[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*$")
    what: str = Field(min_length=1, max_length=128, description="the snapshot or clip viewed (file, time span)")
    procedure: str | None = Field(default=None, min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=1000)


@bp.post("/register/viewings")
@require("operator")
def record_viewing() -> ResponseReturnValue:
    """A designated agent records a viewing of recorded images (R252-11: at every viewing)."""
    principal = current_principal()
    with get_engine().begin() as conn:
        if not requisition_store.is_designated(conn, principal.user_id):
            raise ApiError(403, f"{principal.username!r} is not a designated agent (R252-11): only designated "
                                "agents view recorded images")
        body = parse_body(ViewingIn)
        entry = register_store.append(conn, "viewing", principal.username, camera=body.camera,
                                      procedure=body.procedure, subject=body.what, detail=body.reason)
    return jsonify(asdict(entry)), 201
