"""Lighting as measured: each luminaire's state from its node's telemetry, and each group's summary.

Read-only and commune-scoped like the rest of ``/lighting``: commune staff see their commune, métropole staff
every commune or the one they ask for. The luminaire list is paged (at most 1,000 a page) because a métropole
has tens of thousands; the group summary is computed over every luminaire of the scope in one pass.
"""

from __future__ import annotations

import re
import time

from flask import Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from coordinator.lighting import card, state
from coordinator.lighting.group_summary import GroupSummaryCache
from coordinator.lighting.layer import LuminaireLayerCache
from coordinator.storage.flask import get_read_engine

from ..blueprint import bp
from ..bodies import parse_query
from ..errors import not_found
from ..security import check_commune, current_principal, require
from ..vocab import Commune
from .fleet import scoped_site

_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_PAGE = 1000


class LuminaireQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: Commune | None = Field(None, description="commune slug")
    device: str | None = Field(None, pattern=_ID, description="light node (cabinet) id")
    group: str | None = Field(None, pattern=_ID, description="group name; commune-<site> is the whole commune")
    limit: int = Field(200, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=1_000_000)


class GroupQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: Commune | None = Field(None, description="commune slug")


def _now_ms() -> int:
    return int(time.time() * 1000)


@bp.get("/lighting/luminaires")
@require("viewer")
def list_luminaires() -> ResponseReturnValue:
    q = parse_query(LuminaireQuery)
    site = scoped_site(q.site)
    now = _now_ms()
    with get_read_engine().connect() as conn:
        total, page = state.luminaire_page(conn, site, q.device, q.group, q.limit, q.offset, now)
    return jsonify({"total": total, "limit": q.limit, "offset": q.offset, "as_of_ms": now,
                    "luminaires": [lum.as_json() for lum in page]})


@bp.get("/lighting/groups")
@require("viewer")
def list_groups() -> ResponseReturnValue:
    q = parse_query(GroupQuery)
    site = scoped_site(q.site)
    now = _now_ms()
    with get_read_engine().connect() as conn:
        groups = _group_cache().group_states(conn, site, now)
    return jsonify({"as_of_ms": now, "groups": groups})


def _layer_cache() -> LuminaireLayerCache:
    """The app's luminaire layer, kept between requests (see :mod:`coordinator.lighting.layer`)."""
    cache = current_app.extensions.get("vigie.luminaire_layer")
    if cache is None:
        cache = current_app.extensions.setdefault("vigie.luminaire_layer", LuminaireLayerCache())
    assert isinstance(cache, LuminaireLayerCache)
    return cache


def _group_cache() -> GroupSummaryCache:
    """The app's group summaries, kept between requests from the same measured cabinets as the layer."""
    cache = current_app.extensions.get("vigie.group_summaries")
    if cache is None:
        cache = current_app.extensions.setdefault("vigie.group_summaries", GroupSummaryCache(_layer_cache()))
    assert isinstance(cache, GroupSummaryCache)
    return cache


@bp.get("/lighting/map")
@require("viewer")
def luminaire_map() -> ResponseReturnValue:
    """Every luminaire of the scope by columns, with an ETag; ``If-None-Match`` with the current one gets a 304."""
    q = parse_query(GroupQuery)
    site = scoped_site(q.site)
    now = _now_ms()
    with get_read_engine().connect() as conn:
        layer = _layer_cache().layer(conn, site, now)
    if request.if_none_match.contains(layer.etag):
        resp = Response(status=304)
    else:
        resp = Response(layer.body(now), mimetype="application/json")
    resp.set_etag(layer.etag)
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


_ID_RE = re.compile(_ID)


@bp.get("/lighting/luminaires/<device_id>/<lum_id>")
@require("viewer")
def luminaire_card(device_id: str, lum_id: str) -> ResponseReturnValue:
    """One luminaire for its card on the map: measured state, its cabinet's readings, its groups' energy today."""
    if not _ID_RE.match(device_id) or not _ID_RE.match(lum_id):
        raise not_found("luminaire", f"{device_id}/{lum_id}")
    now = _now_ms()
    with get_read_engine().connect() as conn:
        lum = card.luminaire(conn, device_id, lum_id, now)
        if lum is None:
            raise not_found("luminaire", f"{device_id}/{lum_id}")
        check_commune(current_principal(), lum.site)
        body = card.card(conn, lum, now)
    return jsonify({"as_of_ms": now, **body})
