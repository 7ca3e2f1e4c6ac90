"""A requisition end to end: a box records the committed footage, a supervisor approves, the box holds and uploads
the window through a connection that drops once (it resumes), the coordinator packages it, and the package verifies.

Real parts: a private Mosquitto, the agent with its camera process, the coordinator's API on a real HTTP server,
its ingest worker, and a TCP relay between box and coordinator (:class:`tests.wan_link.WanLink`) that cuts the first
upload mid-body.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Engine

from coordinator.cli import main as coordinator_main
from coordinator.evidence import generate_key
from coordinator.ingest.config import IngestSettings
from coordinator.ingest.worker import IngestWorker
from coordinator.ingest_hooks import default_hooks
from coordinator.storage import register as register_store
from coordinator.storage import requisitions as store
from edge_agent.agent import Agent
from edge_agent.recording.crypto import generate_key as generate_box_key
from edge_agent.recording.recorder import open_store
from tests.api_helpers import Caller, add_user, make_app
from tests.boxes import write_box
from tests.ingest_helpers import register
from tests.mqtt_helpers import Mosquitto, wait_until
from tests.wan_link import WanLink
from tests.web_helpers import serve
from vigie_config import BoxConfig

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / "tests" / "data" / "vtest_excerpt.avi"
MODEL = ROOT / "models" / "nanodet-g-416.manifest.json"
DEVICE = "rec-e2e-01"


@pytest.fixture
def coordinator(db_url: str, tmp_path: Path, broker: Mosquitto) -> Iterator[tuple[Flask, str]]:
    generate_key(tmp_path / "centre.pem")
    app = make_app(db_url, EVIDENCE_KEY_FILE=str(tmp_path / "centre.pem"), SEGMENTS_DIR=str(tmp_path / "segments"),
                   EVIDENCE_DIR=str(tmp_path / "evidence"), MQTT_PORT=broker.port, VALIDATE_RESPONSES=False)
    with serve(app) as base:
        yield app, base


def _box(tmp_path: Path, broker: Mosquitto, relay_port: int, token: str) -> tuple[BoxConfig, Path]:
    """A camera box recording the footage (a privacy mask: re-encoded) that uploads through the relay."""
    (tmp_path / "box-token").write_text(token + "\n")
    generate_box_key(tmp_path / "recording.key")
    return write_box(tmp_path, broker.port, DEVICE, cameras=[{
        "name": "north", "source": str(VIDEO), "loop": True, "model": str(MODEL), "threads": 1, "detect_fps": 2,
        "masks": [{"polygon": [[0.0, 0.0], [0.3, 0.0], [0.3, 0.3], [0.0, 0.3]]}],
        "recording": {"enabled": True, "segment_s": 2}}],
        recording={"dir": str(tmp_path / "rec"), "key_file": str(tmp_path / "recording.key"),
                   "upload_url": f"http://127.0.0.1:{relay_port}/api/v1", "token_file": str(tmp_path / "box-token"),
                   "upload_chunk_bytes": 65536, "purge_interval_s": 1})


def _people(app: Flask, engine: Engine) -> tuple[Caller, Caller, tuple[int, str], str]:
    """A designated agent, a supervisor, an authority (id, token), and the box's upload token."""
    register(engine, (DEVICE, "dijon"))
    agent_user, cheffe = add_user(app, "agent", "operator"), add_user(app, "cheffe", "supervisor")
    with engine.begin() as conn:
        assert store.designate(conn, "agent", "root", 1)
        authority = store.add_authority(conn, "Parquet de Dijon", 1)
        return agent_user, cheffe, authority, store.set_box_token(conn, DEVICE, 1)


def _package_verifies(app: Flask, agent_user: Caller, rid: int, parquet_token: str, archive: Path) -> list[str]:
    """The designated agent packages the requisition, its authority downloads it, ``evidence verify`` passes;
    returns the SHA-256 of each clip in the package."""
    pkg = agent_user.post(f"/requisitions/{rid}/package", json={})
    assert pkg.status_code == 201, pkg.get_json()
    download = app.test_client().get(pkg.get_json()["download_path"],
                                     headers={"Authorization": f"Bearer {parquet_token}"})
    assert download.status_code == 200
    archive.write_bytes(download.data)
    assert coordinator_main(["evidence", "verify", str(archive)]) == 0
    with zipfile.ZipFile(archive) as zf:
        return [hashlib.sha256(zf.read(n)).hexdigest() for n in sorted(zf.namelist()) if n.startswith("clips/")]


