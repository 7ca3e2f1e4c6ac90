"""Counts, occupancy and energy aggregates: the pure folding, the ingest hooks on both databases, and the API."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from flask import Flask
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from coordinator.analytics import hooks as analytics_hooks
from coordinator.analytics.buckets import day_runs, fold_days, local_day_start
from coordinator.analytics.counts import CameraEvent, CountKey, OccupancyKey, aggregate
from coordinator.analytics.energy import Delta, Rating, Reading, attribute, delta, readings, savings_pct, spread
from coordinator.ingest.hooks import StoredEvent
from coordinator.ingest_hooks import default_hooks
from coordinator.storage import analytics as analytics_store
from coordinator.storage.schema import analytics_counts, analytics_occupancy, energy_hourly
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


# ------------------------------------------------------------------------------------------------ days in SQL

DAY = 86_400_000
#: A year and a bit around both of 2026's clock changes in Dijon (29 March, 25 October).
YEAR_START = int(dt.datetime(2025, 12, 20, 5, tzinfo=dt.UTC).timestamp() * 1000)
YEAR_END = YEAR_START + 390 * DAY


@given(start=st.integers(0, 4_000_000_000_000), span=st.integers(1, 400 * DAY), at=st.floats(0, 1, exclude_max=True))
@example(start=YEAR_START, span=390 * DAY, at=0.25)  # the spring change's day
@example(start=int(dt.datetime(2026, 10, 24, 22, tzinfo=dt.UTC).timestamp() * 1000), span=DAY, at=0.99)  # 25 h
def test_day_runs_give_every_time_its_local_day(start: int, span: int, at: float) -> None:
    runs = day_runs(start, start + span)
    ts = start + int(span * at)
    run = next(r for r in runs if r.start_ms <= ts < r.end_ms)
    assert run.day_of(ts) == local_day_start(ts)
    assert [r.end_ms for r in runs[:-1]] == [r.start_ms for r in runs[1:]], "contiguous"
    assert runs[0].start_ms <= start and runs[-1].end_ms >= start + span
    assert len(runs) <= 2 * (span // (180 * DAY)) + 5, "a few runs a year, not one per day"


def test_the_database_buckets_days_as_the_runs_say(db: Engine) -> None:
    """The CASE over the runs, evaluated by the database, against the zone's rules, on times spread over a year."""
    runs = day_runs(YEAR_START, YEAR_END)
    times = [YEAR_START + i * 1_234_567 for i in range(0, (YEAR_END - YEAR_START) // 1_234_567, 7)]
    times += [r.start_ms + d for r in runs for d in (0, 1, 3_599_999, 3_600_000, 7_200_000) if r.start_ms + d
              < YEAR_END]
    probe = sa.Table("day_probe", sa.MetaData(), sa.Column("x", sa.BigInteger), prefixes=["TEMPORARY"])
    with db.connect() as conn:
        probe.create(conn)
        conn.execute(probe.insert(), [{"x": t} for t in times])
        got = dict(conn.execute(sa.select(probe.c.x, analytics_store._bucket(probe.c.x, runs))).all())
    assert got == {t: local_day_start(t) for t in times}


def _year_of_rows(db: Engine) -> None:
    """Counts, occupancy and energy rows every 97 minutes over a year, both clock changes in it."""
    counts, occ, energy = [], [], []
    for i, m in enumerate(range(YEAR_START, YEAR_END, 97 * MIN)):
        minute = m - m % MIN
        for dev, site in (("cam-1", "dijon"), ("cam-2", "talant")):
            counts.append({"site": site, "device_id": dev, "cam": 0, "target": "gate", "cls": i % 3,
                           "minute_ms": minute, "inbound": i % 7, "outbound": i % 5})
            occ.append({"site": site, "device_id": dev, "cam": 0, "zone": "square", "cls": 0, "minute_ms": minute,
                        "peak": (i * 13) % 11})
        hour = minute - minute % 3_600_000
        if not energy or energy[-1]["hour_ms"] != hour:
            for group in ("commune-dijon", "rue"):  # quarters: sums are exact in binary floating point
                energy.append({"site": "dijon", "group_name": group, "hour_ms": hour, "energy_wh": (i % 9) * 0.25,
                               "rated_energy_wh": (i % 9) * 0.25, "reference_wh": 3.5, "lit_h": 0.75})
    with db.begin() as conn:
        conn.execute(analytics_counts.insert(), counts)
        conn.execute(analytics_occupancy.insert(), occ)
        conn.execute(energy_hourly.insert(), energy)


def test_days_summed_by_the_database_equal_hours_folded_in_python(db: Engine) -> None:
    """The routes' days are what folding their hourly rows in Python (as they were served before) gives."""
    _year_of_rows(db)
    runs = day_runs(YEAR_START, YEAR_END)
    everything = analytics_store.CountFilter(YEAR_START, YEAR_END)
    one_camera = analytics_store.CountFilter(YEAR_START, YEAR_END, device_id="cam-2", target="gate")
    with db.connect() as conn:
        for f in (everything, one_camera):
            hours = analytics_store.counts(conn, f, 3_600_000)
            folded = fold_days(hours, key=lambda r: (r.site, r.device_id, r.cam, r.target, r.cls), t=lambda r: r.t,
                               merge=lambda a, b: replace(a, inbound=a.inbound + b.inbound,
                                                          outbound=a.outbound + b.outbound),
                               retime=lambda r, day: replace(r, t=day))
            days = analytics_store.counts(conn, f, runs)
            assert sorted(days, key=repr) == sorted(folded, key=repr) and len(days) > 360
            assert [r.t for r in days] == sorted(r.t for r in days)
            occ_hours = analytics_store.occupancy(conn, f, 3_600_000)
            occ_folded = fold_days(occ_hours, key=lambda r: (r.site, r.device_id, r.cam, r.zone, r.cls),
                                   t=lambda r: r.t, merge=lambda a, b: replace(a, peak=max(a.peak, b.peak)),
                                   retime=lambda r, day: replace(r, t=day))
            assert sorted(analytics_store.occupancy(conn, f, runs), key=repr) == sorted(occ_folded, key=repr)
        e_hours = analytics_store.energy(conn, YEAR_START, YEAR_END, "dijon", None)
        e_folded = fold_days(e_hours, key=lambda r: (r.site, r.group), t=lambda r: r.t,
                             merge=lambda a, b: replace(a, energy_wh=a.energy_wh + b.energy_wh,
                                                        rated_energy_wh=a.rated_energy_wh + b.rated_energy_wh,
                                                        reference_wh=a.reference_wh + b.reference_wh,
                                                        lit_h=a.lit_h + b.lit_h),
                             retime=lambda r, day: replace(r, t=day))
        e_days = analytics_store.energy(conn, YEAR_START, YEAR_END, "dijon", None, runs)
        assert sorted(e_days, key=repr) == sorted(e_folded, key=repr)
        assert len(e_days) == 2 * 391, "390 days from 06:00 touch 391 local days"


def test_hours_over_more_than_8_days_are_served_by_day_and_the_response_says_so(app: Flask, db: Engine) -> None:
    _year_of_rows(db)
    viewer = add_user(app, "viewer", "viewer")
    week = viewer.get(f"/analytics/energy?from={YEAR_END - 8 * DAY}&to={YEAR_END}&bucket=hour").get_json()
    hours = {r["t"] for r in week["rows"]}
    assert week["bucket"] == "hour" and len(hours) > 8 * 24 // 2 and all(t % 3_600_000 == 0 for t in hours)
    month = viewer.get(f"/analytics/energy?to={YEAR_END}&window=30d&bucket=hour").get_json()
    assert month["bucket"] == "day" and len({r["t"] for r in month["rows"]}) in (30, 31)
    year = viewer.get(f"/analytics/energy?from={YEAR_START}&to={YEAR_END}").get_json()
    by_day = viewer.get(f"/analytics/energy?from={YEAR_START}&to={YEAR_END}&bucket=day").get_json()
    assert year["bucket"] == "day" and year == by_day
    assert {r["t"] for r in year["rows"]} == {local_day_start(t) for t in range(YEAR_START, YEAR_END, 3_600_000)}
    totals = {r["group"]: r["energy_wh"] for r in year["totals"]}
    assert totals["rue"] == sum(r["energy_wh"] for r in year["rows"] if r["group"] == "rue")
    for route in ("counts", "occupancy"):
        q = f"/analytics/{route}?from={YEAR_START}&to={YEAR_END}&device=cam-1"
        served = viewer.get(q + "&bucket=hour").get_json()
        assert served["bucket"] == "day" and served["rows"] == viewer.get(q + "&bucket=day").get_json()["rows"]
        assert viewer.get(f"/analytics/{route}?from={YEAR_END - 2 * DAY}&to={YEAR_END}").get_json()["bucket"] == \
            "hour"
