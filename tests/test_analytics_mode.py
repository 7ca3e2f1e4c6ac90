"""The lawful analytics mode: statistics by default refuses rules on individuals; alerting needs a basis and a
period and allows only décret 2023-828 art. 3 kinds; no face or identity model, field or column anywhere."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Engine

import vigie_wire.events
import vigie_wire.messages
from coordinator.interventions.rules import RULE_TYPES
from coordinator.legal.analytics_mode import RULE_LAW, ModeState, check_decision, rule_refusal
from coordinator.storage import register as register_store
from coordinator.storage.schema import metadata
from tests.api_helpers import add_user

ROOT = Path(__file__).resolve().parents[1]
DAY = 86_400_000
LOITERING = {"name": "Stationnement prolongé", "config": {"type": "loitering", "min_dwell_s": 120}}
STOPPED = {"name": "Arrêt bus", "config": {"type": "stopped_vehicle", "zones": [{"zone": "bus-stop"}],
                                           "max_stop_s": 120}}
CROWD = {"name": "Foule", "config": {"type": "crowd", "threshold": 50}}
#: Words that would name a biometric or identifying capability (as whole words of an identifier or class).
BIOMETRIC = re.compile(r"(^|_)(face|faces|facial|biometric\w*|identity|identities|reid|embedding\w*|gait|"
                       r"fingerprint|iris|plate|plates|anpr|lpr)($|_)", re.IGNORECASE)


def test_every_rule_type_has_a_legal_classification() -> None:
    assert set(RULE_LAW) == set(RULE_TYPES)


def test_the_rules_of_the_mode() -> None:
    now = 10 * DAY
    stats = ModeState()
    assert "CNIL" in (rule_refusal("loitering", stats, now) or "")
    assert rule_refusal("stopped_vehicle", stats, now) is not None
    assert rule_refusal("crowd", stats, now) is None and rule_refusal("light_fault", stats, now) is None
    alerting = ModeState("alerting", "loi n° 2023-380 art. 10", now - DAY, now + DAY)
    assert rule_refusal("stopped_vehicle", alerting, now) is None
    assert "décret 2023-828 art. 3" in (rule_refusal("loitering", alerting, now) or "")
    assert alerting.effective(now + DAY) == "statistics"  # the period is over
    assert check_decision("alerting", None, 0, 1) == "alerting needs legal_basis: the law or decree that authorises it"
    assert check_decision("alerting", "loi", None, 1) == "alerting needs a period: start_ms and end_ms"
    assert check_decision("alerting", "loi", 5, 5) == "end_ms must be after start_ms"
    assert check_decision("alerting", "loi", 0, 367 * DAY) is not None
    assert check_decision("statistics", None, None, None) is None


def test_statistics_mode_refuses_a_loitering_rule_with_the_reason(app: Flask) -> None:
    sup = add_user(app, "chef", "supervisor")
    refused = sup.post("/rules", json=LOITERING)
    assert refused.status_code == 400
    err = refused.get_json()["error"]
    assert err["details"][0]["field"] == "config.type" and "analytics_mode is 'statistics'" in err["message"]
    assert sup.post("/rules", json=STOPPED).status_code == 400
    assert sup.post("/rules", json=CROWD).status_code == 201
    rid = sup.post("/rules", json=CROWD).get_json()["id"]
    assert sup.put(f"/rules/{rid}", json=LOITERING).status_code == 400  # nor by changing an allowed one
    assert sup.get("/analytics-mode").get_json()["effective"] == "statistics"


def test_alerting_needs_a_basis_and_a_period_and_is_registered(app: Flask, engine: Engine) -> None:
    admin = add_user(app, "admin", "admin")
    sup = add_user(app, "chef", "supervisor")
    now = int(time.time() * 1000)
    assert sup.put("/analytics-mode", json={"mode": "alerting"}).status_code == 403
    no_basis = admin.put("/analytics-mode", json={"mode": "alerting", "start_ms": now - DAY, "end_ms": now + DAY})
    assert no_basis.status_code == 400 and "legal_basis" in no_basis.get_json()["error"]["message"]
    assert admin.put("/analytics-mode", json={"mode": "alerting", "legal_basis": "loi"}).status_code == 400
    ok = admin.put("/analytics-mode", json={"mode": "alerting", "legal_basis": "loi n° 2023-380 art. 10",
                                            "start_ms": now - DAY, "end_ms": now + DAY})
    assert ok.status_code == 200 and ok.get_json()["effective"] == "alerting"
    assert sup.post("/rules", json=STOPPED).status_code == 201
    still = sup.post("/rules", json=LOITERING)
    assert still.status_code == 400 and "décret 2023-828 art. 3" in still.get_json()["error"]["message"]
    past = admin.put("/analytics-mode", json={"mode": "alerting", "legal_basis": "loi n° 2023-380 art. 10",
                                              "start_ms": now - 3 * DAY, "end_ms": now - DAY})
    assert past.get_json()["effective"] == "statistics"
    assert sup.post("/rules", json=STOPPED).status_code == 400
    assert admin.put("/analytics-mode", json={"mode": "statistics"}).get_json()["mode"] == "statistics"
    with engine.connect() as conn:
        entries = [e for e in register_store.iter_all(conn) if e.kind == "analytics_mode_changed"]
    assert [e.subject for e in entries] == ["analytics_mode alerting"] * 2 + ["analytics_mode statistics"]
    assert entries[0].actor == "admin" and "loi n° 2023-380" in (entries[0].detail or "")


def _words(names: list[str]) -> list[str]:
    return [n for n in names if BIOMETRIC.search(re.sub(r"[^A-Za-z0-9]+", "_", n))]


def test_the_pattern_catches_what_it_must() -> None:
    assert _words(["face_embedding", "person_identity", "licence plate", "FaceBox"]) == [
        "face_embedding", "person_identity", "licence plate"]
    assert _words(["surface", "nameplate_power_w", "interface"]) == []


def test_no_face_or_identity_model_field_or_column_exists() -> None:
    manifests = sorted((ROOT / "models").glob("*.manifest.json"))
    assert manifests
    for m in manifests:
        doc = json.loads(m.read_text(encoding="utf-8"))
        assert _words([*doc["class_names"], str(doc.get("family", ""))]) == [], m.name
    assert not [p.name for p in (ROOT / "models").iterdir() if _words([p.stem])]
    wire = [f.name for mod in (vigie_wire.messages, vigie_wire.events) for obj in vars(mod).values()
            if dataclasses.is_dataclass(obj) and isinstance(obj, type) for f in dataclasses.fields(obj)]
    assert len(wire) > 20 and _words(wire) == []
    storage = [t.name for t in metadata.sorted_tables] + [c.name for t in metadata.sorted_tables for c in t.columns]
    assert "register_entries" in storage and _words(storage) == []


@pytest.mark.parametrize("doc", ["README.md"])
def test_the_documentation_says_there_is_no_biometrics(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    assert "no face or identity model" in text
