"""``GET /devices/{device_id}/activity``: a camera box's counts per zone and line over the last hour, bucket by
bucket, and its latest events in words' order (newest first), on both databases, commune-scoped and bounded."""

from __future__ import annotations

import time

import pytest
from flask import Flask

from coordinator.api.routes.device_activity import BUCKET_MS, series
from coordinator.storage import make_engine
from coordinator.storage.schema.analytics import analytics_counts
from coordinator.storage.schema.events import events
from coordinator.storage.schema.fleet import devices
from tests.api_helpers import add_user, make_app

MIN = 60_000


@pytest.fixture
def app(db_url: str) -> Flask:
    return make_app(db_url)


def test_series_put_each_count_in_its_bucket_with_zeros_elsewhere() -> None:
    start = 10 * BUCKET_MS
    rows = [{"t": start, "target": "liberte-west", "cls": 0, "inbound": 3, "outbound": 1, "peak": None},
            {"t": start, "target": "liberte-west", "cls": 2, "inbound": 1, "outbound": 0, "peak": None},
            {"t": start + 2 * BUCKET_MS, "target": "liberte-west", "cls": 0, "inbound": 2, "outbound": 5, "peak": None},
            {"t": start + BUCKET_MS, "target": "crossing", "cls": 0, "inbound": 4, "outbound": 0, "peak": 6}]
    got = series(rows, start, start + 3 * BUCKET_MS, BUCKET_MS)
    assert [s["target"] for s in got] == ["crossing", "liberte-west"]
    west = got[1]
    assert west["inbound"] == [4, 0, 2] and west["outbound"] == [1, 0, 5]
    assert (west["total_in"], west["total_out"]) == (6, 6)
    assert west["classes"] == {"0": [5, 6], "2": [1, 0]}
    assert got[0]["inbound"] == [0, 4, 0]
    assert series([], start, start + BUCKET_MS, BUCKET_MS) == []


def _camera(app: Flask, device: str = "cam-darcy-01", site: str = "dijon") -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(devices.insert().values(id=device, site=site, roles=["camera"], lat=47.3224, lon=5.0355, caps=[],
                                             status="online", created_ms=1, updated_ms=1))
    engine.dispose()


def _seed(app: Flask, now: int) -> None:
    _camera(app)
    _camera(app, "cam-talant-01", "talant")
    engine = make_engine(app.config["DATABASE_URL"])
    minute = now // MIN * MIN
    with engine.begin() as conn:
        for n, (ago, typ, target, body) in enumerate((
                (50 * MIN, "line_crossing", "liberte-west", {"cam": 0, "line": "liberte-west", "track": 1, "cls": 0,
                                                             "inbound": True}),
                (20 * MIN, "counts", None, {"interval_s": 60, "rows": []}),
                (3 * MIN, "zone_enter", "crossing", {"cam": 0, "zone": "crossing", "track": 2, "cls": 2}),
                (2 * 3_600_000, "zone_enter", "crossing", {"cam": 0, "zone": "crossing", "track": 3, "cls": 0}),
        ), start=1):
            conn.execute(events.insert().values(device_id="cam-darcy-01", boot=1, n=n, site="dijon", ts_ms=now - ago,
                                                received_ms=now - ago, type=typ, cam=0, target=target,
                                                cls=body.get("cls"), historical=False, stale=False, body=body))
        for t, target, cls, inbound, outbound in ((minute - 40 * MIN, "liberte-west", 0, 7, 2),
                                                  (minute - 2 * MIN, "liberte-west", 1, 1, 0),
                                                  (minute - 2 * MIN, "crossing", 0, 4, 0),
                                                  (minute - 3 * 3_600_000, "crossing", 0, 99, 0)):
            conn.execute(analytics_counts.insert().values(site="dijon", device_id="cam-darcy-01", cam=0, target=target,
                                                          cls=cls, minute_ms=t, inbound=inbound, outbound=outbound))
    engine.dispose()


def test_a_cameras_card_has_its_last_hour_per_target_and_its_latest_events_newest_first(app: Flask) -> None:
    now = int(time.time() * 1000)
    _seed(app, now)
    viewer = add_user(app, "lecteur", "viewer")
    body = viewer.get("/devices/cam-darcy-01/activity").get_json()
    w = body["window"]
    assert w["bucket_ms"] == BUCKET_MS and w["start_ms"] % BUCKET_MS == 0
    assert now - 65 * MIN <= w["start_ms"] <= now - 60 * MIN and w["end_ms"] > now
    by = {s["target"]: s for s in body["targets"]}
    assert set(by) == {"crossing", "liberte-west"}  # three hours ago is outside the hour
    assert (by["liberte-west"]["total_in"], by["liberte-west"]["total_out"]) == (8, 2)
    assert by["liberte-west"]["classes"] == {"0": [7, 2], "1": [1, 0]}
    at = (now // MIN * MIN - 2 * MIN - w["start_ms"]) // BUCKET_MS
    assert by["crossing"]["total_in"] == 4 and by["crossing"]["inbound"][at] == 4
    assert sum(by["crossing"]["inbound"]) == 4
    n = len(by["crossing"]["inbound"])
    assert n == -(-(w["end_ms"] - w["start_ms"]) // BUCKET_MS) and all(len(s["outbound"]) == n for s in by.values())
    # Events: the last hour's, newest first, without the interval counts the series come from.
    items = body["events"]["items"]
    assert [e["type"] for e in items] == ["zone_enter", "line_crossing"]
    assert body["events"]["total"] == 2
    one = viewer.get("/devices/cam-darcy-01/activity?limit=1").get_json()["events"]
    assert (one["total"], [e["type"] for e in one["items"]]) == (2, ["zone_enter"])
    day = viewer.get("/devices/cam-darcy-01/activity?minutes=240").get_json()
    assert {s["target"]: s["total_in"] for s in day["targets"]} == {"crossing": 103, "liberte-west": 8}
    assert day["events"]["total"] == 3


def test_a_cameras_card_is_commune_scoped_bounded_and_404_for_an_unknown_box(app: Flask) -> None:
    _seed(app, int(time.time() * 1000))
    talant = add_user(app, "agent.talant", "viewer", commune="talant")
    assert talant.get("/devices/cam-talant-01/activity").status_code == 200
    assert talant.get("/devices/cam-darcy-01/activity").status_code == 403
    assert talant.get("/devices/cam-nowhere/activity").status_code == 404
    viewer = add_user(app, "lecteur", "viewer")
    for query in ("minutes=4", "minutes=1441", "limit=0", "limit=201", "limit=ten", "colour=red"):
        resp = viewer.get(f"/devices/cam-darcy-01/activity?{query}")
        assert resp.status_code == 400, query
        assert resp.get_json()["error"]["message"], query
