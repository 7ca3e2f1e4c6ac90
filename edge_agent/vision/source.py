"""Frames in: one OpenCV ``VideoCapture`` over a file, a network stream or a local camera.

Three kinds of source, told apart by the ``source`` string of the camera config:

* a **file** path (or ``file://`` URL): a config error if it is missing or cannot be decoded at start
  (:class:`SourceError`, raised by the constructor), because retrying will not make it appear. It is read as fast
  as the consumer asks (tests, benchmarks) or, with ``realtime=True``, paced at its native rate so that the demo
  behaves like a live camera. ``loop=True`` reopens it at the end and counts the loops.
* a **stream** URL (``rtsp://``, ``http://`` MJPEG...): a drop is the normal life of a field camera (power cut,
  Wi-Fi, NVR restart), so ``read()`` never raises for it; it reconnects with exponential backoff and jitter
  (tenacity, as the MQTT link does) so that a street of boxes does not hammer a recovering NVR in step. RTSP is
  read over TCP (interleaved): UDP loses whole frames on a busy uplink and does not cross NAT. An
  ``onvif://`` source is given with a ``resolve`` function (:mod:`.onvif`) that asks the camera for its RTSP
  address at every connection, so a camera whose firmware moved its stream is found again.
* a **device** index (``0`` or ``"0"``): a USB camera can be unplugged and plugged back, so it is treated as a
  stream.

``max_fps`` caps the rate handed to the detector, which is the expensive part. Files are capped on their own
position, live streams on their own timestamps (:mod:`.stream_clock`): FFmpeg hands over a few seconds of buffered
frames at once when it connects, and a cap on arrival time would skip most of them; a stream that falls more than
``max_lag_s`` behind live is skipped forward to catch up. Frames over the cap are taken with
``grab()`` and never ``retrieve()``-d: FFmpeg still decodes them (later frames depend on them), but the colour
conversion to BGR and the copy into a numpy array are saved: on the footage excerpt a skipped frame costs 0.43 ms
of CPU instead of 0.63 ms, and half the wall time.

Threading: one consumer thread calls :meth:`FrameSource.read`; :meth:`FrameSource.close` may come from any thread
(the worker's ``stop()``). OpenCV calls cannot be interrupted, so ``close()`` only sets a flag, and releases the
capture itself only when no read is running; back-off and pacing sleeps are cut short within 50 ms, while a read
blocked inside FFmpeg returns within ``read_timeout_s`` (``open_timeout_s`` while connecting).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from vigie_config.stream_url import SourceKind as _Kind
from vigie_config.stream_url import classify as _classify
from vigie_config.stream_url import redact as _redact

from ..errors import EdgeError
from .errors import StreamResolveError
from .stream_clock import StreamClock

log = logging.getLogger("vigie.vision.source")

Image = npt.NDArray[np.uint8]

_FPS_WINDOW_S = 2.0  # health fps is measured over the frames delivered in this last span
_SLICE_S = 0.05  # longest uninterruptible piece of a back-off or pacing sleep
_FALLBACK_FPS = 25.0  # when a file does not state a usable frame rate


class SourceError(EdgeError):
    """A video file that cannot be used: the message names the path and the reason.

    Raised only for files, at construction (or if a looped file vanishes while running): a wrong path in the box
    config is fixed by a person, not by retrying. Streams and devices never raise it.
    """


class _OpenError(Exception):
    """One failed attempt to open a capture and decode its first frame; ``kind`` groups failures for the log."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, eq=False, slots=True)
