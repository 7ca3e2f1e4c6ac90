"""Zones, lines, loitering and interval counts on scripted tracks; plus the geometry they rest on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from edge_agent.vision.analytics import (
    Analytics,
    AnalyticsConfig,
    AnalyticsEvent,
    Direction,
    IntervalCounts,
    Line,
    LineCount,
    LineCrossing,
    Loitering,
    Occupancy,
    TrackEnd,
    TrackNew,
    Zone,
    ZoneCount,
    ZoneEnter,
    ZoneLeave,
    ZoneMembership,
    zone_step,
)
from edge_agent.vision.geometry import (
    Point,
    point_in_polygon,
    segments_intersect,
    side_of_line,
    signed_distance_to_polygon,
)
from edge_agent.vision.tracker import Track, Tracker, TrackerConfig, TrackEvent, TrackEventKind, TrackUpdate

PERSON, CAR = 0, 2
E = TypeVar("E")
H = 100.0  # box height of every scripted track; line_margin 0.1 -> 10 px

#: Vertical line x = 200 drawn bottom (A) to top (B): with "a_to_b", screen left -> right is IN.
GATE = Line("gate", a=(200.0, 400.0), b=(200.0, 0.0), direction="a_to_b")
#: A square zone on the ground, x and y in 100..300.
SQUARE = Zone("square", ((100.0, 100.0), (300.0, 100.0), (300.0, 300.0), (100.0, 300.0)))


def box_at(foot: Point, h: float = H, w: float = 40.0) -> tuple[float, float, float, float]:
    x, y = foot
    return (x - w / 2.0, y - h, x + w / 2.0, y)


@dataclass
class Script:
    """Builds the ``TrackUpdate`` a tracker would return, one frame at a time.

    Tracks listed in ``seen`` are observed now; ids in ``coasting`` keep their last box as
    missed; any other live track ends. Lets these tests drive analytics exactly.
    """

    live: dict[int, Track] = field(default_factory=dict)

    def frame(self, t: float, seen: Mapping[int, tuple[int, Point]], coasting: Iterable[int] = ()) -> TrackUpdate:
        events: list[TrackEvent] = []
        coasting = set(coasting)
        for tid in sorted(set(self.live) - set(seen) - coasting):
            events.append(TrackEvent(TrackEventKind.END, self.live.pop(tid)))
        for tid in coasting:
            self.live[tid] = replace(self.live[tid], missed=self.live[tid].missed + 1)
        for tid, (cls, foot) in sorted(seen.items()):
            x0, y0, x1, y1 = box_at(foot)
            old = self.live.get(tid)
            track = Track(
                tid,
                cls,
                x0,
                y0,
                x1,
                y1,
                0.9,
                0.0,
                0.0,
                (old.hits + 1) if old else 1,
                0,
                old.first_seen if old else t,
                t,
            )
            kind = TrackEventKind.UPDATE if old else TrackEventKind.NEW
            self.live[tid] = track
            events.append(TrackEvent(kind, track))
        return TrackUpdate(t, tuple(sorted(self.live.values(), key=lambda tr: tr.track_id)), tuple(events))


def feed(
    analytics: Analytics,
    script: Script,
    frames: Sequence[Mapping[int, tuple[int, Point]]],
    dt: float = 0.1,
    t0: float = 0.0,
) -> list[AnalyticsEvent]:
    out: list[AnalyticsEvent] = []
    for i, seen in enumerate(frames):
        out += analytics.update(script.frame(t0 + i * dt, seen))
    return out


def of(events: Iterable[AnalyticsEvent], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def walk(tid: int, cls: int, xs: Iterable[float], y: float = 200.0) -> list[dict[int, tuple[int, Point]]]:
    return [{tid: (cls, (x, y))} for x in xs]


# --------------------------------------------------------------------------- lines


def test_box_moving_left_to_right_across_the_line_counts_one_in_crossing_with_its_class() -> None:
    a = Analytics(AnalyticsConfig(lines=(GATE,)))
    events = feed(a, Script(), walk(7, CAR, range(100, 301, 10)))
    crossings = of(events, LineCrossing)
    assert [(c.line, c.track_id, c.class_id, c.direction) for c in crossings] == [("gate", 7, CAR, Direction.IN)]
    assert crossings[0].t == pytest.approx(1.2)  # first foot point more than 10 px past the line: x = 220


def test_coming_back_across_the_line_counts_once_in_the_other_direction() -> None:
    a = Analytics(AnalyticsConfig(lines=(GATE,)))
    xs = [*range(100, 301, 10), *range(300, 99, -10)]
    crossings = of(feed(a, Script(), walk(1, PERSON, xs)), LineCrossing)
    assert [c.direction for c in crossings] == [Direction.IN, Direction.OUT]


def test_b_to_a_line_counts_the_same_walk_as_out() -> None:
    a = Analytics(AnalyticsConfig(lines=(replace(GATE, direction="b_to_a"),)))
    crossings = of(feed(a, Script(), walk(1, PERSON, range(100, 301, 10))), LineCrossing)
    assert [c.direction for c in crossings] == [Direction.OUT]


def test_two_persons_crossing_in_opposite_directions_at_once_count_one_each_way() -> None:
    a = Analytics(AnalyticsConfig(lines=(GATE,)))
    frames = [{1: (PERSON, (100.0 + 10 * i, 150.0)), 2: (PERSON, (300.0 - 10 * i, 250.0))} for i in range(21)]
    crossings = of(feed(a, Script(), frames), LineCrossing)
    assert sorted((c.track_id, c.direction) for c in crossings) == [(1, Direction.IN), (2, Direction.OUT)]


def test_box_jittering_on_the_line_counts_no_crossing_until_it_really_crosses() -> None:
    a = Analytics(AnalyticsConfig(lines=(GATE,)))
    xs = [150.0, 180.0] + [196.0, 205.0, 193.0, 207.0] * 10 + [230.0, 260.0]
    crossings = of(feed(a, Script(), walk(1, PERSON, xs)), LineCrossing)
    assert [c.direction for c in crossings] == [Direction.IN]


def test_without_a_margin_the_same_jitter_counts_many_crossings() -> None:
    """The margin is what makes the test above pass: without it, each jitter counts."""
    a = Analytics(AnalyticsConfig(lines=(GATE,), line_margin=0.0))
    xs = [150.0, 180.0] + [196.0, 205.0, 193.0, 207.0] * 10 + [230.0, 260.0]
    assert len(of(feed(a, Script(), walk(1, PERSON, xs)), LineCrossing)) > 10


def test_passing_beyond_the_end_of_the_segment_is_not_a_crossing() -> None:
    short = Line("short", a=(200.0, 400.0), b=(200.0, 250.0))
    a = Analytics(AnalyticsConfig(lines=(short,)))
    assert of(feed(a, Script(), walk(1, PERSON, range(100, 301, 10), y=200.0)), LineCrossing) == []


def test_a_coasting_track_does_not_cross_on_its_prediction_alone() -> None:
    a = Analytics(AnalyticsConfig(lines=(GATE,)))
    script = Script()
    events: list[AnalyticsEvent] = []
    events += a.update(script.frame(0.0, {1: (PERSON, (150.0, 200.0))}))
    script.live[1] = replace(script.live[1], x0=230.0, x1=270.0)  # the prediction moved past the line
    events += a.update(script.frame(0.1, {}, coasting=[1]))
    assert of(events, LineCrossing) == []
    events += a.update(script.frame(0.2, {1: (PERSON, (260.0, 200.0))}))
    assert [(c.t, c.direction) for c in of(events, LineCrossing)] == [(0.2, Direction.IN)]


def test_line_ignores_classes_it_does_not_count() -> None:
    a = Analytics(AnalyticsConfig(lines=(replace(GATE, classes=frozenset({CAR})),)))
    assert of(feed(a, Script(), walk(1, PERSON, range(100, 301, 10))), LineCrossing) == []


# --------------------------------------------------------------------------- zones


def test_zone_enter_and_leave_once_each_despite_a_flickering_boundary() -> None:
    a = Analytics(AnalyticsConfig(zones=(SQUARE,), zone_confirm_frames=2))
    xs = [50.0, 80.0, 95.0, 105.0, 95.0, 105.0, 95.0, 120.0, 150.0, 200.0, 95.0, 200.0, 250.0, 310.0, 350.0]
    events = feed(a, Script(), walk(3, PERSON, xs))
    enters, leaves = of(events, ZoneEnter), of(events, ZoneLeave)
    assert [(e.zone, e.track_id, round(e.t, 6)) for e in enters] == [("square", 3, 0.8)]
    assert [(e.zone, e.track_id, round(e.t, 6), e.lost) for e in leaves] == [("square", 3, 1.4, False)]
    assert leaves[0].dwell_s == pytest.approx(0.6)
    assert [o.counts for o in of(events, Occupancy)] == [((PERSON, 1),), ()]


def test_zone_margin_keeps_a_box_hovering_at_the_edge_out() -> None:
    a = Analytics(AnalyticsConfig(zones=(SQUARE,), zone_confirm_frames=1, zone_margin=0.1))
    events = feed(a, Script(), walk(1, PERSON, [95.0, 105.0, 108.0, 95.0, 115.0]))
    assert [e.t for e in of(events, ZoneEnter)] == [pytest.approx(0.4)]


def test_occupancy_is_emitted_only_when_the_counts_change() -> None:
    a = Analytics(AnalyticsConfig(zones=(SQUARE,), zone_confirm_frames=1))
    script = Script()
    inside, outside = (200.0, 200.0), (400.0, 200.0)
    frames: list[dict[int, tuple[int, Point]]] = (
        [{1: (PERSON, inside)}] * 5
        + [{1: (PERSON, inside), 2: (CAR, inside)}] * 5
        + [{1: (PERSON, inside), 2: (CAR, inside), 3: (PERSON, inside)}] * 5
        + [{1: (PERSON, outside), 2: (CAR, inside), 3: (PERSON, inside)}] * 5
    )
    occupancy = of(feed(a, script, frames), Occupancy)
    assert [(round(o.t, 1), o.counts) for o in occupancy] == [
        (0.0, ((PERSON, 1),)),
        (0.5, ((PERSON, 1), (CAR, 1))),
        (1.0, ((PERSON, 2), (CAR, 1))),
        (1.5, ((PERSON, 1), (CAR, 1))),
    ]
    assert occupancy[2].total == 3
    assert a.occupancy("square") == ((PERSON, 1), (CAR, 1))


def test_track_lost_inside_a_zone_leaves_it_and_empties_the_occupancy() -> None:
    a = Analytics(AnalyticsConfig(zones=(SQUARE,), zone_confirm_frames=1))
    events = feed(a, Script(), [{5: (PERSON, (200.0, 200.0))}] * 3 + [{}])
    assert [type(e) for e in events[-3:]] == [ZoneLeave, TrackEnd, Occupancy]
    leave = of(events, ZoneLeave)[0]
    assert leave.lost and leave.track_id == 5
    assert of(events, Occupancy)[-1].counts == ()
    assert [e.track_id for e in of(events, TrackNew)] == [5]


def test_zone_ignores_classes_it_does_not_watch() -> None:
    a = Analytics(AnalyticsConfig(zones=(replace(SQUARE, classes=frozenset({CAR})),), zone_confirm_frames=1))
    events = feed(a, Script(), [{1: (PERSON, (200.0, 200.0)), 2: (CAR, (210.0, 200.0))}] * 3)
    assert [e.track_id for e in of(events, ZoneEnter)] == [2]


def test_loitering_fires_once_after_the_threshold() -> None:
    a = Analytics(AnalyticsConfig(zones=(replace(SQUARE, loiter_s=10.0),), zone_confirm_frames=1))
    events = feed(a, Script(), [{1: (PERSON, (200.0, 200.0))}] * 300, dt=0.1)  # 30 s
    loiter = of(events, Loitering)
    assert len(loiter) == 1
    assert loiter[0].t == pytest.approx(10.0) and loiter[0].dwell_s == pytest.approx(10.0)
    assert (loiter[0].zone, loiter[0].track_id, loiter[0].class_id) == ("square", 1, PERSON)


def test_loitering_fires_on_tick_while_the_detector_is_idle() -> None:
    a = Analytics(AnalyticsConfig(zones=(replace(SQUARE, loiter_s=10.0),), zone_confirm_frames=1))
    a.update(Script().frame(0.0, {1: (PERSON, (200.0, 200.0))}))
    assert of(a.tick(9.9), Loitering) == []
    assert len(of(a.tick(10.0), Loitering)) == 1
    assert of(a.tick(20.0), Loitering) == []


def test_short_visits_never_loiter() -> None:
    a = Analytics(AnalyticsConfig(zones=(replace(SQUARE, loiter_s=10.0),), zone_confirm_frames=1))
    visit = [{1: (PERSON, (200.0, 200.0))}] * 50 + [{1: (PERSON, (400.0, 200.0))}] * 5
    assert of(feed(a, Script(), visit * 4), Loitering) == []


# --------------------------------------------------------------------------- intervals


def test_interval_counts_close_at_the_boundary_with_the_right_totals() -> None:
    a = Analytics(AnalyticsConfig(zones=(SQUARE,), lines=(GATE,), zone_confirm_frames=1, interval_s=60.0))
    script = Script()
    out: list[AnalyticsEvent] = []
    # Person 1 walks into the square and across the gate (IN) between t=10 and t=12.
    for i, x in enumerate(range(50, 251, 20)):
        out += a.update(script.frame(10.0 + 0.2 * i, {1: (PERSON, (float(x), 200.0))}))
    # Car 2 crosses the gate IN, then back OUT, far from the square (y = 380).
    for i, x in enumerate([*range(150, 251, 20), *range(250, 149, -20)]):
        out += a.update(script.frame(30.0 + 0.2 * i, {2: (CAR, (float(x), 380.0))}))
    out += a.tick(59.9)
    assert of(out, IntervalCounts) == []
    closed = of(a.tick(60.0), IntervalCounts)
    assert closed == [
        IntervalCounts(
            0.0,
            60.0,
            zones=(ZoneCount("square", PERSON, 1),),
            lines=(LineCount("gate", PERSON, 1, 0), LineCount("gate", CAR, 1, 1)),
        )
    ]
    assert of(a.tick(120.0), IntervalCounts) == [IntervalCounts(60.0, 120.0, (), ())]


def test_interval_counts_skip_intervals_the_pipeline_did_not_run() -> None:
    a = Analytics(AnalyticsConfig(interval_s=60.0))
    a.tick(5.0)
    assert [(c.t_start, c.t_end) for c in of(a.tick(300.0), IntervalCounts)] == [(0.0, 60.0)]
    assert [(c.t_start, c.t_end) for c in of(a.tick(360.0), IntervalCounts)] == [(300.0, 360.0)]


# --------------------------------------------------------------------------- end to end, config, pure steps


def test_tracker_and_analytics_count_two_people_crossing_in_opposite_directions() -> None:
    @dataclass(frozen=True)
    class Det:
        x0: float
        y0: float
        x1: float
        y1: float
        score: float = 0.8
        class_id: int = PERSON

    tracker = Tracker(TrackerConfig(min_hits=2, max_missed=3))
    a = Analytics(AnalyticsConfig(lines=(GATE,)))
    events: list[AnalyticsEvent] = []
    for i in range(30):
        x_a, x_b = 60.0 + 10.0 * i, 340.0 - 10.0 * i
        dets = [Det(x_a - 20, 100, x_a + 20, 200), Det(x_b - 20, 104, x_b + 20, 204)]
        events += a.update(tracker.update(dets, 0.1 * i))
    assert sorted((c.track_id, c.direction) for c in of(events, LineCrossing)) == [
        (1, Direction.IN),
        (2, Direction.OUT),
    ]


def test_config_rejects_duplicate_names_and_bad_shapes() -> None:
    with pytest.raises(ValueError, match="duplicate zone"):
        AnalyticsConfig(zones=(SQUARE, SQUARE))
    with pytest.raises(ValueError, match="3 points"):
        Zone("z", ((0.0, 0.0), (1.0, 1.0)))
    with pytest.raises(ValueError, match="differ"):
        Line("l", (1.0, 1.0), (1.0, 1.0))


def test_time_going_backwards_is_rejected() -> None:
    a = Analytics(AnalyticsConfig())
    a.tick(10.0)
    with pytest.raises(ValueError, match="backwards"):
        a.tick(9.0)


def test_zone_step_needs_confirm_frames_contradicting_observations_in_a_row() -> None:
    m = ZoneMembership()
    m = zone_step(m, 5.0, 0.0, 3)
    m = zone_step(m, 5.0, 0.0, 3)
    m = zone_step(m, -5.0, 0.0, 3)  # breaks the streak
    assert m == ZoneMembership(False, 0)
    for _ in range(3):
        m = zone_step(m, 5.0, 0.0, 3)
    assert m.inside


# --------------------------------------------------------------------------- geometry properties

coord = st.floats(-1000, 1000, allow_nan=False)
point = st.tuples(coord, coord)


@settings(max_examples=200, deadline=None)
@given(point, point, point)
def test_side_of_line_flips_when_the_line_is_reversed(p: Point, a: Point, b: Point) -> None:
    assert side_of_line(p, a, b) == -side_of_line(p, b, a)


def test_side_of_line_right_means_right_on_screen() -> None:
    # Looking from A=(0,0) to B=(100,0) (to the right on screen), below on screen (y bigger) is right.
    assert side_of_line((50.0, 10.0), (0.0, 0.0), (100.0, 0.0)) == 1
    assert side_of_line((50.0, -10.0), (0.0, 0.0), (100.0, 0.0)) == -1


@settings(max_examples=200, deadline=None)
@given(point, point, point, point)
def test_segment_intersection_is_symmetric_and_agrees_with_strict_sides(
    p1: Point, p2: Point, q1: Point, q2: Point
) -> None:
    hit = segments_intersect(p1, p2, q1, q2)
    assert hit == segments_intersect(q1, q2, p1, p2) == segments_intersect(p2, p1, q2, q1)
    strictly_apart = side_of_line(p1, q1, q2) * side_of_line(p2, q1, q2) > 0
    strictly_across = (
        side_of_line(p1, q1, q2) * side_of_line(p2, q1, q2) < 0
        and side_of_line(q1, p1, p2) * side_of_line(q2, p1, p2) < 0
    )
    if strictly_apart:
        assert not hit
    if strictly_across:
        assert hit


@settings(max_examples=200, deadline=None)
@given(point, st.floats(1, 500), st.floats(1, 500), point)
def test_point_in_rectangle_polygon_matches_bounds_and_distance_sign(
    corner: Point, w: float, h: float, p: Point
) -> None:
    x0, y0 = corner
    rect = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
    d = signed_distance_to_polygon(p, rect)
    assume(abs(d) > 1e-6)
    inside = x0 < p[0] < x0 + w and y0 < p[1] < y0 + h
    assert point_in_polygon(p, rect) == inside == (d > 0)
    if inside:
        assert d == pytest.approx(min(p[0] - x0, x0 + w - p[0], p[1] - y0, y0 + h - p[1]))


def test_point_in_concave_polygon() -> None:
    u_shape = [
        (0.0, 0.0),
        (30.0, 0.0),
        (30.0, 30.0),
        (20.0, 30.0),
        (20.0, 10.0),
        (10.0, 10.0),
        (10.0, 30.0),
        (0.0, 30.0),
    ]
    assert point_in_polygon((5.0, 20.0), u_shape)
    assert not point_in_polygon((15.0, 20.0), u_shape)
    assert point_in_polygon((15.0, 5.0), u_shape)


def test_a_parked_car_leaves_the_occupancy_once_stationary_and_comes_back_when_it_drives_off() -> None:
    @dataclass(frozen=True)
    class Det:
        x0: float
        y0: float
        x1: float
        y1: float
        score: float = 0.8
        class_id: int = CAR

    tracker = Tracker(TrackerConfig(min_hits=2, stationary_s=2.0))
    a = Analytics(AnalyticsConfig(zones=(SQUARE,), zone_confirm_frames=1))
    events: list[AnalyticsEvent] = []
    for i in range(50):  # 3 s parked at x 200 (with a pixel of jitter), then 2 s driving right, out of the square
        x = 200.0 + (i % 2) if i < 30 else 200.0 + 15.0 * (i - 30)
        events += a.update(tracker.update([Det(x - 40, 150, x + 40, 250)], 0.1 * i))
    occupancy = [(round(o.t, 1), o.counts) for o in of(events, Occupancy)]
    assert occupancy[:2] == [(0.1, ((CAR, 1),)), (2.0, ())], occupancy  # stationary 2 s after it was first seen
    assert occupancy[2][1] == ((CAR, 1),) and 3.0 <= occupancy[2][0] <= 3.3  # it moves: moving again
    assert occupancy[-1][1] == ()  # and gone
    assert [e.zone for e in of(events, ZoneEnter)] == ["square"] and len(of(events, ZoneLeave)) == 1


def test_a_person_standing_still_keeps_counting_where_parked_classes_are_vehicles() -> None:
    tracker = Tracker(TrackerConfig(min_hits=2, stationary_s=1.0))
    a = Analytics(AnalyticsConfig(zones=(SQUARE,), zone_confirm_frames=1, parked=frozenset({CAR})))
    events: list[AnalyticsEvent] = []
    for i in range(30):  # 3 s: the car is parked from 1 s on, the person waits beside it
        dets = [Track(0, CAR, 110, 150, 190, 250, 0.8, 0, 0, 0, 0, 0, 0), Track(0, PERSON, 230, 150, 270, 250, 0.8,
                                                                              0, 0, 0, 0, 0, 0)]
        events += a.update(tracker.update(dets, 0.1 * i))
    assert [(round(o.t, 1), o.counts) for o in of(events, Occupancy)] == [
        (0.1, ((PERSON, 1), (CAR, 1))),
        (1.0, ((PERSON, 1),)),
    ]


def test_occupancy_follows_the_class_the_tracker_votes_for_a_van_scored_car_then_truck() -> None:
    truck = 7
    tracker = Tracker(TrackerConfig(min_hits=2, stationary_s=0.0, class_groups=(frozenset({CAR, truck}),)))
    a = Analytics(AnalyticsConfig(zones=(SQUARE,), zone_confirm_frames=1))
    events: list[AnalyticsEvent] = []
    for i in range(12):  # "car" on the first 3 frames, "truck" on the next 9: one van, one track
        cls = CAR if i < 3 else truck
        events += a.update(tracker.update([Track(0, cls, 160, 150, 240, 250, 0.5, 0, 0, 0, 0, 0, 0)], 0.1 * i))
    occupancy = [o.counts for o in of(events, Occupancy)]
    assert occupancy == [((CAR, 1),), ((truck, 1),)], occupancy  # relabelled once the votes pass, never counted twice
    assert len(of(events, ZoneEnter)) == 1