def test_an_approved_requisition_is_uploaded_through_a_drop_packaged_and_verified(
        coordinator: tuple[Flask, str], engine: Engine, db_url: str, tmp_path: Path, broker: Mosquitto) -> None:
    app, base = coordinator
    relay = WanLink(int(base.rsplit(":", 1)[1]))
    relay.cut_after(150_000)  # inside the third 64 KiB chunk of the first file
    agent_user, cheffe, (parquet, parquet_token), token = _people(app, engine)
    cfg, path = _box(tmp_path, broker, relay.port, token)
    assert cfg.recording is not None
    box_store = open_store(cfg.recording)
    worker = IngestWorker(IngestSettings(database_url=db_url, mqtt_port=broker.port,
                                         client_id="ingest-rec", batch_ms=20), engine, default_hooks())
    worker.start()
    agent = Agent(cfg, path)
    agent.start()
    try:
        wait_until(lambda: len(box_store.segments("north")) >= 3, 40, "three segments recorded on the box")
        segs = box_store.segments("north")[:2]
        body = {"authority_id": parquet, "procedure": "PV-2026-101", "legal_basis": "60-1",
                "cameras": [f"dijon/{DEVICE}/north"], "start_ms": segs[0].start_ms, "end_ms": segs[1].end_ms,
                "reason": "vol à la roulotte"}
        wait_until(lambda: int(time.time() * 1000) > body["end_ms"], 5, "the window is in the past")
        created = agent_user.post("/requisitions", json=body)
        assert created.status_code == 201, created.get_json()
        rid = created.get_json()["id"]
        assert cheffe.post(f"/requisitions/{rid}/decision", json={"approve": True}).status_code == 200

        final = tmp_path / "segments" / "dijon" / DEVICE / "north"
        wait_until(lambda: len(list(final.glob("*.mp4"))) == 2, 40, "both segments uploaded")
        assert relay.cuts == 1, "the first upload was cut once"
        assert agent.recording is not None
        wait_until(lambda: agent.recording is not None and agent.recording.uploader is not None
                   and agent.recording.uploader.interruptions >= 1, 10, "the resumption counted")
        for seg in segs:
            uploaded = final / f"{seg.start_ms}-{seg.end_ms}.mp4"
            assert uploaded.read_bytes() == b"".join(box_store.plain(seg)), "the clip is the recorded MP4, bit for bit"
        assert [h.hold_id for h in box_store.holds()] == [f"requisition-{rid}"]
        wait_until(lambda: (agent.metrics().get("rec.north.held"), agent.metrics().get("rec.uploaded_segments"))
                   == (2, 2), 10, "the held and uploaded segments in telemetry")  # the box reads the last reply
        metrics = agent.metrics()
        assert (metrics["rec.north.retention_days"], metrics["rec.north.oldest_ms"], metrics["rec.uploaded_segments"],
                metrics["cam.0.rec_mode"]) == (30, box_store.segments("north")[0].start_ms, 2, "encode")

        assert _package_verifies(app, agent_user, rid, parquet_token, tmp_path / "package.zip") == [
            hashlib.sha256(b"".join(box_store.plain(s))).hexdigest() for s in segs]

        def kinds() -> list[tuple[str, str]]:
            with engine.connect() as conn:
                return [(e.kind, e.actor) for e in register_store.iter_all(conn)]

        wait_until(lambda: ("recording_started", f"box:{DEVICE}") in kinds(), 20, "the recording in the register")
        assert ("legal_hold_set", "cheffe") in kinds() and ("extraction", "agent") in kinds()

        assert agent_user.post(f"/requisitions/{rid}/release", json={}).status_code == 403  # supervisors only
        released = cheffe.post(f"/requisitions/{rid}/release", json={"note": "procédure close"})
        assert released.status_code == 200, released.get_json()
        wait_until(lambda: box_store.holds() == [], 20, "the box releasing its hold")
        assert ("legal_hold_released", "cheffe") in kinds()
        assert cheffe.post(f"/requisitions/{rid}/release", json={}).status_code == 409  # once
        with engine.connect() as conn:
            assert register_store.verify(conn)[1] is None
    finally:
        agent.shutdown(drain_s=1)
        worker.stop()
        relay.close()


