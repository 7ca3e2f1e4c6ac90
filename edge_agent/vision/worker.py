"""Run one camera: read its source, feed the pipeline, emit the events into the link.

Two named threads per camera: ``vigie-vision-<name>`` reads and prepares frames (masks,
motion gate, detector input), ``vigie-infer-<name>`` runs inference, tracking and analytics and
emits. Inference releases the GIL, so frame *k+1* is prepared while frame *k* is inferred. A
camera that fails keeps retrying its source and never takes the box down.

The agent runs each worker in its own process (:mod:`.process`), emitting straight into the
outbox file; the worker itself only knows its :class:`~edge_agent.ports.EventSink`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from itertools import groupby
from typing import Any

import vigie_wire as wire
from vigie_config.recording import RecordingConfig
from vigie_config.vision import CameraConfig

from ..ports import EventSink
from ..recording.recorder import Recorder, open_store
from .camera_source import open_source
from .detectors import load_detector
from .pipeline import CameraPipeline, Image, Prepared, run_staged

log = logging.getLogger("vigie.vision")


class CameraWorker:
    """The camera role of a box for one camera (index ``cam`` in the box config)."""

    def __init__(self, cam: int, config: CameraConfig, sink: EventSink,
                 clock: Callable[[], float] = time.time, recording: RecordingConfig | None = None) -> None:
        """``recording``: the box's store settings; the camera records when its own config says so."""
        self.cam = cam
        self.config = config
        self._sink = sink
        self._clock = clock
        detector = load_detector(config.model, config.threads, score_threshold=config.score_threshold)
        self.pipeline = CameraPipeline(cam, config, detector)
        self._source = open_source(
            config,
            loop=config.loop,
            max_fps=config.detect_fps,
            max_lag_s=config.max_lag_s,
            realtime=config.realtime,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"vigie-infer-{config.name}", daemon=True)
        self.finished = threading.Event()
        #: Why the camera stopped, when a failure stopped it (None: the source ended, or stop()).
        self.error: str | None = None
        self.recorder = (Recorder(cam, config, recording, open_store(recording), sink, clock=clock)
                         if recording is not None and config.recording.enabled else None)

    def start(self) -> None:
        self._thread.start()
        if self.recorder is not None:
            self.recorder.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._source.close()
        self._thread.join(timeout)
        if self.recorder is not None:
            self.recorder.stop(timeout)

    def health(self) -> dict[str, Any]:
        """Source and pipeline health for the box telemetry (``cam.<index>.*``)."""
        out = self.pipeline.health()
        out.update({f"cam.{self.cam}.{k}": v for k, v in self._source.health().items()})
        if self.recorder is not None:
            out.update(self.recorder.health())
        return out

    def _frames(self) -> Iterator[tuple[Image, float]]:
        """The source's frames with their analysis time, until it ends or the worker stops."""
        mono0 = time.monotonic()
        timeline = _FileTimeline()
        while not self._stop.is_set():
            frame = self._source.read()
            if frame is None:
                return  # a file ended (not looped) or the source was closed
            # Files not paced in real time are analysed on their own clock (stream position),
            # so dwell times and intervals mean the same as in a live run.
            if frame.pts_s is not None and not self.config.realtime:
                yield frame.image, timeline.at(frame.pts_s)
            else:
                yield frame.image, frame.t - mono0

    def _run(self) -> None:
        wall0 = self._clock()

        def deliver(prepared: Prepared, produced: list[tuple[float, wire.Event]]) -> None:
            ids: list[tuple[int, int]] = []
            for when, group in groupby(produced, key=lambda pair: pair[0]):
                ids += self._sink.emit_many([ev for _, ev in group], int((wall0 + when) * 1000))
            trigger = self.pipeline.snapshot_trigger(produced)
            if trigger is not None and trigger < len(ids):
                self._sink.publish_snapshot(self.cam, ids[trigger], self.pipeline.snapshot(prepared.image))

        try:
            run_staged(self.pipeline, self._frames(), deliver, name=f"vigie-vision-{self.config.name}")
        except Exception as exc:  # a bug in one camera must not stop the box; it is logged and visible
            log.exception("camera %s stopped", self.config.name)
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.finished.set()


class _FileTimeline:
    """A file's positions made monotonic across loops (each loop restarts at 0 s)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._last = -1.0
        self._step = 0.1

    def at(self, pts: float) -> float:
        if pts < self._last:
            self._offset += self._last + self._step
        elif self._last >= 0 and pts > self._last:
            self._step = pts - self._last
        self._last = pts
        return self._offset + pts
