"""Zones, lines, loitering and periodic counts: tracker output in, typed events out.

Only changes are emitted ("send changes, not repeats"): an enter, a leave, an occupancy
count that moved, a crossing, one loitering alarm per visit, one count record per closed
interval. Another module maps these dataclasses to the wire contract.

Every position test uses the track's foot point (see :mod:`.geometry`). Two guards keep
a box that trembles on a boundary from producing a burst of events:

* zones: a Schmitt trigger (enter when more than ``zone_margin`` inside, leave when more
  than ``zone_margin`` outside) followed by a debounce of ``zone_confirm_frames``;
* lines: a crossing counts only when the foot point goes from more than ``line_margin`` on
  one side to more than ``line_margin`` on the other, *and* some step of the trajectory in
  between passed through the line's segment (not its infinite extension).

Margins are fractions of the track's box height, so they mean the same for a pedestrian
near the camera and one far down the street.

Occupancy leaves parked objects out: a stationary track (see :class:`.tracker.TrackerConfig`) of a
class in ``AnalyticsConfig.parked`` (vehicles, in the pipeline) leaves the count when it settles
and comes back when it drives off, so that a parked van neither keeps a street's lights boosted
nor inflates a count, while a person standing still still counts.
Its enter and leave events still happen (it did arrive and will leave); the camera's telemetry
counts them apart (``cam.N.stationary``).

Only observed positions (``Track.missed == 0``) move the state: a coasting track keeps its
zones (occupancy does not blink during a short occlusion) but never crosses a line on a
prediction alone.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from .geometry import Point, foot_point, segments_intersect, signed_distance_to_line, signed_distance_to_polygon
from .observations import (
    AnalyticsEvent,
    Direction,
    IntervalCounts,
    LineCount,
    LineCrossing,
    Loitering,
    Occupancy,
    TrackEnd,
    TrackNew,
    ZoneCount,
    ZoneEnter,
    ZoneLeave,
)
from .tracker import Track, TrackEventKind, TrackUpdate

# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Zone:
    """A named area of the ground, as a polygon in source pixels.

    Attributes:
        name: Unique among zones; carried by every zone event.
        polygon: Vertices in order, at least three.
        classes: Class ids that count in this zone; ``None`` means all.
        loiter_s: Dwell time after which a track loiters; ``None`` disables loitering here.
    """

    name: str
    polygon: tuple[Point, ...]
    classes: frozenset[int] | None = None
    loiter_s: float | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a zone needs a name")
        if len(self.polygon) < 3:
            raise ValueError(f"zone {self.name!r}: a polygon needs at least 3 points")
        if self.loiter_s is not None and self.loiter_s <= 0.0:
            raise ValueError(f"zone {self.name!r}: loiter_s must be > 0")

    def applies_to(self, class_id: int) -> bool:
        """Whether tracks of this class are watched in this zone."""
        return self.classes is None or class_id in self.classes


@dataclass(frozen=True)
class Line:
    """A named counting line (a segment A-B in source pixels) with an "in" direction.

    Attributes:
        name: Unique among lines.
        a, b: End points; the segment, not the infinite line, must be crossed.
        direction: ``"a_to_b"``: moving from the left of A→B to its right is ``IN`` (left
            and right as seen on screen by someone standing at A facing B). ``"b_to_a"``
            swaps them. Example: for A at the bottom and B at the top of a vertical line,
            ``"a_to_b"`` counts screen-left to screen-right as ``IN``.
        classes: Class ids counted on this line; ``None`` means all.
    """

    name: str
    a: Point
    b: Point
    direction: Literal["a_to_b", "b_to_a"] = "a_to_b"
    classes: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a line needs a name")
        if self.a == self.b:
            raise ValueError(f"line {self.name!r}: a and b must differ")
        if self.direction not in ("a_to_b", "b_to_a"):
            raise ValueError(f"line {self.name!r}: direction must be 'a_to_b' or 'b_to_a'")

    def applies_to(self, class_id: int) -> bool:
        """Whether tracks of this class are counted on this line."""
        return self.classes is None or class_id in self.classes


@dataclass(frozen=True)
class AnalyticsConfig:
    """Zones, lines and the anti-flicker settings.

    Attributes:
        zone_confirm_frames: Consecutive observations needed to confirm an enter or a leave.
        zone_margin: Schmitt margin around a zone's boundary, in box heights.
        line_margin: Distance from a line a foot point must reach to count as on a side,
            in box heights.
        interval_s: Length of a counting interval; intervals are aligned on multiples of it
            (``60`` → whole minutes), so counts from several boxes line up.
        parked: Class ids whose stationary tracks leave the occupancy (``None``: every class).
            Vehicles, in the pipeline: a parked car is not traffic, while a person waiting
            under a light is still someone the light and a crowd count are for.
    """

    zones: tuple[Zone, ...] = ()
    lines: tuple[Line, ...] = ()
    zone_confirm_frames: int = 2
    zone_margin: float = 0.0
    line_margin: float = 0.1
    interval_s: float = 60.0
    parked: frozenset[int] | None = None

    def __post_init__(self) -> None:
        for kind, names in (("zone", [z.name for z in self.zones]), ("line", [ln.name for ln in self.lines])):
            dupes = sorted(n for n, c in Counter(names).items() if c > 1)
            if dupes:
                raise ValueError(f"duplicate {kind} names: {dupes}")
        if self.zone_confirm_frames < 1:
            raise ValueError("zone_confirm_frames must be >= 1")
        if self.zone_margin < 0.0 or self.line_margin < 0.0:
            raise ValueError("margins must be >= 0")
        if self.interval_s <= 0.0:
            raise ValueError("interval_s must be > 0")


# --------------------------------------------------------------------------- pure steps


@dataclass(frozen=True)
class ZoneMembership:
    """Debounced membership of one track in one zone."""

    inside: bool = False
    streak: int = 0


def zone_step(m: ZoneMembership, distance: float, margin: float, confirm_frames: int) -> ZoneMembership:
    """Next membership after one observation at ``distance`` (positive inside) from the boundary.

    An observation *contradicts* the current state when it is beyond the margin on the
    other side; ``confirm_frames`` contradicting observations in a row flip the state.
    Anything else (agreeing, or inside the margin band) resets the streak.
    """
    contradicts = distance < -margin if m.inside else distance > margin
    if not contradicts:
        return ZoneMembership(m.inside, 0)
    if m.streak + 1 >= confirm_frames:
        return ZoneMembership(not m.inside, 0)
    return ZoneMembership(m.inside, m.streak + 1)


@dataclass(frozen=True)
class LineSide:
    """Where a track stands with respect to one line.

    Attributes:
        side: Last side reached beyond the margin (``+1`` right of A→B, ``-1`` left), ``0`` not yet.
        through: Some trajectory step since then passed through the segment.
    """

    side: int = 0
    through: bool = False


#: The state of a track that has not reached either side of a line yet (frozen, so shared).
_NO_SIDE = LineSide()


def line_step(
    s: LineSide, prev: Point | None, point: Point, line: Line, margin_px: float
) -> tuple[LineSide, Direction | None]:
    """Next line state after the foot point moved from ``prev`` to ``point``, and the crossing if any."""
    through = s.through or (prev is not None and segments_intersect(prev, point, line.a, line.b))
    d = signed_distance_to_line(point, line.a, line.b)
    side = 1 if d > margin_px else -1 if d < -margin_px else 0
    if side == 0:
        return LineSide(s.side, through), None
    crossing: Direction | None = None
    if through and s.side not in (0, side):
        left_to_right = side > 0
        inbound = left_to_right if line.direction == "a_to_b" else not left_to_right
        crossing = Direction.IN if inbound else Direction.OUT
    return LineSide(side, False), crossing


def interval_start(t: float, interval_s: float) -> float:
    """Start of the aligned interval containing ``t``."""
    return math.floor(t / interval_s) * interval_s


# --------------------------------------------------------------------------- the stateful engine


@dataclass
class _Visit:
    membership: ZoneMembership = field(default_factory=ZoneMembership)
    since: float = 0.0
    loitered: bool = False


@dataclass
class _TrackState:
    class_id: int
    last_point: Point | None = None
    visits: dict[str, _Visit] = field(default_factory=dict)
    lines: dict[str, LineSide] = field(default_factory=dict)
    parked: bool = False


class Analytics:
    """Feeds tracker updates through the zones and lines of one camera.

    Call :meth:`update` after every tracker update, and :meth:`tick` on frames where the
    detector did not run, so that intervals close and loitering fires on time.
    """

    def __init__(self, config: AnalyticsConfig) -> None:
        self.config = config
        self._tracks: dict[int, _TrackState] = {}
        self._occupancy: dict[str, tuple[tuple[int, int], ...]] = {z.name: () for z in config.zones}
        self._t: float | None = None
        self._interval: float | None = None
        self._entries: Counter[tuple[str, int]] = Counter()
        self._crossings: Counter[tuple[str, int, Direction]] = Counter()

    def occupancy(self, zone: str) -> tuple[tuple[int, int], ...]:
        """Current ``(class_id, n)`` counts of a zone, as last emitted (parked tracks left out)."""
        return self._occupancy[zone]

    def tick(self, t: float) -> tuple[AnalyticsEvent, ...]:
        """Time-driven events only: closed intervals and loitering."""
        events = self._advance(t)
        events += self._loitering(t)
        return tuple(events)

    def update(self, u: TrackUpdate) -> tuple[AnalyticsEvent, ...]:
        """Events caused by one tracker update, in a stable order.

        Order: closed intervals (they precede ``u.t``), new tracks, zone and line events by
        track id, leaves and ends of lost tracks, loitering, occupancy changes.
        """
        t = u.t
        events = self._advance(t)
        for tr in u.of_kind(TrackEventKind.NEW):
            events.append(TrackNew(t, tr.track_id, tr.class_id, (tr.x0, tr.y0, tr.x1, tr.y1), tr.score))
            self._tracks[tr.track_id] = _TrackState(tr.class_id)
        for tr in u.tracks:
            if tr.missed == 0:
                events += self._observe(tr, t)
        for tr in u.of_kind(TrackEventKind.END):
            events += self._end(tr, t)
        events += self._loitering(t)
        events += self._occupancy_changes(t)
        return tuple(events)

    # ----------------------------------------------------------------------- internals

    def _advance(self, t: float) -> list[AnalyticsEvent]:
        if self._t is not None and t < self._t:
            raise ValueError(f"time went backwards: {t} < {self._t}")
        self._t = t
        step = self.config.interval_s
        events: list[AnalyticsEvent] = []
        if self._interval is None:
            self._interval = interval_start(t, step)
        elif t >= self._interval + step:
            events.append(self._close_interval(self._interval, self._interval + step))
            # Intervals skipped entirely (pipeline stopped) are not reported as zero.
            self._interval = interval_start(t, step)
        return events

    def _close_interval(self, start: float, end: float) -> IntervalCounts:
        zones = tuple(ZoneCount(z, c, n) for (z, c), n in sorted(self._entries.items()))
        keys = sorted({(ln, c) for ln, c, _ in self._crossings})
        lines = tuple(
            LineCount(ln, c, self._crossings[(ln, c, Direction.IN)], self._crossings[(ln, c, Direction.OUT)])
            for ln, c in keys
        )
        self._entries.clear()
        self._crossings.clear()
        return IntervalCounts(start, end, zones, lines)

    def _observe(self, tr: Track, t: float) -> list[AnalyticsEvent]:
        cfg = self.config
        st = self._tracks.get(tr.track_id)
        if st is None:  # not built ahead for the lookup: this runs per track and frame
            st = self._tracks[tr.track_id] = _TrackState(tr.class_id)
        st.class_id = tr.class_id  # the tracker's vote may settle a van on "truck" after a few "car" frames
        st.parked = tr.stationary and (cfg.parked is None or tr.class_id in cfg.parked)
        p = foot_point(tr)
        height = max(tr.y1 - tr.y0, 1.0)
        events: list[AnalyticsEvent] = []
        for zone in cfg.zones:
            if not zone.applies_to(tr.class_id):
                continue
            visit = st.visits.get(zone.name)
            if visit is None:
                visit = st.visits[zone.name] = _Visit()
            d = signed_distance_to_polygon(p, zone.polygon)
            m = zone_step(visit.membership, d, cfg.zone_margin * height, cfg.zone_confirm_frames)
            if m.inside and not visit.membership.inside:
                visit.since, visit.loitered = t, False
                events.append(ZoneEnter(t, zone.name, tr.track_id, tr.class_id))
                self._entries[(zone.name, tr.class_id)] += 1
            elif visit.membership.inside and not m.inside:
                events.append(ZoneLeave(t, zone.name, tr.track_id, tr.class_id, t - visit.since))
            visit.membership = m
        for line in cfg.lines:
            if not line.applies_to(tr.class_id):
                continue
            state, crossing = line_step(
                st.lines.get(line.name, _NO_SIDE), st.last_point, p, line, cfg.line_margin * height
            )
            st.lines[line.name] = state
            if crossing is not None:
                events.append(LineCrossing(t, line.name, tr.track_id, tr.class_id, crossing))
                self._crossings[(line.name, tr.class_id, crossing)] += 1
        st.last_point = p
        return events

    def _end(self, tr: Track, t: float) -> list[AnalyticsEvent]:
        st = self._tracks.pop(tr.track_id, None)
        events: list[AnalyticsEvent] = []
        if st is not None:
            for name, visit in st.visits.items():
                if visit.membership.inside:
                    events.append(ZoneLeave(t, name, tr.track_id, tr.class_id, t - visit.since, lost=True))
        events.append(TrackEnd(t, tr.track_id, tr.class_id, tr.first_seen, tr.last_seen))
        return events

    def _loitering(self, t: float) -> list[AnalyticsEvent]:
        events: list[AnalyticsEvent] = []
        for zone in self.config.zones:
            if zone.loiter_s is None:
                continue
            for track_id, st in sorted(self._tracks.items()):
                visit = st.visits.get(zone.name)
                if visit and visit.membership.inside and not visit.loitered and t - visit.since >= zone.loiter_s:
                    visit.loitered = True
                    events.append(Loitering(t, zone.name, track_id, st.class_id, t - visit.since))
        return events

    def _occupancy_changes(self, t: float) -> list[AnalyticsEvent]:
        events: list[AnalyticsEvent] = []
        for zone in self.config.zones:
            per_class: Counter[int] = Counter(
                st.class_id
                for st in self._tracks.values()
                if (v := st.visits.get(zone.name)) is not None and v.membership.inside and not st.parked
            )
            counts = tuple(sorted(per_class.items()))
            if counts != self._occupancy[zone.name]:
                self._occupancy[zone.name] = counts
                events.append(Occupancy(t, zone.name, counts))
        return events
