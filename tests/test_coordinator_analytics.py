"""Counts, occupancy and energy aggregates: the pure folding, the ingest hooks on both databases, and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from sqlalchemy.engine import Engine

from coordinator.analytics import hooks as analytics_hooks
from coordinator.analytics.buckets import local_day_start
from coordinator.analytics.counts import CameraEvent, CountKey, OccupancyKey, aggregate
from coordinator.analytics.energy import Delta, Rating, Reading, attribute, delta, readings, savings_pct, spread
from coordinator.ingest.hooks import StoredEvent
from coordinator.ingest_hooks import default_hooks
from tests.api_helpers import add_user

H = int(dt.datetime(2026, 11, 25, 17, tzinfo=dt.UTC).timestamp() * 1000)  # 18:00 in Dijon
MIN = 60_000


def _counts(ts: int, rows: list[Any], device: str = "cam-1", site: str = "dijon") -> CameraEvent:
    return CameraEvent(site, device, ts, "counts", {"cam": 0, "interval_s": 60, "rows": rows})


# ------------------------------------------------------------------------------------------------ pure


def test_counts_come_from_interval_counts_only_never_from_the_live_events_they_repeat() -> None:
    events = [
        _counts(H + MIN, [{"target": "crosswalk", "cls": 0, "inbound": 3, "outbound": 0},
                          {"target": "gate", "cls": 2, "inbound": 1, "outbound": 4}]),
        _counts(H + MIN, [["crosswalk", 0, 2, 0]], device="cam-2"),
        CameraEvent("dijon", "cam-1", H + 30_000, "zone_enter", {"cam": 0, "zone": "crosswalk", "cls": 0}),
        CameraEvent("dijon", "cam-1", H + 31_000, "line_crossing", {"cam": 0, "line": "gate", "cls": 2}),
    ]
    agg = aggregate(events)
    assert agg.counts == {
        CountKey("dijon", "cam-1", 0, "crosswalk", 0, H): (3, 0),
        CountKey("dijon", "cam-1", 0, "gate", 2, H): (1, 4),
        CountKey("dijon", "cam-2", 0, "crosswalk", 0, H): (2, 0),
    }, "an interval ending at H+1min is the minute starting at H"


def test_occupancy_keeps_the_peak_of_each_class_within_the_minute() -> None:
    occ = lambda ts, counts: CameraEvent("dijon", "cam-1", ts, "occupancy",  # noqa: E731
                                         {"cam": 0, "zone": "square", "counts": counts})
    agg = aggregate([occ(H + 1000, [[0, 2]]), occ(H + 20_000, [[0, 5], [1, 1]]), occ(H + 40_000, []),
                     occ(H + MIN + 1, [[0, 1]])])
    assert agg.occupancy == {OccupancyKey("dijon", "cam-1", 0, "square", 0, H): 5,
                             OccupancyKey("dijon", "cam-1", 0, "square", 1, H): 1,
                             OccupancyKey("dijon", "cam-1", 0, "square", 0, H + MIN): 1}


def test_meter_deltas_handle_first_readings_resets_and_replays() -> None:
    r = lambda ts, e, h: Reading("b", "l1", ts, e, h)  # noqa: E731
    assert delta(None, r(1, 10, 1)) is None, "the first reading is a baseline"
    assert delta(r(1, 10, 1), r(2, 15, 1.5)) == Delta(1, 2, 5, 0.5)
    assert delta(r(2, 15, 1.5), r(2, 15, 1.5)) is None
    assert delta(r(2, 15, 1.5), r(3, 4, 0.1)) == Delta(2, 3, 4, 0.1), "a reset counts from zero"


def test_a_delta_over_several_hours_is_spread_in_proportion() -> None:
    assert spread(H + 30 * MIN, H + 90 * MIN) == [(H, 0.5), (H + 3_600_000, 0.5)]
    assert spread(H + MIN, H + 2 * MIN) == [(H, 1.0)]
    assert spread(H, H + 100 * 86_400_000)[0][1] == 1.0, "beyond a month: the last hour"


def test_energy_goes_to_every_group_of_the_luminaire_and_to_its_commune_with_a_full_power_reference() -> None:
    sums = attribute([("dijon", "b", "l1", Delta(H, H + MIN, 7.0, 0.5))], {("b", "l1"): Rating(20.0, ("rue",))})
    assert {k.group for k in sums} == {"rue", "commune-dijon"}
    s = sums[next(iter(sums))]
    assert (s.energy_wh, s.reference_wh, s.lit_h) == (7.0, 10.0, 0.5)
    assert savings_pct(s.rated_energy_wh, s.reference_wh) == 30.0
    assert savings_pct(0, 0) is None


def test_readings_are_read_from_the_luminaire_table_of_light_telemetry() -> None:
    metrics = {"light.lum": {"ids": ["a", "b", "c"], "energy_wh": [10, None, 3], "hours": [1.5, None, 0.25]}}
    assert readings("box", 5, metrics) == [Reading("box", "a", 5, 10.0, 1.5), Reading("box", "c", 5, 3.0, 0.25)]
    assert readings("cam", 5, {"link.sent": 3}) == []


def test_local_days_follow_europe_paris() -> None:
    assert local_day_start(H) == int(dt.datetime(2026, 11, 24, 23, tzinfo=dt.UTC).timestamp() * 1000)


# ------------------------------------------------------------------------------------------------ storage + API


def _stored(n: int, ts: int, type_: str, body: dict[str, Any], device: str = "cam-1",
            site: str = "dijon") -> StoredEvent:
    return StoredEvent(device, site, 1, n, ts, type_, body, False)


def test_the_hooks_are_registered_with_ingest() -> None:
    hooks = default_hooks()
    assert analytics_hooks.on_events in hooks.events and analytics_hooks.on_telemetry in hooks.telemetry


def test_counts_accumulate_batch_after_batch_and_are_served_by_minute_hour_and_day(app: Flask, db: Engine) -> None:
    row = lambda i, o: {"target": "gate", "cls": 0, "inbound": i, "outbound": o}  # noqa: E731
    with db.begin() as conn:
        analytics_hooks.on_events(conn, [_stored(1, H + MIN, "counts", {"cam": 0, "interval_s": 60,
                                                                         "rows": [row(2, 1)]})])
    with db.begin() as conn:  # another worker, another batch, the same minute (a second camera interval)
        analytics_hooks.on_events(conn, [_stored(2, H + MIN, "counts", {"cam": 0, "interval_s": 60,
                                                                         "rows": [row(1, 1)]}),
                                         _stored(3, H + 2 * MIN, "counts", {"cam": 0, "interval_s": 60,
                                                                             "rows": [row(0, 5)]}),
                                         _stored(4, H + 3 * MIN, "counts", {"cam": 0, "interval_s": 60,
                                                                             "rows": [row(4, 0)]},
                                                 device="cam-t", site="talant")])
    viewer = add_user(app, "viewer", "viewer")
    q = f"/analytics/counts?from={H}&to={H + 3_600_000}"
    minutes = viewer.get(q + "&bucket=minute&site=dijon").get_json()["rows"]
    assert [(r["t"], r["inbound"], r["outbound"]) for r in minutes] == [(H, 3, 2), (H + MIN, 0, 5)]
    hours = viewer.get(q + "&bucket=hour").get_json()["rows"]
    assert [(r["device_id"], r["inbound"], r["outbound"]) for r in hours] == [("cam-1", 3, 7), ("cam-t", 4, 0)]
    days = viewer.get(q + "&bucket=day&target=gate&site=dijon").get_json()["rows"]
    assert [(r["t"], r["inbound"]) for r in days] == [(local_day_start(H), 3)]
    talant = add_user(app, "agent.talant", "viewer", "talant")
    assert [r["device_id"] for r in talant.get(q).get_json()["rows"]] == ["cam-t"]
    assert talant.get(q + "&site=dijon").status_code == 403
    assert viewer.get(f"/analytics/counts?from={H}&to={H + 3 * 86_400_000}&bucket=minute").status_code == 400
    assert viewer.get("/analytics/counts?window=7d&bucket=day").status_code == 200


def test_occupancy_peaks_are_served_per_bucket(app: Flask, db: Engine) -> None:
    with db.begin() as conn:
        analytics_hooks.on_events(conn, [
            _stored(1, H + 1000, "occupancy", {"cam": 0, "zone": "square", "counts": [[0, 4]]}),
            _stored(2, H + MIN + 1000, "occupancy", {"cam": 0, "zone": "square", "counts": [[0, 6]]}),
        ])
    with db.begin() as conn:
        analytics_hooks.on_events(conn, [_stored(3, H + 2000, "occupancy", {"cam": 0, "zone": "square",
                                                                             "counts": [[0, 2]]})])
    viewer = add_user(app, "viewer", "viewer")
    q = f"/analytics/occupancy?from={H}&to={H + 3_600_000}"
    assert [(r["t"], r["peak"]) for r in viewer.get(q + "&bucket=minute").get_json()["rows"]] == [
        (H, 4), (H + MIN, 6)]
    assert [r["peak"] for r in viewer.get(q).get_json()["rows"]] == [6]
