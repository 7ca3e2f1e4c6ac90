"""Reads behind an intervention's context: the events of its place around the trigger, and the counts there.

Rows only, bounded by the caller's window and limit; :mod:`coordinator.api.routes.intervention_context` shapes
them for the detail panel.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import analytics_counts, analytics_occupancy, events


def events_around(conn: Connection, device_id: str, target: str | None, start_ms: int, end_ms: int,
                  limit: int) -> tuple[int, list[dict[str, Any]]]:
    """How many events the device (and target, when the intervention names one) stored in the window, and the
    first ``limit`` of them in time order."""
    c = events.c
    cond = [c.device_id == device_id, c.ts_ms >= start_ms, c.ts_ms < end_ms]
    if target is not None:
        cond.append(c.target == target)
    total = int(conn.execute(sa.select(sa.func.count()).select_from(events).where(*cond)).scalar_one())
    q = (sa.select(c.device_id, c.boot, c.n, c.site, c.ts_ms, c.type, c.cam, c.target, c.cls, c.track, c.historical,
                   c.body).where(*cond).order_by(c.ts_ms, c.boot, c.n).limit(limit))
    return total, [{**r._mapping, "historical": bool(r.historical)} for r in conn.execute(q)]


def counts_around(conn: Connection, device_id: str, target: str | None, start_ms: int, end_ms: int,
                  bucket_ms: int) -> list[dict[str, Any]]:
    """Per bucket, zone or line, and class: entries or crossings (in, out) and the zone's peak occupancy."""
    out: dict[tuple[int, str, int], dict[str, Any]] = {}

    def row(t: int, name: str, cls: int) -> dict[str, Any]:
        return out.setdefault((t, name, cls), {"t": t, "target": name, "cls": cls, "inbound": 0, "outbound": 0,
                                                "peak": None})

    c, o = analytics_counts.c, analytics_occupancy.c
    t = ((c.minute_ms // bucket_ms) * bucket_ms).label("t")
    cond = [c.device_id == device_id, c.minute_ms >= start_ms, c.minute_ms < end_ms]
    if target is not None:
        cond.append(c.target == target)
    q = (sa.select(t, c.target, c.cls, sa.func.sum(c.inbound), sa.func.sum(c.outbound)).where(*cond)
         .group_by(t, c.target, c.cls))
    for r in conn.execute(q):
        line = row(int(r[0]), str(r[1]), int(r[2]))
        line["inbound"], line["outbound"] = int(r[3] or 0), int(r[4] or 0)
    t = ((o.minute_ms // bucket_ms) * bucket_ms).label("t")
    cond = [o.device_id == device_id, o.minute_ms >= start_ms, o.minute_ms < end_ms]
    if target is not None:
        cond.append(o.zone == target)
    q2 = sa.select(t, o.zone, o.cls, sa.func.max(o.peak)).where(*cond).group_by(t, o.zone, o.cls)
    for r2 in conn.execute(q2):
        row(int(r2[0]), str(r2[1]), int(r2[2]))["peak"] = int(r2[3] or 0)
    return [out[k] for k in sorted(out)]
