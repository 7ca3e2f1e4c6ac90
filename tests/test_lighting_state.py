"""Measured lighting state: the pure rules, then ``/lighting/luminaires`` and ``/lighting/groups`` on both databases."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

import vigie_wire as wire
from coordinator.analytics.buckets import local_day_start
from coordinator.ingest.hooks import StoredEvent
from coordinator.ingest_hooks import default_hooks
from coordinator.lighting import card as card_mod
from coordinator.lighting import hooks as lighting_hooks
from coordinator.lighting import state as state_mod
from coordinator.lighting.group_summary import GroupSummaryCache
from coordinator.lighting.layer import LuminaireLayerCache
from coordinator.lighting.measured import STATES, Reading, active_faults, classify, lum_levels, lum_table, spread
from coordinator.retention import enforce_retention
from coordinator.storage import make_engine
from coordinator.storage.ingest import store_batch
from coordinator.storage.interventions import luminaire_healthy
from coordinator.storage.lighting_state import LampFaultReport, fault_changes, record_lamp_faults
from coordinator.storage.schema import (
    energy_hourly,
    events,
    lamp_faults,
    light_group_members,
    light_luminaires,
    telemetry,
)
from tests.api_helpers import add_user, make_app
from tests.boxes import write_box
from tests.ingest_helpers import decoded, header
from tests.ingest_helpers import register as register_ids
from tests.lighting_helpers import lighting, register

# ------------------------------------------------------------------------------------------------ pure


def test_the_luminaire_table_is_read_by_columns() -> None:
    metrics = {"light.lum": {"ids": ["l01", "l02"], "level": [70, None], "target": [70, 70.0],
                             "power_w": [41.5, None], "energy_wh": [1200, 800], "hours": [10.5, 9],
                             "switch_ons": [3, 3]}}
    table = lum_table(metrics)
    assert table == {"l01": Reading(70.0, 70.0, 41.5, 1200.0, 10.5, 3.0), "l02": Reading(None, 70.0, None, 800.0, 9.0,
                                                                                        3.0)}


def test_a_malformed_table_loses_the_bad_values_only() -> None:
    metrics = {"light.lum": {"ids": ["l01", 7, "l03"], "level": [70, 50, "high"], "target": [70, 70],
                             "power_w": [True, float("nan"), 3.5]}}
    table = lum_table(metrics)
    assert set(table) == {"l01", "l03"}  # an id that is not a string is not a luminaire
    assert table["l01"] == Reading(level=70.0)  # target column of the wrong length, power a bool: dropped
    assert table["l03"] == Reading(power_w=3.5)
    assert lum_table({"light.lum": "nope"}) == {} and lum_table(None) == {} and lum_table({"light.lum": {}}) == {}


def test_a_fault_wins_then_missing_data_then_the_measured_level() -> None:
    assert classify(Reading(level=100), faulty=True, fresh=True) == "fault"
    assert classify(None, faulty=True, fresh=False) == "fault"
    assert classify(Reading(level=100), faulty=False, fresh=False) == "no_data"
    assert classify(Reading(level=None, target=70), faulty=False, fresh=True) == "no_data"
    assert classify(None, faulty=False, fresh=True) == "no_data"
    assert classify(Reading(level=0), faulty=False, fresh=True) == "off"
    assert classify(Reading(level=70), faulty=False, fresh=True) == "dimmed"
    assert classify(Reading(level=99.6), faulty=False, fresh=True) == "on"


def test_the_last_change_of_a_fault_wins() -> None:
    changes = [("n1", "l01", "lampFailure", True), ("n1", "l02", "supplyLoss", True),
               ("n1", "l01", "dimmingFailure", True), ("n1", "l02", "supplyLoss", False)]
    assert active_faults(changes) == {("n1", "l01"): ["dimmingFailure", "lampFailure"]}


def test_the_spread_of_no_level_is_empty() -> None:
    s = spread([None, None])
    assert (s.n, s.median, s.q1, s.q3, s.low, s.high) == (0, None, None, None, None, None)


@given(st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=100)), max_size=300))
@example([70.0])
@example([0.0, 100.0])
def test_the_spread_orders_its_figures_and_counts_the_levels(levels: list[float | None]) -> None:
    s = spread(levels)
    values = [v for v in levels if v is not None]
    assert s.n == len(values)
    if values:
        assert s.low is not None and s.high is not None and s.median is not None
        assert s.q1 is not None and s.q3 is not None
        assert s.low == min(values) and s.high == max(values)
        # Quartiles and median are rounded to 0.1 %: they stay within the extremes, in order, to that precision.
        assert s.low - 0.05 <= s.q1 <= s.median + 0.05 and s.median <= s.q3 + 0.05 and s.q3 <= s.high + 0.05


_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-5, 150), st.floats(allow_nan=True), st.text(max_size=3))


@given(st.lists(st.one_of(st.sampled_from(["l01", "l02", "l03"]), st.integers(0, 3)), max_size=6),
       st.lists(_VALUE, max_size=6), st.lists(_VALUE, max_size=6))
@example(["l01", "l02"], [70, None], [70, 70.0])
@example(["l01", 7], [float("nan"), True], [70])
def test_levels_are_read_as_the_full_table_reads_them(ids: list[Any], level: list[Any], target: list[Any]) -> None:
    """The group summary reads only level and target: the same values the luminaire list reads."""
    metrics = {"light.lum": {"ids": ids, "level": level, "target": target, "power_w": level}}
    assert lum_levels(metrics) == {lum: (r.level, r.target) for lum, r in lum_table(metrics).items()}
    assert lum_levels(None) == {} and lum_levels({"light.lum": {"ids": "l01"}}) == {}


# ------------------------------------------------------------------------------------------------ API


@pytest.fixture
def app(db_url: str) -> Flask:
    """The broker is unreachable: an override is stored (and in force) without being published."""
    return make_app(db_url, MQTT_PORT=1, MQTT_PUBLISH_TIMEOUT_S=0.2)


def _now() -> int:
    return int(time.time() * 1000)


def _lum_metrics(levels: list[float | None], targets: list[float]) -> dict[str, Any]:
    n = len(levels)
    return {"light.n": n, "light.lum": {"ids": [f"l{i:02d}" for i in range(1, n + 1)], "level": levels,
                                        "target": targets, "power_w": [None if v is None else v * 0.6 for v in levels],
                                        "energy_wh": [1000] * n, "hours": [10] * n, "switch_ons": [2] * n}}


def _district(tmp_path: Path, db: Engine) -> int:
    """Four cabinets: two in rue-liberte (one also in place-rude), one silent for 10 minutes, one in Talant."""
    boxes = []
    for dev, site, groups, n in (("light-liberte-01", "dijon", ("rue-liberte",), 4),
                                 ("light-liberte-02", "dijon", ("rue-liberte", "place-rude"), 4),
                                 ("light-darcy-01", "dijon", ("place-darcy",), 2),
                                 ("light-talant-01", "talant", ("centre",), 2)):
        cfg, _ = write_box(tmp_path, 1883, dev, site=site, lighting=lighting(tmp_path / f"{dev}.json", groups, n))
        boxes.append(cfg)
    register(db, *boxes)
    now = _now()
    with db.begin() as conn:
        for dev, ts, levels, targets in (
                ("light-liberte-01", now - 20_000, [70, 70, 69.5, None], [70, 70, 70, 70]),
                ("light-liberte-02", now - 20_000, [100, 100, 0, 100], [100, 100, 100, 100]),
                ("light-darcy-01", now - 10 * 60_000, [100, 100], [100, 100]),
                ("light-talant-01", now - 5_000, [50, 50], [50, 50])):
            conn.execute(sa.insert(telemetry).values(device_id=dev, ts_ms=ts, stale=False,
                                                     metrics=_lum_metrics(levels, targets)))
        faults = []
        for n, (lum, fault, active) in enumerate((("l03", "lampFailure", True), ("l04", "supplyLoss", True),
                                                  ("l04", "supplyLoss", False)), start=1):
            conn.execute(sa.insert(events).values(
                device_id="light-liberte-02", boot=1, n=n, site="dijon", ts_ms=now - 60_000 + n, received_ms=now,
                type="lamp_fault", target=lum, historical=False, stale=False,
                body={"lum": lum, "fault": fault, "active": active}))
            faults.append(StoredEvent("light-liberte-02", "dijon", 1, n, now - 60_000 + n, "lamp_fault",
                                      {"lum": lum, "fault": fault, "active": active}, False))
        lighting_hooks.on_fault_events(conn, faults)  # what ingest does in the same transaction
        today = local_day_start(now)
        for hour, wh in ((today, 300.0), (today + 3_600_000, 250.0), (today - 3_600_000, 999.0)):
            conn.execute(sa.insert(energy_hourly).values(site="dijon", group_name="rue-liberte", hour_ms=hour,
                                                         energy_wh=wh, rated_energy_wh=wh, reference_wh=wh * 2,
                                                         lit_h=4.0))
    return now


def test_luminaires_come_with_their_measured_state_page_by_page(app: Flask, db_url: str, tmp_path: Path) -> None:
    db = make_engine(db_url)
    _district(tmp_path, db)
    db.dispose()
    viewer = add_user(app, "lecteur", "viewer")
    first = viewer.get("/lighting/luminaires?site=dijon&limit=4").get_json()
    assert first["total"] == 10 and first["limit"] == 4 and first["offset"] == 0
    seen = []
    for offset in (0, 4, 8):
        page = viewer.get(f"/lighting/luminaires?site=dijon&limit=4&offset={offset}").get_json()
        seen += [(lum["device_id"], lum["lum_id"]) for lum in page["luminaires"]]
    assert len(seen) == len(set(seen)) == 10 and seen == sorted(seen)
    by = {(lum["device_id"], lum["lum_id"]): lum for lum in
          viewer.get("/lighting/luminaires?site=dijon&limit=1000").get_json()["luminaires"]}
    assert [by[("light-liberte-01", f"l0{i}")]["state"] for i in (1, 2, 3, 4)] == ["dimmed", "dimmed", "dimmed",
                                                                                  "no_data"]
    assert by[("light-liberte-01", "l01")]["level"] == 70 and by[("light-liberte-01", "l01")]["target"] == 70
    assert [by[("light-liberte-02", f"l0{i}")]["state"] for i in (1, 2, 3, 4)] == ["on", "on", "fault", "on"]
    assert by[("light-liberte-02", "l03")]["faults"] == ["lampFailure"]
    assert by[("light-liberte-02", "l04")]["faults"] == []  # its supply came back
    assert {by[("light-darcy-01", lum)]["state"] for lum in ("l01", "l02")} == {"no_data"}  # 10 min old: stale
    assert by[("light-liberte-02", "l01")]["groups"] == ["place-rude", "rue-liberte"]
    assert viewer.get("/lighting/luminaires?group=rue-liberte").get_json()["total"] == 8
    assert viewer.get("/lighting/luminaires?group=commune-talant").get_json()["total"] == 2
    assert viewer.get("/lighting/luminaires?device=light-darcy-01").get_json()["total"] == 2
    assert viewer.get("/lighting/luminaires").get_json()["total"] == 12


def test_luminaires_are_commune_scoped_and_their_parameters_bounded(app: Flask, db_url: str, tmp_path: Path) -> None:
    db = make_engine(db_url)
    _district(tmp_path, db)
    db.dispose()
    talant = add_user(app, "agent.talant", "viewer", commune="talant")
    mine = talant.get("/lighting/luminaires").get_json()
    assert mine["total"] == 2 and {lum["site"] for lum in mine["luminaires"]} == {"talant"}
    assert talant.get("/lighting/luminaires?site=dijon").status_code == 403
    assert talant.get("/lighting/groups?site=dijon").status_code == 403
    assert [g["group"] for g in talant.get("/lighting/groups").get_json()["groups"]] == ["commune-talant", "centre"]
    viewer = add_user(app, "lecteur", "viewer")
    for query in ("limit=0", "limit=1001", "offset=-1", "offset=1000001", "site=Dijon%20Centre", "group=a/b",
                  "limit=ten", "colour=red"):
        resp = viewer.get(f"/lighting/luminaires?{query}")
        assert resp.status_code == 400, query
        assert resp.get_json()["error"]["message"], query
    assert viewer.get("/lighting/groups?site=x%20y").status_code == 400
    assert viewer.get("/lighting/luminaires?offset=50").get_json()["luminaires"] == []


def test_groups_say_calendar_override_commanded_and_measured_levels(app: Flask, db_url: str, tmp_path: Path) -> None:
    db = make_engine(db_url)
    now = _district(tmp_path, db)
    db.dispose()
    operator = add_user(app, "operateur", "operator")
    sent = operator.post("/lighting/overrides", json={"scope": "group", "site": "dijon", "group": "rue-liberte",
                                                      "level": 100, "duration_s": 600})
    assert sent.status_code == 201, sent.get_json()
    groups = operator.get("/lighting/groups?site=dijon").get_json()["groups"]
    assert [g["group"] for g in groups] == ["commune-dijon", "place-darcy", "place-rude", "rue-liberte"]
    rue = groups[3]
    assert rue["luminaires"] == 8
    assert rue["states"] == {"on": 3, "dimmed": 3, "off": 0, "fault": 1, "no_data": 1}
    # Measured: 0 (the failed lamp), 69.5, 70, 70, 100, 100, 100; the silent gear has no level.
    assert rue["measured"] == {"n": 7, "median": 70.0, "q1": 69.8, "q3": 100.0, "min": 0.0, "max": 100.0}
    assert rue["commanded"]["median"] == 100.0 and rue["commanded"]["min"] == 70.0
    assert rue["faults"] == 1
    assert rue["override"] is not None
    assert rue["override"]["level"] == 100 and rue["override"]["by"] == "operateur"
    assert now + 590_000 <= rue["override"]["until_ms"] <= _now() + 600_000
    assert rue["calendar"] == {"source": "config", "entries": [], "updated_ms": None, "updated_by": None}
    assert rue["energy_today"] == {"energy_wh": 550.0, "reference_wh": 1100.0}  # yesterday's hour left out
    assert [c["device_id"] for c in rue["cabinets"]] == ["light-liberte-01", "light-liberte-02"]
    assert rue["cabinets"][0]["measured"]["median"] == 70.0 and rue["cabinets"][0]["states"]["no_data"] == 1
    assert rue["cabinets"][1]["faults"] == 1
    whole = groups[0]
    assert whole["luminaires"] == 10 and whole["states"]["no_data"] == 3
    assert whole["override"] is None  # the override was sent to rue-liberte only
    assert groups[1]["measured"]["n"] == 0 and groups[1]["measured"]["median"] is None


def test_the_map_layer_carries_every_luminaire_by_columns(app: Flask, db_url: str, tmp_path: Path) -> None:
    db = make_engine(db_url)
    _district(tmp_path, db)
    db.dispose()
    viewer = add_user(app, "lecteur", "viewer")
    layer = viewer.get("/lighting/map?site=dijon").get_json()
    assert layer["count"] == 10 and len(layer["lum"]) == len(layer["state"]) == len(layer["lat"]) == 10
    rows = {(layer["devices"][d], lum): (layer["states"][s], level, layer["faults"].get(str(i), []))
            for i, (d, lum, s, level) in enumerate(zip(layer["device"], layer["lum"], layer["state"], layer["level"],
                                                       strict=True))}
    paged = viewer.get("/lighting/luminaires?site=dijon&limit=1000").get_json()["luminaires"]
    assert rows == {(lum["device_id"], lum["lum_id"]): (lum["state"], lum["level"], lum["faults"]) for lum in paged}
    assert rows[("light-liberte-02", "l03")] == ("fault", 0, ["lampFailure"])
    assert layer["sites"] == ["dijon"] and set(layer["site"]) == {0}
    assert viewer.get("/lighting/map").get_json()["count"] == 12
    talant = add_user(app, "agent.talant", "viewer", commune="talant")
    assert talant.get("/lighting/map").get_json()["sites"] == ["talant"]
    assert talant.get("/lighting/map?site=dijon").status_code == 403
    assert viewer.get("/lighting/map?site=Dijon!").status_code == 400


def _store_fault(conn: sa.Connection, device: str, site: str, n: int, ts: int, lum: str, active: bool) -> None:
    """A ``lampFailure`` report stored as ingest stores it: the event, and the fault's kept state in the same
    transaction."""
    body = {"lum": lum, "fault": "lampFailure", "active": active}
    conn.execute(sa.insert(events).values(device_id=device, boot=1, n=n, site=site, ts_ms=ts, received_ms=ts,
                                          type="lamp_fault", target=lum, historical=False, stale=False, body=body))
    lighting_hooks.on_fault_events(conn, [StoredEvent(device, site, 1, n, ts, "lamp_fault", body, False)])


def _plain_layer(db: Engine, site: str | None, now: int) -> dict[str, Any]:
    with db.connect() as conn:
        return state_mod.luminaire_layer(conn, site, now)


def test_the_kept_map_layer_follows_every_change_as_the_plain_computation_does(db_url: str, tmp_path: Path) -> None:
    """The layer kept between requests equals the one built from scratch after each kind of change: telemetry, a
    lamp fault stored then repaired, a node falling silent with time, a box's inventory replaced."""
    db = make_engine(db_url)
    now = _district(tmp_path, db)
    cache = LuminaireLayerCache()

    def same(at: int) -> str:
        etags = set()
        for site in (None, "dijon", "talant", "quetigny"):
            with db.connect() as conn:
                kept = cache.layer(conn, site, at)
            assert json.loads(kept.body(at)) == _plain_layer(db, site, at), site
            etags.add(kept.etag)
        assert len(etags) == 4  # one per scope
        with db.connect() as conn:
            return cache.layer(conn, None, at).etag

    first = same(now)
    assert same(now + 1) == first  # nothing changed: same answer
    with db.begin() as conn:
        conn.execute(sa.update(telemetry).where(telemetry.c.device_id == "light-liberte-01")
                     .values(ts_ms=now + 1_000, metrics=_lum_metrics([0, 0, 0, 0], [0, 0, 0, 0])))
    second = same(now + 2)
    assert second != first
    seen = {second}
    for n, active in ((10, True), (11, False)):  # the lamp fails, then is repaired
        with db.begin() as conn:
            _store_fault(conn, "light-talant-01", "talant", n, now + n, "l02", active)
        seen.add(same(now + 20))
    assert len(seen) == 3
    # Talant's node falls silent: five minutes later its luminaires have no data, with no write at all.
    late = same(now + 5 * 60_000 + 5_001)
    with db.connect() as conn:
        assert json.loads(cache.layer(conn, "talant", now + 5 * 60_000 + 5_001).body(0))["state"] == [4, 4]
    with db.begin() as conn:
        conn.execute(sa.delete(light_luminaires).where(light_luminaires.c.device_id == "light-darcy-01"))
    assert same(now + 5 * 60_000 + 5_002) != late
    db.dispose()


