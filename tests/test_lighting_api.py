"""Lighting API on SQLite and PostgreSQL: roles, commune scoping, validation, targets, pending commands, acks."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Engine

from coordinator.ingest.hooks import StoredAck
from coordinator.lighting import hooks as lighting_hooks
from coordinator.lighting import service
from coordinator.lighting.commands import AckRow, address, next_cseq, summarise_acks
from coordinator.mqtt_publisher import Publisher, PublisherSettings
from coordinator.storage import lighting as light_store
from coordinator.storage import make_engine
from tests.api_helpers import add_user, make_app
from tests.fleet_helpers import add_device
from tests.lighting_helpers import light_box, register
from tests.mqtt_helpers import Mosquitto, Recorder, wait_until

CALENDAR = {"entries": [{"name": "extinction", "program": {
    "kind": "astro", "steps": [{"at": "00:00", "level": 0}, {"at": "05:00", "level": 100}]}}]}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def app(db_url: str) -> Flask:
    """An app whose broker is unreachable: commands are stored and stay pending."""
    return make_app(db_url, MQTT_PORT=_closed_port(), MQTT_PUBLISH_TIMEOUT_S=0.5)


def _boxes(tmp_path: Path, db: Engine) -> None:
    a, _ = light_box(tmp_path, 1883, "light-liberte-01", groups=("rue-liberte",))
    b, _ = light_box(tmp_path, 1883, "light-liberte-02", groups=("rue-liberte", "place-rude"))
    c, _ = light_box(tmp_path, 1883, "light-darcy-01", groups=("place-darcy",))
    t, _ = light_box(tmp_path, 1883, "light-talant-01", site="talant", groups=("centre",))
    register(db, a, b, c, t)


OVERRIDE = {"scope": "group", "site": "dijon", "group": "rue-liberte", "level": 100, "duration_s": 600}


# ------------------------------------------------------------------------------------------------ pure


def test_cseq_follows_the_clock_and_never_goes_back() -> None:
    assert next_cseq(None, 1000) == 1000
    assert next_cseq(1000, 1500) == 1500
    assert next_cseq(1500, 1500) == 1501
    assert next_cseq(1501, 900) == 1502, "a clock stepped back does not make a stale command"


def test_commune_and_city_groups_are_scopes_whatever_the_caller_called_them() -> None:
    assert address("group", "dijon", "city").scope == "city"
    assert address("group", "talant", "commune-talant") == address("commune", "talant")
    assert address("commune", "talant").target == "commune-talant"
    with pytest.raises(ValueError, match="another site"):
        address("group", "dijon", "commune-talant")
    with pytest.raises(ValueError, match="needs a site"):
        address("group", None, "rue-liberte")


def test_ack_summary_tells_applied_refused_waiting_and_silent_targets() -> None:
    rows = [AckRow("a", True, "applied"), AckRow("b", True, "stale"), AckRow("c", True, None)]
    before = summarise_acks(rows, expires_ms=2000, now_ms=1000)
    assert (before.state, before.by_result) == ("pending", {"applied": 1, "stale": 1, "waiting": 1})
    after = summarise_acks(rows, expires_ms=2000, now_ms=2000)
    assert (after.state, after.no_answer) == ("partial", ["c"])
    done = summarise_acks([AckRow("a", True, "applied"), AckRow("b", True, "duplicate")], 2000, 3000)
    assert done.state == "complete"


# ------------------------------------------------------------------------------------------------ API


def test_overrides_need_an_operator_and_calendars_a_supervisor(app: Flask, db: Engine, tmp_path: Path) -> None:
    _boxes(tmp_path, db)
    viewer, operator = add_user(app, "viewer", "viewer"), add_user(app, "operator", "operator")
    assert viewer.post("/lighting/overrides", json=OVERRIDE).status_code == 403
    assert operator.post("/lighting/overrides", json=OVERRIDE).status_code == 201
    body = {"scope": "group", "site": "dijon", "group": "rue-liberte", "calendar": CALENDAR}
    assert operator.post("/lighting/calendars", json=body).status_code == 403
    assert add_user(app, "chef", "supervisor").post("/lighting/calendars", json=body).status_code == 201


def test_commune_staff_command_their_commune_only_and_the_city_needs_metropole_staff(
        app: Flask, db: Engine, tmp_path: Path) -> None:
    _boxes(tmp_path, db)
    talant = add_user(app, "agent.talant", "supervisor", "talant")
    assert talant.post("/lighting/overrides", json=OVERRIDE).status_code == 403
    mine = {**OVERRIDE, "site": "talant", "group": "centre"}
    assert talant.post("/lighting/overrides", json=mine).status_code == 201
    assert talant.post("/lighting/overrides", json={"scope": "commune", "site": "talant", "level": 0,
                                                    "duration_s": 60}).status_code == 201
    city = {"scope": "city", "level": 50, "duration_s": 60}
    assert talant.post("/lighting/overrides", json=city).status_code == 403
    assert talant.post("/lighting/overrides", json={"scope": "device", "device": "light-darcy-01", "lum": "l01",
                                                    "level": 0, "duration_s": 60}).status_code == 403
    assert add_user(app, "metropole", "operator").post("/lighting/overrides", json=city).status_code == 201
    listed = talant.get("/lighting/commands").get_json()["commands"]
    assert {c["scope"] for c in listed} == {"group", "commune", "city"}, "commune staff see city-wide commands"


def test_override_requests_are_checked_before_anything_is_stored(app: Flask, db: Engine, tmp_path: Path) -> None:
    _boxes(tmp_path, db)
    op = add_user(app, "operator", "operator")
    cases = [
        ({**OVERRIDE, "level": 120}, "level"),
        ({**OVERRIDE, "expires": int(time.time() * 1000) + 60_000}, "exactly one of expires and duration_s"),
        ({"scope": "device", "device": "light-darcy-01", "level": 10, "duration_s": 60}, "lum and group"),
        ({"scope": "group", "group": "rue-liberte", "level": 10, "duration_s": 60}, "needs a site"),
        ({**OVERRIDE, "duration_s": None, "expires": 1000}, "already past"),
        ({**OVERRIDE, "start": int(time.time() * 1000) + 3_600_000}, "before the expiry"),
    ]
    for body, message in cases:
        resp = op.post("/lighting/overrides", json=body)
        assert resp.status_code == 400, body
        assert message in resp.get_json()["error"]["message"], resp.get_json()
    assert op.post("/lighting/overrides", json={"scope": "device", "device": "nope", "lum": "l01", "level": 1,
                                                "duration_s": 60}).status_code == 404
    assert op.get("/lighting/commands").get_json()["commands"] == []


def test_an_invalid_calendar_is_refused_with_the_reasons_the_nodes_would_give(app: Flask, db: Engine) -> None:
    chef = add_user(app, "chef", "supervisor")
    bad = {"entries": [{"name": "x", "program": {"kind": "astro", "steps": [{"at": "22:00", "level": 170}]}}]}
    resp = chef.post("/lighting/calendars", json={"scope": "commune", "site": "dijon", "calendar": bad})
    assert resp.status_code == 400
    assert any(d["field"].startswith("calendar.entries.0.program") for d in resp.get_json()["error"]["details"])
    empty = chef.post("/lighting/calendars", json={"scope": "commune", "site": "dijon", "calendar": {"entries": []}})
    assert empty.status_code == 400


def test_a_group_command_expects_an_answer_from_each_box_of_the_group(app: Flask, db: Engine, tmp_path: Path) -> None:
    _boxes(tmp_path, db)
    add_device(db, "light-other-01", roles=["light"])  # registry only: in the commune, not in the group
    cmd = add_user(app, "operator", "operator").post("/lighting/overrides", json=OVERRIDE).get_json()
    assert cmd["target"] == "rue-liberte" and cmd["name"] == "light.override"
    assert [a["device_id"] for a in cmd["acks"]] == ["light-liberte-01", "light-liberte-02"]
    assert cmd["topics"][0]["topic"] == "vigie/v1/dijon/group/rue-liberte/cmd"
    assert cmd["args"] == {"level": 100, "ramp_up_s": 0, "ramp_down_s": 0}
    assert (cmd["published"], cmd["state"], cmd["results"]) == (False, "pending", {"waiting": 2})
    assert cmd["topics"][0]["attempts"] == 1 and cmd["topics"][0]["last_error"]
    commune = add_user(app, "op2", "operator").post("/lighting/overrides", json={
        "scope": "commune", "site": "dijon", "level": None, "duration_s": 60}).get_json()
    assert commune["target"] == "commune-dijon"
    assert [a["device_id"] for a in commune["acks"]] == [
        "light-darcy-01", "light-liberte-01", "light-liberte-02", "light-other-01"]
    city = add_user(app, "op3", "operator").post("/lighting/overrides", json={
        "scope": "city", "level": 50, "duration_s": 60}).get_json()
    assert [t["topic"] for t in city["topics"]] == ["vigie/v1/dijon/group/city/cmd", "vigie/v1/talant/group/city/cmd"]
    assert city["site"] is None and city["expected"] == 5
    assert cmd["cseq"] < commune["cseq"] < city["cseq"]


def test_a_device_override_names_the_luminaire_on_the_box_topic(app: Flask, db: Engine, tmp_path: Path) -> None:
    _boxes(tmp_path, db)
    cmd = add_user(app, "operator", "operator").post("/lighting/overrides", json={
        "scope": "device", "device": "light-talant-01", "lum": "l02", "level": 0, "ramp_down_s": 30,
        "duration_s": 600}).get_json()
    assert cmd["site"] == "talant" and cmd["target"] == "light-talant-01"
    assert cmd["topics"][0]["topic"] == "vigie/v1/talant/light-talant-01/cmd"
    assert cmd["args"]["lum"] == "l02" and "group" not in cmd["args"]


def test_acks_are_recorded_and_a_target_silent_past_the_expiry_is_named(app: Flask, db: Engine,
                                                                        tmp_path: Path) -> None:
    _boxes(tmp_path, db)
    op = add_user(app, "operator", "operator")
    cmd = op.post("/lighting/overrides", json={**OVERRIDE, "duration_s": 1}).get_json()
    now = int(time.time() * 1000)
    with db.begin() as conn:
        lighting_hooks.on_acks(conn, [
            StoredAck("light-liberte-01", "dijon", now, cmd["cmd_id"], "applied", "", {"luminaires": 2}),
            StoredAck("light-liberte-01", "dijon", now, cmd["cmd_id"], "duplicate", "redelivered", {}),
            StoredAck("light-stray-01", "dijon", now, cmd["cmd_id"], "invalid", "no group rue-liberte", {}),
            StoredAck("light-liberte-02", "dijon", now, "not-a-light-command", "applied", "", {}),
        ])
    time.sleep(1.1)
    got = op.get(f"/lighting/commands/{cmd['cmd_id']}").get_json()
    acks = {a["device_id"]: a for a in got["acks"]}
    assert acks["light-liberte-01"]["result"] == "applied", "a later duplicate does not hide the applied"
    assert acks["light-liberte-01"]["applied"] == {"luminaires": 2}
    assert acks["light-stray-01"]["expected"] is False
    assert got["no_answer"] == ["light-liberte-02"]
    assert got["state"] == "partial" and got["results"] == {"applied": 1, "invalid": 1, "no_answer": 1}
    assert op.get("/lighting/commands/nope").status_code == 404


def test_calendars_are_stored_per_group_and_listed(app: Flask, db: Engine, tmp_path: Path) -> None:
    _boxes(tmp_path, db)
    chef = add_user(app, "chef", "supervisor")
    sent = chef.post("/lighting/calendars", json={"scope": "commune", "site": "talant", "calendar": CALENDAR})
    assert sent.status_code == 201 and sent.get_json()["name"] == "light.calendar"
    assert sent.get_json()["args"] == {"calendar": CALENDAR}
    chef.post("/lighting/calendars", json={"scope": "city", "calendar": None})
    cals = add_user(app, "agent.talant", "viewer", "talant").get("/lighting/calendars").get_json()["calendars"]
    assert [(c["site"], c["group"], c["calendar"]) for c in cals] == [
        (None, "city", None), ("talant", "commune-talant", CALENDAR)]
    assert cals[1]["cmd_id"] == sent.get_json()["cmd_id"]


def test_a_command_stays_pending_while_the_broker_is_down_and_is_published_when_it_is_back(
        db_url: str, broker: Mosquitto, tmp_path: Path) -> None:
    app = make_app(db_url, MQTT_PORT=broker.port, MQTT_PUBLISH_TIMEOUT_S=0.5)
    engine = make_engine(db_url)
    box, _ = light_box(tmp_path, broker.port, "light-liberte-01")
    register(engine, box)
    op = add_user(app, "operator", "operator")
    broker.stop()
    cmd = op.post("/lighting/overrides", json=OVERRIDE).get_json()
    assert cmd["published"] is False
    expired = op.post("/lighting/overrides", json={**OVERRIDE, "duration_s": 1}).get_json()
    broker.start()
    rec = Recorder(broker.port, topic="vigie/v1/+/group/+/cmd")
    time.sleep(1.1)
    pub = Publisher(PublisherSettings(port=broker.port, client_id="jobs-test"))
    assert service.publish_pending(engine, pub, int(time.time() * 1000)) == 1, "the expired one is not re-sent"
    wait_until(lambda: len(rec.decoded()) == 1, 5, "republished command")
    assert rec.decoded()[0].cmd_id == cmd["cmd_id"]
    got = op.get(f"/lighting/commands/{cmd['cmd_id']}").get_json()
    assert got["published"] is True and got["topics"][0]["attempts"] == 2
    assert op.get(f"/lighting/commands/{expired['cmd_id']}").get_json()["published"] is False
    assert service.publish_pending(engine, pub, int(time.time() * 1000)) == 0
    with engine.connect() as conn:
        assert light_store.unpublished(conn, int(time.time() * 1000)) == []
    pub.close()
    rec.close()
    engine.dispose()
