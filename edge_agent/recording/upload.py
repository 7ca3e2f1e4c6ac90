"""Sending the segments of a requisition's window to the coordinator, resumably, with the box's token.

Why HTTPS chunks rather than MQTT: segments are megabytes, the broker is sized for events of
tens of bytes, and the coordinator's resumable upload already checks each chunk's SHA-256 and
the whole file's before publishing it (``PUT /segments/<site>/<device>/<camera>/<start>-<end>.mp4``,
see ``coordinator/evidence/upload.py``). The box decrypts each segment in memory, never on disk,
so the file the coordinator gets is byte for byte the MP4 that was recorded.

After a broken connection or a 5xx, the uploader asks the coordinator how many bytes it holds
(``GET`` on the same path) and resumes from there, with exponential back-off; a 409 carries the
same answer. Only a refusal that repeating cannot fix (400, 401, 403) fails the segment.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import EdgeError
from .retention import Segment, window
from .store import SegmentStore

log = logging.getLogger("vigie.recording.upload")


class UploadError(EdgeError):
    """The coordinator refused a segment for good (bad token, not this box's camera...)."""


@dataclass
class UploadReport:
    """What one window's upload did."""

    segments: list[Segment] = field(default_factory=list)
    bytes: int = 0
    resumed: int = 0
    failed: list[str] = field(default_factory=list)


class Uploader:
    """Uploads segments of this box to ``base_url`` (``https://centre/api/v1``)."""

    def __init__(self, store: SegmentStore, base_url: str, token: str, site: str, device: str, *,
                 chunk_bytes: int = 1024**2, timeout_s: float = 30.0, attempts: int = 8,
                 backoff_s: tuple[float, float] = (0.5, 30.0), sleep: Callable[[float], None] = time.sleep) -> None:
        self.store = store
        self._base = base_url.rstrip("/")
        self._token = token
        self._site = site
        self._device = device
        self._chunk = chunk_bytes
        self._timeout = timeout_s
        self._attempts = attempts
        self._backoff = backoff_s
        self._sleep = sleep
        self.interruptions = 0
        self.uploaded = 0
        self._lock = threading.Lock()

    def url(self, seg: Segment) -> str:
        return f"{self._base}/segments/{self._site}/{self._device}/{seg.camera}/{seg.start_ms}-{seg.end_ms}.mp4"

    def _request(self, method: str, url: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(url, data=body, method=method, headers={
            "Authorization": f"Bearer {self._token}", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                payload = json.loads(exc.read() or b"{}")
            except ValueError:
                payload = {}
            return exc.code, payload

    def _held(self, url: str) -> tuple[int, bool]:
        status, body = self._request("GET", url)
        if status != 200:
            raise _RetryableError(f"status of {url}: HTTP {status}") if status >= 500 else UploadError(
                f"{url}: HTTP {status}: {body}")
        return int(body["received"]), bool(body["complete"])

    def upload(self, seg: Segment) -> int:
        """Upload one segment (resuming whatever the coordinator holds); returns bytes sent."""
        mp4 = b"".join(self.store.plain(seg))
        whole = hashlib.sha256(mp4).hexdigest()
        url = self.url(seg)
        sent = 0
        delay = self._backoff[0]
        for attempt in range(self._attempts):
            try:
                held, complete = self._held(url)
                if attempt:
                    self.interruptions += 1
                    log.info("resuming %s at byte %d of %d", url, held, len(mp4))
                while not complete:
                    piece = mp4[held:held + self._chunk]
                    status, body = self._request("PUT", url, piece, {
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"bytes {held}-{held + len(piece) - 1}/{len(mp4)}",
                        "X-Chunk-SHA256": hashlib.sha256(piece).hexdigest(), "X-File-SHA256": whole})
                    if status in (200, 201):
                        held, complete = int(body["received"]), bool(body["complete"])
                        sent += len(piece)
                    elif status in (409, 422) or status >= 500:  # the next attempt asks where to resume
                        raise _RetryableError(f"PUT {url}: HTTP {status}")
                    else:
                        raise UploadError(f"PUT {url}: HTTP {status}: {body}")
                self.uploaded += 1
                return sent
            except (_RetryableError, OSError, http.client.HTTPException, ValueError, KeyError) as exc:
                log.warning("upload of %s interrupted (%s); retrying in %.1f s", url, exc, delay)
                self._sleep(delay)
                delay = min(delay * 2, self._backoff[1])
        raise UploadError(f"{url}: not uploaded after {self._attempts} attempts")

    def upload_window(self, cameras: Iterable[str], start_ms: int, end_ms: int) -> UploadReport:
        """Upload every segment of ``cameras`` overlapping the window, camera by camera, oldest first."""
        report = UploadReport()
        with self._lock:  # one window at a time: the box's uplink is shared with its events
            before = self.interruptions
            for seg in window(self.store.segments(), cameras, start_ms, end_ms):
                try:
                    report.bytes += self.upload(seg)
                    report.segments.append(seg)
                except UploadError as exc:
                    log.error("segment not uploaded: %s", exc)
                    report.failed.append(str(exc))
            report.resumed = self.interruptions - before
        return report


class _RetryableError(Exception):
    """A failure that a later attempt may not meet (5xx, 409 with the coordinator's offset)."""