def test_the_kept_group_summaries_follow_every_change_as_the_plain_computation_does(
        app: Flask, db_url: str, tmp_path: Path) -> None:
    """The lighting page's groups, from the kept cabinets, equal the ones computed from scratch after telemetry,
    a lamp fault, an override, time passing and an inventory change."""
    db = make_engine(db_url)
    now = _district(tmp_path, db)
    cache = GroupSummaryCache(LuminaireLayerCache())

    def same(at: int) -> None:
        for site in (None, "dijon", "talant", "quetigny"):
            with db.connect() as conn:
                kept = cache.group_states(conn, site, at)
                plain = state_mod.group_states(conn, site, at)
            assert kept == plain, site

    same(now)
    with db.begin() as conn:
        conn.execute(sa.update(telemetry).where(telemetry.c.device_id == "light-liberte-02")
                     .values(ts_ms=now + 1_000, metrics=_lum_metrics([30, None, 0, 30], [30, 30, 30, 30])))
    same(now + 2_000)
    with db.begin() as conn:
        _store_fault(conn, "light-liberte-01", "dijon", 20, now + 3, "l01", True)
    same(now + 3_000)
    operator = add_user(app, "operateur", "operator")
    sent = operator.post("/lighting/overrides", json={"scope": "commune", "site": "dijon", "level": 40,
                                                      "duration_s": 600})
    assert sent.status_code == 201, sent.get_json()
    same(_now())
    same(now + 5 * 60_000 + 2_000)  # liberte-01 and liberte-02 fall silent
    with db.begin() as conn:
        conn.execute(sa.delete(light_group_members).where(light_group_members.c.group_name == "place-rude"))
        conn.execute(sa.update(light_luminaires).where(light_luminaires.c.device_id == "light-liberte-02")
                     .values(updated_ms=now + 9_000))
    same(now + 9_000)
    db.dispose()


