"""The fleet: device list and detail, health summary, and the compact map layer.

Commune staff see their commune's boxes only: a list is narrowed to it, and asking for another commune is a 403
rather than an empty page, so a misconfigured UI is noticed.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import threading
import time
from typing import Annotated, Any, Literal

from flask import Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field, field_validator

import vigie_wire as wire
from coordinator.centre import CentreCache, read_state
from coordinator.fleet import SILENT_AFTER_MS, Device, health_summary, map_layer
from coordinator.mqtt_publisher import PublisherSettings
from coordinator.retained import BrokerUnreadableError, read_retained
from coordinator.storage import fleet_queries as fleet_store
from coordinator.storage.flask import get_read_engine

from ..blueprint import bp
from ..bodies import parse_query
from ..errors import ApiError, not_found
from ..params import AsciiInteger, Offset
from ..security import check_commune, current_principal, require
from ..vocab import Commune

Status = Literal["unknown", "online", "offline", "stale"]
Role = Literal["camera", "light"]


class DeviceQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: Commune | None = None
    status: Status | None = None
    role: Role | None = None
    district: str | None = Field(None, max_length=64)
    bbox: str | None = Field(None, description="min_lon,min_lat,max_lon,max_lat")
    limit: Annotated[int, AsciiInteger, Field(ge=1, le=1000)] = 100
    offset: Offset = 0

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, value: str | None) -> str | None:
        if value is not None:
            parse_bbox(value)
        return value


class ScopeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: Commune | None = None


class HealthQuery(ScopeQuery):
    silent_after_s: Annotated[int, AsciiInteger, Field(ge=60, le=30 * 86_400)] = SILENT_AFTER_MS // 1000


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``min_lon,min_lat,max_lon,max_lat`` as floats, in order and on the globe."""
    try:
        lon0, lat0, lon1, lat1 = (float(x) for x in text.split(","))
    except ValueError:
        raise ValueError("bbox must be four numbers: min_lon,min_lat,max_lon,max_lat") from None
    if not (-180 <= lon0 <= lon1 <= 180 and -90 <= lat0 <= lat1 <= 90):
        raise ValueError("bbox: need -180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90")
    return lon0, lat0, lon1, lat1


def scoped_site(site: str | None) -> str | None:
    """The commune to restrict a listing to: the caller's own, or the one asked (403 elsewhere)."""
    principal = current_principal()
    if site is not None:
        check_commune(principal, site)
        return site
    return principal.scope


def device_json(d: Device) -> dict[str, Any]:
    return {
        "id": d.id, "site": d.site, "district": d.district, "status": d.status, "roles": list(d.roles),
        "lat": d.lat, "lon": d.lon, "caps": list(d.caps), "firmware": d.firmware, "config_hash": d.config_hash,
        "seed_config_hash": d.seed_config_hash, "config_drift": d.config_drift, "last_seen_ms": d.last_seen_ms,
        "status_since_ms": d.status_since_ms,
    }


@bp.get("/devices")
@require("viewer")
def list_devices() -> ResponseReturnValue:
    q = parse_query(DeviceQuery)
    f = fleet_store.DeviceFilter(site=scoped_site(q.site), status=q.status, role=q.role, district=q.district,
                                 bbox=parse_bbox(q.bbox) if q.bbox else None)
    with get_read_engine().connect() as conn:
        rows, total = fleet_store.list_devices(conn, f, q.limit, q.offset)
    return jsonify({"total": total, "limit": q.limit, "offset": q.offset, "devices": [device_json(d) for d in rows]})


@bp.get("/devices/<device_id>")
@require("viewer")
def get_device(device_id: str) -> ResponseReturnValue:
    with get_read_engine().connect() as conn:
        device = fleet_store.get_device(conn, device_id)
        if device is None:
            raise not_found("device", device_id)
        check_commune(current_principal(), device.site)
        latest = fleet_store.latest_telemetry(conn, device_id)
    body = device_json(device)
    body["telemetry"] = None if latest is None else dataclasses.asdict(latest)
    return jsonify(body)


