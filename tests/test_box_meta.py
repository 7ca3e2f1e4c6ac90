"""A box's retained site metadata (``<site>/<device>/meta``): built from its configuration, valid per the document,
published after every birth and read by a late subscriber."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

import vigie_wire as wire
from coordinator.storage import make_engine, upgrade
from edge_agent.agent import Agent, capabilities
from edge_agent.meta import device_kind, site_metadata
from tests.api_helpers import add_user, make_app
from tests.boxes import write_box
from tests.ingest_helpers import register
from tests.mqtt_helpers import Mosquitto, Recorder, wait_until
from tests.test_asyncapi import registry
from vigie_config import load_config

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "firmware_configs").glob("*.yaml"))
VALIDATOR = Draft202012Validator({"$ref": "urn:vigie:asyncapi#/components/schemas/MetaPayload"}, registry=registry())


def valid(meta: wire.Meta) -> list[str]:
    payload = [1, meta.header.dev, meta.header.bd, meta.header.seq, meta.header.ts, meta.config_hash, meta.info]
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(json.loads(json.dumps(payload)))]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_committed_box_describes_itself_within_the_documented_schema(path: Path) -> None:
    config = load_config(path)
    caps = capabilities(config)
    info = site_metadata(config, caps)
    meta = wire.Meta(wire.Header(1, config.device_id, 0, 1, 1764086400000), "ab" * 32, info)  # the wire's own checks
    assert valid(meta) == []
    assert info["kind"] == device_kind(caps) and (info["lat"], info["lon"]) == (config.lat, config.lon)
    for i, cam in enumerate(config.cameras):
        described = info["cameras"][i]
        assert described["cam"] == i and [z["id"] for z in described["zones"]] == [z.id for z in cam.zones]
        assert [(ln["id"], ln["inbound"]) for ln in described["lines"]] == [(ln.id, ln.direction) for ln in cam.lines]
        if "person" in cam.classes:
            assert described["classes"]["person"] == 0, "COCO-80: person is class 0"
        assert all(isinstance(v, int) for v in described["classes"].values()), "every class has its cls index"
    if config.lighting is not None:
        assert [lum["id"] for lum in info["luminaires"]] == [lum.id for lum in config.lighting.luminaires]


def test_device_kinds_follow_the_capabilities() -> None:
    assert [device_kind(c) for c in (["link", "vision", "light"], ["link", "vision", "model:x"], ["link", "light"],
                                     ["link", "presence"], ["link"])] == ["pole", "camera", "light", "presence", "link"]


def test_a_light_box_publishes_its_metadata_retained_after_every_birth(broker: Mosquitto, tmp_path: Path) -> None:
    lighting: dict[str, Any] = {
        "luminaires": [{"id": "l01", "rated_w": 60, "groups": ["rue-liberte"], "lat": 47.3222, "lon": 5.0411},
                       {"id": "l02", "rated_w": 40, "groups": ["place-darcy"]}],
        "calendar": [{"name": "dijon", "program": {"kind": "astro", "steps": [{"at": "22:00", "level": 70}]}}],
        "state_file": str(tmp_path / "light.json"),
    }
    cfg, path = write_box(tmp_path, broker.port, "light-darcy-01", lighting=lighting)
    agent = Agent(cfg, path)
    agent.start()
    try:
        wait_until(agent.link.connected.is_set, 10, "connected")
        late = Recorder(broker.port, wire.device_topic("dijon", "light-darcy-01", wire.Kind.META))
        wait_until(lambda: len(late.snapshot()) == 1, 10, "the retained meta")
        received = late.snapshot()[0]
        assert received.retain
        meta = late.decoded()[0]
        assert isinstance(meta, wire.Meta) and valid(meta) == []
        assert meta.header.seq == 1, "right after the birth (seq 0)"
        assert meta.info["kind"] == "light"
        assert meta.info["luminaires"] == [
            {"id": "l01", "rated_w": 60.0, "groups": ["rue-liberte"], "lat": 47.3222, "lon": 5.0411},
            {"id": "l02", "rated_w": 40.0, "groups": ["place-darcy"], "lat": None, "lon": None}]
        late.close()
    finally:
        agent.shutdown(drain_s=1)


def test_the_http_api_serves_a_box_metadata_to_integrators_without_mqtt(broker: Mosquitto, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'coordinator.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    register(engine, ("light-darcy-01", "dijon"), ("cam-talant-01", "talant"))
    app = make_app(url, MQTT_PORT=broker.port)
    viewer = add_user(app, "viewer", "viewer")
    talant = add_user(app, "talant", "viewer", commune="talant")
    assert viewer.get("/devices/light-darcy-01/meta").status_code == 404  # registered, but nothing published yet
    assert viewer.get("/devices/nobody/meta").status_code == 404
    cfg, path = write_box(tmp_path, broker.port, "light-darcy-01", lighting={
        "luminaires": [{"id": "l01", "rated_w": 60, "groups": ["rue-liberte"]}],
        "calendar": [{"name": "dijon", "program": {"kind": "astro", "steps": [{"at": "22:00", "level": 70}]}}],
        "state_file": str(tmp_path / "light.json")})
    agent = Agent(cfg, path)
    agent.start()
    try:
        wait_until(agent.link.connected.is_set, 10, "connected")
        wait_until(lambda: viewer.get("/devices/light-darcy-01/meta").status_code == 200, 10, "the meta served")
        body = viewer.get("/devices/light-darcy-01/meta").get_json()
        assert (body["device"], body["site"], body["info"]["kind"]) == ("light-darcy-01", "dijon", "light")
        assert body["info"]["luminaires"][0]["groups"] == ["rue-liberte"]
        assert talant.get("/devices/light-darcy-01/meta").status_code == 403  # another commune's box
    finally:
        agent.shutdown(drain_s=1)
    broker.stop()
    down = viewer.get("/devices/light-darcy-01/meta")
    assert down.status_code == 503 and "broker" in down.get_json()["error"]["message"]
    engine.dispose()


CAMERA_BOXES = [p for p in CONFIGS if load_config(p).cameras]


@pytest.mark.parametrize("path", CAMERA_BOXES, ids=[p.stem for p in CAMERA_BOXES])
def test_every_committed_camera_places_its_zones_and_lines_on_the_ground(path: Path) -> None:
    config = load_config(path)
    info = site_metadata(config, capabilities(config))
    for i, cam in enumerate(config.cameras):
        described = info["cameras"][i]
        for zone, shown in zip(cam.zones, described["zones"], strict=True):
            assert zone.geo is not None, f"{path.name}: zone {zone.id} has no ground ring"
            assert shown["geo"] == [list(p) for p in zone.geo] and shown["geo"][0] == shown["geo"][-1]
        for line, shown in zip(cam.lines, described["lines"], strict=True):
            assert line.geo is not None, f"{path.name}: line {line.id} has no ground segment"
            assert shown["geo"] == {"a": list(line.geo.a), "b": list(line.geo.b),
                                    "in_side": "right" if line.direction == "a_to_b" else "left"}


def test_a_camera_box_publishes_its_ground_geometry_to_mqtt_and_http(broker: Mosquitto, tmp_path: Path) -> None:
    """The committed camera box of place Darcy on the test footage: what its config places on the ground reaches a
    late MQTT subscriber and an integrator of the HTTP API, as the config says it."""
    committed = raw_config("cam-darcy-01")
    cam = {**committed["cameras"][0], "source": str(REPO / "tests" / "data" / "vtest_excerpt.avi"), "loop": True,
           "model": str(REPO / "models" / "nanodet-g-416.manifest.json"), "threads": 1, "detect_fps": 2}
    cfg, path = write_box(tmp_path, broker.port, "cam-darcy-01", lat=committed["lat"], lon=committed["lon"],
                          cameras=[cam])
    url = f"sqlite:///{tmp_path / 'coordinator.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    register(engine, ("cam-darcy-01", "dijon"))
    viewer = add_user(make_app(url, MQTT_PORT=broker.port), "viewer", "viewer")
    agent = Agent(cfg, path)
    agent.start()
    try:
        wait_until(agent.link.connected.is_set, 20, "connected")
        late = Recorder(broker.port, wire.device_topic("dijon", "cam-darcy-01", wire.Kind.META))
        wait_until(lambda: len(late.snapshot()) == 1, 10, "the retained meta")
        meta = late.decoded()[0]
        late.close()
        assert isinstance(meta, wire.Meta) and valid(meta) == []
        zone, line = meta.info["cameras"][0]["zones"][0], meta.info["cameras"][0]["lines"][0]
        assert zone["geo"] == committed["cameras"][0]["zones"][0]["geo"]
        assert line["geo"] == {**committed["cameras"][0]["lines"][0]["geo"], "in_side": "right"}
        assert line["inbound"] == "a_to_b"
        body = viewer.get("/devices/cam-darcy-01/meta").get_json()
        assert list(HTTP_META.iter_errors(body)) == [], "the response is as the OpenAPI document says"
        assert body["info"]["cameras"][0]["zones"][0]["geo"] == zone["geo"]
        assert body["info"]["cameras"][0]["lines"][0]["geo"] == line["geo"]
    finally:
        agent.shutdown(drain_s=1)
        engine.dispose()


def _http_meta_validator() -> Draft202012Validator:
    doc = yaml.safe_load((REPO / "coordinator" / "api" / "openapi.yaml").read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(
        "urn:vigie:openapi", Resource.from_contents(doc, default_specification=DRAFT202012))
    pointer = "/paths/~1devices~1{device_id}~1meta/get/responses/200/content/application~1json/schema"
    return Draft202012Validator({"$ref": f"urn:vigie:openapi#{pointer}"}, registry=registry)


HTTP_META = _http_meta_validator()


def test_the_http_document_examples_and_its_ground_rules_hold() -> None:
    doc = yaml.safe_load((REPO / "coordinator" / "api" / "openapi.yaml").read_text(encoding="utf-8"))
    examples = doc["paths"]["/devices/{device_id}/meta"]["get"]["responses"]["200"]["content"]["application/json"]
    for name, example in examples["examples"].items():
        assert list(HTTP_META.iter_errors(example["value"])) == [], name
    camera = json.loads(json.dumps(examples["examples"]["camera"]["value"]))
    camera["info"]["cameras"][0]["lines"][0]["geo"]["a"] = [47.3228, 5.0353]  # latitude and longitude swapped
    assert list(HTTP_META.iter_errors(camera)) != []


def raw_config(stem: str) -> dict[str, Any]:
    data = yaml.safe_load((REPO / "firmware_configs" / f"{stem}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
