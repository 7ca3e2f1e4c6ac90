"""Which segments to destroy now: retention, legal holds and the disk quota, as a pure rule.

The order of the checks is the law's and the disk's:

1. a segment under a legal hold (a requisition's window) is never destroyed, whatever its age
   or the quota: extracts for a judicial procedure are the exception to L252-5;
2. a segment whose first image is ``retention`` old or older is destroyed (``expired``): at day
   30 exactly, not a day later. The retention is capped at 30 days here too, so a camera
   removed from the config, or a config that slipped past validation, cannot keep more;
3. while the remaining segments exceed the quota, the oldest not held go first (``quota``).

Held segments count towards the quota: if holds alone fill it, nothing more is evicted and the
recorder stops writing (its own free-space floor) rather than filling the disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from vigie_config.recording import MAX_RETENTION_DAYS

DAY_MS = 24 * 3600 * 1000
MAX_RETENTION_MS = MAX_RETENTION_DAYS * DAY_MS


@dataclass(frozen=True, order=True)
class Segment:
    """One segment file: camera name, the UTC interval of its images, its size on disk."""

    start_ms: int
    end_ms: int
    camera: str
    bytes: int


@dataclass(frozen=True)
class Hold:
    """A legal hold: the segments of ``cameras`` overlapping [start_ms, end_ms) are kept until it is released."""

    hold_id: str
    cameras: frozenset[str]
    start_ms: int
    end_ms: int

    def covers(self, seg: Segment) -> bool:
        return seg.camera in self.cameras and seg.start_ms < self.end_ms and seg.end_ms > self.start_ms


@dataclass(frozen=True)
class Destruction:
    segment: Segment
    reason: str  # "expired" | "quota"


def held(seg: Segment, holds: Iterable[Hold]) -> bool:
    return any(h.covers(seg) for h in holds)


def retention_ms(days: float) -> int:
    """A retention in ms, never above the legal cap."""
    return min(round(days * DAY_MS), MAX_RETENTION_MS)


def plan(segments: Sequence[Segment], now_ms: int, retention: Mapping[str, int], holds: Sequence[Hold],
         quota_bytes: int) -> list[Destruction]:
    """The segments to destroy at ``now_ms``, oldest first within each reason.

    Args:
        segments: every segment on disk.
        retention: ms per camera name; a camera not listed keeps the legal maximum.
        holds: the legal holds in force.
        quota_bytes: most bytes the segments may take.
    """
    out: list[Destruction] = []
    kept: list[Segment] = []
    for seg in sorted(segments):
        keep_ms = min(retention.get(seg.camera, MAX_RETENTION_MS), MAX_RETENTION_MS)
        if now_ms >= seg.start_ms + keep_ms and not held(seg, holds):
            out.append(Destruction(seg, "expired"))
        else:
            kept.append(seg)
    total = sum(s.bytes for s in kept)
    for seg in kept:  # oldest first
        if total <= quota_bytes:
            break
        if held(seg, holds):
            continue
        out.append(Destruction(seg, "quota"))
        total -= seg.bytes
    return out


def window(segments: Iterable[Segment], cameras: Iterable[str], start_ms: int, end_ms: int) -> list[Segment]:
    """Segments of ``cameras`` overlapping [start_ms, end_ms), by camera then time."""
    names = set(cameras)
    return sorted((s for s in segments if s.camera in names and s.start_ms < end_ms and s.end_ms > start_ms),
                  key=lambda s: (s.camera, s.start_ms))
