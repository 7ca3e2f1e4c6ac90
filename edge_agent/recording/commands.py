"""Commands of the recording role, sent by the coordinator for a requisition.

* ``recording.hold`` ``{hold_id, cameras, start_ms, end_ms}``: keep the segments of these
  cameras overlapping the window, past their retention and the quota, until released.
* ``recording.release`` ``{hold_id}``: the hold ends; the next purge applies retention again.
* ``recording.upload`` ``{hold_id, cameras, start_ms, end_ms}``: send the window's segments to
  the coordinator (:mod:`.upload`). The box also holds the window first, so nothing of it
  expires while it is on its way. The upload runs in its own thread (``vigie-rec-upload``);
  the ack says how many segments were queued.

An ``applied`` ack ends the coordinator's part: it neither re-sends nor follows the command. So
the box saves the upload job in its recording folder *before* acknowledging it, forgets it only
once every segment of the window is uploaded, and takes up the jobs it finds when it starts
(:meth:`RecordingCommands.resume`): a box restarted mid-upload (power cut, update, watchdog)
uploads the rest, resuming the segment it was sending where the coordinator's copy ends. A job
with a segment that failed (the coordinator refused it, or stayed unreachable through every
retry) stays saved and is tried again at the next start.

``cameras`` are camera names of this box. A malformed command is ``invalid`` with the reason.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import vigie_wire as wire

from .retention import Hold, window
from .store import SegmentStore, StoreError
from .upload import Uploader, UploadReport

log = logging.getLogger("vigie.recording")

AckTuple = tuple[str, str, dict[str, Any]]
NAMES = ("recording.hold", "recording.release", "recording.upload")


def _window_args(args: dict[str, Any], names: set[str]) -> Hold:
    hold_id, cameras = args.get("hold_id"), args.get("cameras")
    start, end = args.get("start_ms"), args.get("end_ms")
    if not isinstance(hold_id, str) or not isinstance(cameras, list) or not cameras:
        raise ValueError("needs hold_id (text) and cameras (a non-empty list of camera names)")
    if type(start) is not int or type(end) is not int or end <= start:
        raise ValueError("needs start_ms and end_ms (integers, end after start)")
    unknown = sorted(str(c) for c in cameras if c not in names)
    if unknown:
        raise ValueError(f"no such camera on this box: {', '.join(unknown)}")
    return Hold(hold_id, frozenset(cameras), start, end)


class RecordingCommands:
    """Handles ``recording.*`` commands against the box's store."""

    def __init__(self, store: SegmentStore, cameras: list[str], uploader: Uploader | None,
                 on_report: Callable[[UploadReport], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        self._names = set(cameras)
        self._uploader = uploader
        self._on_report = on_report
        self._jobs: queue.Queue[Hold] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.reports: list[UploadReport] = []

    def handle(self, cmd: wire.Command) -> AckTuple:
        if cmd.expires < int(self._clock() * 1000):
            return wire.AckResult.REJECTED_EXPIRED, "the command expired before it arrived", {}
        try:
            if cmd.name == "recording.release":
                hold_id = cmd.args.get("hold_id")
                if not isinstance(hold_id, str):
                    raise ValueError("needs hold_id (text)")
                released = self.store.release_hold(hold_id)
                if released is None:
                    return wire.AckResult.APPLIED, f"no hold {hold_id} in force", {"released": False}
                return wire.AckResult.APPLIED, "", {"released": True}
            hold = _window_args(cmd.args, self._names)
            segs = len(window(self.store.segments(), hold.cameras, hold.start_ms, hold.end_ms))
            self.store.set_hold(hold)
            if cmd.name == "recording.hold":
                return wire.AckResult.APPLIED, "", {"held_segments": segs}
            if cmd.name == "recording.upload":
                if self._uploader is None:
                    return wire.AckResult.UNSUPPORTED, "no upload_url/token_file in the box's recording config", {}
                try:
                    self.store.add_upload(hold)  # before the ack: an acknowledged job outlives a restart
                except OSError as exc:
                    return wire.AckResult.FAILED, f"the upload job could not be saved: {exc}"[:512], {}
                self._jobs.put(hold)
                self._ensure_thread()
                return wire.AckResult.APPLIED, "", {"queued_segments": segs}
        except (ValueError, StoreError) as exc:
            return wire.AckResult.INVALID, str(exc)[:512], {}
        return wire.AckResult.UNSUPPORTED, f"unknown recording command {cmd.name}", {}

    def resume(self) -> int:
        """Queue the upload jobs saved by an earlier run of the box; returns how many."""
        if self._uploader is None:
            return 0
        try:
            jobs = self.store.pending_uploads()
        except StoreError as exc:
            log.error("pending uploads not resumed: %s", exc)
            return 0
        for job in jobs:
            log.info("hold %s: resuming its upload (%s, %d-%d)", job.hold_id, ", ".join(sorted(job.cameras)),
                     job.start_ms, job.end_ms)
            self._jobs.put(job)
        if jobs:
            self._ensure_thread()
        return len(jobs)

    @property
    def pending(self) -> int:
        """Upload jobs accepted and not finished."""
        try:
            return len(self.store.pending_uploads())
        except StoreError:
            return -1

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="vigie-rec-upload", daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        assert self._uploader is not None
        while True:  # a daemon thread: it lives as long as the agent
            hold = self._jobs.get()
            report = self._uploader.upload_window(sorted(hold.cameras), hold.start_ms, hold.end_ms)
            log.info("hold %s: %d segments uploaded (%d bytes, %d resumptions, %d failed)", hold.hold_id,
                     len(report.segments), report.bytes, report.resumed, len(report.failed))
            if not report.failed:
                try:
                    self.store.finish_upload(hold)
                except (StoreError, OSError) as exc:
                    log.error("hold %s: uploaded, but its job could not be cleared (sent again at the next "
                              "start, the coordinator keeps one copy): %s", hold.hold_id, exc)
            self.reports.append(report)
            if self._on_report is not None:
                self._on_report(report)