def test_the_map_layer_has_an_etag_and_an_unchanged_one_is_a_304(app: Flask, db_url: str, tmp_path: Path) -> None:
    db = make_engine(db_url)
    now = _district(tmp_path, db)
    viewer = add_user(app, "lecteur", "viewer")
    first = viewer.get("/lighting/map")
    tag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "private, no-cache"
    again = viewer.get("/lighting/map", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == tag
    assert viewer.get("/lighting/map?site=dijon", headers={"If-None-Match": tag}).status_code == 200
    with db.begin() as conn:
        conn.execute(sa.update(telemetry).where(telemetry.c.device_id == "light-talant-01")
                     .values(ts_ms=now + 1_000, metrics=_lum_metrics([20, 20], [20, 20])))
    changed = viewer.get("/lighting/map", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    layer = changed.get_json()
    talant = [layer["level"][i] for i, s in enumerate(layer["site"]) if layer["sites"][s] == "talant"]
    assert talant == [20, 20]
    db.dispose()


def test_group_figures_agree_with_the_luminaires_they_list(app: Flask, db_url: str, tmp_path: Path) -> None:
    """The group summary works per cabinet; its figures are those of the luminaires the list shows for the group,
    also when a group holds only part of a cabinet (one of light-darcy-01's two luminaires joins place-rude)."""
    db = make_engine(db_url)
    _district(tmp_path, db)
    with db.begin() as conn:
        conn.execute(sa.insert(light_group_members).values(site="dijon", group_name="place-rude",
                                                           device_id="light-darcy-01", lum_id="l01"))
    db.dispose()
    viewer = add_user(app, "lecteur", "viewer")
    groups = viewer.get("/lighting/groups").get_json()["groups"]
    assert [(g["site"], g["group"]) for g in groups] == [
        ("dijon", "commune-dijon"), ("dijon", "place-darcy"), ("dijon", "place-rude"), ("dijon", "rue-liberte"),
        ("talant", "commune-talant"), ("talant", "centre")]
    for g in groups:
        lums = viewer.get(f"/lighting/luminaires?site={g['site']}&group={g['group']}&limit=1000").get_json()
        assert g["luminaires"] == lums["total"] == len(lums["luminaires"]), g["group"]
        for scope, figures in ((None, g), *((c["device_id"], c) for c in g["cabinets"])):
            mine = [lum for lum in lums["luminaires"] if scope is None or lum["device_id"] == scope]
            live = [lum for lum in mine if lum["state"] != "no_data"]
            assert figures["states"] == {s: sum(lum["state"] == s for lum in mine) for s in STATES}, (g, scope)
            for key, column in (("measured", "level"), ("commanded", "target")):
                s = spread(lum[column] for lum in live)
                assert figures[key] == {"n": s.n, "median": s.median, "q1": s.q1, "q3": s.q3, "min": s.low,
                                        "max": s.high}, (g["group"], scope, key)
            times = [lum["telemetry_ms"] for lum in mine if lum["telemetry_ms"] is not None]
            assert figures["telemetry_ms"] == (max(times) if times else None)
    rude = groups[2]
    assert [c["device_id"] for c in rude["cabinets"]] == ["light-darcy-01", "light-liberte-02"]
    assert rude["cabinets"][0]["luminaires"] == 1 and groups[0]["cabinets"][0]["luminaires"] == 2


# ------------------------------------------------------------------------------------------- the card


def test_cabinet_readings_take_the_meter_contacts_and_circuits_and_leave_out_what_is_malformed() -> None:
    metrics = {"cabinet.meter.energy_import_wh": 12345.5, "cabinet.meter.power_l1": 812.0,
               "cabinet.meter.voltage_l1": None, "cabinet.meter.odd": {"nested": 1}, "cabinet.door_open": False,
               "cabinet.dark": True, "cabinet.circuits": {"ids": [1, 2], "on": [True, False], "tripped": [False, 3]},
               "light.n": 4, "light.power_w": 160.5, "light.lum": {"ids": []}}
    got = card_mod.cabinet_readings(metrics)
    assert got["meter"] == {"energy_import_wh": 12345.5, "odd": None, "power_l1": 812.0, "voltage_l1": None}
    assert got["door_open"] is False and got["dark"] is True
    assert got["circuits"] == [{"id": 1, "on": True, "tripped": False}, {"id": 2, "on": False, "tripped": None}]
    assert got["node"] == {"n": 4, "power_w": 160.5}
    # Columns of unequal length, contacts of the wrong type: nothing invented.
    bad = card_mod.cabinet_readings({"cabinet.circuits": {"ids": [1], "on": [], "tripped": []},
                                     "cabinet.door_open": "yes"})
    assert bad == {"meter": {}, "circuits": [], "door_open": None, "dark": None, "node": {}}


def test_a_luminaires_card_has_its_state_its_cabinets_meter_and_its_groups_energy_today(
        app: Flask, db_url: str, tmp_path: Path) -> None:
    db = make_engine(db_url)
    now = _district(tmp_path, db)
    with db.begin() as conn:
        metrics = {**_lum_metrics([100, 100, 0, 100], [100, 100, 100, 100]), "cabinet.meter.energy_import_wh": 5120.0,
                   "cabinet.meter.power_total": 231.5, "cabinet.door_open": True, "cabinet.dark": True,
                   "cabinet.circuits": {"ids": [1], "on": [True], "tripped": [False]}}
        conn.execute(sa.update(telemetry).where(telemetry.c.device_id == "light-liberte-02").values(metrics=metrics))
    db.dispose()
    viewer = add_user(app, "lecteur", "viewer")
    body = viewer.get("/lighting/luminaires/light-liberte-02/l03").get_json()
    lum = body["luminaire"]
    assert (lum["state"], lum["level"], lum["target"], lum["faults"]) == ("fault", 0, 100, ["lampFailure"])
    cab = body["cabinet"]
    assert cab["device_id"] == "light-liberte-02" and cab["telemetry_ms"] == now - 20_000 and cab["stale"] is False
    assert cab["meter"] == {"energy_import_wh": 5120.0, "power_total": 231.5}
    assert cab["door_open"] is True and cab["circuits"] == [{"id": 1, "on": True, "tripped": False}]
    assert cab["node"]["n"] == 4
    today = body["energy_today"]
    assert today["day_start_ms"] == local_day_start(body["as_of_ms"])
    by_group = {g["group"]: g for g in today["groups"]}
    assert list(by_group) == ["commune-dijon", "place-rude", "rue-liberte"]
    # Only today's hours so far count (yesterday's 999 Wh do not, nor the 250 Wh of 01:00 before it is 01:00);
    # reference and savings come along.
    wh = 300.0 + (250.0 if today["day_start_ms"] + 3_600_000 <= body["as_of_ms"] else 0.0)
    assert by_group["rue-liberte"]["energy_wh"] == wh and by_group["rue-liberte"]["reference_wh"] == 2 * wh
    assert by_group["rue-liberte"]["savings_pct"] == 50.0
    assert by_group["commune-dijon"] == {"group": "commune-dijon", "energy_wh": 0, "reference_wh": 0,
                                         "savings_pct": None}
    # A cabinet that never sent telemetry: its readings are empty, not an error.
    quiet = viewer.get("/lighting/luminaires/light-darcy-01/l01").get_json()
    assert quiet["cabinet"]["meter"] == {} and quiet["luminaire"]["state"] == "no_data"


def test_a_luminaires_card_is_commune_scoped_and_unknown_ones_are_404(app: Flask, db_url: str, tmp_path: Path) -> None:
    db = make_engine(db_url)
    _district(tmp_path, db)
    db.dispose()
    talant = add_user(app, "agent.talant", "viewer", commune="talant")
    assert talant.get("/lighting/luminaires/light-talant-01/l01").status_code == 200
    assert talant.get("/lighting/luminaires/light-liberte-02/l03").status_code == 403
    for path in ("light-liberte-02/l99", "nobody/l01", "Light-X/l01", "light-liberte-02/L%20"):
        resp = talant.get(f"/lighting/luminaires/{path}")
        assert resp.status_code == 404, path
        assert resp.get_json()["error"]["message"], path


# -- the fault state outlives the raw events ---------------------------------------------------------------------

def _fault(n: int, ts: int, active: bool, fault: str = "lampFailure", boot: int = 1) -> LampFaultReport:
    return LampFaultReport("light-liberte-02", "l03", fault, active, ts, boot, n)


def test_the_latest_report_of_a_fault_wins_whatever_order_they_are_stored_in(db: Engine) -> None:
    t0 = 1_790_000_000_000
    reports = [_fault(1, t0, True), _fault(2, t0 + 1000, False), _fault(3, t0 + 2000, True),
               _fault(1, t0 + 500, False, fault="supplyLoss")]
    for order in itertools.permutations(reports):
        with db.begin() as conn:
            conn.execute(lamp_faults.delete())
            for r in order:  # one batch each: the stored row is compared with each newcomer
                record_lamp_faults(conn, [r])
        with db.connect() as conn:
            assert sorted(fault_changes(conn, ["light-liberte-02"])) == [
                ("light-liberte-02", "l03", "lampFailure", True), ("light-liberte-02", "l03", "supplyLoss", False)]
    with db.begin() as conn:  # a newer boot's report, even timed earlier by a clock reset, is a later event
        record_lamp_faults(conn, [_fault(0, t0 + 2000, False, boot=2)])
        assert active_faults(fault_changes(conn, ["light-liberte-02"])) == {}


def test_a_lamp_fault_stays_after_retention_removed_its_event_and_its_repair_clears_it(db: Engine) -> None:
    register_ids(db, ("light-1", "dijon"))
    now = _now()
    old = now - 40 * 86_400_000

    def fault_batch(seq: int, n: int, ts: int, active: bool) -> wire.EventBatch:
        rec = wire.EventRecord(n, ts, wire.LampFault("l01", "lampFailure", active))
        return wire.EventBatch(header("light-1", 1, seq, ts), 1, False, (rec,))

    store_batch(db, [decoded("dijon", fault_batch(1, 0, old, True))], old, default_hooks())
    enforce_retention(db, now, 30)
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 0, "the event is gone"
        assert active_faults(fault_changes(conn, ["light-1"])) == {("light-1", "l01"): ["lampFailure"]}
        assert not luminaire_healthy(conn, "light-1", "l01")
    store_batch(db, [decoded("dijon", fault_batch(2, 1, now, False))], now, default_hooks())
    with db.connect() as conn:
        assert active_faults(fault_changes(conn, ["light-1"])) == {}
        assert luminaire_healthy(conn, "light-1", "l01")
