"""The camera role in its own process, writing into the outbox, with a real broker and real kills."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import vigie_wire as wire
from edge_agent.agent import Agent
from tests.boxes import write_box
from tests.mqtt_helpers import Mosquitto, Recorder, first_seen_in_order, wait_until

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / "tests" / "data" / "vtest_excerpt.avi"


def _camera(name: str = "darcy-north") -> dict[str, Any]:
    """A camera on the committed footage, looped and unpaced: it produces events for as long as it runs."""
    return {
        "name": name,
        "source": str(VIDEO),
        "loop": True,
        "detect_fps": 20,
        "model": str(ROOT / "models" / "nanodet-g-416.manifest.json"),
        "threads": 1,
        "zones": [{"id": "lawn", "polygon": [[0.15, 0.45], [0.75, 0.45], [0.75, 1.0], [0.15, 1.0]]}],
        "count_interval_s": 1,
    }


def _children(parent: int) -> dict[int, str]:
    """Processes whose parent is ``parent``: pid -> kernel name (``/proc/<pid>/comm``)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            out[int(entry.name)] = comm
    return out


def _camera_pid(agent_pid: int) -> int | None:
    return next((pid for pid, comm in _children(agent_pid).items() if comm.startswith("vigie-cam-")), None)


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in (Path("/proc") / str(pid) / "status").read_text().lower()
    except OSError:
        return False


def _stored(outbox: Path, boot: int) -> tuple[int, int]:
    """Pending rows of ``boot`` (the newest boot) in the outbox file, and the highest ``n`` it gave."""
    with sqlite3.connect(outbox) as db:
        (pending,) = db.execute("SELECT COUNT(*) FROM events WHERE boot = ?", (boot,)).fetchone()
        (top,) = db.execute(
            "SELECT seq - (SELECT first_id FROM boots WHERE boot = ?) FROM sqlite_sequence WHERE name = 'events'",
            (boot,),
        ).fetchone()
    return int(pending), int(top)


def test_agent_killed_during_an_outage_loses_nothing_its_camera_process_stored(broker: Mosquitto,
                                                                               tmp_path: Path) -> None:
    cfg, path = write_box(tmp_path, broker.port, "cam-proc-01", cameras=[_camera()],
                          batch={"window_ms": 20, "max_events": 50, "inflight": 10})
    rec = Recorder(broker.port)
    agent = subprocess.Popen([sys.executable, "-m", "edge_agent.cli", "run", "--config", str(path)], cwd=ROOT)
    again: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: len(rec.event_ids()) >= 5, 120, "events of the camera process at the broker")
        camera = _camera_pid(agent.pid)
        assert camera is not None, f"no camera process under the agent: {_children(agent.pid)}"
        boot = rec.decoded(wire.Kind.EVENT)[0].boot

        broker.stop()  # outage: the camera process keeps storing events
        _, before = _stored(cfg.outbox.path, boot)
        wait_until(lambda: _stored(cfg.outbox.path, boot)[1] >= before + 10, 60, "events stored during the outage")
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        wait_until(lambda: not _alive(camera), 10, "the camera process stopping with its agent")
        pending, top = _stored(cfg.outbox.path, boot)
        assert pending > 0

        broker.start()
        again = subprocess.Popen([sys.executable, "-m", "edge_agent.cli", "run", "--config", str(path)], cwd=ROOT)
        want = {("cam-proc-01", boot, n) for n in range(top + 1)}  # every event the killed run numbered

        def missing() -> set[tuple[str, int, int]]:
            return want - set(rec.event_ids())

        try:
            wait_until(lambda: not missing(), 60, "replay after the restart")
        except AssertionError:
            gone = sorted(missing())
            raise AssertionError(f"{len(gone)} missing, from {gone[:3]} to {gone[-3:]}") from None
        unique, ordered = first_seen_in_order(rec.event_ids())
        assert ordered, "per-device order kept across the kill and the replay"
        assert len(unique) == len(set(unique))
        restarted_bd = rec.decoded(wire.Kind.BIRTH)[-1].header.bd
        replayed = [b for b in rec.decoded(wire.Kind.EVENT) if b.header.bd == restarted_bd and b.boot == boot]
        assert replayed and all(b.historical for b in replayed), "the killed run's events come back as historical"
        wait_until(lambda: any(b.boot > boot for b in rec.decoded(wire.Kind.EVENT)), 60, "the new run's events")
    finally:
        for proc in (agent, again):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        rec.close()


def test_a_camera_process_that_dies_is_restarted_and_counted(broker: Mosquitto, tmp_path: Path) -> None:
    cfg, path = write_box(tmp_path, broker.port, "cam-proc-02", cameras=[_camera()])
    rec = Recorder(broker.port)
    agent = Agent(cfg, path)
    agent.start()
    try:
        camera = agent.cameras[0]
        first = camera.pid
        assert first is not None and first != os.getpid()
        assert camera.name == "vigie-vision-darcy-north"
        wait_until(lambda: len(rec.event_ids()) >= 3, 120, "events before the crash")
        os.kill(first, signal.SIGKILL)  # e.g. the OOM killer, or a crash in native code
        wait_until(lambda: camera.pid not in (None, first), 60, "a new camera process")
        assert agent.metrics()["cam.0.process_restarts"] == 1
        seen = len(rec.event_ids())
        wait_until(lambda: len(rec.event_ids()) >= seen + 3, 120, "events after the restart")
        wait_until(lambda: agent.metrics().get("cam.0.frames", 0) > 0, 10, "health relayed from the new process")
        assert agent.metrics()["cam.0.process_alive"] is True
    finally:
        agent.shutdown()
        rec.close()
    ids = [(b, n) for _, b, n in rec.event_ids()]
    assert len({b for b, _ in ids}) == 1, "one boot: the camera restarted, not the link"
    numbers = sorted({n for _, n in ids})
    assert numbers == list(range(numbers[-1] + 1)), "a kill mid-append leaves no gap: its transaction never counted"
