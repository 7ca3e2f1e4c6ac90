"""Camera streams over RTSP from a real gst-rtsp-server: counts as on the file, outages, credentials."""

from __future__ import annotations

import itertools
import json
import logging
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

import vigie_wire as wire
from edge_agent.vision.camera_source import open_source
from edge_agent.vision.source import FrameSource
from tests.boxes import write_box
from tests.mqtt_helpers import Mosquitto, Recorder, wait_until
from tests.rtsp_helpers import RtspCamera, transcode_to_h264
from vigie_config.vision import CameraConfig

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / "tests" / "data" / "vtest_excerpt.avi"
MODEL = ROOT / "models" / "nanodet-g-416.manifest.json"
CROSSINGS = json.loads((ROOT / "tests" / "data" / "line_crossings_ground_truth.json").read_text())
PASSWORD = "Secr3t-pole-17"  # a string that must never leave the box


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed footage as H.264 MP4, transcoded once per run (what an IP camera streams)."""
    return transcode_to_h264(VIDEO, tmp_path_factory.mktemp("rtsp") / "vtest_excerpt.h264.mp4")


def _fingerprint(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (64, 48), interpolation=cv2.INTER_AREA).astype(np.float32)


@pytest.fixture(scope="session")
def clip_prints(clip: Path) -> npt.NDArray[np.float32]:
    """A small grey copy of each frame of the served clip, to tell which clip frame a delivered frame is."""
    cap = cv2.VideoCapture(str(clip))
    prints = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        prints.append(_fingerprint(np.asarray(image, np.uint8)))
    cap.release()
    assert len(prints) == 150
    return np.stack(prints)


def _clip_index(prints: npt.NDArray[np.float32], image: npt.NDArray[np.uint8]) -> int:
    diffs = np.abs(prints - _fingerprint(image)).mean(axis=(1, 2))
    best = int(np.argmin(diffs))
    assert diffs[best] < 2.0, f"a delivered frame matches no frame of the clip (closest {best}: {diffs[best]:.1f})"
    return best


def test_a_camera_box_on_rtsp_counts_the_same_line_crossings_as_on_the_file(
        broker: Mosquitto, clip: Path, tmp_path: Path) -> None:
    """The whole box (its camera process, the link) on an authenticated RTSP camera, one pass of the clip."""
    with RtspCamera(clip, user="viewer", password=PASSWORD, once=True) as server:
        cam = {
            "name": "darcy-north",
            "source": server.url(),  # the password inline, as many installers write it
            "detect_fps": 60,  # well above the stream's 10 fps: every frame is analysed, as on the file
            "max_lag_s": 120,  # on a loaded machine the box may fall behind the stream, never skip a frame
            "model": str(MODEL),
            "lines": [{"id": "lawn-middle", "a": CROSSINGS["line"]["a"], "b": CROSSINGS["line"]["b"]}],
            "count_interval_s": 5,
        }
        _, path = write_box(tmp_path, broker.port, "cam-darcy-rtsp", cameras=[cam])
        log_path = tmp_path / "box.log"
        rec = Recorder(broker.port)
        with log_path.open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "edge_agent.cli", "run", "--config", str(path)],
                                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            def telemetry() -> list[dict[str, Any]]:
                return [t.metrics for t in rec.decoded(wire.Kind.TELEMETRY)]

            def pass_done() -> bool:  # the stream ended, the mount is gone, everything is delivered
                # At connect FFmpeg's stream probe hands over ~2.5 s of buffered frames at once: the cap runs on
                # the stream's timestamps, so they are analysed like the others (none skipped by the 60 fps cap).
                return any(m.get("cam.0.frames", 0) >= 145
                           and m.get("cam.0.source.connected") is False
                           and m.get("cam.0.source.reconnects", 0) >= 1 and m.get("link.outbox_depth") == 0
                           for m in telemetry())

            wait_until(pass_done, 150, "one pass of the stream analysed and delivered")
            last = telemetry()[-1]
            wait_until(lambda: len(rec.decoded(wire.Kind.EVENT)) > 0, 10, "events")
            got = [r.body for b in rec.decoded(wire.Kind.EVENT) for r in b.events]
            assert len(got) >= last["link.events_emitted"] - 1
        finally:
            proc.terminate()
            proc.wait(20)
            rec.close()
    assert last["cam.0.frames"] <= 150 and last["cam.0.source.dropped"] == 0, last
    crossings = Counter("right_to_left" if e.inbound else "left_to_right"
                        for e in got if isinstance(e, wire.LineCrossing))
    want = CROSSINGS["totals"]
    assert abs(crossings["right_to_left"] - want["right_to_left"]) <= 1, crossings
    assert abs(crossings["left_to_right"] - want["left_to_right"]) <= 1, crossings
    # The stream's end was noticed and retried; the password is in no message and no log line.
    assert last["cam.0.source.width"] == 768 and last["cam.0.source.height"] == 576
    assert all(PASSWORD.encode() not in r.payload for r in rec.snapshot())
    text = log_path.read_text(errors="replace")
    assert f"***@127.0.0.1:{server.port}/cam" in text, "the log names the camera, without its credentials"
    assert PASSWORD not in text


def test_the_connection_burst_is_analysed_at_the_configured_rate(
        clip: Path, clip_prints: npt.NDArray[np.float32]) -> None:
    """At connect FFmpeg's probe hands over ~2.5 s of frames within ~60 ms (26 frames 1-8 ms apart, then 100 ms
    apart). Capped at 5 fps on the stream's timestamps, a 10 fps camera gives every other frame of the clip, the
    burst's included, with analysis times 200 ms apart as filmed."""
    with RtspCamera(clip, once=True) as server:
        source = FrameSource(server.url(), max_fps=5, read_timeout_s=3.0)
        frames: list[tuple[float, int]] = []  # (analysis time, clip index)

        def read() -> None:
            while (frame := source.read()) is not None:
                frames.append((frame.t, _clip_index(clip_prints, frame.image)))

        reader = threading.Thread(target=read, name="test-rtsp-reader", daemon=True)
        reader.start()
        try:
            wait_until(lambda: source.health()["source.reconnects"] >= 1, 60, "one pass of the clip")
        finally:
            source.close()
            reader.join(10)
        health = source.health()
    indices = [i for _, i in frames]
    assert indices[:15] == list(range(0, 30, 2)), "the burst's frames at 5 fps"
    assert indices == list(range(0, 2 * len(indices), 2)) and len(indices) >= 70, indices
    assert health["source.dropped"] == len(indices) or health["source.dropped"] == len(indices) - 1
    assert health["source.behind"] == 0
    steps = [b - a for (a, _), (b, _) in itertools.pairwise(frames)]
    assert all(0.19 <= s <= 0.21 for s in steps[:15]), steps[:15]


