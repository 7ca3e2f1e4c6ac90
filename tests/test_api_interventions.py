"""Interventions, teams, rules and citizen reports through the HTTP API, on SQLite and PostgreSQL.

Every response is checked against the OpenAPI document (``make_app``). Rules are driven by
calling the ingest hook's function with stored events, as the ingest worker does.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from coordinator.dispatch.jobs import offline_job, run_event_rules, sla_job
from coordinator.ingest.hooks import StoredEvent
from coordinator.ingest_hooks import default_hooks
from coordinator.lighting import hooks as lighting_hooks
from coordinator.storage import make_engine
from coordinator.storage.schema.events import events
from coordinator.storage.schema.fleet import devices
from coordinator.storage.schema.interventions import deliveries, interventions
from tests.api_helpers import Caller, add_user, make_app

TEAM = {"id": "pm-dijon-centre", "name": "Police municipale centre", "commune": "dijon", "skills": ["police"],
        "lat": 47.3220, "lon": 5.0415}


@pytest.fixture
def app(db_url: str) -> Flask:
    return make_app(db_url, OPEN311_RATE_LIMIT=3)


@pytest.fixture
def op(app: Flask) -> Caller:
    return add_user(app, "operateur", "operator")


@pytest.fixture
def sup(app: Flask) -> Caller:
    return add_user(app, "chef", "supervisor")


def now_ms() -> int:
    return int(time.time() * 1000)


def create(caller: Caller, **kw: Any) -> dict[str, Any]:
    body = {"kind": "incident", "title": "Arbre tombé", "priority": "high", "skill": "police", "commune": "dijon"}
    body.update(kw)
    resp = caller.post("/interventions", json=body)
    assert resp.status_code == 201, resp.get_json()
    out: dict[str, Any] = resp.get_json()
    return out


def stored(device: str, typ: str, body: dict[str, Any], n: int, ts: int | None = None) -> StoredEvent:
    return StoredEvent(device, "dijon", 1, n, ts or now_ms(), typ, body, False)


def store_events(app: Flask, items: list[StoredEvent]) -> None:
    """What ingest does: store the events, then hand them to the hooks in the same transaction."""
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        for e in items:
            conn.execute(events.insert().values(device_id=e.device_id, boot=e.boot, n=e.n, site=e.site, ts_ms=e.ts_ms,
                                                received_ms=e.ts_ms, type=e.type, target=e.body.get("lum"),
                                                historical=False, stale=False, body=e.body))
        lighting_hooks.on_fault_events(conn, items)
        run_event_rules(conn, items, now_ms())
    engine.dispose()


def test_viewers_read_operators_act_supervisors_manage(app: Flask, op: Caller, sup: Caller) -> None:
    viewer = add_user(app, "lecteur", "viewer")
    assert viewer.post("/interventions", json={"kind": "incident", "title": "x", "commune": "dijon"}).status_code == 403
    iid = create(op)["id"]
    assert viewer.get(f"/interventions/{iid}").status_code == 200
    assert viewer.post(f"/interventions/{iid}/transitions", json={"to": "acknowledged"}).status_code == 403
    assert op.post("/teams", json=TEAM).status_code == 403
    assert op.get("/rules").status_code == 403
    assert sup.post("/teams", json=TEAM).status_code == 201
    assert sup.post("/teams", json=TEAM).status_code == 409
    assert viewer.get("/teams").get_json()["teams"][0]["topics"] == {
        "dispatch": "vigie/v1/dijon/team/pm-dijon-centre/dispatch",
        "status": "vigie/v1/dijon/team/pm-dijon-centre/status"}


def test_lifecycle_through_the_api_with_history_and_team_notifications(app: Flask, op: Caller, sup: Caller) -> None:
    sup.post("/teams", json={**TEAM, "webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "x" * 20})
    iid = create(op, lat=47.3224, lon=5.0355)["id"]
    assert op.post(f"/interventions/{iid}/transitions", json={"to": "acknowledged"}).get_json()["state"] == \
        "acknowledged"
    assigned = op.post(f"/interventions/{iid}/assign", json={"team": "pm-dijon-centre"}).get_json()
    assert (assigned["state"], assigned["team"]) == ("assigned", "pm-dijon-centre")
    assert assigned["allowed"] == ["assigned", "acknowledged", "en_route", "closed"]
    for to in ("en_route", "on_site", "resolved", "closed"):
        assert op.post(f"/interventions/{iid}/transitions", json={"to": to}).status_code == 200
    assert op.post(f"/interventions/{iid}/comments", json={"text": "RAS"}).status_code == 201
    detail = op.get(f"/interventions/{iid}").get_json()
    assert [h["action"] for h in detail["history"]] == ["create", "acknowledge", "assign", "depart", "arrive",
                                                        "resolve", "close", "comment"]
    assert {h["actor"] for h in detail["history"]} == {"user:operateur"}
    assert detail["history"][2]["detail"] == {"team": "pm-dijon-centre"}
    assert [(d["channel"], d["action"]) for d in detail["deliveries"]] == [
        ("mqtt", "assign"), ("webhook", "assign")] + [(c, "update") for _ in range(4) for c in ("mqtt", "webhook")]
    reopened = op.post(f"/interventions/{iid}/transitions", json={"to": "new", "reason": "revenu"}).get_json()
    assert (reopened["state"], reopened["team"], reopened["escalation"]) == ("new", None, 0)


def test_illegal_moves_are_409_bad_bodies_400_unknown_ids_404_and_nothing_is_written(op: Caller) -> None:
    iid = create(op)["id"]
    before = op.get(f"/interventions/{iid}").get_json()
    resp = op.post(f"/interventions/{iid}/transitions", json={"to": "on_site"})
    assert resp.status_code == 409 and "allowed: acknowledged, assigned, closed" in resp.get_json()["error"]["message"]
    resp = op.post(f"/interventions/{iid}/transitions", json={"to": "closed"})
    assert resp.status_code == 400 and "needs a reason" in resp.get_json()["error"]["message"]
    resp = op.post(f"/interventions/{iid}/transitions", json={"to": "flying", "colour": 1})
    assert resp.status_code == 400
    assert {d["field"] for d in resp.get_json()["error"]["details"]} == {"to", "colour"}
    assert op.post(f"/interventions/{iid}/assign", json={"team": "nobody"}).status_code == 404
    stale = op.post(f"/interventions/{iid}/transitions", json={"to": "acknowledged", "version": 99})
    assert stale.status_code == 409 and "version" in stale.get_json()["error"]["message"]
    assert op.get("/interventions/999999").status_code == 404
    assert op.post("/interventions/999999/transitions", json={"to": "acknowledged"}).status_code == 404
    after = op.get(f"/interventions/{iid}").get_json()
    assert after == before  # same version, same history: the refused requests wrote nothing
    bad = op.post("/interventions", json={"kind": "light_fault", "title": "x", "commune": "atlantis"})
    assert bad.status_code == 400
    assert "unknown commune" in bad.get_json()["error"]["message"]
    assert "light_fault needs device_id" in op.post("/interventions", json={
        "kind": "light_fault", "title": "x", "commune": "dijon"}).get_json()["error"]["message"]


def test_commune_staff_see_and_act_on_their_commune_only(app: Flask, op: Caller, sup: Caller) -> None:
    talant_op = add_user(app, "agent.talant", "operator", "talant")
    dijon = create(op)["id"]
    talant = create(talant_op, commune="talant")["id"]
    assert create(op, commune=None, lat=47.3365, lon=5.0045)["commune"] == "talant"  # nearest centre
    listed = {i["id"] for i in talant_op.get("/interventions").get_json()["interventions"]}
    assert talant in listed and dijon not in listed
    assert talant_op.get(f"/interventions/{dijon}").status_code == 403
    assert talant_op.post(f"/interventions/{dijon}/transitions", json={"to": "acknowledged"}).status_code == 403
    assert talant_op.get("/interventions?commune=dijon").status_code == 403
    assert talant_op.post("/interventions", json={"kind": "incident", "title": "x", "commune": "dijon"}).status_code \
        == 403
    sup.post("/teams", json=TEAM)
    assert talant_op.post(f"/interventions/{talant}/assign", json={"team": "pm-dijon-centre"}).status_code == 403
    assert talant_op.get("/teams").get_json()["teams"] == []
    assert {i["id"] for i in op.get("/interventions").get_json()["interventions"]} >= {dijon, talant}


def test_list_filters_and_pages(op: Caller) -> None:
    ids = [create(op, priority=p)["id"] for p in ("low", "high", "high")]
    op.post(f"/interventions/{ids[0]}/transitions", json={"to": "acknowledged"})
    page = op.get("/interventions?priority=high&limit=1").get_json()
    assert [i["id"] for i in page["interventions"]] == [ids[2]] and page["next_before"] == ids[2]
    assert [i["id"] for i in op.get(f"/interventions?priority=high&before={ids[2]}").get_json()["interventions"]] \
        == [ids[1]]
    assert [i["id"] for i in op.get("/interventions?state=acknowledged,closed").get_json()["interventions"]] \
        == [ids[0]]
    resp = op.get("/interventions?state=gone")
    assert resp.status_code == 400 and "gone" in resp.get_json()["error"]["message"]


def test_proposal_ranks_teams_with_reasons(app: Flask, op: Caller, sup: Caller) -> None:
    sup.post("/teams", json=TEAM)
    sup.post("/teams", json={**TEAM, "id": "voirie-dijon", "name": "Voirie", "skills": ["voirie"]})
    sup.post("/teams", json={**TEAM, "id": "pm-chenove", "commune": "chenove", "lat": 47.293, "lon": 5.005})
    iid = create(op, commune=None, lat=47.3224, lon=5.0355)["id"]
    out = op.get(f"/interventions/{iid}/proposal").get_json()
    assert [p["team"] for p in out["proposals"]] == ["pm-dijon-centre", "pm-chenove", "voirie-dijon"]
    assert out["proposals"][0]["reasons"][:2] == ["has skill police (+100)", "based in dijon (+30)"]


def test_teams_are_managed_by_supervisors_with_a_write_only_secret(sup: Caller, op: Caller) -> None:
    resp = sup.post("/teams", json={**TEAM, "webhook_url": "https://astreinte.example/hook"})
    assert resp.status_code == 400 and "webhook_secret" in resp.get_json()["error"]["message"]
    team = sup.post("/teams", json={**TEAM, "webhook_url": "https://astreinte.example/hook",
                                    "webhook_secret": "s" * 24}).get_json()
    assert team["has_webhook_secret"] is True and "webhook_secret" not in team
    upd = {k: v for k, v in TEAM.items() if k != "id"} | {"name": "PM centre-ville",
                                                         "webhook_url": "https://astreinte.example/v2"}
    assert sup.put("/teams/pm-dijon-centre", json=upd).get_json()["has_webhook_secret"] is True  # kept
    assert sup.put("/teams/nobody", json=upd).status_code == 404
    iid = create(op)["id"]
    op.post(f"/interventions/{iid}/assign", json={"team": "pm-dijon-centre"})
    assert sup.delete("/teams/pm-dijon-centre").status_code == 409
    assert sup.put("/teams/pm-dijon-centre", json={**upd, "active": False}).get_json()["load"] == 1
    sup.post("/teams", json={**TEAM, "id": "spare"})
    assert sup.delete("/teams/spare").status_code == 204


def test_field_status_over_http_only_for_the_assigned_team(op: Caller, sup: Caller) -> None:
    sup.post("/teams", json=TEAM)
    sup.post("/teams", json={**TEAM, "id": "pm-nord"})
    iid = create(op)["id"]
    op.post(f"/interventions/{iid}/assign", json={"team": "pm-dijon-centre"})
    refused = op.post("/teams/pm-nord/status", json={"intervention": iid, "state": "en_route"})
    assert refused.status_code == 403 and "not assigned" in refused.get_json()["error"]["message"]
    ok = op.post("/teams/pm-dijon-centre/status", json={"intervention": iid, "state": "en_route"})
    assert ok.status_code == 200 and ok.get_json()["state"] == "en_route"
    history = op.get(f"/interventions/{iid}").get_json()["history"]
    assert history[-1]["actor"] == "team:pm-dijon-centre via user:operateur"


def test_rules_raise_merge_and_are_scoped(app: Flask, sup: Caller, op: Caller) -> None:
    rule = sup.post("/rules", json={"name": "Foule Darcy", "commune": "dijon",
                                    "config": {"type": "crowd", "threshold": 10}})
    assert rule.status_code == 201 and rule.get_json()["config"]["priority"] == "high"
    bad = sup.post("/rules", json={"name": "x", "config": {"type": "crowd", "threshold": 0, "zones": "all"}})
    assert bad.status_code == 400
    assert {d["field"] for d in bad.get_json()["error"]["details"]} == {"config.crowd.threshold", "config.crowd.zones"}
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(devices.insert().values(id="cam-darcy-01", site="dijon", roles=["camera"], lat=47.3224,
                                             lon=5.0355, caps=[], status="online", created_ms=1, updated_ms=1))
    engine.dispose()
    occ = {"cam": 0, "zone": "crossing"}
    store_events(app, [stored("cam-darcy-01", "occupancy", {**occ, "counts": [[0, 12]]}, 1)])
    store_events(app, [stored("cam-darcy-01", "occupancy", {**occ, "counts": [[0, 2]]}, 2),
                       stored("cam-darcy-01", "occupancy", {**occ, "counts": [[0, 15]]}, 3)])
    found = op.get("/interventions?kind=crowd").get_json()["interventions"]
    assert len(found) == 1
    assert (found[0]["reports"], found[0]["lat"], found[0]["source"], found[0]["priority"]) == (2, 47.3224, "rule",
                                                                                              "high")
    assert [h["action"] for h in op.get(f"/interventions/{found[0]['id']}").get_json()["history"]] == ["create",
                                                                                                        "merge"]
    rid = rule.get_json()["id"]
    talant_sup = add_user(app, "chef.talant", "supervisor", "talant")
    assert talant_sup.get(f"/rules/{rid}").status_code == 403
    assert talant_sup.get("/rules").get_json()["rules"] == []
    upd = sup.put(f"/rules/{rid}", json={"name": "Foule Darcy", "enabled": False,
                                         "config": {"type": "crowd", "threshold": 10}})
    assert upd.get_json()["enabled"] is False and upd.get_json()["updated_by"] == "user:chef"
    assert sup.get("/rules/424242").status_code == 404


def test_ingest_hooks_include_the_intervention_rules() -> None:
    assert any(h.__name__ == "interventions_on_events" for h in default_hooks().events)


def test_light_fault_resolution_waits_for_the_luminaire_to_report_healthy(app: Flask, sup: Caller,
                                                                         op: Caller) -> None:
    sup.post("/rules", json={"name": "Pannes", "config": {"type": "light_fault"}})
    sup.post("/teams", json={**TEAM, "id": "eclairage-centre", "skills": ["eclairage"]})
    fault = {"lum": "l02", "fault": "controlGearCommFailure"}
    store_events(app, [stored("light-darcy-01", "lamp_fault", {**fault, "active": True}, 1)])
    iid = op.get("/interventions?kind=light_fault").get_json()["interventions"][0]["id"]
    assert op.get(f"/interventions/{iid}/proposal").get_json()["proposals"][0]["team"] == "eclairage-centre"
    op.post(f"/interventions/{iid}/assign", json={"team": "eclairage-centre"})
    for to in ("en_route", "on_site"):
        op.post(f"/interventions/{iid}/transitions", json={"to": to})
    refused = op.post(f"/interventions/{iid}/transitions", json={"to": "resolved"})
    assert refused.status_code == 409 and "every fault cleared" in refused.get_json()["error"]["message"]
    store_events(app, [stored("light-darcy-01", "lamp_fault", {**fault, "active": False}, 2)])
    done = op.get(f"/interventions/{iid}").get_json()
    assert done["state"] == "resolved"  # the clearing event resolved it: the crew was on site
    assert [(h["action"], h["actor"]) for h in done["history"][-2:]] == [("telemetry", "device:light-darcy-01"),
                                                                         ("resolve", "device:light-darcy-01")]


def test_sla_job_escalates_once_per_level_and_tells_the_team(app: Flask, op: Caller, sup: Caller) -> None:
    sup.post("/teams", json=TEAM)
    iid = create(op, priority="urgent")["id"]
    op.post(f"/interventions/{iid}/assign", json={"team": "pm-dijon-centre"})
    engine = make_engine(app.config["DATABASE_URL"])
    later = now_ms() + 16 * 60 * 1000  # past the 15-minute on-site deadline of an urgent intervention
    assert sla_job(engine, later) == 1
    assert sla_job(engine, later + 1000) == 0
    with engine.connect() as conn:
        actions = [p["action"] for p in conn.execute(sa.select(deliveries.c.payload)).scalars()]
    engine.dispose()
    assert actions.count("escalate") == 1
    detail = op.get(f"/interventions/{iid}").get_json()
    assert detail["escalation"] == 1 and detail["history"][-1]["detail"]["missed"] == ["on_site"]
    assert [i["id"] for i in op.get("/interventions?escalated=true").get_json()["interventions"]] == [iid]


def test_offline_job_opens_one_intervention_per_silent_box(app: Flask, sup: Caller, op: Caller) -> None:
    sup.post("/rules", json={"name": "Boîtiers muets", "config": {"type": "device_offline", "after_s": 600}})
    engine = make_engine(app.config["DATABASE_URL"])
    t = now_ms()
    with engine.begin() as conn:
        conn.execute(devices.insert().values(id="light-darcy-01", site="dijon", roles=["light"], lat=47.32, lon=5.04,
                                             caps=[], status="offline", last_seen_ms=t - 3_600_000,
                                             status_since_ms=t - 3_600_000, created_ms=1, updated_ms=1))
    assert offline_job(engine, t) == 1
    assert offline_job(engine, t + 60_000) == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(interventions)).scalar_one() == 1
    engine.dispose()
    found = op.get("/interventions?kind=device_offline").get_json()["interventions"]
    assert found[0]["device_id"] == "light-darcy-01" and found[0]["skill"] == "eclairage"


def test_open311_reports_are_public_validated_merged_and_rate_limited(app: Flask, op: Caller) -> None:
    c = app.test_client()
    services = c.get("/api/v1/open311/services").get_json()
    assert "streetlight" in {s["service_code"] for s in services}
    form = {"service_code": "pothole", "lat": "47.3224", "long": "5.0355", "description": "Nid-de-poule",
            "email": "habitant@example.org", "api_key": "app-citoyenne"}
    first = c.post("/api/v1/open311/requests", data=form)
    assert first.status_code == 201
    rid = first.get_json()[0]["service_request_id"]
    again = c.post("/api/v1/open311/requests", json={**form, "lat": 47.32245, "long": 5.03552})
    assert again.status_code == 201 and again.get_json()[0]["service_request_id"] == rid
    assert "already reported" in again.get_json()[0]["service_notice"]
    detail = op.get(f"/interventions/{rid}").get_json()
    assert (detail["source"], detail["reports"], detail["state"], detail["commune"]) == ("citizen", 2, "new", "dijon")
    assert "habitant@example.org" not in str(detail)  # personal fields are dropped
    status = c.get(f"/api/v1/open311/requests/{rid}").get_json()[0]
    assert (status["status"], status["service_code"]) == ("open", "pothole") and "description" not in status
    bad = c.post("/api/v1/open311/requests", data={**form, "service_code": "ufo", "lat": "48.85", "colour": "x"})
    assert bad.status_code == 400
    assert {d["field"] for d in bad.get_json()["error"]["details"]} == {"service_code", "colour"}
    outside = c.post("/api/v1/open311/requests", data={**form, "lat": "48.85", "long": "2.35"})
    assert outside.status_code == 400 and "outside" in outside.get_json()["error"]["message"]
    third = c.post("/api/v1/open311/requests", data={**form, "service_code": "graffiti"})
    assert third.status_code == 201
    limited = c.post("/api/v1/open311/requests", data={**form, "service_code": "dumping"})
    assert limited.status_code == 429  # OPEN311_RATE_LIMIT=3 per client and hour
    assert c.get("/api/v1/open311/requests/999999").status_code == 404
    assert c.get(f"/api/v1/open311/requests/{create(op)['id']}").status_code == 404  # not a citizen report
