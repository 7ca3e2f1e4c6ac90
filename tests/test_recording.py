"""Recording on the box: the legal cap, encryption at rest, purge at day 30, legal holds, the disk quota,
and the committed footage recorded through the real camera worker (re-encoded with masks, or copied from H.264).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from sqlalchemy.engine import Engine

import vigie_wire as wire
from coordinator.ingest_hooks import default_hooks
from coordinator.storage import register as register_store
from coordinator.storage.ingest import store_batch
from edge_agent.agent import capabilities
from edge_agent.cli import main as edge_main
from edge_agent.recording.commands import RecordingCommands
from edge_agent.recording.crypto import MAGIC, SegmentCryptoError, generate_key, read_plain, write_sealed
from edge_agent.recording.purge import PurgeJob
from edge_agent.recording.recorder import open_store
from edge_agent.recording.retention import DAY_MS, Hold
from edge_agent.recording.store import SegmentStore, StoreError
from edge_agent.vision.worker import CameraWorker
from tests.boxes import write_box
from tests.ingest_helpers import decoded, header, register
from tests.mqtt_helpers import wait_until
from tests.rtsp_helpers import RtspCamera, transcode_to_h264
from vigie_config import BoxConfig
from vigie_config.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / "tests" / "data" / "vtest_excerpt.avi"
MODEL = ROOT / "models" / "nanodet-g-416.manifest.json"
T0 = 1_780_000_000_000  # a UTC instant in ms (2026-05-28)
#: The top-left quarter of the frame, blanked by the privacy mask of the masked camera.
QUARTER = [[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]]


class ListSink:
    """The :class:`~edge_agent.ports.EventSink` port, keeping what it is given (the link is tested elsewhere)."""

    def __init__(self) -> None:
        self.events: list[tuple[int | None, wire.Event]] = []
        self._lock = threading.Lock()

    def emit_many(self, bodies: Sequence[wire.Event], ts_ms: int | None = None) -> list[tuple[int, int]]:
        with self._lock:
            start = len(self.events)
            self.events += [(ts_ms, b) for b in bodies]
            return [(1, start + i) for i in range(len(bodies))]

    def publish_snapshot(self, cam: int, event_id: tuple[int, int], jpeg: bytes) -> bool:
        return False

    def of(self, kind: type[wire.Event]) -> list[Any]:
        with self._lock:
            return [b for _, b in self.events if isinstance(b, kind)]


def _key(tmp_path: Path) -> Path:
    key = tmp_path / "recording.key"
    if not key.exists():
        generate_key(key)
    return key


def _box(tmp_path: Path, cameras: list[dict[str, Any]], **recording: Any) -> tuple[BoxConfig, Path]:
    return write_box(tmp_path, 1883, "rec-box-01", cameras=cameras,
                     recording={"dir": str(tmp_path / "rec"), "key_file": str(_key(tmp_path)), **recording})


def _camera(name: str, source: str, **recording: Any) -> dict[str, Any]:
    return {"name": name, "source": source, "model": str(MODEL), "threads": 1, "detect_fps": 2,
            "recording": {"enabled": True, "segment_s": 2, **recording}}


# -- config -------------------------------------------------------------------------------------


def test_validate_refuses_a_retention_above_the_legal_month(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, ok = _box(tmp_path, [_camera("north", str(VIDEO), retention_days=30)])
    assert edge_main(["validate", str(ok)]) == 0
    capsys.readouterr()
    over = ok.read_text().replace("retention_days: 30", "retention_days: 31")
    ok.write_text(over)
    assert edge_main(["validate", str(ok)]) != 0
    err = capsys.readouterr()
    text = err.out + err.err
    assert "cameras.0.recording.retention_days" in text
    assert "retention_days 31 exceeds the legal maximum of 30 days" in text and "L252-5" in text


def test_validate_refuses_a_key_others_can_read_and_a_recording_camera_without_a_store(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, path = _box(tmp_path, [_camera("north", str(VIDEO))])
    _key(tmp_path).chmod(0o644)
    assert edge_main(["validate", str(path)]) != 0
    err = capsys.readouterr()
    assert "recording.key_file" in err.out + err.err and "it must be 0600" in err.out + err.err
    with pytest.raises(ConfigError, match=r"cameras\.0\.recording\.enabled: the box has no 'recording' section"):
        write_box(tmp_path, 1883, "rec-box-02", cameras=[_camera("north", str(VIDEO))])


def test_the_key_command_creates_a_private_key_once_and_never_replaces_it(tmp_path: Path) -> None:
    key = tmp_path / "recording.key"
    assert edge_main(["recording-key", str(key)]) == 0
    first = key.read_bytes()
    assert len(first) == 32 and key.stat().st_mode & 0o777 == 0o600
    assert edge_main(["recording-key", str(key)]) == 2  # a second run keeps the key: the segments stay readable
    assert key.read_bytes() == first


def test_recording_is_off_by_default(tmp_path: Path) -> None:
    cfg, _ = write_box(tmp_path, 1883, "rec-box-03", cameras=[{"name": "north", "source": str(VIDEO),
                                                                "model": str(MODEL)}])
    assert cfg.cameras[0].recording.enabled is False and cfg.recording is None
    assert "recording" not in capabilities(cfg)
    recording, _ = _box(tmp_path, [_camera("north", str(VIDEO))])
    assert capabilities(recording)[-1] == "recording"  # the birth tells the centre it records


# -- encryption at rest -------------------------------------------------------------------------


def test_a_segment_on_disk_is_sealed_and_any_change_is_refused(tmp_path: Path) -> None:
    key = os.urandom(32)
    mp4 = b"\x00\x00\x00\x20ftypisom" + os.urandom(700_000)  # three chunks of 256 KiB
    path = tmp_path / "seg.seg"
    write_sealed(path, key, mp4)
    raw = path.read_bytes()
    assert raw.startswith(MAGIC) and b"ftyp" not in raw
    assert read_plain(path, key) == mp4
    with pytest.raises(SegmentCryptoError, match="fails authentication"):
        read_plain(path, os.urandom(32))  # another box's key
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 1
    path.write_bytes(bytes(flipped))
    with pytest.raises(SegmentCryptoError, match="chunk 1 fails authentication"):
        read_plain(path, key)
    last_chunk = 4 + (len(mp4) - 2 * 256 * 1024) + 16
    path.write_bytes(raw[:-last_chunk])  # whole chunks dropped from the end
    with pytest.raises(SegmentCryptoError, match="fails authentication"):
        read_plain(path, key)


# -- retention, holds, quota ------------------------------------------------------------------


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def _purge(tmp_path: Path, quota: int = 10**9, retention_days: float = 30) -> tuple[PurgeJob, SegmentStore,
                                                                                     ListSink, Clock]:
    cfg, _ = _box(tmp_path, [_camera("north", str(VIDEO), retention_days=retention_days),
                             _camera("south", str(VIDEO))], quota_bytes=quota)
    assert cfg.recording is not None
    store = open_store(cfg.recording)
    sink, clock = ListSink(), Clock(T0)
    return PurgeJob(cfg, store, sink, clock), store, sink, clock


def test_a_segment_is_destroyed_at_day_30_not_at_day_29_and_each_destruction_is_recorded(tmp_path: Path) -> None:
    job, store, sink, clock = _purge(tmp_path)
    seg = store.write("north", T0, T0 + 60_000, b"x" * 1000)
    younger = store.write("north", T0 + 60_000, T0 + 120_000, b"y" * 1000)
    clock.ms = T0 + 29 * DAY_MS
    assert job.run_once() == [] and store.segments() == [seg, younger]
    clock.ms = T0 + 30 * DAY_MS - 1
    assert job.run_once() == []
    clock.ms = T0 + 30 * DAY_MS
    assert [(d.segment, d.reason) for d in job.run_once()] == [(seg, "expired")]
    assert store.segments() == [younger] and not store.path_of(seg).exists()
    assert sink.of(wire.SegmentDestroyed) == [wire.SegmentDestroyed("north", T0, T0 + 60_000, seg.bytes, "expired")]
    assert job.status()["rec.north.destroyed_expired"] == 1
    assert job.status()["rec.north.oldest_ms"] == younger.start_ms


def test_a_shorter_retention_is_the_cameras_own(tmp_path: Path) -> None:
    job, store, _, clock = _purge(tmp_path, retention_days=7)
    north = store.write("north", T0, T0 + 60_000, b"x")
    south = store.write("south", T0, T0 + 60_000, b"x")
    clock.ms = T0 + 7 * DAY_MS
    assert [d.segment for d in job.run_once()] == [north]
    assert store.segments() == [south]
    assert job.status()["rec.north.retention_days"] == 7 and job.status()["rec.south.retention_days"] == 30


def test_a_legal_hold_survives_the_purge_until_it_is_released(tmp_path: Path) -> None:
    job, store, sink, clock = _purge(tmp_path)
    inside = store.write("north", T0, T0 + 60_000, b"x" * 10)
    outside = store.write("north", T0 + 600_000, T0 + 660_000, b"x" * 10)
    other_camera = store.write("south", T0, T0 + 60_000, b"x" * 10)
    assert store.set_hold(Hold("requisition-7", frozenset({"north"}), T0 + 30_000, T0 + 90_000))
    clock.ms = T0 + 45 * DAY_MS  # long past the retention: only the held segment is left
    assert {d.segment for d in job.run_once()} == {outside, other_camera}
    assert store.segments() == [inside]
    assert job.status()["rec.north.held"] == 1 and job.status()["rec.holds"] == 1
    clock.ms += DAY_MS
    assert job.run_once() == []  # still held the next day
    released = store.release_hold("requisition-7")
    assert released is not None and released.hold_id == "requisition-7"
    assert [d.segment for d in job.run_once()] == [inside]
    assert store.segments() == [] and len(sink.of(wire.SegmentDestroyed)) == 3


def test_the_quota_evicts_the_oldest_unheld_segments_first_and_counts_them(tmp_path: Path) -> None:
    _, store, sink, _ = _purge(tmp_path)
    segs = [store.write("north" if i % 2 else "south", T0 + i * 60_000, T0 + (i + 1) * 60_000, b"z" * 400_000)
            for i in range(6)]
    size = segs[0].bytes
    cfg, _ = _box(tmp_path, [_camera("north", str(VIDEO)), _camera("south", str(VIDEO))], quota_bytes=3 * size + 10)
    store.set_hold(Hold("requisition-9", frozenset({"south"}), T0, T0 + 60_000))  # the oldest segment
    quota = PurgeJob(cfg, store, sink, Clock(T0 + 3_600_000))
    doomed = quota.run_once()
    assert [(d.segment, d.reason) for d in doomed] == [(segs[1], "quota"), (segs[2], "quota"), (segs[3], "quota")]
    assert store.segments() == [segs[0], segs[4], segs[5]]
    status = quota.status()
    assert status["rec.north.evicted_quota"] == 2 and status["rec.south.evicted_quota"] == 1
    assert status["rec.bytes"] == 3 * size <= status["rec.quota_bytes"]


# -- the real camera worker ---------------------------------------------------------------------


def _decode(mp4: bytes, tmp_path: Path) -> list[np.ndarray[Any, Any]]:
    path = tmp_path / f"{hashlib.sha256(mp4).hexdigest()[:12]}.mp4"
    path.write_bytes(mp4)
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="gray") for f in c.decode(video=0)]


def test_the_camera_worker_records_the_footage_encrypted_with_the_masks_burned_in(tmp_path: Path) -> None:
    cfg, _ = _box(tmp_path, [{**_camera("north", str(VIDEO)), "loop": True, "masks": [{"polygon": QUARTER}]}])
    assert cfg.recording is not None
    sink = ListSink()
    worker = CameraWorker(0, cfg.cameras[0], sink, recording=cfg.recording)
    assert worker.recorder is not None
    worker.start()
    try:
        wait_until(lambda: worker.recorder is not None and worker.recorder.segments >= 2, 30, "two segments")
    finally:
        worker.stop()
    assert worker.recorder.mode == "encode"  # MPEG-4 Part 2 with a mask: re-encoded
    assert [(e.on, e.reason) for e in sink.of(wire.RecordingChange)] == [(True, "config"), (False, "stop")]
    store = open_store(cfg.recording)
    segments = store.segments("north")
    assert len(segments) >= 2
    for seg in segments:
        raw = store.path_of(seg).read_bytes()
        assert raw.startswith(MAGIC) and b"ftyp" not in raw and b"moov" not in raw
    first = b"".join(store.plain(segments[0]))
    assert first[4:8] == b"ftyp"
    frames = _decode(first, tmp_path)
    assert 15 <= len(frames) <= 25  # 2 s at 10 fps, cut on the wall clock
    assert segments[0].end_ms - segments[0].start_ms == pytest.approx(2000, abs=300)
    for gray in frames:
        h, w = gray.shape
        assert gray[: h // 2 - 2, : w // 2 - 2].max() <= 20, "masked pixels are black in the recording"
        assert gray[h // 2 + 2:, w // 2 + 2:].mean() > 60, "the rest of the scene is there"
    health = worker.health()
    assert health["cam.0.rec_segments_written"] >= 2 and health["cam.0.rec_mode"] == "encode"


def test_a_segment_that_would_eat_the_disks_free_floor_is_not_written_and_is_counted(tmp_path: Path) -> None:
    cfg, _ = _box(tmp_path, [{**_camera("north", str(VIDEO)), "loop": True}], min_free_bytes=10**15)
    assert cfg.recording is not None
    sink = ListSink()
    worker = CameraWorker(0, cfg.cameras[0], sink, recording=cfg.recording)
    worker.start()
    try:
        wait_until(lambda: worker.recorder is not None and worker.recorder.dropped_disk >= 2, 30, "segments refused")
    finally:
        worker.stop()
    assert open_store(cfg.recording).segments() == []
    assert [(e.on, e.reason) for e in sink.of(wire.RecordingChange)] == [(True, "config"), (False, "disk_full")]
    assert worker.health()["cam.0.rec_dropped_disk_full"] >= 2


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return transcode_to_h264(VIDEO, tmp_path_factory.mktemp("rtsp") / "vtest_excerpt.h264.mp4")


def test_an_h264_camera_is_recorded_by_stream_copy_frame_for_frame(tmp_path: Path, clip: Path) -> None:
    with av.open(str(clip)) as c:
        source = {hashlib.sha256(f.to_ndarray(format="gray").tobytes()).digest() for f in c.decode(video=0)}
    camera = RtspCamera(clip)
    camera.start()
    try:
        cfg, _ = _box(tmp_path, [_camera("east", camera.url())])
        assert cfg.recording is not None
        sink = ListSink()
        worker = CameraWorker(0, cfg.cameras[0], sink, recording=cfg.recording)
        worker.start()
        changes = lambda: [(e.on, e.reason) for e in sink.of(wire.RecordingChange)]  # noqa: E731
        try:
            wait_until(lambda: worker.recorder is not None and worker.recorder.segments >= 2, 40, "two segments")
            camera.stop()  # the camera drops: the recording stops, and starts again when the camera is back
            wait_until(lambda: (False, "source_lost") in changes(), 30, "the recording stopped")
            camera.start()
            wait_until(lambda: changes().count((True, "config")) == 2, 30, "the recording started again")
        finally:
            worker.stop()
    finally:
        camera.stop()
    assert changes() == [(True, "config"), (False, "source_lost"), (True, "config"), (False, "stop")]
    assert worker.recorder is not None and worker.recorder.mode == "copy"
    store = open_store(cfg.recording)
    segments = store.segments("east")
    frames = [f for seg in segments for f in _decode(b"".join(store.plain(seg)), tmp_path)]
    assert len(frames) >= 20
    recorded = [hashlib.sha256(f.tobytes()).digest() for f in frames]
    assert all(r in source for r in recorded), "every recorded frame is a frame of the camera's own stream"


# -- the register is fed by the boxes' events ---------------------------------------------------


def test_recording_and_destruction_events_land_in_the_register_once(engine: Engine) -> None:
    register(engine, ("cam-darcy-01", "dijon"))
    records = (wire.EventRecord(0, T0, wire.RecordingChange(0, "north", True, "config")),
               wire.EventRecord(1, T0 + 5, wire.SegmentDestroyed("south", T0 - 30 * DAY_MS, T0 - 30 * DAY_MS + 60_000,
                                                                 1843201, "expired")),
               wire.EventRecord(2, T0 + 9, wire.RecordingChange(0, "north", False, "source_lost")))
    batch = wire.EventBatch(header("cam-darcy-01", 1, 1, T0), 3, False, records)
    store_batch(engine, [decoded("dijon", batch)], T0 + 50, default_hooks())
    store_batch(engine, [decoded("dijon", batch)], T0 + 60, default_hooks())  # a redelivery adds nothing
    with engine.connect() as conn:
        entries = list(register_store.iter_all(conn))
        assert register_store.verify(conn) == (3, None)
    assert [(e.kind, e.actor, e.camera, e.at_ms) for e in entries] == [
        ("recording_started", "box:cam-darcy-01", "dijon/cam-darcy-01/north", T0),
        ("destruction", "box:cam-darcy-01", "dijon/cam-darcy-01/south", T0 + 5),
        ("recording_stopped", "box:cam-darcy-01", "dijon/cam-darcy-01/north", T0 + 9)]
    assert entries[1].subject == f"segment {T0 - 30 * DAY_MS}-{T0 - 30 * DAY_MS + 60_000}"
    assert entries[1].detail is not None and entries[1].detail.startswith("expired: images 2026-04-28T")
    assert entries[2].detail == "source_lost"


# -- commands of the coordinator ------------------------------------------------------------------


def _cmd(name: str, args: dict[str, Any], expires: int = 2**62) -> wire.Command:
    return wire.Command(header("coordinator", 0, 1, T0), "rec-box-01", f"cmd-{name[10:]}-1", 1, expires, name, args)


def test_hold_and_release_commands_set_and_end_a_hold_and_refuse_what_is_malformed(tmp_path: Path) -> None:
    _, store, _, _ = _purge(tmp_path)
    store.write("north", T0, T0 + 60_000, b"x")
    commands = RecordingCommands(store, ["north", "south"], None)
    window = {"hold_id": "requisition-3", "cameras": ["north"], "start_ms": T0, "end_ms": T0 + 1000}
    assert commands.handle(_cmd("recording.hold", window)) == ("applied", "", {"held_segments": 1})
    assert [h.hold_id for h in store.holds()] == ["requisition-3"]
    assert commands.handle(_cmd("recording.upload", window))[0] == "unsupported"  # no upload address
    bad = commands.handle(_cmd("recording.hold", {**window, "cameras": ["west"]}))
    assert bad == ("invalid", "no such camera on this box: west", {})
    assert commands.handle(_cmd("recording.hold", {**window, "end_ms": T0}))[0] == "invalid"
    assert commands.handle(_cmd("recording.release", {"hold_id": "requisition-3"}, expires=1))[0] == "expired"
    assert store.holds() != []
    assert commands.handle(_cmd("recording.release", {"hold_id": "requisition-3"})) == (
        "applied", "", {"released": True})
    assert store.holds() == []
    assert commands.handle(_cmd("recording.release", {"hold_id": "requisition-3"}))[2] == {"released": False}


def test_upload_jobs_are_saved_until_their_window_is_finished(tmp_path: Path) -> None:
    """What a restarted box takes up (the restart itself: tests/test_recording_upload.py)."""
    _, store, _, _ = _purge(tmp_path)
    first = Hold("requisition-4", frozenset({"north"}), T0, T0 + 1000)
    wider = Hold("requisition-4", frozenset({"north", "south"}), T0, T0 + 2000)
    store.add_upload(first)
    store.add_upload(Hold("requisition-5", frozenset({"south"}), T0, T0 + 1000))
    store.add_upload(wider)  # the same requisition again: its newer window replaces the older
    assert [(j.hold_id, j.end_ms) for j in store.pending_uploads()] == [("requisition-4", T0 + 2000),
                                                                        ("requisition-5", T0 + 1000)]
    assert store.finish_upload(first) is False, "the older window's end does not clear the newer one"
    assert store.finish_upload(wider) is True and [j.hold_id for j in store.pending_uploads()] == ["requisition-5"]
    (store.root / "uploads.json").write_text('{"requisition-5": {"cameras": 3}}')
    with pytest.raises(StoreError, match="pending uploads"):
        store.pending_uploads()
    assert RecordingCommands(store, ["north"], None).resume() == 0  # no upload address: nothing to take up
