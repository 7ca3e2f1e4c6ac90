"""The whole chain on real parts: a camera box on the footage, a light box, the broker, the coordinator.

One scenario per database (SQLite and PostgreSQL): the camera box runs NanoDet on the committed
excerpt and publishes through its link; the coordinator's ingest worker (killed with SIGKILL in the
middle and restarted), its notification worker and its API do the rest. The scenario checks what an
operator relies on: every event stored exactly once and the counts right, a rule that opens an
intervention, the nearest skilled team proposed and dispatched over MQTT, the team's field status
flowing back, and a lighting override acknowledged by the light box.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine

import vigie_wire as wire
from coordinator.lighting.inventory_sync import sync_inventory
from coordinator.seed import seed_fleet
from coordinator.storage import interventions as interventions_store
from coordinator.storage import teams as teams_store
from coordinator.storage.schema import analytics_counts, events
from coordinator.storage.teams import TeamRow
from tests.api_helpers import Caller, add_user, make_app
from tests.mqtt_helpers import Mosquitto, Recorder, first_seen_in_order, wait_until

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).with_name("data")
FOOTAGE = DATA / "vtest_excerpt.avi"
MODEL = ROOT / "models" / "nanodet-g-416.manifest.json"
CROSSINGS = json.loads((DATA / "line_crossings_ground_truth.json").read_text(encoding="utf-8"))["totals"]

pytestmark = pytest.mark.slow


def _box_config(tmp: Path, port: int, device: str) -> Path:
    """A committed field config pointed at the test broker; the pole camera becomes the footage."""
    raw: dict[str, Any] = yaml.safe_load((ROOT / "firmware_configs" / f"{device}.yaml").read_text(encoding="utf-8"))
    raw["mqtt"] = {"host": "127.0.0.1", "port": port}
    raw["outbox"] = {"path": str(tmp / f"{device}-outbox.sqlite3")}
    raw["telemetry_interval_s"] = 2
    for cam in raw.get("cameras", []):
        # Every frame at full speed, 5 s count intervals: the 15 s excerpt yields every kind of event.
        cam.update(source=str(FOOTAGE), loop=False, realtime=False, model=str(MODEL), count_interval_s=5)
        cam.pop("detect_fps", None)
    if raw.get("lighting"):
        raw["lighting"]["state_file"] = str(tmp / f"{device}-lighting.json")
    path = tmp / "boxes" / f"{device}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


class Processes:
    """The scenario's child processes, each logging to a file of the test's folder."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp, self.env = tmp, env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        self.procs[name] = subprocess.Popen([sys.executable, "-m", *args], env=self.env, cwd=ROOT,
                                            stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]


@pytest.fixture
def procs(tmp_path: Path, db_url: str, broker: Mosquitto) -> Iterator[Processes]:
    env = {**os.environ, "VIGIE_DATABASE_URL": db_url, "VIGIE_MQTT_PORT": str(broker.port),
           "VIGIE_INGEST_BATCH_MS": "20", "VIGIE_COORDINATOR_ID": "coord-e2e"}
    p = Processes(tmp_path, env)
    yield p
    p.stop_all()


def _seed(engine: Engine, boxes: Path) -> None:
    assert not seed_fleet(engine, boxes).errors
    assert sync_inventory(engine, boxes).boxes == 1
    now = int(time.time() * 1000)
    with engine.begin() as conn:
        # Two police teams, the nearer one 150 m from Place Darcy, and a lighting team next door.
        for tid, skills, lat, lon in (("pm-darcy", ["police"], 47.3230, 5.0371),
                                      ("pm-toison", ["police"], 47.3390, 5.0600),
                                      ("ep-darcy", ["eclairage"], 47.3224, 5.0356)):
            teams_store.save_team(conn, TeamRow(tid, tid, "dijon", skills, lat, lon, True, None, None), now,
                                  create=True)
        interventions_store.create_rule(conn, "Attroupement place Darcy", "dijon", True, {
            "type": "crowd", "zones": [{"device": "cam-darcy-01", "zone": "crossing"}], "threshold": 2,
            "classes": [0], "priority": "high", "skill": "police", "dedupe_window_s": 900,
            "dedupe_radius_m": 50.0, "max_age_s": 3600}, "test", now)


