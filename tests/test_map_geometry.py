"""The cameras' zones and counting lines on the map: stored from the box configs when the fleet is seeded."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from flask import Flask

from coordinator.seed import seed_fleet
from coordinator.storage import make_engine
from tests.api_helpers import add_user, make_app

ROOT = Path(__file__).resolve().parents[1]
CAMERAS = ("cam-darcy-01.yaml", "cam-liberte-01.yaml", "pole-liberation-01.yaml")


def _seeded(db_url: str, configs: Path) -> Flask:
    engine = make_engine(db_url)
    seed_fleet(engine, configs)
    engine.dispose()
    return make_app(db_url)


def _copy(tmp_path: Path) -> Path:
    configs = tmp_path / "configs"
    configs.mkdir()
    for name in CAMERAS:
        shutil.copy(ROOT / "firmware_configs" / name, configs / name)
    return configs


def test_the_committed_cameras_zones_and_lines_are_served_as_their_configs_place_them(
        db_url: str, tmp_path: Path) -> None:
    configs = _copy(tmp_path)
    app = _seeded(db_url, configs)
    viewer = add_user(app, "lecteur", "viewer")
    body = viewer.get("/map/geometry").get_json()
    darcy = yaml.safe_load((configs / "cam-darcy-01.yaml").read_text(encoding="utf-8"))
    cam = darcy["cameras"][0]
    expected_zones = {(z["id"], tuple(map(tuple, z["geo"]))) for z in cam["zones"] if "geo" in z}
    assert expected_zones and {(z["id"], tuple(map(tuple, z["ring"]))) for z in body["zones"]
                               if z["device_id"] == "cam-darcy-01"} == expected_zones
    expected_lines = {(ln["id"], tuple(ln["geo"]["a"]), tuple(ln["geo"]["b"]), ln["geo"]["in_side"])
                      for ln in cam["lines"] if "geo" in ln}
    assert expected_lines and {(ln["id"], tuple(ln["a"]), tuple(ln["b"]), ln["in_side"]) for ln in body["lines"]
                               if ln["device_id"] == "cam-darcy-01"} == expected_lines
    assert {z["camera"] for z in body["zones"] if z["device_id"] == "cam-darcy-01"} == {cam["name"]}
    assert {z["device_id"] for z in body["zones"]} >= {"cam-darcy-01", "cam-liberte-01"}
    assert all(z["site"] == "dijon" for z in body["zones"] + body["lines"])


def test_geometry_is_commune_scoped_has_an_etag_and_follows_a_reseeded_config(db_url: str, tmp_path: Path) -> None:
    configs = _copy(tmp_path)
    app = _seeded(db_url, configs)
    viewer = add_user(app, "lecteur", "viewer")
    first = viewer.get("/map/geometry?site=dijon")
    tag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "private, no-cache"
    again = viewer.get("/map/geometry?site=dijon", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""
    talant = add_user(app, "agent.talant", "viewer", commune="talant")
    assert talant.get("/map/geometry").get_json() == {"zones": [], "lines": []}
    assert talant.get("/map/geometry?site=dijon").status_code == 403
    assert viewer.get("/map/geometry?site=Dijon!").status_code == 400
    assert viewer.get("/map/geometry?colour=red").status_code == 400
    # The Darcy camera loses its zones' ground positions: seeding again takes them off the map.
    path = configs / "cam-darcy-01.yaml"
    darcy = yaml.safe_load(path.read_text(encoding="utf-8"))
    for zone in darcy["cameras"][0]["zones"]:
        zone.pop("geo", None)
        zone.pop("box_height_from_ground", None)
    path.write_text(yaml.safe_dump(darcy, sort_keys=False), encoding="utf-8")
    engine = make_engine(db_url)
    seed_fleet(engine, configs)
    engine.dispose()
    changed = viewer.get("/map/geometry?site=dijon", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    body = changed.get_json()
    assert not [z for z in body["zones"] if z["device_id"] == "cam-darcy-01"]
    assert [ln for ln in body["lines"] if ln["device_id"] == "cam-darcy-01"]
