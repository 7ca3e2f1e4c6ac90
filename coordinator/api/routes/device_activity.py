"""A camera box's card on the map: counts per zone and line over the last hour, and its latest events.

The operator who clicks a camera wants to know what it sees now: how many people and vehicles entered each zone
or crossed each line, bucket by bucket over the last hour (a sparkline per target), and the last things it
reported, in words. One bounded call brings both. Interval counts (``counts`` events) are what the sparklines are
drawn from, so they are left out of the event list, which would otherwise be mostly them.

Snapshots are not part of it: the ingest counts a box's ``snapshot`` messages but does not keep their images, so
the centre has none to show (and none whose viewing it would have to register).
"""

from __future__ import annotations

import time
from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from coordinator.storage import device_activity as store
from coordinator.storage import fleet_queries as fleet_store
from coordinator.storage.flask import get_read_engine
from coordinator.storage.intervention_context import counts_around

from ..blueprint import bp
from ..bodies import parse_query
from ..errors import not_found
from ..security import check_commune, current_principal, require

BUCKET_MS = 5 * 60_000
SKIPPED = ("counts",)


class ActivityQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: int = Field(60, ge=5, le=1440, description="window ending now, in minutes")
    limit: int = Field(20, ge=1, le=200, description="latest events at most")


def series(rows: list[dict[str, Any]], start_ms: int, end_ms: int, bucket_ms: int) -> list[dict[str, Any]]:
    """Per target, the in and out counts of every bucket of the window (zeros where nothing was counted), all
    classes together, with the totals and the per-class totals; targets in name order."""
    n = max(1, -(-(end_ms - start_ms) // bucket_ms))
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = out.setdefault(r["target"], {"target": r["target"], "inbound": [0] * n, "outbound": [0] * n,
                                         "total_in": 0, "total_out": 0, "classes": {}})
        i = min(n - 1, max(0, (r["t"] - start_ms) // bucket_ms))
        s["inbound"][i] += r["inbound"]
        s["outbound"][i] += r["outbound"]
        s["total_in"] += r["inbound"]
        s["total_out"] += r["outbound"]
        per = s["classes"].setdefault(str(r["cls"]), [0, 0])
        per[0] += r["inbound"]
        per[1] += r["outbound"]
    return [out[k] for k in sorted(out)]


@bp.get("/devices/<device_id>/activity")
@require("viewer")
def device_activity(device_id: str) -> ResponseReturnValue:
    q = parse_query(ActivityQuery)
    end = int(time.time() * 1000) + 1
    # Buckets aligned on the clock, so two cards opened a minute apart show the same bars.
    start = ((end - q.minutes * 60_000) // BUCKET_MS) * BUCKET_MS
    with get_read_engine().connect() as conn:
        device = fleet_store.get_device(conn, device_id)
        if device is None:
            raise not_found("device", device_id)
        check_commune(current_principal(), device.site)
        counts = counts_around(conn, device_id, None, start, end, BUCKET_MS)
        total, items = store.recent_events(conn, device_id, start, end, q.limit, SKIPPED)
    return jsonify({
        "device_id": device_id, "site": device.site,
        "window": {"start_ms": start, "end_ms": end, "bucket_ms": BUCKET_MS},
        "targets": series(counts, start, end, BUCKET_MS),
        "events": {"total": total, "limit": q.limit, "items": items},
    })
