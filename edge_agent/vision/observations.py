"""What the camera analytics observe: typed, frozen, in source-frame pixels and seconds.

Kept apart from :mod:`.analytics` (which decides when they happen) and from the wire
contract (which decides how they travel): :mod:`.wire_map` translates one into the other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "AnalyticsEvent",
    "Direction",
    "IntervalCounts",
    "LineCount",
    "LineCrossing",
    "Loitering",
    "Occupancy",
    "TrackEnd",
    "TrackNew",
    "ZoneCount",
    "ZoneEnter",
    "ZoneLeave",
]



class Direction(enum.IntEnum):
    """Sense of a line crossing; the value is the count's sign."""

    IN = 1
    OUT = -1


@dataclass(frozen=True)
class TrackNew:
    """A track was confirmed."""

    t: float
    track_id: int
    class_id: int
    box: tuple[float, float, float, float]
    score: float


@dataclass(frozen=True)
class TrackEnd:
    """A track was lost beyond the tracker's ``max_missed``."""

    t: float
    track_id: int
    class_id: int
    first_seen: float
    last_seen: float


@dataclass(frozen=True)
class ZoneEnter:
    """A track's foot point entered a zone (confirmed)."""

    t: float
    zone: str
    track_id: int
    class_id: int


@dataclass(frozen=True)
class ZoneLeave:
    """A track left a zone; ``lost`` when the track ended while inside it."""

    t: float
    zone: str
    track_id: int
    class_id: int
    dwell_s: float
    lost: bool = False


@dataclass(frozen=True)
class Occupancy:
    """A zone's population changed; ``counts`` is the whole new state as ``(class_id, n)``.

    Classes with no track are omitted, so an empty tuple means an empty zone.
    """

    t: float
    zone: str
    counts: tuple[tuple[int, int], ...]

    @property
    def total(self) -> int:
        """Tracks in the zone, all classes."""
        return sum(n for _, n in self.counts)


@dataclass(frozen=True)
class LineCrossing:
    """A track crossed a line once, in ``direction``."""

    t: float
    line: str
    track_id: int
    class_id: int
    direction: Direction


@dataclass(frozen=True)
class Loitering:
    """A track has stayed in a zone for at least the zone's ``loiter_s`` (once per visit)."""

    t: float
    zone: str
    track_id: int
    class_id: int
    dwell_s: float


@dataclass(frozen=True)
class ZoneCount:
    """Entries into one zone by one class during an interval."""

    zone: str
    class_id: int
    entries: int


@dataclass(frozen=True)
class LineCount:
    """Crossings of one line by one class during an interval."""

    line: str
    class_id: int
    crossings_in: int
    crossings_out: int


@dataclass(frozen=True)
class IntervalCounts:
    """Totals of a closed interval ``[t_start, t_end)``; rows with nothing to count are omitted.

    Emitted even when empty: "zero people" and "box not running" must look different.
    """

    t_start: float
    t_end: float
    zones: tuple[ZoneCount, ...]
    lines: tuple[LineCount, ...]


AnalyticsEvent = TrackNew | TrackEnd | ZoneEnter | ZoneLeave | Occupancy | LineCrossing | Loitering | IntervalCounts
