"""Fleet registry rows written outside ingest: seeding from box configs, retention of raw events.

Seeding is an upsert on the device id, so ``vigie-coordinator fleet seed`` can run after every
deployment: it updates where a box is and what it does, and never touches what the box
itself announced (status, bdSeq, firmware, announced config hash, capabilities).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from .camera_geometry import GeoTarget
from .schema import device_sessions, devices, events, sequence_gaps

#: Rows deleted per statement by the retention job: short transactions, no long lock on ``events``.
RETENTION_CHUNK = 5000


@dataclass(frozen=True)
class DeviceSeed:
    """What the installation knows about a box (its config file)."""

    id: str
    site: str
    district: str | None
    roles: tuple[str, ...]
    lat: float | None
    lon: float | None
    config_hash: str
    #: Its cameras' zones and lines that say where they lie on the ground.
    geometry: tuple[GeoTarget, ...] = ()


def upsert_devices(conn: Connection, seeds: Sequence[DeviceSeed], now_ms: int) -> tuple[int, int]:
    """Insert new devices, update the installed facts of known ones; returns (created, updated)."""
    if not seeds:
        return 0, 0
    known = set(conn.execute(sa.select(devices.c.id).where(devices.c.id.in_([s.id for s in seeds]))).scalars())
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(devices)
    stmt = ins.on_conflict_do_update(
        index_elements=[devices.c.id],
        set_={c: ins.excluded[c] for c in ("site", "district", "roles", "lat", "lon", "seed_config_hash",
                                           "updated_ms")},
    )
    conn.execute(stmt, [
        {"id": s.id, "site": s.site, "district": s.district, "roles": list(s.roles), "lat": s.lat, "lon": s.lon,
         "caps": [], "seed_config_hash": s.config_hash, "status": "unknown", "created_ms": now_ms,
         "updated_ms": now_ms}
        for s in sorted(seeds, key=lambda s: s.id)
    ])
    created = sum(1 for s in seeds if s.id not in known)
    return created, len(seeds) - created


def delete_events_before(conn: Connection, cutoff_ms: int, chunk: int = RETENTION_CHUNK,
                         table: sa.TableClause | None = None) -> int:
    """Delete at most ``chunk`` raw events older than ``cutoff_ms`` (event time); returns how many.

    ``table`` narrows it to one partition of ``events`` (PostgreSQL's default one). The time is in the match so
    that, on a partitioned table, each chunk only reads the partitions before the cutoff.
    """
    t = events if table is None else table
    e = t.c
    key = sa.tuple_(e.device_id, e.boot, e.n, e.ts_ms)
    old = sa.select(e.device_id, e.boot, e.n, e.ts_ms).where(e.ts_ms < cutoff_ms).limit(chunk)
    result = conn.execute(t.delete().where(e.ts_ms < cutoff_ms, key.in_(old)))
    return int(result.rowcount or 0)


def delete_sequence_history_before(conn: Connection, cutoff_ms: int) -> int:
    """Gaps detected and sessions ended before ``cutoff_ms`` describe events that are gone."""
    n = conn.execute(sequence_gaps.delete().where(sequence_gaps.c.detected_ms < cutoff_ms)).rowcount or 0
    n += conn.execute(device_sessions.delete().where(device_sessions.c.ended_ms < cutoff_ms)).rowcount or 0
    return int(n)
