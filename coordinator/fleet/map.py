"""The map layer of the fleet: every box in a few parallel arrays, for a web map of tens of thousands of points.

An array of objects would repeat ``"id"``, ``"lat"``, ``"status"``... 35,000 times and double the payload; here each
key appears once, coordinates are integers (1e-5 degree, about a metre: what a street map can show), and status,
commune and roles are small integer codes into legends sent alongside. A browser rebuilds its point layer from the
arrays without creating 35,000 objects. The ETag is a digest of the content, so an unchanged fleet costs a 304.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol


class Placed(Protocol):
    """What the map needs of a device (:class:`~.health.Device` and :class:`MapPoint` both fit)."""

    @property
    def id(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def roles(self) -> Sequence[str]: ...
    @property
    def lat(self) -> float | None: ...
    @property
    def lon(self) -> float | None: ...


class MapPoint(NamedTuple):
    """A registry row reduced to what the map shows (cheap to build 35,000 times)."""

    id: str
    site: str
    status: str
    roles: tuple[str, ...]
    lat: float | None
    lon: float | None

#: Legends: a point's ``status`` and bits of ``roles`` index these.
MAP_STATUSES: tuple[str, ...] = ("unknown", "online", "offline", "stale")
MAP_ROLES: tuple[str, ...] = ("camera", "light")
#: Coordinates are sent as integers of 1e-5 degree.
COORD_SCALE = 100_000


@dataclass(frozen=True)
class MapLayer:
    """The body of ``GET /map/devices`` and its ETag."""

    body: dict[str, Any]
    etag: str


def _scaled(value: float | None) -> int | None:
    return None if value is None else round(value * COORD_SCALE)


def map_layer(devices: Iterable[Placed]) -> MapLayer:
    """Columns of ``devices`` (sorted by id, so the ETag does not depend on the database's row order)."""
    rows = sorted(devices, key=lambda d: d.id)
    sites = sorted({d.site for d in rows})
    site_code = {s: i for i, s in enumerate(sites)}
    status_code = {s: i for i, s in enumerate(MAP_STATUSES)}
    role_bit = {r: 1 << i for i, r in enumerate(MAP_ROLES)}
    body: dict[str, Any] = {
        "count": len(rows),
        "scale": COORD_SCALE,
        "statuses": list(MAP_STATUSES),
        "roles": list(MAP_ROLES),
        "sites": sites,
        "id": [d.id for d in rows],
        "lat": [_scaled(d.lat) for d in rows],
        "lon": [_scaled(d.lon) for d in rows],
        "status": [status_code.get(d.status, 0) for d in rows],
        "site": [site_code[d.site] for d in rows],
        "role": [sum(role_bit.get(r, 0) for r in set(d.roles)) for d in rows],
    }
    digest = hashlib.sha256(json.dumps(body, separators=(",", ":")).encode()).hexdigest()[:32]
    return MapLayer(body, f'"{digest}"')
