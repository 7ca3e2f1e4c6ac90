"""The coordinator and real light nodes on a real broker: overrides, group calendars, acks, energy."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Engine

from coordinator.analytics import hooks as analytics_hooks
from coordinator.ingest.hooks import StoredTelemetry
from coordinator.lighting import hooks as lighting_hooks
from coordinator.storage import analytics as store
from edge_agent.agent import Agent
from tests.api_helpers import Caller, add_user, make_app
from tests.lighting_helpers import NIGHT, HookRelay, light_box, register, running_clock
from tests.mqtt_helpers import Mosquitto, wait_until


@pytest.fixture
def app(db_url: str, broker: Mosquitto) -> Flask:
    return make_app(db_url, MQTT_PORT=broker.port)


def _start(tmp: Path, port: int, device_id: str, groups: tuple[str, ...], speed: float = 1.0,
           site: str = "dijon") -> Agent:
    cfg, path = light_box(tmp, port, device_id, site=site, groups=groups)
    agent = Agent(cfg, path, light_clock=running_clock(NIGHT, speed))
    agent.start()
    wait_until(agent.link.connected.is_set, 10, f"{device_id} connected")
    return agent


def _targets(agent: Agent) -> dict[str, float]:
    assert agent.light is not None
    return {lum: agent.light.driver.read(lum).target_pct for lum in agent.light.driver.luminaires()}


def _command(caller: Caller, cmd_id: str) -> dict[str, object]:
    body: dict[str, object] = caller.get(f"/lighting/commands/{cmd_id}").get_json()
    return body


def test_an_override_set_through_the_api_reaches_a_light_node_and_its_ack_is_recorded(
        app: Flask, db: Engine, broker: Mosquitto, tmp_path: Path) -> None:
    box = _start(tmp_path, broker.port, "light-liberte-01", ("rue-liberte",))
    relay = HookRelay(broker.port, db, on_acks=lighting_hooks.on_acks)
    try:
        assert box.light is not None
        register(db, box.config)
        wait_until(lambda: _targets(box) == {"l01": 70.0, "l02": 70.0}, 5, "calendar level")
        op = add_user(app, "operator", "operator")
        resp = op.post("/lighting/overrides", json={"scope": "group", "site": "dijon", "group": "rue-liberte",
                                                    "level": 100, "ramp_up_s": 0, "duration_s": 600})
        assert resp.status_code == 201 and resp.get_json()["published"] is True
        cmd_id = resp.get_json()["cmd_id"]
        wait_until(lambda: _targets(box) == {"l01": 100.0, "l02": 100.0}, 5, "override applied")
        wait_until(lambda: _command(op, cmd_id)["state"] == "complete", 5, "ack recorded")
        ack = _command(op, cmd_id)["acks"][0]  # type: ignore[index]
        assert ack["device_id"] == "light-liberte-01" and ack["result"] == "applied"
        assert ack["applied"] == {"scope": "group", "target": "rue-liberte", "level": 100, "luminaires": 2}
        # An empty override returns the group to its program.
        back = op.post("/lighting/overrides", json={"scope": "group", "site": "dijon", "group": "rue-liberte",
                                                    "level": None, "duration_s": 600}).get_json()
        wait_until(lambda: _targets(box) == {"l01": 70.0, "l02": 70.0}, 5, "back to the program")
        wait_until(lambda: _command(op, back["cmd_id"])["state"] == "complete", 5, "cancel acked")
        # One luminaire of the box, on the box's own topic.
        one = op.post("/lighting/overrides", json={"scope": "device", "device": "light-liberte-01", "lum": "l02",
                                                   "level": 0, "duration_s": 600}).get_json()
        wait_until(lambda: _targets(box) == {"l01": 70.0, "l02": 0.0}, 5, "luminaire override")
        wait_until(lambda: _command(op, one["cmd_id"])["state"] == "complete", 5, "luminaire ack")
    finally:
        relay.close()
        box.shutdown(drain_s=1)


def test_a_group_calendar_push_reaches_every_node_of_the_group_and_city_commands_every_commune(
        app: Flask, db: Engine, broker: Mosquitto, tmp_path: Path) -> None:
    a = _start(tmp_path, broker.port, "light-liberte-01", ("rue-liberte",))
    b = _start(tmp_path, broker.port, "light-liberte-02", ("rue-liberte", "place-rude"))
    other = _start(tmp_path, broker.port, "light-darcy-01", ("place-darcy",))
    talant = _start(tmp_path, broker.port, "light-talant-01", ("centre",), site="talant")
    boxes = [a, b, other, talant]
    relay = HookRelay(broker.port, db, on_acks=lighting_hooks.on_acks)
    try:
        register(db, *(x.config for x in boxes))
        for x in boxes:
            wait_until(lambda x=x: set(_targets(x).values()) == {70.0}, 5, "calendar level")
        chef = add_user(app, "chef", "supervisor")
        off_at_23 = {"entries": [{"name": "extinction", "program": {
            "kind": "astro", "steps": [{"at": "23:00", "level": 0}, {"at": "05:00", "level": 100}]}}]}
        push = chef.post("/lighting/calendars", json={"scope": "group", "site": "dijon", "group": "rue-liberte",
                                                      "calendar": off_at_23}).get_json()
        assert push["expected"] == 2
        wait_until(lambda: _targets(a) == _targets(b) == {"l01": 0.0, "l02": 0.0}, 5, "calendar pushed")
        wait_until(lambda: _command(chef, push["cmd_id"])["state"] == "complete", 5, "both acks")
        assert set(_targets(other).values()) == {70.0} == set(_targets(talant).values()), "not in the group"
        assert all(x.light is not None and x.light.health()["light.calendar"] == "command" for x in (a, b))
        # City-wide: every box of every commune, through the city group of each commune's topic.
        city = chef.post("/lighting/overrides", json={"scope": "city", "level": 40, "duration_s": 600}).get_json()
        assert len(city["topics"]) == 2 and city["expected"] == 4
        for x in boxes:
            wait_until(lambda x=x: set(_targets(x).values()) == {40.0}, 5, f"{x.config.device_id} city override")
        wait_until(lambda: _command(chef, city["cmd_id"])["results"] == {"applied": 4}, 5, "four acks")
        # Commune-wide: Talant only.
        chef.post("/lighting/overrides", json={"scope": "commune", "site": "talant", "level": 10, "duration_s": 600})
        wait_until(lambda: set(_targets(talant).values()) == {10.0}, 5, "commune override")
        assert set(_targets(other).values()) == {40.0}
    finally:
        relay.close()
        for x in boxes:
            x.shutdown(drain_s=1)


def test_energy_per_group_and_hour_comes_from_the_nodes_meter_readings(
        app: Flask, db: Engine, broker: Mosquitto, tmp_path: Path) -> None:
    # 600x: each real second is ten minutes of night on the gear, so meters move by whole Wh.
    a = _start(tmp_path, broker.port, "light-liberte-01", ("rue-liberte",), speed=600)
    b = _start(tmp_path, broker.port, "light-darcy-01", ("place-darcy",), speed=600)
    relay = HookRelay(broker.port, db, on_telemetry=analytics_hooks.on_telemetry)
    stop = threading.Event()

    def report() -> None:  # what Agent.run_forever does every telemetry_interval_s, off the main thread
        while not stop.wait(0.5):
            for x in (a, b):
                x.link.publish_telemetry(x.metrics())

    reporter = threading.Thread(target=report, name="telemetry", daemon=True)
    reporter.start()
    try:
        register(db, a.config, b.config)
        op = add_user(app, "operator", "operator")
        op.post("/lighting/overrides", json={"scope": "group", "site": "dijon", "group": "place-darcy", "level": 30,
                                             "duration_s": 600})
        viewer = add_user(app, "viewer", "viewer")

        def totals() -> dict[str, dict[str, float]]:
            rows = viewer.get("/analytics/energy?site=dijon").get_json()["totals"]
            return {r["group"]: r for r in rows}

        wait_until(lambda: relay.telemetry >= 8 and "rue-liberte" in totals() and "place-darcy" in totals()
                   and totals()["place-darcy"]["energy_wh"] > 20, 20, "energy rows", step=0.5)
        t = totals()
        liberte, darcy, commune = t["rue-liberte"], t["place-darcy"], t["commune-dijon"]
        assert liberte["energy_wh"] > 0 and liberte["reference_wh"] > liberte["energy_wh"]
        assert 15 < liberte["savings_pct"] < 60, liberte  # 70 % light output
        assert darcy["savings_pct"] > liberte["savings_pct"], "30 % saves more than 70 %"
        assert commune["energy_wh"] == pytest.approx(liberte["energy_wh"] + darcy["energy_wh"], rel=1e-6)
        rows = viewer.get("/analytics/energy?group=rue-liberte&window=1h").get_json()["rows"]
        assert rows and all(r["t"] % 3_600_000 == 0 for r in rows)
    finally:
        stop.set()
        reporter.join(2)
        relay.close()
        a.shutdown(drain_s=1)
        b.shutdown(drain_s=1)


def test_a_reset_meter_counts_from_zero_and_a_replayed_reading_counts_nothing(db: Engine) -> None:
    def tel(ts: int, energy: float, hours: float) -> StoredTelemetry:
        return StoredTelemetry("light-x", "dijon", ts, {"light.lum": {"ids": ["l1"], "energy_wh": [energy],
                                                                      "hours": [hours]}})

    h = int(dt.datetime(2026, 11, 25, 20, tzinfo=dt.UTC).timestamp() * 1000)
    with db.begin() as conn:
        analytics_hooks.on_telemetry(conn, [tel(h + 1000, 100, 10)])  # baseline
        analytics_hooks.on_telemetry(conn, [tel(h + 601_000, 130, 10.5)])  # +30 Wh, 0.5 h
        analytics_hooks.on_telemetry(conn, [tel(h + 601_000, 130, 10.5)])  # the same reading again
        analytics_hooks.on_telemetry(conn, [tel(h + 1_201_000, 12, 0.2)])  # reset: 12 Wh since
    with db.connect() as conn:
        rows = store.energy(conn, h, h + 3_600_000, "dijon", None)
    assert [(r.group, round(r.energy_wh, 6), round(r.lit_h, 6)) for r in rows] == [("commune-dijon", 42.0, 0.7)]
    assert rows[0].reference_wh == 0, "a luminaire outside the inventory has no rating"
