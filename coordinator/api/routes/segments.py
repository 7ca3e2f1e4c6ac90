"""Segment files uploaded by the boxes, resumable by chunk (see ``coordinator.evidence.upload``).

Each box has its own upload token (``vigie-coordinator legal box-token DEVICE``) and may send only
files under its own device id.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue

from coordinator.evidence.errors import UploadRefusedError
from coordinator.evidence.upload import MAX_CHUNK, Target, put_chunk, received, target
from coordinator.storage import requisitions as store
from coordinator.storage.flask import get_engine

from ..blueprint import bp
from ..errors import ApiError
from ..security import for_accounts

_PATH = "/segments/<site>/<device>/<camera>/<name>"


def _box_target(site: str, device: str, camera: str, name: str) -> Target:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "a box upload token is required")
    with get_engine().connect() as conn:
        box = store.box_by_token(conn, token.strip())
    if box is None:
        raise ApiError(401, "unknown box upload token")
    if box != device:
        raise ApiError(403, f"box {box!r} uploads only its own segments, not {device!r}'s")
    try:
        return target(site, device, camera, name)
    except UploadRefusedError as exc:
        raise ApiError(exc.status, str(exc)) from exc


@bp.get(_PATH)
@for_accounts("box")
def segment_status(site: str, device: str, camera: str, name: str) -> ResponseReturnValue:
    """How many bytes of the segment arrived, to resume after an interruption."""
    t = _box_target(site, device, camera, name)
    held, complete = received(Path(current_app.config["SEGMENTS_DIR"]), t)
    return jsonify({"received": held, "complete": complete})


@bp.put(_PATH)
@for_accounts("box")
def upload_segment_chunk(site: str, device: str, camera: str, name: str) -> ResponseReturnValue:
    t = _box_target(site, device, camera, name)
    if (request.content_length or 0) > MAX_CHUNK:
        raise ApiError(413, f"chunks are at most {MAX_CHUNK} bytes")
    try:
        held, complete = put_chunk(Path(current_app.config["SEGMENTS_DIR"]), t, request.headers.get("Content-Range"),
                                   request.headers.get("X-Chunk-SHA256"), request.headers.get("X-File-SHA256"),
                                   request.get_data(cache=False))
    except UploadRefusedError as exc:
        raise ApiError(exc.status, str(exc), [{"field": "received", "reason": str(exc.received)}]) from exc
    return jsonify({"received": held, "complete": complete}), 201 if complete else 200
