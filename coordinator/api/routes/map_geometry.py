"""The cameras' zones and counting lines on the map: where each lies on the ground, for a commune in one call.

The box configs place them (WGS84 ``geo`` of a zone or a line, as in the boxes' retained meta); seeding the fleet
stores them, so the map does not ask hundreds of boxes for their meta. Small and seldom changed: the answer has
an ETag, and a client that sends it back gets a 304.
"""

from __future__ import annotations

import hashlib
import json

from flask import Response, request
from flask.typing import ResponseReturnValue

from coordinator.storage import camera_geometry as store
from coordinator.storage.flask import get_read_engine

from ..blueprint import bp
from ..bodies import parse_query
from ..security import require
from .fleet import ScopeQuery, scoped_site


@bp.get("/map/geometry")
@require("viewer")
def map_geometry() -> ResponseReturnValue:
    """Zones (closed rings of ``[lon, lat]``) and lines (ends A, B and their "in" side) of the scope's cameras."""
    q = parse_query(ScopeQuery)
    site = scoped_site(q.site)
    with get_read_engine().connect() as conn:
        rows = store.geometry(conn, site)
    zones, lines = [], []
    for r in rows:
        about = {"device_id": r.device_id, "site": r.site, "cam": r.cam, "camera": r.camera, "id": r.target}
        if r.kind == "zone":
            zones.append({**about, "ring": r.geo})
        else:
            lines.append({**about, "a": r.geo["a"], "b": r.geo["b"], "in_side": r.geo["in_side"]})
    body = json.dumps({"zones": zones, "lines": lines}, separators=(",", ":")).encode()
    tag = hashlib.blake2b(body, digest_size=12).hexdigest()
    resp = Response(status=304) if request.if_none_match.contains(tag) else Response(body, mimetype="application/json")
    resp.set_etag(tag)
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp
