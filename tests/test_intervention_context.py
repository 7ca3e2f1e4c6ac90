"""``GET /interventions/{iid}/context``: the triggering events, the counts around, the place and the rule's reasons,
on both databases, bounded and commune-scoped."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask

from coordinator.api.routes.intervention_context import COARSE_BUCKET_MS, FINE_BUCKET_MS, window
from coordinator.dispatch.jobs import run_event_rules
from coordinator.ingest.hooks import StoredEvent
from coordinator.storage import make_engine
from coordinator.storage.schema.analytics import analytics_counts, analytics_occupancy
from coordinator.storage.schema.events import events
from coordinator.storage.schema.fleet import devices
from tests.api_helpers import Caller, add_user, make_app

MIN = 60_000


@pytest.fixture
def app(db_url: str) -> Flask:
    return make_app(db_url)


def _now() -> int:
    return int(time.time() * 1000)


def _store(app: Flask, items: list[tuple[str, int, int, dict[str, Any]]], now: int) -> None:
    """Events stored as ingest stores them (the zone in ``target``), then handed to the rules."""
    engine = make_engine(app.config["DATABASE_URL"])
    stored = [StoredEvent("cam-darcy-01", "dijon", 1, n, ts, typ, body, False) for typ, n, ts, body in items]
    with engine.begin() as conn:
        for e in stored:
            conn.execute(events.insert().values(device_id=e.device_id, boot=e.boot, n=e.n, site=e.site, ts_ms=e.ts_ms,
                                                received_ms=e.ts_ms, type=e.type, cam=0, target=e.body.get("zone"),
                                                historical=False, stale=False, body=e.body))
        run_event_rules(conn, stored, now)
    engine.dispose()


def _crowd(app: Flask) -> tuple[int, int, int]:
    """A crowd rule fires on cam-darcy-01's zone ``crossing``; counts are stored around the trigger."""
    sup = add_user(app, "chef", "supervisor")
    rule = sup.post("/rules", json={"name": "Foule Darcy", "commune": "dijon",
                                    "config": {"type": "crowd", "threshold": 10}}).get_json()
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(devices.insert().values(id="cam-darcy-01", site="dijon", roles=["camera"], lat=47.3224,
                                             lon=5.0355, caps=[], status="online", created_ms=1, updated_ms=1))
    engine.dispose()
    now = _now()
    trigger = now - 10 * MIN
    occ = {"cam": 0, "zone": "crossing"}
    _store(app, [("occupancy", 1, trigger - 3 * 3_600_000, {**occ, "counts": [[0, 3]]}),  # long before: outside
                 ("occupancy", 2, trigger - 5 * MIN, {**occ, "counts": [[0, 4]]}),
                 ("occupancy", 3, trigger - 2 * MIN, {"cam": 0, "zone": "parvis", "counts": [[0, 1]]}),  # other zone
                 ("occupancy", 4, trigger, {**occ, "counts": [[0, 12]]})], now)
    minute = trigger // MIN * MIN
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        for t, zone, inbound in ((minute - 7 * MIN, "crossing", 4), (minute - 6 * MIN, "crossing", 5),
                                 (minute, "crossing", 9), (minute, "parvis", 2),
                                 (minute - 5 * 3_600_000, "crossing", 99)):
            conn.execute(analytics_counts.insert().values(site="dijon", device_id="cam-darcy-01", cam=0, target=zone,
                                                          cls=0, minute_ms=t, inbound=inbound, outbound=0))
        conn.execute(analytics_occupancy.insert().values(site="dijon", device_id="cam-darcy-01", cam=0,
                                                         zone="crossing", cls=0, minute_ms=minute, peak=12))
    engine.dispose()
    return rule["id"], trigger, minute


def test_the_context_holds_the_triggering_events_the_counts_around_and_the_rules_reasons(app: Flask) -> None:
    rule_id, trigger, minute = _crowd(app)
    viewer = add_user(app, "lecteur", "viewer")
    found = viewer.get("/interventions?kind=crowd").get_json()["interventions"]
    assert len(found) == 1
    ctx = viewer.get(f"/interventions/{found[0]['id']}/context").get_json()
    assert ctx["window"]["start_ms"] == trigger - 60 * MIN and ctx["window"]["bucket_ms"] == FINE_BUCKET_MS
    assert [(e["n"], e["target"], e["body"]["counts"]) for e in ctx["events"]["items"]] == [
        (2, "crossing", [[0, 4]]), (4, "crossing", [[0, 12]])]  # the zone's events in the window, oldest first
    assert ctx["events"]["total"] == 2
    bucket = minute // FINE_BUCKET_MS * FINE_BUCKET_MS
    by_t = {c["t"]: c for c in ctx["counts"]}
    assert {c["target"] for c in ctx["counts"]} == {"crossing"}
    assert by_t[bucket]["inbound"] == 9 and by_t[bucket]["peak"] == 12
    assert sum(c["inbound"] for c in ctx["counts"]) == 18  # 4 + 5 + 9; five hours before is outside
    assert (ctx["rule"]["id"], ctx["rule"]["name"], ctx["rule"]["type"]) == (rule_id, "Foule Darcy", "crowd")
    assert ctx["rule"]["config"]["threshold"] == 10
    assert ctx["reasons"] == {"count": 12, "threshold": 10}
    assert ctx["place"] == {"commune": "dijon", "lat": 47.3224, "lon": 5.0355, "device_id": "cam-darcy-01",
                            "target": "crossing"}
    wide = viewer.get(f"/interventions/{found[0]['id']}/context?before_min=1440&limit=1").get_json()
    assert wide["window"]["bucket_ms"] == COARSE_BUCKET_MS
    assert wide["events"]["total"] == 3 and [e["n"] for e in wide["events"]["items"]] == [1]


def test_an_intervention_without_a_device_has_no_events_and_the_query_is_bounded(app: Flask) -> None:
    op: Caller = add_user(app, "operateur", "operator")
    iv = op.post("/interventions", json={"kind": "incident", "title": "Arbre tombé", "priority": "high",
                                         "commune": "dijon"}).get_json()
    ctx = op.get(f"/interventions/{iv['id']}/context").get_json()
    assert ctx["events"] == {"total": 0, "limit": 100, "items": []} and ctx["counts"] == [] and ctx["rule"] is None
    for query in ("before_min=1441", "after_min=-1", "limit=0", "limit=501", "limit=ten", "colour=red"):
        resp = op.get(f"/interventions/{iv['id']}/context?{query}")
        assert resp.status_code == 400, query
        assert resp.get_json()["error"]["message"], query
    assert op.get("/interventions/424242/context").status_code == 404
    talant = add_user(app, "agent.talant", "viewer", commune="talant")
    assert talant.get(f"/interventions/{iv['id']}/context").status_code == 403


def test_the_window_widens_the_reports_span_and_coarsens_its_buckets() -> None:
    assert window(1_000_000, 1_000_000, 0, 0) == (1_000_000, 1_000_001, FINE_BUCKET_MS)
    start, end, bucket = window(10 * 3_600_000, 12 * 3_600_000, 60, 30)
    assert (start, end, bucket) == (9 * 3_600_000, 12 * 3_600_000 + 30 * MIN + 1, FINE_BUCKET_MS)
    assert window(0, 7 * 3_600_000, 0, 0)[2] == COARSE_BUCKET_MS
    assert window(5, 1, 0, 0)[1] == 6  # a latest report before the first (clock skew) does not shrink it
