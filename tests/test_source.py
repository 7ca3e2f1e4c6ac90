"""FrameSource against real inputs: the committed footage, garbage files, a port nobody listens on, and a small
MJPEG-over-HTTP camera served from this process that drops or stalls its connections on purpose."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge_agent.vision.source import Frame, FrameSource, SourceError

VIDEO = Path(__file__).resolve().parent / "data" / "vtest_excerpt.avi"
N_FRAMES, FPS, WIDTH, HEIGHT = 150, 10.0, 768, 576
LOGGER = "vigie.vision.source"


def decode_reference(indices: set[int]) -> dict[int, npt.NDArray[np.uint8]]:
    """Decode the excerpt with plain OpenCV, sequentially, to compare what FrameSource hands out."""
    capture = cv2.VideoCapture(str(VIDEO))
    frames: dict[int, npt.NDArray[np.uint8]] = {}
    for i in range(max(indices) + 1):
        ok, image = capture.read()
        assert ok, f"reference decode ended at {i}"
        if i in indices:
            frames[i] = np.asarray(image, dtype=np.uint8)
    capture.release()
    return frames


def read_all(source: FrameSource) -> list[Frame]:
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


def read_in_thread(source: FrameSource, n: int, timeout: float) -> list[Frame | None]:
    """Read ``n`` frames, closing the source if that takes longer than ``timeout`` so a bug cannot hang the run."""
    got: list[Frame | None] = []
    reader = threading.Thread(target=lambda: got.extend(source.read() for _ in range(n)), name="test-reader")
    reader.start()
    reader.join(timeout)
    source.close()
    reader.join(2.0)
    assert not reader.is_alive()
    return got


def count(source: FrameSource, key: str) -> int:
    """A counter of ``health()``, typed as the number it is."""
    value = source.health()[f"source.{key}"]
    assert isinstance(value, int) and not isinstance(value, bool), f"source.{key} is {value!r}"
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeClock:
    """A clock that only moves when slept on or advanced, so real-time pacing is checked exactly and instantly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


# -- files ------------------------------------------------------------------------------------------------------


def test_file_reads_every_frame_in_order() -> None:
    source = FrameSource(str(VIDEO))
    assert source.health()["source.connected"] is True
    frames = read_all(source)

    assert [f.index for f in frames] == list(range(N_FRAMES))
    assert [f.pts_s for f in frames] == pytest.approx([i / FPS for i in range(N_FRAMES)])
    assert all(f.image.shape == (HEIGHT, WIDTH, 3) and f.image.dtype == np.uint8 for f in frames)
    assert all(a.t <= b.t for a, b in itertools.pairwise(frames))
    reference = decode_reference({0, 77, 149})
    for i, image in reference.items():
        assert np.array_equal(frames[i].image, image), f"frame {i} differs from a plain sequential decode"
    assert source.read() is None, "an ended file stays ended"
    health = source.health()
    assert health["source.frames"] == N_FRAMES
    assert (health["source.dropped"], health["source.loops"], health["source.reconnects"]) == (0, 0, 0)
    assert (health["source.width"], health["source.height"]) == (WIDTH, HEIGHT)
    assert health["source.connected"] is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        frames[0].index = 5  # type: ignore[misc]


def test_file_url_is_a_file() -> None:
    with FrameSource(VIDEO.as_uri()) as source:
        frame = source.read()
    assert frame is not None and frame.pts_s == 0.0


def test_looped_file_rewinds_and_counts_loops() -> None:
    with FrameSource(str(VIDEO), loop=True) as source:
        frames = [source.read() for _ in range(N_FRAMES + 10)]
        connected = source.health()["source.connected"]
    assert all(f is not None for f in frames)
    delivered = [f for f in frames if f is not None]
    assert [f.index for f in delivered] == list(range(N_FRAMES + 10))
    assert count(source, "loops") >= 1 and connected is True
    first, again = delivered[0], delivered[N_FRAMES]
    assert again.pts_s == 0.0, "the position restarts with each loop"
    assert np.array_equal(again.image, first.image), "a rewind starts again from the very first frame"


def test_looped_file_that_disappears_raises_source_error(tmp_path: Path) -> None:
    copy = tmp_path / "cam.avi"
    copy.write_bytes(VIDEO.read_bytes())
    with FrameSource(str(copy), loop=True) as source:
        copy.unlink()  # the open capture keeps reading the deleted file; the rewind cannot reopen it
        with pytest.raises(SourceError, match="cannot open video file") as info:
            for _ in range(N_FRAMES + 1):
                source.read()
        assert str(copy) in str(info.value)
        assert count(source, "frames") == N_FRAMES and source.health()["source.connected"] is False