@bp.get("/devices/<device_id>/meta")
@require("viewer")
def get_device_meta(device_id: str) -> ResponseReturnValue:
    """The box's retained site metadata (``vigie/v1/<site>/<device>/meta``), for integrators without MQTT."""
    with get_read_engine().connect() as conn:
        device = fleet_store.get_device(conn, device_id)
    if device is None:
        raise not_found("device", device_id)
    check_commune(current_principal(), device.site)
    topic = wire.device_topic(device.site, device.id, wire.Kind.META)
    try:
        payload = read_retained(PublisherSettings.from_config(current_app.config, "meta"), topic)
    except BrokerUnreadableError as exc:
        raise ApiError(503, f"the broker cannot be read now: {exc}") from exc
    if payload is None:
        raise not_found("metadata of device", device_id)
    try:
        meta = wire.decode(topic, payload)
    except wire.WireError as exc:
        raise ApiError(502, f"the retained metadata of {device_id!r} does not decode: {exc}") from exc
    assert isinstance(meta, wire.Meta)
    return jsonify({"device": device.id, "site": device.site, "bd": meta.header.bd, "ts_ms": meta.header.ts,
                    "config_hash": meta.config_hash, "info": meta.info})


@bp.get("/fleet/health")
@require("viewer")
def fleet_health() -> ResponseReturnValue:
    q = parse_query(HealthQuery)
    f = fleet_store.DeviceFilter(site=scoped_site(q.site))
    with get_read_engine().connect() as conn:
        summary = health_summary(fleet_store.iter_devices(conn, f), int(time.time() * 1000),
                                 q.silent_after_s * 1000)
    return jsonify(dataclasses.asdict(summary))


_CENTRE = "vigie.centre"


def _centre() -> CentreCache:
    """The app's cached reader of the centre's retained STATE, created on first use."""
    cache = current_app.extensions.get(_CENTRE)
    if cache is None:
        settings = PublisherSettings.from_config(current_app.config, "centre")
        host = str(current_app.config.get("COORDINATOR_ID", "coordinator"))
        cache = current_app.extensions[_CENTRE] = CentreCache(lambda: read_state(settings, host))
    assert isinstance(cache, CentreCache)
    return cache


@bp.get("/fleet/centre")
@require("viewer")
def fleet_centre() -> ResponseReturnValue:
    """The centre's liveness as the boxes see it: this coordinator's retained STATE on the broker."""
    return jsonify(dataclasses.asdict(_centre().get()))


class _LayerCache:
    """The last few serialised map layers, keyed by scope and fleet version.

    Building 35,000 points costs the server about a second; a map reloaded by every operator's
    browser while the fleet has not changed must not pay it again.
    """

    def __init__(self, size: int = 16) -> None:
        self._items: collections.OrderedDict[Any, tuple[str, bytes]] = collections.OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Any) -> tuple[str, bytes] | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: Any, item: tuple[str, bytes]) -> None:
        with self._lock:
            self._items[key] = item
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_MAP_CACHE = _LayerCache()


@bp.get("/map/devices")
@require("viewer")
def map_devices() -> ResponseReturnValue:
    """Parallel arrays with an ETag; ``If-None-Match`` with the current ETag gets a body-less 304."""
    q = parse_query(ScopeQuery)
    f = fleet_store.DeviceFilter(site=scoped_site(q.site))
    engine = get_read_engine()
    with engine.connect() as conn:
        key = (str(engine.url), f.site, fleet_store.map_version(conn, f))
        cached = _MAP_CACHE.get(key)
        if cached is None:
            layer = map_layer(fleet_store.map_points(conn, f))
            cached = (layer.etag.strip('"'), json.dumps(layer.body, separators=(",", ":")).encode())
            _MAP_CACHE.put(key, cached)
    tag, body = cached
    resp = Response(status=304) if request.if_none_match.contains(tag) else Response(body, mimetype="application/json")
    resp.set_etag(tag)
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp
