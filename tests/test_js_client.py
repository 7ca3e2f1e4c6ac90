"""The JavaScript client (``clients/js``) proves the contract outside Python, on every run of the suite.

Node's own test runner decodes every example of the AsyncAPI document from its hex vector, then reads a live
broker fed by real Vigie boxes: a light box (birth, lamp faults, telemetry, a command's acknowledgement) and a
camera box's link carrying every camera event type. The client validates each payload against the document's
schemas (``contract.json``, exported from the document and checked here to be current).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import vigie_wire as wire
from coordinator.mqtt_publisher import content_type
from edge_agent.agent import Agent
from edge_agent.lighting.drivers import LampFault
from tests.boxes import write_box
from tests.mqtt_helpers import Mosquitto, wait_until

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "clients" / "js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is installed by make (SYSTEM_DEPS)")
LIGHTING: dict[str, Any] = {
    "luminaires": [{"id": "l01", "rated_w": 60, "groups": ["rue-liberte"]},
                   {"id": "l02", "rated_w": 60, "groups": ["rue-liberte"]}],
    "calendar": [{"name": "dijon", "program": {"kind": "astro", "steps": [{"at": "22:00", "level": 70}]}}],
    "decision_interval_s": 0.2,
}
CAMERA_EVENTS: list[wire.Event] = [
    wire.Detection(0, 5117, 2, 87, (412, 230, 96, 310)),
    wire.ZoneEnter(0, "bus-stop", 5117, 2),
    wire.Occupancy(0, "bus-stop", ((2, 1),)),
    wire.LineCrossing(0, "liberte-east", 5117, 2, True),
    wire.Loitering(0, "bus-stop", 5117, 2, 120_040),
    wire.ZoneLeave(0, "bus-stop", 5117, 2, 130_000),
    wire.Occupancy(0, "bus-stop", ()),
    wire.TrackEnd(0, 5117, 2, 131_500),
    wire.IntervalCounts(0, 60, (wire.CountRow("bus-stop", 2, 1, 0), wire.CountRow("liberte-east", 2, 1, 0))),
]


def node(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    assert NODE is not None
    return subprocess.Popen([NODE, "--test", "--test-reporter=spec", *args], cwd=CLIENT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def finish(proc: subprocess.Popen[str], timeout: float) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def test_contract_json_is_the_current_export_of_the_document() -> None:
    result = subprocess.run([sys.executable, str(CLIENT / "export_contract.py"), "--check"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_the_js_client_decodes_every_documented_example_from_its_hex_vector() -> None:
    out = finish(node("test/examples.test.js"), 120)
    examples = json.loads((CLIENT / "contract.json").read_text(encoding="utf-8"))["examples"]
    assert out.count("decodes on vigie/v1/") == len(examples) > 30
    assert re.search(r"^\S+ fail 0$", out, re.MULTILINE), out


def test_the_js_client_reads_real_boxes_on_a_live_broker(broker: Mosquitto, tmp_path: Path) -> None:
    assert (CLIENT / "node_modules" / "mqtt").is_dir(), "run make install (npm ci in clients/js)"
    ready = tmp_path / "ready"
    proc = node("test/live.test.js", env={"VIGIE_LIVE_PORT": str(broker.port), "VIGIE_LIVE_READY": str(ready)})
    boxes: list[Agent] = []
    try:
        wait_until(ready.exists, 60, "the JS client subscribed")
        cam_cfg, cam_path = write_box(tmp_path, broker.port, "cam-darcy-01")
        light_cfg, light_path = write_box(tmp_path, broker.port, "light-darcy-01",
                                          lighting={**LIGHTING, "state_file": str(tmp_path / "light.json")})
        night = dt.datetime(2026, 11, 25, 22, 30, tzinfo=dt.UTC)
        boxes = [Agent(cam_cfg, cam_path), Agent(light_cfg, light_path, light_clock=lambda: night)]
        for box in boxes:
            box.start()
            wait_until(box.link.connected.is_set, 10, f"{box.config.device_id} connected")
        cam, light = boxes
        cam.link.emit_many(CAMERA_EVENTS)
        assert light.light is not None
        light.light.driver.inject("l02", LampFault.LAMP_FAILURE)  # type: ignore[attr-defined]
        _command(broker.port, light)
        wait_until(lambda: light.link.link_metrics()["link.events_acked"] >= 1, 10, "the lamp fault sent")
        wait_until(lambda: cam.link.link_metrics()["link.events_acked"] == len(CAMERA_EVENTS), 10, "camera events")
        for box in boxes:
            assert box.link.publish_telemetry(box.metrics())
        sent = {"events": {b.config.device_id: b.link.link_metrics()["link.events_acked"] for b in boxes},
                "types": sorted({e.wire_name for e in CAMERA_EVENTS} | {"lamp_fault"}),
                "kinds": ["birth", "meta", "event", "telemetry", "ack"]}
        time.sleep(0.5)  # telemetry is QoS 0: let it land before the end marker
        _publish(broker.port, "vigie-test/done", json.dumps(sent).encode())
        out = finish(proc, 60)
    finally:
        for box in boxes:
            box.shutdown(drain_s=1)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "live: " in out and "0 failures" in out, out


def _publish(port: int, topic: str, payload: bytes) -> None:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"feeder-{port}",
                         protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    props = content_type() if topic.startswith(wire.topics.ROOT) else None  # as the coordinator publishes
    client.publish(topic, payload, qos=1, properties=props).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def _command(port: int, light: Agent) -> None:
    """An override from the centre, so the light box acknowledges it on its ack topic."""
    now = int(time.time() * 1000)
    cmd = wire.Command(wire.Header(1, "coord-01", 1, 1, now), "light-darcy-01", "c-live-1", now, now + 60_000,
                       "light.override", {"lum": "l01", "level": 40})
    _publish(port, wire.device_topic("dijon", "light-darcy-01", wire.Kind.CMD), wire.encode(cmd))
    wait_until(lambda: light.link.link_metrics()["link.commands"] == 1, 10, "the command received")