def _count(engine: Engine, q: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def _stored_ids(engine: Engine, device: str) -> set[tuple[str, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events.c.device_id, events.c.boot, events.c.n)
                            .where(events.c.device_id == device)).all()
    return {(r[0], int(r[1]), int(r[2])) for r in rows}


def _team_reports(port: int, team: str, iid: int, state: str) -> None:
    field = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"field-{team}",
                        protocol=mqtt.MQTTv5)
    field.connect("127.0.0.1", port)
    field.loop_start()
    msg = wire.TeamStatus(wire.Header(1, team, 1, 1, int(time.time() * 1000)), iid, state, "")
    field.publish(wire.team_topic("dijon", team, wire.Kind.STATUS), wire.encode(msg), qos=1).wait_for_publish(10)
    field.loop_stop()
    field.disconnect()


def _check_stored_exactly_once_and_counted(engine: Engine, recorder: Recorder, log: str) -> None:
    """What the box published (de-duplicated by event id) is what is stored, and the counts agree."""

    def settled() -> bool:
        published, ordered = first_seen_in_order(recorder.event_ids())
        return ordered and len(published) > 40 and _stored_ids(engine, "cam-darcy-01") == set(published)

    try:
        wait_until(settled, 180, "every published event stored")
    except AssertionError as exc:
        published, ordered = first_seen_in_order(recorder.event_ids())
        stored = _stored_ids(engine, "cam-darcy-01")
        raise AssertionError(f"{exc}: published {len(published)} (in order: {ordered}), stored {len(stored)}, "
                             f"stored but not seen {len(stored - set(published))}, seen but not stored "
                             f"{sorted(set(published) - stored)[:10]}\n{log}") from None
    time.sleep(3.0)  # the footage is over: nothing more may arrive, nothing may be stored twice
    published, ordered = first_seen_in_order(recorder.event_ids())
    assert ordered
    assert _stored_ids(engine, "cam-darcy-01") == set(published)

    # Line crossings stored match the hand-checked ground truth (+-1 per direction), and the per-minute
    # aggregates hold exactly the interval counts the box sent.
    batches = [b for b in recorder.decoded(wire.Kind.EVENT) if b.header.dev == "cam-darcy-01"]
    bodies = {(b.boot, r.n): r.body for b in batches for r in b.events}
    inbound = sum(1 for e in bodies.values() if isinstance(e, wire.LineCrossing) and e.inbound)
    outbound = sum(1 for e in bodies.values() if isinstance(e, wire.LineCrossing) and not e.inbound)
    assert _count(engine, sa.select(sa.func.count()).select_from(events).where(events.c.type == "line_crossing")) \
        == inbound + outbound
    # The config's line runs a -> b down the image at x = 0.5; "in" is right to left, as in the pipeline test.
    assert abs(inbound - CROSSINGS["right_to_left"]) <= 1, (inbound, outbound)
    assert abs(outbound - CROSSINGS["left_to_right"]) <= 1, (inbound, outbound)
    sent_rows = [(row.inbound, row.outbound) for e in bodies.values() if isinstance(e, wire.IntervalCounts)
                 for row in e.rows]
    with engine.connect() as conn:
        agg = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(analytics_counts.c.inbound), 0),
                                     sa.func.coalesce(sa.func.sum(analytics_counts.c.outbound), 0))).one()
    assert sent_rows
    assert (int(agg[0]), int(agg[1])) == (sum(r[0] for r in sent_rows), sum(r[1] for r in sent_rows))