class Frame:
    """One delivered frame.

    ``eq=False`` because comparing images element-wise is never what a caller means.

    Attributes:
        index: Running count of delivered frames (0-based), continued across loops and reconnections; skipped
            frames take no index, so gaps are visible in ``health()['source.dropped']`` only.
        t: ``clock()`` time of capture: for files, when the frame was handed out (with ``realtime=True`` that is
            the simulated capture time); for live sources, the time of the stream's timestamp
            (:attr:`.stream_clock.Placed.t`: frames of a connection burst 100 ms apart as filmed, not 5 ms apart
            as they arrived), or when ``grab()`` returned for a stream without usable timestamps. Never decreases.
        pts_s: Position in the file in seconds (``CAP_PROP_POS_MSEC``); restarts at 0 on every loop. None for
            live sources, where OpenCV reports either a frame count times a nominal rate (MJPEG over HTTP:
            0, 40, 80 ms whatever the real rate) or RTP time restarting at each reconnection: their timestamps
            are checked against the clock and give ``t`` instead (:mod:`.stream_clock`).
        image: BGR image, ``height x width x 3``.
    """

    index: int
    t: float
    pts_s: float | None
    image: Image


class FrameSource:
    """A frame source that a camera worker polls with :meth:`read`.

    Args:
        url: File path, ``file://`` URL, stream URL (anything else with ``://``) or device index (int or digits).
        loop: For files, reopen at the end instead of ending; ignored for live sources.
        max_fps: Cap on the delivered rate; faster frames are skipped (``grab()`` only) and counted as dropped.
            Files are capped on their own timeline (every other frame of a 10 fps file at 5 fps, realtime or not),
            live sources on their timestamps, or on ``clock()`` when they have no usable ones.
        max_lag_s: For live sources, how far behind live a frame may be before frames are skipped to catch up
            (counted in ``source.behind`` as well as ``source.dropped``).
        realtime: For files, deliver each frame no earlier than its position after the first one, and skip frames
            a slow consumer is already late for, as a live camera would. Ignored for live sources.
        reconnect_min_s: First back-off after a failed (re)connection; also the jitter bound.
        reconnect_max_s: Longest back-off.
        open_timeout_s: Longest wait for a stream to open (OpenCV's default is 30 s, too long for ``close()``).
        read_timeout_s: Longest wait for a stream's next frame before it counts as dropped.
        resolve: For a stream, called at each connection attempt for the URL to open (ONVIF's
            ``GetStreamUri``); its :class:`~.errors.StreamResolveError` is a failed attempt, retried with back-off.
        clock: Monotonic clock, injectable for tests.
        sleep: Sleep function, called in slices of at most 50 ms so that ``close()`` cuts waits short; it must
            advance ``clock`` as a real sleep does.

    Raises:
        SourceError: A file that does not exist, is unreadable or has no decodable first frame.
        ValueError: Inconsistent arguments.
    """

    def __init__(
        self,
        url: str | int,
        *,
        loop: bool = False,
        max_fps: float | None = None,
        max_lag_s: float = 5.0,
        realtime: bool = False,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 5.0,
        resolve: Callable[[], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_fps is not None and not max_fps > 0:
            raise ValueError(f"max_fps must be > 0 or None, not {max_fps}")
        if not max_lag_s > 0:
            raise ValueError(f"max_lag_s must be > 0, not {max_lag_s}")
        if not 0 < reconnect_min_s <= reconnect_max_s:
            raise ValueError(f"need 0 < reconnect_min_s <= reconnect_max_s, got {reconnect_min_s}, {reconnect_max_s}")
        if not (open_timeout_s > 0 and read_timeout_s > 0):
            raise ValueError("open_timeout_s and read_timeout_s must be > 0")
        self._kind, self._target, self._device = _classify(url)
        # For logs and health, which leave the box: never a password.
        self.name = f"camera device {self._device}" if self._kind is _Kind.DEVICE else _redact(str(url))
        self._loop = loop and self._kind is _Kind.FILE
        self._realtime = realtime and self._kind is _Kind.FILE
        self._interval = None if max_fps is None else 1.0 / max_fps
        self._max_lag_s = max_lag_s
        self._reconnect = (reconnect_min_s, reconnect_max_s)
        self._timeouts_ms = (round(open_timeout_s * 1000), round(read_timeout_s * 1000))
        self._clock = clock
        self._sleep = sleep
        self._resolve = resolve if self._kind is _Kind.STREAM else None

        self._closed = threading.Event()
        self._io_lock = threading.Lock()  # held by read(); close() releases the capture only when it is free
        self._stats_lock = threading.Lock()  # counters and fps window, read by health() from other threads
        self._cap: cv2.VideoCapture | None = None
        self._pending: tuple[Image, float, float] | None = None  # first frame decoded at open: image, pos_ms, t
        # Counters (health).
        self._frames = self._dropped = self._behind = self._reconnects = self._loops = 0
        self._width = self._height = 0
        #: FourCC of the stream's codec as FFmpeg reports it (``h264``, ``hevc``, ``MJPG``...), once opened.
        self.codec = ""
        self._connected = False
        self._last_error = ""
        self._window: deque[float] = deque(maxlen=1024)
        # Stream state.
        self._attempted = False  # reconnects count the attempts after the very first one
        self._down_since: float | None = None
        self._logged_kinds: set[str] = set()
        self._stream_clock: StreamClock | None = None  # per connection
        self._last_t = -math.inf  # analysis time of the last live frame delivered
        self._opened_at = 0.0  # clock when the last open began
        # File timeline: position across loops, for the cap and real-time pacing.
        self._frame_s = 1.0 / _FALLBACK_FPS
        self._loop_offset = 0.0
        self._last_pos: float | None = None
        self._timeline: float | None = None
        self._anchor: tuple[float, float] | None = None  # (clock, timeline) of the first paced frame
        self._next_due: float | None = None  # cap: earliest timeline value of the next delivered frame

        if self._kind is _Kind.FILE:
            self._open_file()

    # -- public -----------------------------------------------------------------------------------------------

    def read(self) -> Frame | None:
        """Return the next frame, blocking while a live source is down.

        Returns:
            The next frame; None only once a non-looped file has ended or after :meth:`close`.

        Raises:
            SourceError: A looped file that can no longer be reopened (deleted or replaced while running).
        """
        if self._closed.is_set():
            return None
        with self._io_lock:
            frame = self._next_frame()
        if self._closed.is_set():
            self._release_if_idle()
            return None
        return frame

    def close(self) -> None:
        """Stop the source; safe from any thread, idempotent, never blocks on a running read."""
        self._closed.set()
        self._release_if_idle()

    def health(self) -> dict[str, float | int | bool | str]:
        """Counters for the box telemetry, under ``source.*`` keys; cheap and safe from any thread."""
        with self._stats_lock:
            horizon = self._clock() - _FPS_WINDOW_S
            while self._window and self._window[0] < horizon:
                self._window.popleft()
            span = self._window[-1] - self._window[0] if len(self._window) >= 2 else 0.0
            fps = (len(self._window) - 1) / span if span > 0 else 0.0
            return {
                "source.connected": self._connected,
                "source.fps": round(fps, 2),
                "source.frames": self._frames,
                "source.dropped": self._dropped,
                "source.behind": self._behind,
                "source.reconnects": self._reconnects,
                "source.loops": self._loops,
                "source.width": self._width,
                "source.height": self._height,
                "source.last_error": self._last_error,
            }

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- frame loop -------------------------------------------------------------------------------------------

    def _next_frame(self) -> Frame | None:
        while not self._closed.is_set():
            if self._cap is None and (self._kind is _Kind.FILE or not self._connect()):
                return None  # a file that ended, or closed while connecting
            cap = self._cap
            assert cap is not None
            image: Image | None = None
            if self._pending is not None:
                image, pos_ms, t = self._pending
                self._pending = None
            elif cap.grab():
                pos_ms, t = cap.get(cv2.CAP_PROP_POS_MSEC), self._clock()
            elif self._closed.is_set():
                return None  # the read timeout ended a read that close() was waiting for: not a drop
            else:
                self._lost(cap, "read", f"{self.name}: no frame for {self._timeouts_ms[1] / 1000:g} s or stream ended")
                continue
            pts, when, t, late = self._place(pos_ms, t)
            if late or not self._cap_allows(when) or not self._pace(when):
                if self._closed.is_set():
                    return None
                self._count_drop(late)
                continue
            if image is None:
                ok, raw = cap.retrieve()
                if not ok or raw is None:
                    self._lost(cap, "read", f"{self.name}: a grabbed frame could not be decoded")
                    continue
                image = np.asarray(raw, dtype=np.uint8)
            if self._kind is _Kind.FILE:
                t = self._clock()
            return self._deliver(image, t, pts, when)
        return None

    def _place(self, pos_ms: float, t: float) -> tuple[float | None, float, float, bool]:
        """Return ``(pts_s, timeline, t, late)``: files run on their own position, live sources on their
        timestamps (:class:`StreamClock`); ``late``: a live frame skipped to catch up with live."""
        if self._kind is not _Kind.FILE:
            clock = self._stream_clock
            assert clock is not None
            stamped = clock.stamped
            placed = clock.place(pos_ms / 1000.0, t)
            if stamped and not clock.stamped:
                self._next_due = None  # the cap's timeline changes from stream time to arrival time
                log.warning("%s: timestamps not used, frames capped on arrival time (%s)", self.name, clock.fallback)
            return None, placed.when, max(placed.t, self._last_t), placed.late
        pos = pos_ms / 1000.0
        if math.isfinite(pos) and pos >= 0 and (self._last_pos is None or pos > self._last_pos):
            self._last_pos = pos
            self._timeline = self._loop_offset + pos
            return pos, self._timeline, t, False
        # A container without usable timestamps: assume the nominal rate rather than stall the cap.
        self._timeline = self._loop_offset if self._timeline is None else self._timeline + self._frame_s
        return None, self._timeline, t, False

    def _cap_allows(self, when: float) -> bool:
        """Whether a frame at ``when`` fits under ``max_fps``.

        A quarter-interval tolerance keeps a jittery 10 fps camera capped at 5 fps at 5 fps (a frame 1 ms early is
        taken), and the schedule advances by whole intervals so the long-run rate never exceeds the cap.
        """
        return self._interval is None or self._next_due is None or when >= self._next_due - self._interval / 4

    def _pace(self, when: float) -> bool:
        """For real-time files, wait until the frame is due; False if it is already a frame late (skip it)."""
        if not self._realtime:
            return True
        now = self._clock()
        if self._anchor is None:
            self._anchor = (now, when)
        due = self._anchor[0] + (when - self._anchor[1])
        if now - due > self._frame_s:
            return False  # a live camera would have moved on: catch up instead of falling further behind
        if due > now:
            self._pause(due - now)
        return not self._closed.is_set()

    def _deliver(self, image: Image, t: float, pts: float | None, when: float) -> Frame:
        if self._interval is not None:
            due, step = self._next_due, self._interval
            # After a gap (reconnection, loop, slow consumer) restart the schedule instead of bursting to catch up.
            self._next_due = when + step if due is None or when - due >= step else due + step
        if self._kind is not _Kind.FILE:
            self._last_t = t
        with self._stats_lock:
            index = self._frames
            self._frames += 1
            self._window.append(self._clock())
        return Frame(index=index, t=t, pts_s=pts, image=image)

    def _count_drop(self, behind: bool = False) -> None:
        with self._stats_lock:
            self._dropped += 1
            self._behind += behind

    def _pause(self, seconds: float) -> None:
        """Sleep in slices so that :meth:`close` is honoured within ``_SLICE_S``; bounded even if the clock stalls."""
        deadline = self._clock() + seconds
        for _ in range(math.ceil(seconds / _SLICE_S) + 1):
            remaining = deadline - self._clock()
            if remaining <= 0 or self._closed.is_set():
                return
            self._sleep(min(remaining, _SLICE_S))

    # -- opening, losing, reconnecting ------------------------------------------------------------------------

    def _open(self) -> cv2.VideoCapture:
        """Open the capture and decode its first frame into ``_pending``; raise :class:`_OpenError` otherwise.

        The first frame is part of opening because FFmpeg "opens" files with a valid header and garbage after it,
        and servers that accept a connection but send nothing: neither is a working source.
        """
        started = self._clock()
        if self._kind is _Kind.DEVICE:
            # Open/read timeouts are FFmpeg-backend parameters; a local camera answers or fails at once.
            cap = cv2.VideoCapture(self._device, cv2.CAP_ANY)
        elif self._kind is _Kind.STREAM:
            target = self._stream_target()
            started = self._clock()
            if target.lower().startswith(("rtsp://", "rtsps://")):
                # Read by FFmpeg at each open; a box's operator may still choose otherwise in the environment.
                os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
            open_ms, read_ms = self._timeouts_ms
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, open_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_ms]
            cap = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
        else:
            cap = cv2.VideoCapture(self._target, cv2.CAP_FFMPEG)
        self._opened_at = started
        if not cap.isOpened():
            cap.release()
            raise self._open_failure(self._clock() - started)
        ok = cap.grab()
        pos_ms, t = cap.get(cv2.CAP_PROP_POS_MSEC), self._clock()
        raw = cap.retrieve()[1] if ok else None
        if raw is None or raw.size == 0:
            cap.release()
            raise _OpenError("no_frame", self._first_frame_failure())
        image = np.asarray(raw, dtype=np.uint8)
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
        self.codec = bytes((fourcc >> (8 * i)) & 0xFF for i in range(4)).decode("latin-1").strip("\x00 ")
        self._pending = (image, pos_ms, t)
        with self._stats_lock:
            self._height, self._width = image.shape[:2]
            self._connected = True
        return cap

    def _stream_target(self) -> str:
        """The URL to open: the configured one, or what ``resolve`` returns now (a failure is a failed attempt)."""
        if self._resolve is None:
            return self._target
        try:
            return self._resolve()
        except StreamResolveError as exc:
            raise _OpenError(exc.cause, f"cannot resolve {self.name}: {exc}") from exc

    def _open_failure(self, elapsed: float) -> _OpenError:
        """Word what OpenCV reports only as ``isOpened() == False``; the time taken tells a timeout from a refusal."""
        if self._kind is _Kind.FILE:
            return _OpenError("open", f"cannot open video file {self._target!r}: FFmpeg found no video stream in it "
                              "(not a video, or an unsupported container or codec)")
        if self._kind is _Kind.DEVICE:
            return _OpenError("open", f"cannot open camera device {self._device} (absent, unplugged or busy)")
        timeout = self._timeouts_ms[0] / 1000
        if elapsed >= 0.9 * timeout:
            return _OpenError("open_timeout", f"cannot open {self.name}: no answer within {timeout:g} s "
                              "(host down or unreachable, or a server that accepts and stays silent)")
        return _OpenError("open", f"cannot open {self.name}: failed after {elapsed:.2f} s (connection refused, "
                          "wrong path or credentials, or unsupported stream; FFmpeg's stderr line has the detail)")

    def _first_frame_failure(self) -> str:
        if self._kind is _Kind.FILE:
            return f"video file {self._target!r} opens but its first frame cannot be decoded (corrupt or truncated)"
        return f"{self.name} opened but sent no decodable frame within {self._timeouts_ms[1] / 1000:g} s"

    def _open_file(self) -> None:
        """Check and open a file at construction, turning every failure into a :class:`SourceError`."""
        path = Path(self._target)
        shown = repr(self._target) if path.is_absolute() else f"{self._target!r} (resolved: {path.resolve()})"
        if not path.exists():
            raise SourceError(f"video file {shown} does not exist")
        if not path.is_file():
            raise SourceError(f"video file {shown} is not a regular file")
        try:
            with path.open("rb") as fh:
                if not fh.read(1):
                    raise SourceError(f"video file {shown} is empty")
        except OSError as exc:
            raise SourceError(f"video file {shown} cannot be read: {exc.strerror or exc}") from exc
        try:
            self._cap = self._open()
        except _OpenError as exc:
            raise SourceError(str(exc)) from exc
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self._frame_s = 1.0 / fps if math.isfinite(fps) and 0 < fps <= 1000 else 1.0 / _FALLBACK_FPS

    def _connect(self) -> bool:
        """Open a live source, retrying with back-off until it works or :meth:`close` is called."""
        retrying = Retrying(
            retry=retry_if_exception_type(_OpenError),
            wait=wait_exponential_jitter(
                multiplier=self._reconnect[0], max=self._reconnect[1], jitter=self._reconnect[0]
            ),
            stop=lambda _rs: self._closed.is_set(),
            sleep=self._pause,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            self._cap = retrying(self._attempt)
        except _OpenError:
            return False  # only when closing: every other failure is retried
        return True

    def _attempt(self) -> cv2.VideoCapture:
        if self._closed.is_set():
            raise _OpenError("closed", "closed")
        if self._attempted:
            with self._stats_lock:
                self._reconnects += 1
        self._attempted = True
        try:
            cap = self._open()
        except _OpenError as exc:
            if self._down_since is None:
                self._down_since = self._clock()
            with self._stats_lock:
                self._last_error = str(exc)
            raise
        if self._down_since is not None:
            log.info("%s: connected after %.1f s without frames (%d reconnection attempts in total)",
                     self.name, self._clock() - self._down_since, self._reconnects)
        else:
            log.info("%s: connected, %dx%d", self.name, self._width, self._height)
        self._down_since = None
        self._logged_kinds.clear()
        fps = cap.get(cv2.CAP_PROP_FPS)
        nominal = 1.0 / fps if math.isfinite(fps) and 0 < fps <= 1000 else 1.0 / _FALLBACK_FPS
        self._stream_clock = StreamClock(nominal, self._max_lag_s, opened_at=self._opened_at)
        self._next_due = None  # each connection's timestamps start afresh
        return cap

    def _log_retry(self, rs: RetryCallState) -> None:
        """Log each kind of failure once per outage (a dead camera must not flood the box log), others at DEBUG."""
        exc = rs.outcome.exception() if rs.outcome is not None else None
        if not isinstance(exc, _OpenError) or exc.kind == "closed":
            return
        wait = rs.next_action.sleep if rs.next_action is not None else 0.0
        first = exc.kind not in self._logged_kinds
        self._logged_kinds.add(exc.kind)
        log.log(logging.WARNING if first else logging.DEBUG, "%s; retrying in %.2f s (back-off %g-%g s)%s",
                exc, wait, *self._reconnect, "" if first else f" [attempt {rs.attempt_number}]")

    def _lost(self, cap: cv2.VideoCapture, kind: str, message: str) -> None:
        """The capture gave no frame: a file ended (loop or stop), a live source dropped (reconnect on next turn)."""
        cap.release()
        self._cap = None
        if self._kind is _Kind.FILE:
            if not self._loop:
                with self._stats_lock:
                    self._connected = False
                return
            with self._stats_lock:
                self._loops += 1
            # Reopening costs under a millisecond here and does not depend on the container's seek support.
            self._loop_offset = (self._timeline or 0.0) + self._frame_s
            self._last_pos = None
            try:
                self._cap = self._open()
            except _OpenError as exc:
                with self._stats_lock:
                    self._connected = False
                    self._last_error = str(exc)
                raise SourceError(f"{exc} (reopening it after pass {self._loops})") from exc
            return
        with self._stats_lock:
            self._connected = False
            self._last_error = message
            frames = self._frames
        self._down_since = self._clock()
        if kind not in self._logged_kinds:
            self._logged_kinds.add(kind)
            log.warning("%s after %d frames; reconnecting", message, frames)

    def _release_if_idle(self) -> None:
        """Release the capture unless a read holds it; that read releases it itself when it sees the flag."""
        if not self._io_lock.acquire(blocking=False):
            return
        try:
            if self._cap is not None:
                self._cap.release()
                self._cap = None
            self._pending = None
            with self._stats_lock:
                self._connected = False
        finally:
            self._io_lock.release()
