"""Recording status of the camera boxes (retention, disk used, oldest segment), from their latest telemetry."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from flask import jsonify
from flask.typing import ResponseReturnValue

from coordinator.fleet.recording import from_telemetry
from coordinator.storage.flask import get_engine
from coordinator.storage.schema import devices, telemetry

from ..blueprint import bp
from ..security import current_principal, require


@bp.get("/recording/status")
@require("operator")
def recording_status() -> ResponseReturnValue:
    """Every box that records, with each camera's status; scoped to the caller's commune if any."""
    principal = current_principal()
    q = (sa.select(devices.c.id, devices.c.site, telemetry.c.ts_ms, telemetry.c.stale, telemetry.c.metrics)
         .join(telemetry, telemetry.c.device_id == devices.c.id).order_by(devices.c.site, devices.c.id))
    if principal.scope is not None:
        q = q.where(devices.c.site == principal.scope)
    boxes = []
    with get_engine().connect() as conn:
        for row in conn.execute(q):
            status = from_telemetry(row.id, row.site, int(row.ts_ms), bool(row.stale), dict(row.metrics or {}))
            if status is not None:
                boxes.append(dataclasses.asdict(status))
    return jsonify({"boxes": boxes})
