"""Reading the fleet registry (the ``devices`` and ``telemetry`` tables are written by ingest)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.fleet import Device, MapPoint
from coordinator.fleet.map import MAP_ROLES

from .schema import devices, telemetry

#: Map and health queries read in chunks, so 35,000 rows never sit twice in memory as rows and objects.
_CHUNK = 5000


@dataclass(frozen=True)
class DeviceFilter:
    """What ``GET /devices`` may filter on; ``None`` = no condition."""

    site: str | None = None
    status: str | None = None
    role: str | None = None
    district: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat


@dataclass(frozen=True)
class LatestTelemetry:
    ts_ms: int
    metrics: dict[str, Any]
    stale: bool


def _device(row: Any) -> Device:
    return Device(
        id=row.id, site=row.site, status=row.status, district=row.district, roles=tuple(row.roles or ()),
        lat=row.lat, lon=row.lon, caps=tuple(row.caps or ()), firmware=row.firmware, config_hash=row.config_hash,
        seed_config_hash=row.seed_config_hash, last_seen_ms=row.last_seen_ms, status_since_ms=row.status_since_ms,
    )


def _where(f: DeviceFilter) -> list[sa.ColumnElement[bool]]:
    cond: list[sa.ColumnElement[bool]] = []
    if f.site is not None:
        cond.append(devices.c.site == f.site)
    if f.status is not None:
        cond.append(devices.c.status == f.status)
    if f.district is not None:
        cond.append(devices.c.district == f.district)
    if f.role is not None:
        # JSON list of role names: its text holds the quoted name on both databases.
        cond.append(sa.cast(devices.c.roles, sa.Text).like(f'%"{f.role}"%'))
    if f.bbox is not None:
        lon0, lat0, lon1, lat1 = f.bbox
        cond += [devices.c.lon.between(lon0, lon1), devices.c.lat.between(lat0, lat1)]
    return cond


def list_devices(conn: Connection, f: DeviceFilter, limit: int, offset: int) -> tuple[list[Device], int]:
    """One page of devices matching ``f`` (by id), and how many match in all."""
    cond = _where(f)
    total = conn.execute(sa.select(sa.func.count()).select_from(devices).where(*cond)).scalar_one()
    rows = conn.execute(sa.select(devices).where(*cond).order_by(devices.c.id).limit(limit).offset(offset)).all()
    return [_device(r) for r in rows], int(total)


def iter_devices(conn: Connection, f: DeviceFilter) -> Iterator[Device]:
    """Every device matching ``f``, in id order, read in chunks (keyset pagination)."""
    cond = _where(f)
    cols = [devices.c[name] for name in (
        "id", "site", "status", "district", "roles", "lat", "lon", "caps", "firmware", "config_hash",
        "seed_config_hash", "last_seen_ms", "status_since_ms")]
    after = ""
    while True:
        rows = conn.execute(
            sa.select(*cols).where(*cond, devices.c.id > after).order_by(devices.c.id).limit(_CHUNK)
        ).all()
        for r in rows:
            yield _device(r)
        if len(rows) < _CHUNK:
            return
        after = rows[-1].id


def get_device(conn: Connection, device_id: str) -> Device | None:
    row = conn.execute(sa.select(devices).where(devices.c.id == device_id)).first()
    return None if row is None else _device(row)


def latest_telemetry(conn: Connection, device_id: str) -> LatestTelemetry | None:
    row = conn.execute(sa.select(telemetry).where(telemetry.c.device_id == device_id)).first()
    return None if row is None else LatestTelemetry(row.ts_ms, dict(row.metrics), bool(row.stale))


def light_device_ids(conn: Connection, site: str | None) -> list[str]:
    """Registry devices of ``site`` (every site: ``None``) that play the light role."""
    return [d.id for d in iter_devices(conn, DeviceFilter(site=site, role="light"))]


def sites_with_role(conn: Connection, role: str) -> list[str]:
    """Communes with at least one device of ``role`` in the registry."""
    q = sa.select(devices.c.site).where(*_where(DeviceFilter(role=role))).distinct().order_by(devices.c.site)
    return list(conn.execute(q).scalars())


def map_version(conn: Connection, f: DeviceFilter) -> tuple[int, int]:
    """(row count, latest ``updated_ms``) of the filtered devices: changes whenever the map's content can."""
    q = sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(devices.c.updated_ms), 0)).where(*_where(f))
    count, latest = conn.execute(q).one()
    return int(count), int(latest)


def map_points(conn: Connection, f: DeviceFilter) -> list[MapPoint]:
    """The map's columns only; roles are read as JSON text and matched by name (no JSON decoding per row)."""
    roles_text = sa.cast(devices.c.roles, sa.Text)
    q = (sa.select(devices.c.id, devices.c.site, devices.c.status, roles_text, devices.c.lat, devices.c.lon)
         .where(*_where(f)).order_by(devices.c.id))
    quoted = [(r, f'"{r}"') for r in MAP_ROLES]
    return [MapPoint(i, site, status, tuple(r for r, q in quoted if q in (text or "")), lat, lon)
            for i, site, status, text, lat, lon in conn.execute(q)]
