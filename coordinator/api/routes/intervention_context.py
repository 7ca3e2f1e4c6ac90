"""An intervention's context for its detail panel: what triggered it, the counts around, the place, the rule.

The operator deciding whom to send wants the events that raised the intervention (and any since), the counts
of its zone or line around that time, where it is, and why the rule fired; one bounded call brings them so the
panel does not stitch five lists together. The window is anchored on the intervention's first and latest
reports, bounded in minutes, and the event list is limited (its total is given).
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from coordinator.storage import intervention_context as store
from coordinator.storage import interventions as iv_store
from coordinator.storage.flask import get_read_engine

from ..blueprint import bp
from ..bodies import parse_query
from ..security import require
from .interventions import _visible

MAX_WINDOW_MIN = 1440
MAX_EVENTS = 500
#: Counts come in 5-minute buckets up to six hours of window, hourly beyond.
FINE_BUCKET_MS, COARSE_BUCKET_MS, FINE_UP_TO_MS = 5 * 60_000, 3_600_000, 6 * 3_600_000


class ContextQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    before_min: int = Field(60, ge=0, le=MAX_WINDOW_MIN, description="minutes before the first report")
    after_min: int = Field(30, ge=0, le=MAX_WINDOW_MIN, description="minutes after the latest report")
    limit: int = Field(100, ge=1, le=MAX_EVENTS, description="events at most, oldest first")


def window(first_ms: int, last_ms: int, before_min: int, after_min: int) -> tuple[int, int, int]:
    """``(start, end, bucket)`` in ms: the reports' span widened by the minutes asked, with its count bucket."""
    start, end = first_ms - before_min * 60_000, max(first_ms, last_ms) + after_min * 60_000 + 1
    return start, end, FINE_BUCKET_MS if end - start <= FINE_UP_TO_MS else COARSE_BUCKET_MS


@bp.get("/interventions/<id:iid>/context")
@require("viewer")
def intervention_context(iid: int) -> ResponseReturnValue:
    q = parse_query(ContextQuery)
    with get_read_engine().connect() as conn:
        row = _visible(conn, iid)
        start, end, bucket = window(row.first_ms, row.last_ms, q.before_min, q.after_min)
        total, items, counts = 0, list[dict[str, Any]](), list[dict[str, Any]]()
        if row.device_id is not None:
            total, items = store.events_around(conn, row.device_id, row.target, start, end, q.limit)
            counts = store.counts_around(conn, row.device_id, row.target, start, end, bucket)
        rule: dict[str, Any] | None = None
        if row.rule_id is not None:
            r = iv_store.get_rule(conn, row.rule_id)
            if r is not None:
                rule = {"id": r.id, "name": r.name, "type": r.type, "config": r.config}
    return jsonify({
        "intervention": iid,
        "window": {"start_ms": start, "end_ms": end, "bucket_ms": bucket},
        "place": {"commune": row.commune, "lat": row.lat, "lon": row.lon, "device_id": row.device_id,
                  "target": row.target},
        "events": {"total": total, "limit": q.limit, "items": items},
        "counts": counts,
        "rule": rule,
        "reasons": row.detail or {},
    })