def test_max_fps_without_realtime_takes_every_other_frame_of_the_file() -> None:
    # Grab-only skipping must not disturb decoding: the kept frames equal a plain decode of the same indices.
    with FrameSource(str(VIDEO), max_fps=5.0) as source:
        frames = read_all(source)
        health = source.health()
    assert [f.pts_s for f in frames] == pytest.approx([2 * i / FPS for i in range(N_FRAMES // 2)])
    assert (health["source.frames"], health["source.dropped"]) == (N_FRAMES // 2, N_FRAMES // 2)
    reference = decode_reference({2, 100, 148})
    for i, image in reference.items():
        assert np.array_equal(frames[i // 2].image, image), f"frame {i} decoded wrongly after skipped frames"


def test_max_fps_in_realtime_delivers_about_half_and_counts_the_rest_dropped() -> None:
    with FrameSource(str(VIDEO), max_fps=5.0, realtime=True) as source:
        start = time.monotonic()
        frames: list[Frame] = []
        while time.monotonic() - start < 2.0:
            frame = source.read()
            assert frame is not None
            frames.append(frame)
        health = source.health()

    # 10 fps capped at 5 fps for ~2 s: ~10 delivered and ~10 dropped; the bounds are loose on purpose.
    assert 7 <= len(frames) <= 14
    assert abs(count(source, "dropped") - len(frames)) <= 2
    assert [f.pts_s for f in frames[:5]] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])
    delivered_fps = (len(frames) - 1) / (frames[-1].t - frames[0].t)
    assert 3.5 <= delivered_fps <= 6.5, "paced at the file's rate, not as fast as possible"
    assert health["source.fps"] == pytest.approx(delivered_fps, rel=0.25)


def test_realtime_paces_each_frame_at_its_position() -> None:
    clock = FakeClock()
    with FrameSource(str(VIDEO), realtime=True, clock=clock, sleep=clock.sleep) as source:
        frames = read_all(source)
    assert len(frames) == N_FRAMES
    assert [f.t - frames[0].t for f in frames] == pytest.approx([f.pts_s for f in frames], abs=1e-6)


def test_realtime_slow_consumer_skips_late_frames_like_a_live_camera() -> None:
    clock = FakeClock()
    with FrameSource(str(VIDEO), realtime=True, clock=clock, sleep=clock.sleep) as source:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
            clock.now += 0.27  # the consumer needs 270 ms per frame
    assert N_FRAMES / 4 <= len(frames) <= N_FRAMES / 2
    assert count(source, "frames") + count(source, "dropped") == N_FRAMES
    assert [f.index for f in frames] == list(range(len(frames)))
    start, pts0 = frames[0].t, frames[0].pts_s
    lag = [(f.t - start) - (f.pts_s - pts0) for f in frames if f.pts_s is not None and pts0 is not None]
    assert max(lag) <= 1 / FPS + 1e-6, "never hands out a frame more than one frame period late"


def test_missing_file_raises_source_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "cam.avi"
    with pytest.raises(SourceError, match="does not exist") as info:
        FrameSource(str(missing))
    assert str(missing) in str(info.value)


def test_garbage_file_raises_source_error(tmp_path: Path) -> None:
    garbage = tmp_path / "x.avi"
    garbage.write_bytes(np.random.default_rng(7).bytes(100_000))
    with pytest.raises(SourceError, match="cannot open") as info:
        FrameSource(str(garbage))
    assert str(garbage) in str(info.value)


def test_file_whose_frames_cannot_be_decoded_raises_source_error(tmp_path: Path) -> None:
    # A real AVI header followed by noise: FFmpeg opens it, but no frame comes out.
    broken = tmp_path / "broken.avi"
    broken.write_bytes(VIDEO.read_bytes()[:4096] + np.random.default_rng(0).bytes(200_000))
    with pytest.raises(SourceError, match="first frame cannot be decoded") as info:
        FrameSource(str(broken))
    assert str(broken) in str(info.value)


@pytest.mark.parametrize("kwargs", [{"max_fps": 0.0}, {"reconnect_min_s": 2.0, "reconnect_max_s": 1.0}])
def test_inconsistent_arguments_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FrameSource(str(VIDEO), **kwargs)  # type: ignore[arg-type]


def test_read_after_close_returns_none() -> None:
    source = FrameSource(str(VIDEO))
    source.close()
    assert source.read() is None
    assert source.health()["source.connected"] is False


# -- live sources -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["rtsp://viewer:secret@127.0.0.1:{port}/cam", "http://127.0.0.1:{port}/cam.mjpg?user=viewer&password=secret", "97"],
    ids=["rtsp", "http", "device"],
)
def test_unreachable_source_retries_until_closed_without_raising(
    url: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    source = FrameSource(url.format(port=free_port()), reconnect_min_s=0.05, reconnect_max_s=0.2)
    got: list[Frame | None] = []
    reader = threading.Thread(target=lambda: got.append(source.read()), name="test-reader")
    reader.start()
    deadline = time.monotonic() + 3.0
    while count(source, "reconnects") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    health, reconnects = source.health(), count(source, "reconnects")

    closed_at = time.monotonic()
    source.close()
    reader.join(2.0)
    assert not reader.is_alive() and time.monotonic() - closed_at < 0.5, "close() cuts the back-off short"
    assert got == [None]
    assert reconnects >= 2
    assert (health["source.connected"], health["source.frames"], health["source.fps"]) == (False, 0, 0.0)
    assert "cannot open" in str(health["source.last_error"])
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]
    assert len(warnings) == 1, "one warning per kind of failure, repeats at DEBUG"
    assert "secret" not in str(health["source.last_error"]) + caplog.text + "".join(capfd.readouterr())


class MjpegCamera(ThreadingHTTPServer):
    """A tiny MJPEG-over-HTTP camera: each connection gets ``burst`` frames, then is closed or left silent."""

    daemon_threads = True

    def __init__(self, burst: int, stall: bool) -> None:
        super().__init__(("127.0.0.1", 0), _MjpegHandler)
        capture = cv2.VideoCapture(str(VIDEO))
        self.jpegs = [cv2.imencode(".jpg", cv2.resize(capture.read()[1], (192, 144)))[1].tobytes() for _ in range(5)]
        capture.release()
        self.burst, self.stall = burst, stall
        self.stop = threading.Event()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/cam.mjpg"


class _MjpegHandler(BaseHTTPRequestHandler):
    server: MjpegCamera

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        for i in range(self.server.burst):
            jpeg = self.server.jpegs[i % len(self.server.jpegs)]
            head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
            self.wfile.write(head + jpeg + b"\r\n")
            self.wfile.flush()
            self.server.stop.wait(0.02)
        if self.server.stall:
            self.server.stop.wait(10.0)  # connection open, nothing sent: only the read timeout notices

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def camera(request: pytest.FixtureRequest) -> Iterator[MjpegCamera]:
    burst, stall = request.param
    server = MjpegCamera(burst, stall)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="test-mjpeg-camera", daemon=True)
    thread.start()
    yield server
    server.stop.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("camera", [(8, False)], indirect=True)
def test_stream_that_drops_is_reconnected_and_keeps_delivering(camera: MjpegCamera) -> None:
    source = FrameSource(camera.url, reconnect_min_s=0.05, reconnect_max_s=0.2)
    frames = read_in_thread(source, 20, timeout=5.0)
    health = source.health()
    delivered = [f for f in frames if f is not None]
    assert [f.index for f in delivered] == list(range(20)), "drops are invisible to the consumer except as a pause"
    assert all(f.image.shape == (144, 192, 3) and f.pts_s is None for f in delivered)
    assert count(source, "reconnects") >= 2 and count(source, "dropped") == 0
    assert "no frame" in str(health["source.last_error"])


@pytest.mark.parametrize("camera", [(5, True)], indirect=True)
def test_stalled_stream_times_out_and_reconnects(camera: MjpegCamera) -> None:
    source = FrameSource(camera.url, read_timeout_s=0.3, reconnect_min_s=0.05, reconnect_max_s=0.2)
    start = time.monotonic()
    frames = read_in_thread(source, 8, timeout=5.0)
    assert all(f is not None for f in frames) and len(frames) == 8
    assert time.monotonic() - start < 3.0, "the read timeout, not OpenCV's 30 s default, ends a silent connection"
    health = source.health()
    assert count(source, "reconnects") >= 1
    assert "no frame for 0.3 s" in str(health["source.last_error"])