def test_a_consumer_slower_than_the_stream_catches_up_instead_of_queueing(
        clip: Path, clip_prints: npt.NDArray[np.float32]) -> None:
    """A reader taking 0.3 s a frame on a 10 fps camera: frames are skipped whenever it falls more than a second
    behind live, so it ends the pass near the clip's end rather than 10 s of frames behind it."""
    with RtspCamera(clip, once=True) as server:
        source = FrameSource(server.url(), max_lag_s=1.0, read_timeout_s=3.0)
        indices: list[int] = []

        def read() -> None:
            while (frame := source.read()) is not None:
                indices.append(_clip_index(clip_prints, frame.image))
                time.sleep(0.3)

        reader = threading.Thread(target=read, name="test-rtsp-reader", daemon=True)
        reader.start()
        try:
            wait_until(lambda: source.health()["source.reconnects"] >= 1, 60, "one pass of the clip")
        finally:
            source.close()
            reader.join(10)
        health = source.health()
    assert indices == sorted(set(indices)) and indices[-1] >= 135, indices
    assert len(indices) < 100 and health["source.behind"] == health["source.dropped"] == 150 - len(indices), health


def test_a_stream_outage_of_20_s_loses_only_the_frames_of_the_outage(
        clip: Path, clip_prints: npt.NDArray[np.float32], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """Server stopped 20 s mid-clip, then restarted on the same port: back-off, reconnection, nothing else lost.

    Each session of the server plays the clip from its first frame, so every delivered frame is identified by
    its clip index: the frames before the stop must be the clip's first ones without a gap, and those after the
    restart the clip's first ones again without a gap.
    """
    caplog.set_level(logging.INFO, logger="vigie.vision.source")
    (tmp_path / "camera.pw").write_text(PASSWORD + "\n")
    server = RtspCamera(clip, user="viewer", password=PASSWORD)
    config = CameraConfig.model_validate({
        "name": "darcy-north", "source": server.url(credentials=False).replace("rtsp://", "rtsp://viewer@"),
        "password_file": str(tmp_path / "camera.pw"), "model": str(MODEL),
    })
    server.start()
    source = open_source(config, reconnect_min_s=0.5, reconnect_max_s=4.0, read_timeout_s=3.0)
    frames: list[tuple[float, int]] = []  # (monotonic time, clip index)

    def read() -> None:
        while (frame := source.read()) is not None:
            frames.append((time.monotonic(), _clip_index(clip_prints, frame.image)))

    reader = threading.Thread(target=read, name="test-rtsp-reader", daemon=True)
    reader.start()
    try:
        wait_until(lambda: len(frames) >= 50, 30, "50 frames before the outage")
        server.stop()
        stopped = time.monotonic()
        wait_until(lambda: source.health()["source.connected"] is False, 10, "the drop noticed")
        before = len(frames)
        assert before < 150, "the outage must fall inside the clip"
        time.sleep(max(0.0, 20.0 - (time.monotonic() - stopped)))
        during = source.health()
        server.start()
        restarted = time.monotonic()
        wait_until(lambda: len(frames) >= before + 60, 40, "60 frames after the restart")
        after = source.health()
    finally:
        source.close()
        reader.join(10)
        server.stop()
    first, second = frames[:before], frames[before:]
    assert [i for _, i in first] == list(range(before)), "a frame before the stop was lost"
    assert [i for _, i in second] == list(range(len(second))), "a frame after the restart was lost"
    assert all(t < stopped + 1.0 for t, _ in first) and all(t > restarted for t, _ in second)
    # Reconnection attempts during the outage were spaced by the back-off (0.5 s doubling to 4 s): a handful,
    # not one per refused connection; each one is counted, and the source is connected again.
    assert 3 <= during["source.reconnects"] <= 20, during
    assert during["source.connected"] is False and "***@127.0.0.1" in str(during["source.last_error"])
    assert after["source.connected"] is True and after["source.reconnects"] >= during["source.reconnects"] + 1
    assert after["source.frames"] == len(frames)
    assert PASSWORD not in caplog.text and PASSWORD not in json.dumps(after) + json.dumps(during)
    assert "connected after" in caplog.text and "***@127.0.0.1" in caplog.text
