"""The cameras' zones and counting lines on the ground: written when the fleet is seeded, read by the map.

A box config is the source (``geo`` of its zones and lines, checked by :mod:`vigie_config.geo` when it loads);
seeding replaces a box's rows as a whole, so a zone removed from the config leaves the map too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import camera_geometry, devices


class GeoTarget(NamedTuple):
    """A zone (``geo``: a closed ring of ``[lon, lat]``) or a line (``geo``: ``{a, b, in_side}``) of a camera."""

    cam: int
    camera: str
    target: str
    kind: str
    geo: Any


def replace_geometry(conn: Connection, device_id: str, site: str, targets: Sequence[GeoTarget], now_ms: int) -> None:
    """The box's zones and lines become ``targets`` (none: the box has no geometry left on the map)."""
    conn.execute(sa.delete(camera_geometry).where(camera_geometry.c.device_id == device_id))
    if targets:
        conn.execute(sa.insert(camera_geometry), [
            {"device_id": device_id, "cam": t.cam, "target": t.target, "site": site, "camera": t.camera,
             "kind": t.kind, "geo": t.geo, "updated_ms": now_ms} for t in targets])


class PlacedTarget(NamedTuple):
    device_id: str
    site: str
    cam: int
    camera: str
    target: str
    kind: str
    geo: Any


def geometry(conn: Connection, site: str | None) -> list[PlacedTarget]:
    """Every zone and line of the scope's cameras, by (device, camera, zone or line), of registered boxes only."""
    g = camera_geometry.c
    q = (sa.select(g.device_id, g.site, g.cam, g.camera, g.target, g.kind, g.geo)
         .where(sa.exists().where(devices.c.id == g.device_id))
         .order_by(g.device_id, g.cam, g.kind.desc(), g.target))
    if site is not None:
        q = q.where(g.site == site)
    return [PlacedTarget(r.device_id, r.site, int(r.cam), r.camera, r.target, r.kind, r.geo) for r in conn.execute(q)]
