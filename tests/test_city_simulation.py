"""``vigie-coordinator simulate city`` end to end, on a small city: two communes, three cabinets, two cameras.

The real command starts its broker, its throwaway PostgreSQL database, two ingest workers, the jobs, the
notification worker, gunicorn and a box host; the test then sees the boxes online in the database, the cameras'
events stored, a city-wide override acknowledged by every cabinet, and an offline cabinet catch up with a commune
override when it comes back (the broker kept it on its persistent session). The database is dropped at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coordinator.storage import make_engine
from coordinator.storage.schema import devices, events
from edge_agent.lighting.cabinet.simulator import free_port
from tests.db_helpers import PG_ADMIN_URL
from tests.mqtt_helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]
CABINETS = ["light-dijon-001", "light-dijon-002", "light-talant-001"]


class City:
    def __init__(self, proc: subprocess.Popen[bytes], root: Path, status: dict[str, Any]) -> None:
        self.proc, self.root, self.status = proc, root, status
        self.engine: Engine = make_engine(status["database_url"])
        self.token = Path(status["token_file"]).read_text(encoding="utf-8").strip()

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.status['web_port']}/api/v1{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())

    def host_log(self) -> str:
        return (self.root / "logs" / "host-0.log").read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    root = tmp_path_factory.mktemp("city")
    argv = [sys.executable, "-m", "coordinator.cli", "simulate", "city", "--dir", str(root), "--communes",
            "dijon,talant", "--cabinets", "3", "--cameras", "2", "--sensor-share", "0.5", "--hosts", "1",
            "--web-port", str(free_port()), "--web-workers", "1", "--offline-share", "0.34",
            "--pg-admin-url", PG_ADMIN_URL, "--telemetry-s", "5"]
    with open(root / "simulate.log", "wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    status_file = root / "city.json"
    try:
        wait_until(lambda: status_file.exists() or proc.poll() is not None, 240, "the city to start")
        assert proc.poll() is None, (root / "simulate.log").read_text()
        c = City(proc, root, json.loads(status_file.read_text(encoding="utf-8")))
        yield c
        c.engine.dispose()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _online(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(devices.c.id).where(devices.c.status == "online")).scalars())


def test_every_box_comes_online_and_camera_events_are_stored(city: City) -> None:
    wanted = {*CABINETS, "cam-dijon-001", "cam-dijon-002"}
    assert city.status["cabinets"] == 3 and city.status["luminaires"] == 300 and city.status["cameras"] == 2
    wait_until(lambda: wanted <= _online(city.engine), 30, "the boxes online", step=0.2)
    assert len(_online(city.engine)) == city.status["boxes"]  # the presence sensors too

    def kinds() -> set[str]:
        with city.engine.connect() as conn:
            return set(conn.execute(sa.select(events.c.type).where(events.c.device_id.like("cam-%"))).scalars())

    wait_until(lambda: {"detection", "zone_enter", "occupancy"} <= kinds(), 30, "camera events stored", step=0.2)


def _wait_command(city: City, cmd_id: str, timeout: float, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        last: dict[str, Any] = city.api("GET", f"/lighting/commands/{cmd_id}")[1]
        if done(last):
            return last
        assert time.monotonic() < deadline, f"command {cmd_id} after {timeout}s: {last['results']} {last['acks']}"
        time.sleep(0.2)


def test_a_city_override_is_acknowledged_by_every_cabinet(city: City) -> None:
    wait_until(lambda: set(CABINETS) <= _online(city.engine), 30, "the cabinets online", step=0.2)
    status, cmd = city.api("POST", "/lighting/overrides", {"scope": "city", "level": 40, "duration_s": 600})
    assert status == 201
    done = _wait_command(city, cmd["cmd_id"], 20, lambda c: c["state"] == "complete")
    assert done["expected"] == 3 and done["results"] == {"applied": 3}
    assert sorted(a["device_id"] for a in done["acks"]) == CABINETS
    assert sum(a["applied"]["luminaires"] for a in done["acks"]) == 300
    assert {a["applied"]["level"] for a in done["acks"]} == {40}


def test_an_offline_cabinet_catches_up_with_a_commune_override_on_reconnection(city: City) -> None:
    wait_until(lambda: set(CABINETS) <= _online(city.engine), 30, "the cabinets online", step=0.2)
    city.proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: "cabinets offline" in city.host_log(), 15, "a cabinet taken offline", step=0.1)
    line = next(ln for ln in city.host_log().splitlines() if "cabinets offline" in ln)
    gone = line.rsplit(": ", 1)[1].split(",")
    assert len(gone) == 1 and gone[0] in CABINETS
    site = gone[0].split("-")[1]
    wait_until(lambda: gone[0] not in _online(city.engine), 15, "its death stored", step=0.2)
    status, cmd = city.api("POST", "/lighting/overrides", {"scope": "commune", "site": site, "level": 25,
                                                           "duration_s": 600})
    assert status == 201
    others = [c for c in CABINETS if c.split("-")[1] == site and c != gone[0]]
    waiting = _wait_command(city, cmd["cmd_id"], 20,
                            lambda c: {a["device_id"] for a in c["acks"] if a["result"] == "applied"} == set(others))
    assert waiting["state"] == "pending" and waiting["results"].get("waiting") == 1
    city.proc.send_signal(signal.SIGUSR2)
    done = _wait_command(city, cmd["cmd_id"], 30, lambda c: c["state"] == "complete")
    assert {a["device_id"] for a in done["acks"]} == {gone[0], *others}
    assert {a["result"] for a in done["acks"]} == {"applied"}