def _check_intervention_dispatched_and_followed(op: Caller, port: int, dispatches: Recorder, log: str) -> None:
    """The crowd rule opened one intervention; nearest police team proposed, dispatched, answering."""
    listing = op.get("/interventions").get_json()
    crowds = [i for i in listing["interventions"] if i["kind"] == "crowd"]
    assert len(crowds) == 1, listing
    iid = crowds[0]["id"]
    proposal = op.get(f"/interventions/{iid}/proposal").get_json()["proposals"]
    assert proposal[0]["team"] == "pm-darcy"
    assert proposal[0]["distance_m"] < proposal[1]["distance_m"]
    assert op.post(f"/interventions/{iid}/transitions", json={"to": "acknowledged"}).status_code == 200
    assert op.post(f"/interventions/{iid}/assign", json={"team": "pm-darcy"}).status_code == 200
    wait_until(lambda: any(d.intervention == iid for d in dispatches.decoded()), 30,
               f"the dispatch on the team topic\n{log}")
    _team_reports(port, "pm-darcy", iid, "en_route")
    wait_until(lambda: op.get(f"/interventions/{iid}").get_json()["state"] == "en_route", 30,
               f"the field status applied\n{log}")
    assert op.get(f"/interventions/{iid}").get_json()["history"][-1]["actor"] == "team:pm-darcy"


def _check_override_acknowledged(op: Caller) -> None:
    """An override through the API reaches the light box, which acknowledges what it applied."""
    resp = op.post("/lighting/overrides", json={"scope": "group", "site": "dijon", "group": "place-darcy",
                                                "level": 55, "duration_s": 600})
    assert resp.status_code == 201, resp.get_json()
    cmd_id = resp.get_json()["cmd_id"]

    def command() -> dict[str, Any]:
        body: dict[str, Any] = op.get(f"/lighting/commands/{cmd_id}").get_json()
        return body

    wait_until(lambda: command()["state"] == "complete", 30, f"the override acknowledged: {command()}")
    ack = command()["acks"][0]
    assert (ack["device_id"], ack["result"]) == ("light-darcy-01", wire.AckResult.APPLIED)
    assert ack["applied"], "the box says what it applied"


def test_camera_and_light_boxes_through_the_coordinator(tmp_path: Path, db_url: str, engine: Engine,
                                                        broker: Mosquitto, procs: Processes) -> None:
    camera = _box_config(tmp_path, broker.port, "cam-darcy-01")
    _box_config(tmp_path, broker.port, "light-darcy-01")
    _seed(engine, tmp_path / "boxes")
    recorder = Recorder(broker.port, "vigie/v1/+/cam-darcy-01/event")
    dispatches = Recorder(broker.port, wire.team_topic("dijon", "pm-darcy", wire.Kind.DISPATCH))

    procs.start("ingest", "coordinator.cli", "ingest", "--client-id", "ingest-e2e")
    procs.start("notify", "coordinator.cli", "notify")
    procs.start("light", "edge_agent.cli", "run", "--config", str(tmp_path / "boxes" / "light-darcy-01.yaml"))
    wait_until(lambda: _count(engine, sa.text("select count(*) from devices where status = 'online'")) == 1, 60,
               "the light box online (its birth ingested)")
    procs.start("camera", "edge_agent.cli", "run", "--config", str(camera))

    # The coordinator dies in the middle of the footage, without warning, and comes back.
    wait_until(lambda: _count(engine, sa.select(sa.func.count()).select_from(events)) >= 20, 120,
               "the first events stored")
    procs.kill("ingest")
    time.sleep(1.0)
    procs.start("ingest", "coordinator.cli", "ingest", "--client-id", "ingest-e2e")
    _check_stored_exactly_once_and_counted(engine, recorder, procs.log("ingest"))

    app = make_app(db_url, MQTT_PORT=broker.port, COORDINATOR_ID="coord-e2e")
    op = add_user(app, "operateur", "operator")
    _check_intervention_dispatched_and_followed(op, broker.port, dispatches, procs.log("notify"))
    _check_override_acknowledged(op)
    recorder.close()
    dispatches.close()
