"""Rule classes are checked against the detector models' manifests (read as JSON, no edge code)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coordinator.interventions.errors import ModelManifestError
from coordinator.interventions.model_classes import class_ids, models_dir
from coordinator.settings import SettingsError
from tests.api_helpers import add_user, make_app

REPO = Path(__file__).resolve().parents[1]


def test_the_committed_manifest_gives_the_80_coco_classes() -> None:
    assert class_ids(REPO / "models") == frozenset(range(80))
    assert models_dir({"FIRMWARE_CONFIGS": str(REPO / "firmware_configs")}) == REPO / "models"
    assert models_dir({"MODELS_DIR": "/srv/m", "FIRMWARE_CONFIGS": "x"}) == Path("/srv/m")


def test_classes_are_the_union_over_manifests_and_a_broken_one_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.manifest.json").write_text(json.dumps({"class_names": ["person", "bicycle"]}), encoding="utf-8")
    (tmp_path / "b.manifest.json").write_text(json.dumps({"class_names": list("abcde")}), encoding="utf-8")
    assert class_ids(tmp_path) == frozenset(range(5))
    (tmp_path / "c.manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelManifestError, match=r"c\.manifest\.json"):
        class_ids(tmp_path)


def test_a_rule_on_a_class_no_model_produces_is_refused(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "tiny.manifest.json").write_text(json.dumps({"class_names": ["person", "car", "bus"]}),
                                                encoding="utf-8")
    app = make_app(db_url, MODELS_DIR=str(tmp_path))
    sup = add_user(app, "chef", "supervisor")
    bad = sup.post("/rules", json={"name": "Foule", "config": {"type": "crowd", "threshold": 5, "classes": [0, 7, 80]}})
    assert bad.status_code == 400
    [detail] = bad.get_json()["error"]["details"]
    assert detail["field"] == "config.crowd.classes" and "[7, 80]" in detail["reason"]
    assert sup.get("/rules").get_json()["rules"] == []
    ok = sup.post("/rules", json={"name": "Foule", "config": {"type": "crowd", "threshold": 5, "classes": [0, 2]}})
    assert ok.status_code == 201
    rid = ok.get_json()["id"]
    upd = sup.put(f"/rules/{rid}", json={"name": "Arrêt", "config": {"type": "stopped_vehicle", "classes": [3],
                                                                      "zones": [{"zone": "bus-lane"}],
                                                                      "max_stop_s": 60}})
    assert upd.status_code == 400 and upd.get_json()["error"]["details"][0]["field"] == "config.stopped_vehicle.classes"
    assert sup.post("/rules", json={"name": "Pannes", "config": {"type": "light_fault"}}).status_code == 201


def test_a_broken_manifest_stops_the_start(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "bad.manifest.json").write_text("[]", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"bad\.manifest\.json"):
        make_app(db_url, MODELS_DIR=str(tmp_path))
