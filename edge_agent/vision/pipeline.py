"""One camera's processing chain: privacy masks → motion gate → detector → tracker →
zones/lines analytics → wire events.

Pure with respect to I/O: :meth:`CameraPipeline.process` takes a frame and a time and returns
the wire events it produced; reading the source and emitting into the link are the worker's
business (:mod:`.worker`). That keeps the chain testable on recorded footage, frame by frame.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

import vigie_wire as wire
from vigie_config.errors import ConfigError
from vigie_config.vision import CameraConfig, NormPoint

from .analytics import Analytics, AnalyticsConfig, Line, Zone
from .detectors.base import Detection, Detector
from .geometry import BoxLike
from .motion import MotionConfig, MotionGate, MotionResult, Region
from .plausibility import SizeRule, size_rules, split_plausible
from .privacy import blank, blur_boxes, polygon_mask
from .tracker import Track, Tracker, TrackerConfig
from .wire_map import event_time, to_wire

Image = npt.NDArray[np.uint8]

_IDENTIFYING = frozenset({"person"})
#: Classes whose stationary tracks are parked, out of occupancy: vehicles (a still person still counts).
_PARKABLE = frozenset({"bicycle", "car", "motorcycle", "bus", "truck"})
#: Classes that continue each other's tracks: the detector scores one van a car on a frame and a truck on the next
#: (the group the model's manifest suppresses across); the track's class is then decided by vote.
_ONE_VEHICLE = frozenset({"car", "truck", "bus"})
_SNAPSHOT_KINDS: dict[str, type[wire.Event]] = {
    "detection": wire.Detection,
    "zone_enter": wire.ZoneEnter,
    "line_crossing": wire.LineCrossing,
    "loitering": wire.Loitering,
}


@dataclass(frozen=True)
class Prepared:
    """A frame between the two stages of :class:`CameraPipeline`."""

    image: Image  # as captured (snapshots are made from it, after masking and blurring)
    t: float
    motion: MotionResult
    tensor: object | None  # the detector's prepared input, when the detector is to run
    analytics: Analytics  # of the stream geometry this frame was taken with
    size: tuple[int, int]


@dataclass
class CameraStats:
    """Per-camera counters, reported in telemetry under ``cam.<index>.*``."""

    frames: int = 0
    detections_run: int = 0
    inference_ms: float = 0.0  # exponential moving average
    motion_ratio: float = 0.0
    lighting_changes: int = 0
    events: int = 0
    implausible: int = 0  # detections rejected by the size rules of their zone
    stationary: int = 0  # vehicle tracks stationary (parked) after the last detector run


def _near_any(box: BoxLike, others: Iterable[BoxLike | Region | tuple[float, float, float, float]],
              slack: float = 0.25) -> bool:
    """``box`` overlaps one of ``others`` (boxes or ``(x0, y0, x1, y1)`` regions), grown by ``slack``."""
    w, h = box.x1 - box.x0, box.y1 - box.y0
    x0, y0, x1, y1 = box.x0 - slack * w, box.y0 - slack * h, box.x1 + slack * w, box.y1 + slack * h
    for o in others:
        ox0, oy0, ox1, oy1 = o if isinstance(o, tuple) else (o.x0, o.y0, o.x1, o.y1)
        if ox0 < x1 and x0 < ox1 and oy0 < y1 and y0 < oy1:
            return True
    return False


class CameraPipeline:
    """The analytics of one camera; feed it frames in time order."""

    def __init__(self, cam: int, config: CameraConfig, detector: Detector,
                 tracker: TrackerConfig | None = None) -> None:
        self.cam = cam
        self.config = config
        self.detector = detector
        self.stats = CameraStats()
        names = list(detector.class_names)
        unknown = sorted(set(config.classes) - set(names))
        if unknown:
            raise ConfigError(f"camera {config.name}: classes not in the model: {', '.join(unknown)}")
        self._class_ids = {n: names.index(n) for n in config.classes}
        self._wanted = frozenset(self._class_ids.values())
        self._parkable = frozenset(i for n, i in self._class_ids.items() if n in _PARKABLE)
        vehicles = frozenset(i for n, i in self._class_ids.items() if n in _ONE_VEHICLE)
        self._tracker = Tracker(
            tracker or TrackerConfig(stationary_s=config.stationary_s, stationary_move=config.stationary_move,
                                     class_groups=(vehicles,) if len(vehicles) > 1 else ())
        )
        self._gate = MotionGate(MotionConfig(refresh_s=config.refresh_s))
        self._last_full: float | None = None  # time of the last detector run that kept every detection
        self._size: tuple[int, int] | None = None
        self._mask: npt.NDArray[np.bool_] | None = None
        self._analytics: Analytics | None = None
        self._sizes: tuple[SizeRule, ...] = ()
        #: Tracks after the last detector run (diagnostics, tests, snapshots).
        self.tracks: tuple[Track, ...] = ()
        self._last_snapshot: float | None = None
        # Classes whose boxes are pixelated in snapshots: people (riders are detected as people).
        self._identifying = frozenset(i for i, n in enumerate(names) if n in _IDENTIFYING)

    def _ids(self, classes: list[str] | None) -> frozenset[int] | None:
        return None if classes is None else frozenset(self._class_ids[c] for c in classes)

    def _setup(self, width: int, height: int) -> None:
        """Turn the normalised geometry of the config into pixels of this stream."""

        def px(p: NormPoint) -> tuple[float, float]:
            return (p[0] * width, p[1] * height)

        c = self.config
        zones = tuple(Zone(z.id, tuple(px(p) for p in z.polygon), self._ids(z.classes), z.loiter_s) for z in c.zones)
        lines = tuple(Line(ln.id, px(ln.a), px(ln.b), ln.direction, self._ids(ln.classes)) for ln in c.lines)
        self._analytics = Analytics(AnalyticsConfig(zones=zones, lines=lines, interval_s=float(c.count_interval_s),
                                                    parked=self._parkable))
        self._mask = (
            polygon_mask((height, width), [tuple(px(p) for p in m.polygon) for m in c.masks]) if c.masks else None
        )
        self._sizes = size_rules(c.zones, self._class_ids, width, height)
        self._size = (width, height)

    def masked(self, image: Image) -> Image:
        """The frame as the detector sees it: privacy masks blanked (a copy when masked)."""
        if self._size is None:
            self._setup(image.shape[1], image.shape[0])
        return blank(image, self._mask) if self._mask is not None else image

    def process(self, image: Image, t: float) -> list[tuple[float, wire.Event]]:
        """Analyse one frame taken at ``t`` (seconds); returns ``(time, wire event)`` pairs."""
        return self.back(self.front(image, t))

    def front(self, image: Image, t: float) -> Prepared:
        """First stage: masks, motion gate and, if the detector is to run, its input tensor.

        Split from :meth:`back` so that a worker can prepare frame *k+1* while frame *k* is in
        inference (ONNX Runtime releases the GIL); called in frame order from one thread.
        """
        if self._size is not None and (image.shape[1], image.shape[0]) != self._size:
            self._setup(image.shape[1], image.shape[0])  # the stream changed resolution
        frame = self.masked(image)
        assert self._analytics is not None and self._size is not None
        s = self.stats
        s.frames += 1
        motion = self._gate.update(frame, t)
        s.motion_ratio = motion.ratio
        s.lighting_changes += int(motion.lighting_change)
        tensor = self.detector.prepare(frame) if self._gate.should_detect(t) else None
        return Prepared(image, t, motion, tensor, self._analytics, self._size)

    def back(self, p: Prepared) -> list[tuple[float, wire.Event]]:
        """Second stage: inference, tracking, zones and lines; called in frame order from one thread."""
        s = self.stats
        if p.tensor is not None:
            started = time.perf_counter()
            detections = [d for d in self.detector.detect_prepared(p.tensor) if d.class_id in self._wanted]
            detections, rejected = split_plausible(detections, self._sizes)
            s.implausible += len(rejected)
            if self._keeps_all(p):
                self._last_full = p.t
            else:  # keep what moves, or what a track (tentative or confirmed) already follows
                followed = self._tracker.followed()
                detections = [d for d in detections if _near_any(d, p.motion.regions) or _near_any(d, followed)]
            elapsed_ms = (time.perf_counter() - started) * 1000
            s.inference_ms = elapsed_ms if s.detections_run == 0 else 0.9 * s.inference_ms + 0.1 * elapsed_ms
            s.detections_run += 1
            update = self._tracker.update(detections, p.t, p.size)
            self.tracks = update.tracks
            s.stationary = sum(tr.stationary and tr.class_id in self._parkable for tr in update.tracks)
            observed = p.analytics.update(update)
        else:
            observed = p.analytics.tick(p.t)
        width, height = p.size
        out = [(event_time(o), to_wire(o, self.cam, width, height)) for o in observed]
        s.events += len(out)
        return out

    def _keeps_all(self, p: Prepared) -> bool:
        """Whether this detector run keeps every detection, not only those near motion or a track.

        Runs without motion keep everything (the refresh of a still scene), and so does one run every
        ``refresh_s`` whatever moves: on a busy street the frame always has motion somewhere, and a vehicle
        parked away from it would otherwise never start a track, so it could never be marked stationary. A
        track so started is followed through the next runs (:meth:`.Tracker.followed`), so it can be
        confirmed; a one-run false positive still dies at its first miss. The gate decides alone whether the
        detector runs at all: this changes nothing to the inference it saves.
        """
        return (not p.motion.motion or self._last_full is None
                or p.t - self._last_full >= self.config.refresh_s)

    def snapshot_trigger(self, produced: list[tuple[float, wire.Event]]) -> int | None:
        """Index in ``produced`` of the first event that calls for a snapshot, if any is due."""
        snap = self.config.snapshots
        if not snap.enabled or not produced:
            return None
        kinds = tuple(_SNAPSHOT_KINDS[k] for k in snap.on)
        for i, (when, event) in enumerate(produced):
            if isinstance(event, kinds):
                if self._last_snapshot is not None and when - self._last_snapshot < snap.min_interval_s:
                    return None
                self._last_snapshot = when
                return i
        return None

    def snapshot(self, image: Image) -> bytes:
        """A JPEG of ``image`` fit to leave the box: masks blanked, every person pixelated.

        The detector is run again on this very frame (tracks may be predictions), and the
        tracked persons are blurred as well, so a person missed by one of the two is still
        covered by the other.
        """
        frame = self.masked(image)
        people: list[BoxLike] = [d for d in self.detector.detect(frame) if d.class_id in self._identifying]
        people += [tr for tr in self.tracks if tr.class_id in self._identifying]
        safe: Image = blur_boxes(frame, people)
        snap = self.config.snapshots
        if safe.shape[1] > snap.max_width:
            scale = snap.max_width / safe.shape[1]
            size = (snap.max_width, round(safe.shape[0] * scale))
            safe = np.asarray(cv2.resize(safe, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        ok, jpeg = cv2.imencode(".jpg", safe, [cv2.IMWRITE_JPEG_QUALITY, snap.jpeg_quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return bytes(jpeg)

    def last_detections(self, image: Image) -> list[Detection]:
        """Run the detector on one (masked) frame outside the chain (diagnostics, snapshots)."""
        return [d for d in self.detector.detect(self.masked(image)) if d.class_id in self._wanted]

    def health(self) -> dict[str, Any]:
        s = self.stats
        p = f"cam.{self.cam}."
        return {
            p + "frames": s.frames,
            p + "detect_ratio": round(s.detections_run / s.frames, 3) if s.frames else 0.0,
            p + "inference_ms": round(s.inference_ms, 1),
            p + "motion_ratio": round(s.motion_ratio, 4),
            p + "lighting_changes": s.lighting_changes,
            p + "events": s.events,
            p + "implausible": s.implausible,
            p + "stationary": s.stationary,
        }


def run_staged(
    pipeline: CameraPipeline,
    frames: Iterable[tuple[Image, float]],
    handle: Callable[[Prepared, list[tuple[float, wire.Event]]], None],
    name: str = "vigie-vision-front",
) -> None:
    """Run ``frames`` through the pipeline with the two stages overlapped.

    A named thread reads and prepares frames (:meth:`CameraPipeline.front`) into a queue of
    two; the calling thread runs :meth:`CameraPipeline.back` and ``handle`` on each, in order.
    An exception in either stage stops both and is raised here.
    """
    handoff: queue.Queue[Prepared | None] = queue.Queue(maxsize=2)
    stop = threading.Event()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for image, t in frames:
                prepared = pipeline.front(image, t)
                while not stop.is_set():
                    try:
                        handoff.put(prepared, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # handed over to the caller's thread below
            failure.append(exc)
        finally:
            with contextlib.suppress(queue.Full):
                handoff.put(None, timeout=1.0)

    front = threading.Thread(target=produce, name=name, daemon=True)
    front.start()
    try:
        while (prepared := handoff.get()) is not None:
            handle(prepared, pipeline.back(prepared))
    finally:
        stop.set()
        front.join(5.0)
    if failure:
        raise failure[0]
