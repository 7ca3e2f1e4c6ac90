"""Aggregate rows: additive upserts from the ingest hooks, bucketed reads for the API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.analytics.buckets import DAY_MS, DayRun
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


#: A bucket: a fixed length in ms (minute, hour), or the local days of the window (:func:`buckets.day_runs`).
BucketSpec = int | tuple[DayRun, ...]


def _int(n: int) -> sa.ColumnElement[int]:
    """An integer written into the statement (the same text in SELECT and GROUP BY on both databases)."""
    return sa.literal_column(str(int(n)), sa.BigInteger)


def _bucket(col: sa.ColumnElement[int], bucket: BucketSpec) -> sa.ColumnElement[int]:
    """``col`` rounded down to its bucket's start, by integer arithmetic on both databases.

    Days: ``CASE`` over the window's runs; a run of whole days is ``start + (col - start) / day * day``
    (``col >= start`` there, so the division truncates as a floor), a day of 23 or 25 hours its start.
    """
    if isinstance(bucket, int):
        return ((col // _int(bucket)) * _int(bucket)).label("t")
    if not bucket:
        return _int(0).label("t")
    whens = [(col < _int(r.end_ms),
              _int(r.start_ms) + (col - _int(r.start_ms)) // _int(DAY_MS) * _int(DAY_MS) if r.whole
              else _int(r.start_ms)) for r in bucket]
    last = whens.pop()[1]
    return (sa.case(*whens, else_=last) if whens else last).label("t")


def counts(conn: Connection, f: CountFilter, bucket: BucketSpec) -> list[CountRow]:
    """Rows of the window summed per key and bucket, in the database: what is fetched is what is served."""
    c = analytics_counts.c
    t = _bucket(c.minute_ms, bucket)
    cond = [c.minute_ms >= f.start_ms, c.minute_ms < f.end_ms]
    cond += [col == v for col, v in ((c.site, f.site), (c.device_id, f.device_id), (c.target, f.target),
                                     (c.cls, f.cls)) if v is not None]
    keys = (c.site, c.device_id, c.cam, c.target, c.cls)
    q = (sa.select(*keys, t, sa.func.sum(c.inbound), sa.func.sum(c.outbound)).where(*cond)
         .group_by(*keys, t).order_by(t, *keys))
    return [CountRow(r[0], r[1], int(r[2]), r[3], int(r[4]), int(r[5]), int(r[6]), int(r[7]))
            for r in conn.execute(q)]


def occupancy(conn: Connection, f: CountFilter, bucket: BucketSpec) -> list[OccupancyRow]:
    c = analytics_occupancy.c
    t = _bucket(c.minute_ms, bucket)
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


def energy(conn: Connection, start_ms: int, end_ms: int, site: str | None, group: str | None,
           days: tuple[DayRun, ...] | None = None) -> list[EnergyRow]:
    """Energy rows of ``[start_ms, end_ms)``: hourly as stored, or summed per local day of ``days`` in the database."""
    c = energy_hourly.c
    cond = [c.hour_ms >= start_ms, c.hour_ms < end_ms]
    if site is not None:
        cond.append(c.site == site)
    if group is not None:
        cond.append(c.group_name == group)
    if days is None:
        q = sa.select(energy_hourly).where(*cond).order_by(c.hour_ms, c.site, c.group_name)
        return [EnergyRow(r.site, r.group_name, r.hour_ms, r.energy_wh, r.rated_energy_wh, r.reference_wh, r.lit_h)
                for r in conn.execute(q)]
    t = _bucket(c.hour_ms, days)
    sums = (sa.func.sum(c.energy_wh), sa.func.sum(c.rated_energy_wh), sa.func.sum(c.reference_wh),
            sa.func.sum(c.lit_h))
    q = sa.select(c.site, c.group_name, t, *sums).where(*cond).group_by(c.site, c.group_name, t).order_by(
        t, c.site, c.group_name)
    return [EnergyRow(r[0], r[1], int(r[2]), float(r[3]), float(r[4]), float(r[5]), float(r[6]))
            for r in conn.execute(q)]
