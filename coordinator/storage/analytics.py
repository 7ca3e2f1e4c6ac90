"""Aggregate rows: additive upserts from the ingest hooks, bucketed reads for the API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.analytics.counts import Aggregates
from coordinator.analytics.energy import EnergyKey, EnergySum, Reading

from .schema import analytics_counts, analytics_occupancy, energy_hourly, light_meters
from .upsert import upsert


def add_aggregates(conn: Connection, agg: Aggregates) -> None:
    upsert(conn, analytics_counts, [
        {**k._asdict(), "inbound": i, "outbound": o} for k, (i, o) in sorted(agg.counts.items())],
        list(analytics_counts.primary_key.columns.keys()), add=["inbound", "outbound"])
    upsert(conn, analytics_occupancy, [
        {**k._asdict(), "peak": p} for k, p in sorted(agg.occupancy.items())],
        list(analytics_occupancy.primary_key.columns.keys()), greatest=["peak"])


def last_readings(conn: Connection, device_ids: Iterable[str]) -> dict[tuple[str, str], Reading]:
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    rows = conn.execute(sa.select(light_meters).where(light_meters.c.device_id.in_(ids)))
    return {(r.device_id, r.lum_id): Reading(r.device_id, r.lum_id, r.ts_ms, r.energy_wh, r.hours) for r in rows}


def save_readings(conn: Connection, readings: Iterable[Reading]) -> None:
    """Keep each luminaire's newest reading (an older one arriving late does not replace it)."""
    rows = sorted((r._asdict() for r in readings), key=lambda r: (r["device_id"], r["lum_id"]))
    upsert(conn, light_meters, rows, ["device_id", "lum_id"], replace=["ts_ms", "energy_wh", "hours"])


def add_energy(conn: Connection, sums: Mapping[EnergyKey, EnergySum]) -> None:
    upsert(conn, energy_hourly, [
        {"site": k.site, "group_name": k.group, "hour_ms": k.hour_ms, "energy_wh": s.energy_wh,
         "rated_energy_wh": s.rated_energy_wh, "reference_wh": s.reference_wh, "lit_h": s.lit_h}
        for k, s in sorted(sums.items())],
        ["site", "group_name", "hour_ms"], add=["energy_wh", "rated_energy_wh", "reference_wh", "lit_h"])


# ------------------------------------------------------------------------------------------------ reads


@dataclass(frozen=True)
class CountFilter:
    start_ms: int
    end_ms: int
    site: str | None = None
    device_id: str | None = None
    target: str | None = None
    cls: int | None = None


@dataclass(frozen=True)
class CountRow:
    site: str
    device_id: str
    cam: int
    target: str
    cls: int
    t: int
    inbound: int
    outbound: int


@dataclass(frozen=True)
class OccupancyRow:
    site: str
    device_id: str
    cam: int
    zone: str
    cls: int
    t: int
    peak: int


def _bucket(col: sa.ColumnElement[int], bucket_ms: int) -> sa.ColumnElement[int]:
    """``col`` rounded down to ``bucket_ms`` (integer division on both databases)."""
    return ((col // bucket_ms) * bucket_ms).label("t")


def counts(conn: Connection, f: CountFilter, bucket_ms: int) -> list[CountRow]:
    c = analytics_counts.c
    t = _bucket(c.minute_ms, bucket_ms)
    cond = [c.minute_ms >= f.start_ms, c.minute_ms < f.end_ms]
    cond += [col == v for col, v in ((c.site, f.site), (c.device_id, f.device_id), (c.target, f.target),
                                     (c.cls, f.cls)) if v is not None]
    keys = (c.site, c.device_id, c.cam, c.target, c.cls)
    q = (sa.select(*keys, t, sa.func.sum(c.inbound), sa.func.sum(c.outbound)).where(*cond)
         .group_by(*keys, t).order_by(t, *keys))
    return [CountRow(r[0], r[1], int(r[2]), r[3], int(r[4]), int(r[5]), int(r[6]), int(r[7]))
            for r in conn.execute(q)]


def occupancy(conn: Connection, f: CountFilter, bucket_ms: int) -> list[OccupancyRow]:
    c = analytics_occupancy.c
    t = _bucket(c.minute_ms, bucket_ms)
    cond = [c.minute_ms >= f.start_ms, c.minute_ms < f.end_ms]
    cond += [col == v for col, v in ((c.site, f.site), (c.device_id, f.device_id), (c.zone, f.target),
                                     (c.cls, f.cls)) if v is not None]
    keys = (c.site, c.device_id, c.cam, c.zone, c.cls)
    q = sa.select(*keys, t, sa.func.max(c.peak)).where(*cond).group_by(*keys, t).order_by(t, *keys)
    return [OccupancyRow(r[0], r[1], int(r[2]), r[3], int(r[4]), int(r[5]), int(r[6])) for r in conn.execute(q)]


@dataclass(frozen=True)
class EnergyRow:
    site: str
    group: str
    t: int
    energy_wh: float
    rated_energy_wh: float
    reference_wh: float
    lit_h: float


def energy(conn: Connection, start_ms: int, end_ms: int, site: str | None, group: str | None) -> list[EnergyRow]:
    """Hourly energy rows of ``[start_ms, end_ms)``."""
    c = energy_hourly.c
    cond = [c.hour_ms >= start_ms, c.hour_ms < end_ms]
    if site is not None:
        cond.append(c.site == site)
    if group is not None:
        cond.append(c.group_name == group)
    q = sa.select(energy_hourly).where(*cond).order_by(c.hour_ms, c.site, c.group_name)
    return [EnergyRow(r.site, r.group_name, r.hour_ms, r.energy_wh, r.rated_energy_wh, r.reference_wh, r.lit_h)
            for r in conn.execute(q)]