def _run_box(config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """The box as a process of its own, as in the field (``vigie-edge run``)."""
    with log_path.open("wb") as log:
        return subprocess.Popen([sys.executable, "-m", "edge_agent.cli", "run", "--config", str(config)],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def _stop_box(box: subprocess.Popen[bytes]) -> None:
    box.terminate()
    try:
        box.wait(60)  # a camera process still loading its model on a loaded machine stops late
    except subprocess.TimeoutExpired:
        box.kill()
        box.wait(10)


def test_an_upload_cut_short_by_a_box_restart_is_finished_by_the_restarted_box(
        coordinator: tuple[Flask, str], engine: Engine, db_url: str, tmp_path: Path, broker: Mosquitto) -> None:
    """The box process is killed (SIGKILL: a power cut) while its uplink is stalled in the middle of the first
    segment; the coordinator has acknowledged nothing more and sends nothing again. Restarted, the box takes the
    saved job up and finishes it, resuming the first segment where the coordinator's copy ends."""
    app, base = coordinator
    relay = WanLink(int(base.rsplit(":", 1)[1]))
    relay.stall_after(150_000)  # silent inside the third 64 KiB chunk of the first file
    agent_user, cheffe, (parquet, _), token = _people(app, engine)
    cfg, path = _box(tmp_path, broker, relay.port, token)
    assert cfg.recording is not None
    box_store = open_store(cfg.recording)
    worker = IngestWorker(IngestSettings(database_url=db_url, mqtt_port=broker.port,
                                         client_id="ingest-rec-restart", batch_ms=20), engine, default_hooks())
    worker.start()

    box = _run_box(path, tmp_path / "box-1.log")
    try:
        wait_until(lambda: len(box_store.segments("north")) >= 3, 60, "three segments recorded on the box")
        segs = box_store.segments("north")[:2]
        sizes = [len(b"".join(box_store.plain(s))) for s in segs]
        assert sizes[0] > 150_000, "the stall must fall inside the first segment"
        body = {"authority_id": parquet, "procedure": "PV-2026-102", "legal_basis": "60-1",
                "cameras": [f"dijon/{DEVICE}/north"], "start_ms": segs[0].start_ms, "end_ms": segs[1].end_ms,
                "reason": "dégradation de mobilier urbain"}
        wait_until(lambda: int(time.time() * 1000) > body["end_ms"], 5, "the window is in the past")
        created = agent_user.post("/requisitions", json=body)
        assert created.status_code == 201, created.get_json()
        rid = created.get_json()["id"]
        assert cheffe.post(f"/requisitions/{rid}/decision", json={"approve": True}).status_code == 200
        wait_until(lambda: relay.stalled, 40, "the upload under way when the uplink goes silent")
        first = f"/segments/dijon/{DEVICE}/north/{segs[0].start_ms}-{segs[0].end_ms}.mp4"
        box_auth = {"Authorization": f"Bearer {token}"}
        # The first two chunks are through; the coordinator may still be writing the second.
        wait_until(lambda: app.test_client().get(f"/api/v1{first}", headers=box_auth).get_json()
                   == {"received": 2 * 65536, "complete": False}, 20, "two chunks held by the coordinator")
        assert [j.hold_id for j in box_store.pending_uploads()] == [f"requisition-{rid}"]

        box.send_signal(signal.SIGKILL)
        box.wait(10)
        relay.cut()  # the stalled request dies with the box: nothing of it reaches the coordinator
        sent_before = relay.sent
        relay.restore()
        box = _run_box(path, tmp_path / "box-2.log")
        final = tmp_path / "segments" / "dijon" / DEVICE / "north"
        wait_until(lambda: len(list(final.glob("*.mp4"))) == 2, 60, "both segments uploaded by the restarted box")
        for seg in segs:
            uploaded = final / f"{seg.start_ms}-{seg.end_ms}.mp4"
            assert uploaded.read_bytes() == b"".join(box_store.plain(seg)), "the clip is the recorded MP4, bit for bit"
        wait_until(lambda: box_store.pending_uploads() == [], 30, "the finished job forgotten")
        # Resumed, not sent again from its first byte: what went through after the restart is the rest of the first
        # segment and the second one, plus the requests' headers.
        resent = relay.sent - sent_before
        assert sizes[0] - 2 * 65536 + sizes[1] <= resent < sizes[0] - 2 * 65536 + sizes[1] + 16_384, resent
        assert "resuming its upload" in (tmp_path / "box-2.log").read_text(errors="replace")
    finally:
        _stop_box(box)
        worker.stop()
        relay.close()
