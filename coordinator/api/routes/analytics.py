"""Analytics: counts and occupancy per camera target, energy per light group, in minute / hour / day buckets.

Windows are ``[from, to)`` in ms, or a ``window`` (``1h``, ``24h``, ``7d``, ``30d``) ending at ``to`` (default
now). Minute buckets are served for at most a day, so a dashboard cannot ask for 10,000 rows per target by mistake;
hour buckets for at most 8 days, longer windows being answered by local day (``bucket`` in the response says which).
Every bucket is summed by the database: a route fetches only the rows it serves.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Literal

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from coordinator.analytics.buckets import WINDOWS_MS, Bucket, day_runs, served_bucket, sql_bucket_ms, window
from coordinator.analytics.energy import savings_pct
from coordinator.storage import analytics as store
from coordinator.storage.flask import get_read_engine

from ..blueprint import bp
from ..bodies import parse_query
from ..errors import bad_request
from ..params import AsciiInteger, Millis
from ..security import require
from ..vocab import Commune
from .fleet import scoped_site

Window = Literal["1h", "24h", "7d", "30d"]


class _WindowQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    site: Commune | None = None
    from_: Millis | None = Field(None, alias="from")
    to: Millis | None = None
    window: Window = "24h"
    bucket: Bucket = "hour"

    def span(self) -> tuple[int, int]:
        """The window ``[from, to)``, checked."""
        start, end = window(self.from_, self.to, self.window, int(time.time() * 1000))
        if end <= start:
            raise bad_request("from: must be before to")
        if end - start > WINDOWS_MS["30d"] * 13:
            raise bad_request("the window may not exceed 390 days")
        if self.bucket == "minute" and end - start > WINDOWS_MS["24h"]:
            raise bad_request("bucket=minute is served for windows of at most 24 h; use hour or day")
        return start, end


class CountsQuery(_WindowQuery):
    device: str | None = Field(None, max_length=64)
    target: str | None = Field(None, max_length=64, description="zone or line id")
    cls: Annotated[int, AsciiInteger, Field(ge=0, le=65535)] | None = None


def _bucket_spec(bucket: Bucket, start: int, end: int) -> store.BucketSpec:
    return day_runs(start, end) if bucket == "day" else sql_bucket_ms(bucket)


class EnergyQuery(_WindowQuery):
    group: str | None = Field(None, max_length=64)
    bucket: Literal["hour", "day"] = "hour"


def _filter(q: CountsQuery) -> store.CountFilter:
    start, end = q.span()
    return store.CountFilter(start, end, scoped_site(q.site), q.device, q.target, q.cls)


@bp.get("/analytics/counts")
@require("viewer")
def counts() -> ResponseReturnValue:
    """Zone entries and line crossings (inbound/outbound) per device, camera, target, class and bucket."""
    q = parse_query(CountsQuery)
    f = _filter(q)
    bucket = served_bucket(q.bucket, f.start_ms, f.end_ms)
    with get_read_engine().connect() as conn:
        rows = store.counts(conn, f, _bucket_spec(bucket, f.start_ms, f.end_ms))
    return jsonify({"from": f.start_ms, "to": f.end_ms, "bucket": bucket,
                    "rows": [dataclasses.asdict(r) for r in rows]})


@bp.get("/analytics/occupancy")
@require("viewer")
def occupancy() -> ResponseReturnValue:
    """Peak number of objects per zone, class and bucket (``target`` filters on the zone)."""
    q = parse_query(CountsQuery)
    f = _filter(q)
    bucket = served_bucket(q.bucket, f.start_ms, f.end_ms)
    with get_read_engine().connect() as conn:
        rows = store.occupancy(conn, f, _bucket_spec(bucket, f.start_ms, f.end_ms))
    return jsonify({"from": f.start_ms, "to": f.end_ms, "bucket": bucket,
                    "rows": [dataclasses.asdict(r) for r in rows]})


def _energy_json(r: store.EnergyRow) -> dict[str, object]:
    return {"site": r.site, "group": r.group, "t": r.t, "energy_wh": round(r.energy_wh, 3),
            "reference_wh": round(r.reference_wh, 3), "lit_h": round(r.lit_h, 4),
            "savings_pct": savings_pct(r.rated_energy_wh, r.reference_wh)}


def _add(a: store.EnergyRow, b: store.EnergyRow) -> store.EnergyRow:
    return dataclasses.replace(a, energy_wh=a.energy_wh + b.energy_wh, reference_wh=a.reference_wh + b.reference_wh,
                               rated_energy_wh=a.rated_energy_wh + b.rated_energy_wh, lit_h=a.lit_h + b.lit_h)


@bp.get("/analytics/energy")
@require("viewer")
def energy() -> ResponseReturnValue:
    """Energy per light group and bucket, with the full-power reference and the savings against it.

    ``commune-<site>`` is every luminaire of the commune; other groups overlap (a luminaire in two groups counts in
    both). ``totals`` sums each group over the window.
    """
    q = parse_query(EnergyQuery)
    start, end = q.span()
    bucket = served_bucket(q.bucket, start, end)
    with get_read_engine().connect() as conn:
        rows = store.energy(conn, start, end, scoped_site(q.site), q.group,
                            day_runs(start, end) if bucket == "day" else None)
    totals: dict[tuple[str, str], store.EnergyRow] = {}
    for r in rows:
        k = (r.site, r.group)
        totals[k] = _add(totals[k], r) if k in totals else dataclasses.replace(r, t=start)
    return jsonify({"from": start, "to": end, "bucket": bucket, "rows": [_energy_json(r) for r in rows],
                    "totals": [_energy_json(totals[k]) for k in sorted(totals)]})
