"""The coordinator keeps its documented promise: a retained ``STATE`` with a will, owned by the notify worker.

The real ``vigie-coordinator notify`` process runs against a real Mosquitto beside a real light box; killing it
(the will) or stopping it (its last word) turns the box's view of the centre to ``offline``, and the box keeps its
calendar. Every payload on the wire says it is MessagePack (MQTT v5 content type).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import expect, sync_playwright

import vigie_wire as wire
from coordinator.centre import CentreCache, CentreState, interpret
from coordinator.storage import make_engine, upgrade
from edge_agent.agent import Agent
from edge_agent.lighting.drivers import LampFault
from tests.api_helpers import PASSWORD, add_user, make_app
from tests.boxes import write_box
from tests.mqtt_helpers import Mosquitto, wait_until
from tests.web_helpers import CHROMIUM, CHROMIUM_ARGS, chromium_missing, ensure_vendor, serve

NIGHT = dt.datetime(2026, 11, 25, 22, 30, tzinfo=dt.UTC)
HOST = "coord-01"
LIGHTING: dict[str, Any] = {
    "luminaires": [{"id": "l01", "rated_w": 60, "groups": ["rue-liberte"]}],
    "calendar": [{"name": "dijon", "program": {"kind": "astro", "steps": [{"at": "22:00", "level": 70},
                                                                           {"at": "05:00", "level": 100}]}}],
    "decision_interval_s": 0.5,
}


class Sniffer:
    """Keeps every message with its retain flag and MQTT v5 content type."""

    def __init__(self, port: int) -> None:
        self.seen: list[tuple[str, bytes, bool, str | None]] = []
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"sniff-{port}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *_: c.subscribe("vigie/v1/#", qos=1)
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        wait_until(self.ready.is_set, 10, "sniffer subscription")

    def _on_message(self, _c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        ctype = getattr(m.properties, "ContentType", None) if m.properties is not None else None
        with self._lock:
            self.seen.append((m.topic, bytes(m.payload), bool(m.retain), ctype))

    def states(self) -> list[tuple[wire.State, str | None]]:
        with self._lock:
            seen = list(self.seen)
        return [(msg, ctype) for topic, payload, _r, ctype in seen
                if topic == wire.state_topic(HOST) and isinstance(msg := wire.decode(topic, payload), wire.State)]

    def kinds(self) -> dict[wire.Kind, set[str | None]]:
        with self._lock:
            seen = list(self.seen)
        out: dict[wire.Kind, set[str | None]] = {}
        for topic, _p, _r, ctype in seen:
            out.setdefault(wire.parse_topic(topic).kind, set()).add(ctype)
        return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'coordinator.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def start_notify(port: int, database: str) -> subprocess.Popen[str]:
    env = {**os.environ, "VIGIE_DATABASE_URL": database, "VIGIE_MQTT_PORT": str(port), "VIGIE_COORDINATOR_ID": HOST,
           "VIGIE_NOTIFY_CLIENT_ID": f"notify-{port}"}
    return subprocess.Popen([sys.executable, "-m", "coordinator.cli", "notify"], env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture
def light_box(broker: Mosquitto, tmp_path: Path) -> Iterator[Agent]:
    lighting = {**LIGHTING, "state_file": str(tmp_path / "light-state.json")}
    cfg, path = write_box(tmp_path, broker.port, "light-darcy-01", lighting=lighting)
    t0 = time.monotonic()
    agent = Agent(cfg, path, light_clock=lambda: NIGHT + dt.timedelta(seconds=time.monotonic() - t0))
    agent.start()
    wait_until(agent.link.connected.is_set, 10, "light box connected")
    yield agent
    agent.shutdown(drain_s=1)


def centre_seen(box: Agent) -> str:
    assert box.light is not None
    return str(box.light.health()["light.coordinator"])


def levels(box: Agent) -> dict[str, Any]:
    assert box.light is not None
    lum = box.light.health()["light.lum"]
    return dict(zip(lum["ids"], lum["target"], strict=True))


def test_killing_the_notify_worker_sends_boxes_to_autonomy_by_its_will(broker: Mosquitto, database: str,
                                                                       light_box: Agent) -> None:
    sniffer = Sniffer(broker.port)
    assert centre_seen(light_box) == "unknown"  # nobody ever said anything about the centre
    proc = start_notify(broker.port, database)
    try:
        wait_until(lambda: centre_seen(light_box) == "online", 20, "the centre seen online")
        wait_until(lambda: levels(light_box) == {"l01": 70.0}, 5, "the calendar")
        proc.send_signal(signal.SIGKILL)  # no last word: only the broker's will can tell
        proc.wait(10)
        wait_until(lambda: centre_seen(light_box) == "offline", 10, "the centre seen offline")
        time.sleep(1.0)  # two decision rounds: autonomy keeps the street lit by its own calendar
        assert levels(light_box) == {"l01": 70.0}
        states = sniffer.states()
        assert [s.online for s, _ in states] == [True, False]
        online, will = states[0][0], states[1][0]
        assert (will.header.bd, will.header.seq) == (online.header.bd, 0), "the will of the same run, seq 0"
        assert online.header.seq >= 1 and online.header.dev == HOST
    finally:
        proc.kill()
        proc.wait(10)
        sniffer.close()


def test_a_stopped_notify_worker_says_offline_and_a_restarted_one_online_again(broker: Mosquitto, database: str,
                                                                               light_box: Agent) -> None:
    proc = start_notify(broker.port, database)
    try:
        wait_until(lambda: centre_seen(light_box) == "online", 20, "the centre seen online")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        wait_until(lambda: centre_seen(light_box) == "offline", 10, "the centre seen offline after a clean stop")
    finally:
        proc.kill()
        proc.wait(10)
    late = Sniffer(broker.port)  # a late subscriber reads the retained value
    try:
        wait_until(lambda: len(late.states()) == 1, 10, "the retained STATE")
        state, ctype = late.states()[0]
        assert state.online is False and ctype == wire.CONTENT_TYPE
        again = start_notify(broker.port, database)
        try:
            wait_until(lambda: centre_seen(light_box) == "online", 20, "the centre online again")
            wait_until(lambda: len(late.states()) == 2, 10, "the new STATE")
            newer = late.states()[1][0]
            assert newer.online and newer.header.bd >= state.header.bd
        finally:
            again.send_signal(signal.SIGTERM)
            again.wait(20)
    finally:
        late.close()


def test_every_payload_says_it_is_msgpack(broker: Mosquitto, database: str, light_box: Agent) -> None:
    sniffer = Sniffer(broker.port)
    proc = start_notify(broker.port, database)
    try:
        wait_until(lambda: centre_seen(light_box) == "online", 20, "the centre seen online")
        assert light_box.light is not None
        light_box.light.driver.inject("l01", LampFault.LAMP_FAILURE)  # type: ignore[attr-defined]
        assert light_box.link.publish_telemetry(light_box.metrics())
        wait_until(lambda: {wire.Kind.BIRTH, wire.Kind.TELEMETRY, wire.Kind.STATE, wire.Kind.EVENT}
                   <= set(sniffer.kinds()), 10, "birth, telemetry, STATE and an event")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        sniffer.close()
    kinds = sniffer.kinds()
    assert all(ctypes == {wire.CONTENT_TYPE} for ctypes in kinds.values()), kinds


def test_the_api_and_the_fleet_page_report_the_centre_as_the_boxes_see_it(broker: Mosquitto, database: str) -> None:
    app = make_app(database, MQTT_PORT=broker.port, COORDINATOR_ID=HOST)
    viewer = add_user(app, "viewer", "viewer")

    def centre() -> dict[str, Any]:
        app.extensions.pop("vigie.centre", None)  # past the cache: read the broker now
        response = viewer.get("/fleet/centre")
        assert response.status_code == 200
        return dict(response.get_json())

    before = centre()
    assert (before["host"], before["state"], before["since_ms"]) == (HOST, "unknown", None)
    assert "never ran" in before["detail"]
    proc = start_notify(broker.port, database)
    try:
        wait_until(lambda: centre()["state"] == "online", 20, "the centre online")
        assert centre()["since_ms"] > 0 and centre()["detail"] == ""
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        wait_until(lambda: centre()["state"] == "offline", 10, "the centre offline")
    finally:
        proc.kill()
        proc.wait(10)
    broker.stop()
    gone = centre()
    assert gone["state"] == "unknown" and "broker unreachable" in gone["detail"]


def test_a_cached_read_is_reused_for_a_few_seconds() -> None:
    reads: list[int] = []

    def read() -> CentreState:
        reads.append(1)
        return CentreState(HOST, "online", len(reads))

    cache = CentreCache(read, ttl_s=60)
    assert cache.get() == cache.get() == CentreState(HOST, "online", 1)
    assert len(reads) == 1
    assert CentreCache(read, ttl_s=0).get().since_ms == 2


def test_a_state_that_is_cleared_or_unreadable_is_unknown_and_says_why() -> None:
    topic = wire.state_topic(HOST)
    assert interpret(HOST, topic, b"").detail == "the retained STATE was cleared"
    bad = interpret(HOST, topic, b"\x93garbage")
    assert bad.state == "unknown" and bad.detail.startswith("unreadable STATE")
    good = wire.encode(wire.State(wire.Header(1, HOST, 7, 1, 1764086000000), False))
    assert interpret(HOST, topic, good) == CentreState(HOST, "offline", 1764086000000)


def test_the_fleet_page_shows_the_centre_online_then_offline_when_the_notify_worker_dies(
        broker: Mosquitto, database: str) -> None:
    reason = chromium_missing()
    if reason:
        pytest.fail(reason)
    ensure_vendor()
    app = make_app(database, MQTT_PORT=broker.port, COORDINATOR_ID=HOST)
    add_user(app, "lectrice", "viewer")
    proc = start_notify(broker.port, database)
    try:
        with sync_playwright() as p, serve(app) as base_url:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(locale="fr-FR").new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base_url}/fleet")
            page.get_by_label("Identifiant").fill("lectrice")
            page.get_by_label("Mot de passe").fill(PASSWORD)
            page.get_by_role("button", name="Se connecter").click()
            centre = page.locator("#centre")
            deadline = time.monotonic() + 20
            while centre.get_attribute("data-state") != "online" and time.monotonic() < deadline:
                page.get_by_role("button", name="Actualiser").click()
                time.sleep(0.5)
            expect(centre).to_have_attribute("data-state", "online")
            expect(centre).to_contain_text(f"({HOST}) : En ligne")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            deadline = time.monotonic() + 20  # the page's reads are cached 5 s per web worker
            while centre.get_attribute("data-state") != "offline" and time.monotonic() < deadline:
                page.get_by_role("button", name="Actualiser").click()
                time.sleep(0.5)
            expect(centre).to_have_attribute("data-state", "offline")
            expect(centre).to_contain_text("Hors ligne")
            browser.close()
            assert not errors, errors
    finally:
        proc.kill()
        proc.wait(10)
