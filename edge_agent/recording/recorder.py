"""One camera's recorder: a named thread that reads the camera with FFmpeg and stores encrypted segments.

It runs in the camera's process beside the detection worker (``vigie-rec-<name>``) and opens
its own connection to the camera: detection reads decoded frames at a capped rate through
OpenCV, while recording needs every compressed packet (stream copy) or every frame (masks).
A file source is paced at its own rate, as a camera would deliver it: a recording's timeline
is the wall clock.

Recording started and stopped reach the video register as :class:`vigie_wire.RecordingChange`
events through the camera's :class:`~edge_agent.ports.EventSink` (the durable outbox). A drop
of a live camera stops the recording (``source_lost``) and the recorder reconnects with
back-off; a segment that would take the disk below ``min_free_bytes`` is not written
(``disk_full``, counted): recording never fills the disk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import av

import vigie_wire as wire
from vigie_config.recording import RecordingConfig
from vigie_config.secrets import read_password
from vigie_config.stream_url import SourceKind, classify, redact
from vigie_config.vision import CameraConfig

from ..ports import EventSink
from ..vision.camera_source import stream_target
from .crypto import load_key
from .media import Finished, make_writer, open_input
from .store import SegmentStore

log = logging.getLogger("vigie.recording")


class Recorder:
    """Record camera ``cam`` of the box into ``store`` while started."""

    def __init__(self, cam: int, camera: CameraConfig, settings: RecordingConfig, store: SegmentStore,
                 sink: EventSink, *, clock: Callable[[], float] = time.time,
                 backoff_s: tuple[float, float] = (0.5, 30.0), read_timeout_s: float = 5.0) -> None:
        self.cam = cam
        self.camera = camera
        self.store = store
        self._settings = settings
        self._sink = sink
        self._clock = clock
        self._backoff = backoff_s
        self._timeout = read_timeout_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"vigie-rec-{camera.name}", daemon=True)
        self.finished = threading.Event()
        self.mode = ""
        self.recording = False
        self.segments = 0
        self.bytes = 0
        self.frames = 0
        self.dropped_disk = 0
        self._disk_full = False
        self.source_errors = 0
        self.failed: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def health(self) -> dict[str, Any]:
        p = f"cam.{self.cam}.rec_"
        return {p + "on": self.recording, p + "mode": self.mode, p + "segments_written": self.segments,
                p + "bytes_written": self.bytes, p + "dropped_disk_full": self.dropped_disk,
                p + "source_errors": self.source_errors}

    # -- thread ---------------------------------------------------------------------------
    def _url(self) -> str:
        cfg = self.camera
        password = None if cfg.password_file is None else read_password(cfg.password_file)
        url, resolve = stream_target(cfg.source, password)
        return resolve() if resolve is not None else url

    def _state(self, on: bool, reason: str) -> None:
        if on == self.recording:
            return
        self.recording = on
        self._sink.emit_many([wire.RecordingChange(self.cam, self.camera.name, on, reason)])
        log.info("camera %s: recording %s (%s)", self.camera.name, "started" if on else "stopped", reason)

    def _keep(self, done: Finished | None) -> None:
        if done is None:
            return
        if self.store.free_bytes() - len(done.mp4) < self._settings.min_free_bytes:
            self.dropped_disk += 1
            self._disk_full = True
            self._state(False, "disk_full")
            return
        self._disk_full = False
        self._state(True, "config")
        seg = self.store.write(self.camera.name, done.start_ms, done.end_ms, done.mp4)
        self.segments += 1
        self.bytes += seg.bytes
        self.frames += done.frames

    def _run(self) -> None:
        is_file = classify(self.camera.source)[0] == SourceKind.FILE
        delay = self._backoff[0]
        reason = "stop"
        try:
            while not self._stop.is_set():
                try:
                    ended = self._record_once(is_file)
                except (av.FFmpegError, OSError) as exc:
                    self.source_errors += 1
                    log.warning("camera %s: recording source %s: %s", self.camera.name,
                                redact(self.camera.source), exc)
                    ended = False
                if self._stop.is_set():
                    break
                if is_file and ended:
                    if not self.camera.loop:
                        reason = "source_ended"
                        break
                    delay = self._backoff[0]
                    continue  # a looped file starts again
                # A live camera that ended its stream or failed: the recording stops until it is back.
                self._state(False, "source_lost")
                self._stop.wait(delay)
                delay = self._backoff[0] if ended else min(delay * 2, self._backoff[1])
        except Exception as exc:  # a recording bug must not take the camera's detection down
            log.exception("camera %s: recorder stopped", self.camera.name)
            self.failed = f"{type(exc).__name__}: {exc}"
            reason = "error"
        finally:
            self._state(False, reason)
            self.finished.set()

    def _record_once(self, pace: bool) -> bool:
        """Record until the source ends (True) or the recorder stops (False)."""
        container = open_input(self._url(), self._timeout)
        with container:
            stream = container.streams.video[0]
            writer = make_writer(stream, self.camera.recording.segment_s,
                                 [m.polygon for m in self.camera.masks])
            self.mode = writer.mode
            tb = float(stream.time_base or 0) or 1 / 90_000
            t0 = self._clock()
            first: int | None = None
            last_ms = int(t0 * 1000)
            step_ms = 100
            for packet in container.demux(stream):
                if self._stop.is_set():
                    break
                pts = packet.pts if packet.pts is not None else packet.dts
                if pts is None:
                    continue
                if first is None:
                    first = pts
                    if not self._disk_full:
                        self._state(True, "config")
                rel = (pts - first) * tb
                if pace:
                    self._stop.wait(max(0.0, t0 + rel - self._clock()))
                t_ms = int((t0 + rel) * 1000)
                if t_ms > last_ms:
                    step_ms = t_ms - last_ms
                last_ms = t_ms
                self._keep(writer.feed(packet, t_ms))
            self._keep(writer.finish(last_ms + step_ms))
        return not self._stop.is_set()


def open_store(settings: RecordingConfig) -> SegmentStore:
    """The box's segment store with its key (read once, kept in memory)."""
    return SegmentStore(settings.dir, load_key(settings.key_file))
