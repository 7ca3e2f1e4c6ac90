"""The agent's purge job: destroy what retention and the quota say, keep what a legal hold covers.

One job per box (``vigie-rec-purge``), in the agent's process, over every camera's folder: the
quota is the box's disk, not a camera's. Each run, under the store's lock, reads the holds,
plans with :func:`.retention.plan`, queues one :class:`vigie_wire.SegmentDestroyed` event per
segment in the durable outbox, *then* deletes the files. A crash in between at worst records a
destruction twice (the next run plans the same file again); it never destroys unrecorded.

Its status per camera (bytes, segments, oldest segment, retention, held segments, what it
destroyed) goes into the box's telemetry as ``rec.<camera>.*``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import vigie_wire as wire
from vigie_config.box import BoxConfig

from ..ports import EventSink
from .retention import MAX_RETENTION_MS, Destruction, held, plan, retention_ms
from .store import SegmentStore, StoreError

log = logging.getLogger("vigie.recording")


class PurgeJob:
    """Retention, holds and quota over one box's segment store."""

    def __init__(self, config: BoxConfig, store: SegmentStore, sink: EventSink,
                 clock: Callable[[], float] = time.time) -> None:
        assert config.recording is not None
        self.store = store
        self._settings = config.recording
        self._retention = {c.name: retention_ms(c.recording.retention_days) for c in config.cameras}
        self._sink = sink
        self._clock = clock
        self.destroyed: Counter[tuple[str, str]] = Counter()
        self.failures = 0
        self.runs = 0
        self._status: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[Destruction]:
        """One pass at the clock's time; returns what was destroyed."""
        now_ms = int(self._clock() * 1000)
        with self.store.locked():
            holds = self.store.holds()
            segments = self.store.segments()
            doomed = plan(segments, now_ms, self._retention, holds, self._settings.quota_bytes)
            if doomed:
                self._sink.emit_many([wire.SegmentDestroyed(d.segment.camera, d.segment.start_ms, d.segment.end_ms,
                                                            d.segment.bytes, d.reason) for d in doomed], now_ms)
                for d in doomed:
                    self.store.delete(d.segment)
                    self.destroyed[(d.segment.camera, d.reason)] += 1
        self.runs += 1
        gone = {d.segment for d in doomed}
        self._status = self._summary([s for s in segments if s not in gone], holds)
        return doomed

    def _summary(self, segments: list[Any], holds: list[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"rec.bytes": sum(s.bytes for s in segments), "rec.quota_bytes":
                               self._settings.quota_bytes, "rec.holds": len(holds),
                               "rec.purge_failures": self.failures}
        names = sorted(set(self._retention) | {s.camera for s in segments})
        for name in names:
            mine = [s for s in segments if s.camera == name]
            p = f"rec.{name}."
            out[p + "retention_days"] = self._retention.get(name, MAX_RETENTION_MS) / 86_400_000
            out[p + "bytes"] = sum(s.bytes for s in mine)
            out[p + "segments"] = len(mine)
            out[p + "oldest_ms"] = mine[0].start_ms if mine else None
            out[p + "held"] = sum(1 for s in mine if held(s, holds))
            out[p + "destroyed_expired"] = self.destroyed[(name, "expired")]
            out[p + "evicted_quota"] = self.destroyed[(name, "quota")]
        return out

    def status(self) -> dict[str, Any]:
        """Recording status for telemetry (as of the last run)."""
        return dict(self._status)

    # -- thread ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="vigie-rec-purge", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _serve(self) -> None:
        while True:
            try:
                self.run_once()
            except (StoreError, OSError) as exc:  # never purge blind; try again next time
                self.failures += 1
                log.warning("recording purge failed: %s", exc)
            if self._stop.wait(self._settings.purge_interval_s):
                return
