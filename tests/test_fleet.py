"""Fleet: health summary and map layer as pure values; the device, health and map API on both databases."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.engine import Engine

from coordinator.fleet import Device, health_summary, map_layer
from coordinator.storage import make_engine
from coordinator.storage.schema import devices
from tests.api_helpers import add_user, make_app
from tests.fleet_helpers import add_device, add_devices, now_ms, set_telemetry

NOW = 1_764_000_000_000
MIN = 60_000


# ------------------------------------------------------------------------------------------------ pure


def test_health_counts_by_status_site_and_role_and_lists_versions_in_use() -> None:
    devs = [
        Device("a", "dijon", "online", roles=("camera",), firmware="0.9", last_seen_ms=NOW),
        Device("b", "dijon", "offline", roles=("light",), firmware="0.9", last_seen_ms=NOW - 2 * MIN),
        Device("c", "talant", "online", roles=("camera", "light"), firmware="0.8", last_seen_ms=NOW),
    ]
    h = health_summary(devs, NOW)
    assert h.total == 3
    assert h.by_status == {"offline": 1, "online": 2}
    assert h.by_site == {"dijon": {"offline": 1, "online": 1}, "talant": {"online": 1}}
    assert h.by_role == {"camera": 2, "light": 2}
    assert list(h.firmware.items()) == [("0.9", 2), ("0.8", 1)]


def test_a_box_not_heard_for_long_is_silent_even_if_the_registry_says_online() -> None:
    devs = [
        Device("fresh", "dijon", "online", last_seen_ms=NOW - MIN),
        Device("quiet", "dijon", "online", last_seen_ms=NOW - 20 * MIN),
        Device("quieter", "dijon", "offline", last_seen_ms=NOW - 60 * MIN),
        Device("never", "dijon", "unknown"),
    ]
    h = health_summary(devs, NOW, silent_after_ms=15 * MIN)
    assert [s.id for s in h.silent] == ["never", "quieter", "quiet"]
    assert h.silent_total == 3
    assert h.silent[1].silent_ms == 60 * MIN


def test_config_drift_is_reported_when_the_announced_hash_is_not_the_installed_one() -> None:
    devs = [Device("same", "dijon", "online", config_hash="abcd1234", seed_config_hash="abcd1234ffff"),
            Device("edited", "dijon", "online", config_hash="0000aaaa", seed_config_hash="abcd1234"),
            Device("unknown", "dijon", "online", config_hash=None, seed_config_hash="abcd1234")]
    assert health_summary(devs, NOW).config_drift == ["edited"]


def test_map_layer_is_columns_with_legends_and_its_etag_follows_the_content() -> None:
    devs = [Device("l-1", "talant", "offline", roles=("light",), lat=47.3361234, lon=5.0054321),
            Device("c-1", "dijon", "online", roles=("camera", "light"), lat=None, lon=None)]
    layer = map_layer(devs)
    b = layer.body
    assert b["id"] == ["c-1", "l-1"]
    assert b["sites"] == ["dijon", "talant"] and b["site"] == [0, 1]
    assert [b["statuses"][s] for s in b["status"]] == ["online", "offline"]
    assert b["role"] == [3, 2]
    assert b["lat"] == [None, 4733612] and b["lon"] == [None, 500543]
    assert map_layer(list(reversed(devs))).etag == layer.etag, "row order does not change the ETag"
    moved = [devs[0], Device("c-1", "dijon", "offline", roles=("camera", "light"))]
    assert map_layer(moved).etag != layer.etag


# ------------------------------------------------------------------------------------------------ API


def _fleet(db: Engine) -> None:
    add_device(db, "cam-darcy-01", district="centre-ville", lat=47.3223, lon=5.0355)
    add_device(db, "light-darcy-01", roles=["light"], lat=47.3221, lon=5.0360, firmware="vigie-edge 0.8.0")
    add_device(db, "light-talant-01", site="talant", roles=["light"], status="offline", lat=47.336, lon=5.005)
    add_device(db, "pole-talant-02", site="talant", roles=["camera", "light"], status="unknown",
               last_seen_ms=None, lat=None, lon=None)


def test_devices_are_listed_with_filters_by_site_status_role_and_bbox(app: Flask, db: Engine) -> None:
    _fleet(db)
    viewer = add_user(app, "viewer", "viewer")
    assert viewer.get("/devices").get_json()["total"] == 4
    ids = lambda q: [d["id"] for d in viewer.get(f"/devices?{q}").get_json()["devices"]]  # noqa: E731
    assert ids("site=talant") == ["light-talant-01", "pole-talant-02"]
    assert ids("status=online") == ["cam-darcy-01", "light-darcy-01"]
    assert ids("role=light") == ["light-darcy-01", "light-talant-01", "pole-talant-02"]
    assert ids("role=light&site=dijon") == ["light-darcy-01"]
    assert ids("bbox=5.0,47.32,5.04,47.33") == ["cam-darcy-01", "light-darcy-01"]
    assert ids("district=centre-ville") == ["cam-darcy-01"]
    page = viewer.get("/devices?limit=1&offset=1").get_json()
    assert page["total"] == 4 and [d["id"] for d in page["devices"]] == ["light-darcy-01"]
    bad = viewer.get("/devices?bbox=5,47,4,48")
    assert bad.status_code == 400 and bad.get_json()["error"]["details"][0]["field"] == "bbox"


def test_commune_staff_see_only_their_commune(app: Flask, db: Engine) -> None:
    _fleet(db)
    talant = add_user(app, "agent.talant", "viewer", "talant")
    assert [d["id"] for d in talant.get("/devices").get_json()["devices"]] == ["light-talant-01", "pole-talant-02"]
    assert talant.get("/devices?site=dijon").status_code == 403
    assert talant.get("/devices/cam-darcy-01").status_code == 403
    assert talant.get("/fleet/health").get_json()["total"] == 2
    assert talant.get("/map/devices").get_json()["id"] == ["light-talant-01", "pole-talant-02"]


def test_device_detail_carries_its_latest_telemetry(app: Flask, db: Engine) -> None:
    _fleet(db)
    set_telemetry(db, "light-darcy-01", {"light.n": 3, "light.power_w": 120.5})
    viewer = add_user(app, "viewer", "viewer")
    body = viewer.get("/devices/light-darcy-01").get_json()
    assert body["roles"] == ["light"] and body["firmware"] == "vigie-edge 0.8.0"
    assert body["telemetry"]["metrics"] == {"light.n": 3, "light.power_w": 120.5}
    assert viewer.get("/devices/cam-darcy-01").get_json()["telemetry"] is None
    assert viewer.get("/devices/nope").status_code == 404


def test_fleet_health_summary_over_the_api(app: Flask, db: Engine) -> None:
    _fleet(db)
    add_device(db, "cam-old-01", last_seen_ms=now_ms() - 3_600_000, firmware="vigie-edge 0.7.0")
    body = add_user(app, "viewer", "viewer").get("/fleet/health?silent_after_s=600").get_json()
    assert body["total"] == 5
    assert body["by_site"]["talant"] == {"offline": 1, "unknown": 1}
    assert [s["id"] for s in body["silent"]] == ["pole-talant-02", "cam-old-01"]
    assert body["firmware"]["vigie-edge 0.9.0"] == 3


def test_map_layer_has_an_etag_and_answers_304_when_unchanged(app: Flask, db: Engine) -> None:
    _fleet(db)
    viewer = add_user(app, "viewer", "viewer")
    first = viewer.get("/map/devices")
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.get_json()["count"] == 4
    again = viewer.get("/map/devices", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    add_device(db, "cam-new-01")
    changed = viewer.get("/map/devices", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.get_json()["count"] == 5
    assert changed.headers["ETag"] != first.headers["ETag"]


def test_map_of_35000_devices_is_compact_cached_and_revalidated(db_url: str) -> None:
    """Timed without the test-only response validation (jsonschema over 35,000 items dominates otherwise)."""
    app = make_app(db_url, VALIDATE_RESPONSES=False)
    db = make_engine(db_url)
    t = now_ms()
    rows = [{"id": f"light-{i:05d}", "site": f"commune-{i % 23:02d}", "district": None, "roles": ["light"],
             "lat": 47.2 + (i % 300) * 0.001, "lon": 4.9 + (i // 300) * 0.002, "caps": [], "firmware": "0.9",
             "config_hash": None, "seed_config_hash": None, "status": "online", "bd_seq": 1, "last_seen_ms": t,
             "status_since_ms": t, "created_ms": t, "updated_ms": t} for i in range(35_000)]
    add_devices(db, rows)
    viewer = add_user(app, "viewer", "viewer")
    resp = viewer.get("/map/devices")
    body = resp.get_json()
    assert body["count"] == 35_000
    per_point = len(resp.data) / 35_000
    assert per_point < 45, f"{per_point:.1f} bytes per point"
    assert viewer.get("/map/devices", headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304
    # A change in the fleet changes the layer: the cached body is not served for the new state.
    with db.begin() as conn:
        conn.execute(devices.update().where(devices.c.id == "light-00007").values(status="offline", updated_ms=t + 1))
    again = viewer.get("/map/devices", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 200 and again.headers["ETag"] != resp.headers["ETag"]
    assert again.get_json()["status"][7] == body["statuses"].index("offline")
    db.dispose()
