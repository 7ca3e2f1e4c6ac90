"""The tracker on synthetic detections: confirmation, misses, crossings, classes, ids; and IoU maths."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.vision.detectors import load_detector
from edge_agent.vision.geometry import BoxLike, boxes_to_array, foot_point, iou_matrix
from edge_agent.vision.tracker import (
    Track,
    Tracker,
    TrackerConfig,
    TrackEventKind,
    TrackUpdate,
    greedy_match,
    stationary_step,
)
from tests.vision_data import NANODET_MANIFEST

PERSON, CAR, BUS, TRUCK = 0, 2, 5, 7
VEHICLES = TrackerConfig(class_groups=(frozenset({CAR, BUS, TRUCK}),))


@dataclass(frozen=True)
class Det:
    """Shaped like the detector's ``Detection`` (which this test does not import)."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 0.8
    class_id: int = PERSON
    class_name: str = "person"


def person(x: float, y: float = 100.0, w: float = 40.0, h: float = 100.0, cls: int = PERSON) -> Det:
    return Det(x, y, x + w, y + h, class_id=cls)


def run(tracker: Tracker, frames: Sequence[Sequence[BoxLike]], dt: float = 0.1, t0: float = 0.0) -> list[TrackUpdate]:
    return [tracker.update(dets, t0 + i * dt) for i, dets in enumerate(frames)]


def kinds(updates: Sequence[TrackUpdate], kind: TrackEventKind) -> list[tuple[int, int]]:
    """(update index, track id) of every event of one kind."""
    return [(i, e.track.track_id) for i, u in enumerate(updates) for e in u.events if e.kind is kind]


def test_track_is_reported_new_once_after_min_hits() -> None:
    updates = run(Tracker(TrackerConfig(min_hits=3)), [[person(10.0 * i)] for i in range(6)])
    assert [len(u.tracks) for u in updates] == [0, 0, 1, 1, 1, 1]
    assert kinds(updates, TrackEventKind.NEW) == [(2, 1)]
    assert kinds(updates, TrackEventKind.UPDATE) == [(3, 1), (4, 1), (5, 1)]


def test_min_hits_one_confirms_on_first_detection() -> None:
    updates = run(Tracker(TrackerConfig(min_hits=1)), [[person(0.0)]])
    assert kinds(updates, TrackEventKind.NEW) == [(0, 1)]


def test_one_frame_false_positive_never_becomes_a_track_nor_takes_an_id() -> None:
    tracker = Tracker(TrackerConfig(min_hits=2))
    frames: list[list[Det]] = [[person(500.0)], [], [person(0.0)], [person(5.0)]]
    updates = run(tracker, frames)
    assert kinds(updates, TrackEventKind.NEW) == [(3, 1)]
    assert not kinds(updates, TrackEventKind.END)


def test_track_missed_for_two_frames_keeps_its_id_and_coasts_forward() -> None:
    tracker = Tracker(TrackerConfig(min_hits=2, max_missed=3))
    frames = [[person(10.0 * i)] if i not in (6, 7) else [] for i in range(12)]
    updates = run(tracker, frames)
    ids = {t.track_id for u in updates for t in u.tracks}
    assert ids == {1}
    assert not kinds(updates, TrackEventKind.END)
    coasting = updates[7].tracks[0]
    assert coasting.missed == 2
    # The prediction kept moving at ~100 px/s: near x=70, far from the last seen x=50.
    assert coasting.x0 == pytest.approx(70.0, abs=3.0)
    assert updates[8].tracks[0].missed == 0


def test_track_ends_once_after_more_than_max_missed_misses() -> None:
    tracker = Tracker(TrackerConfig(min_hits=1, max_missed=2))
    updates = run(tracker, [[person(0.0)], [person(5.0)], [], [], [], [], []])
    assert kinds(updates, TrackEventKind.END) == [(4, 1)]
    assert [len(u.tracks) for u in updates] == [1, 1, 1, 1, 0, 0, 0]
    assert updates[4].of_kind(TrackEventKind.END)[0].missed == 3


def test_two_persons_crossing_paths_keep_their_ids() -> None:
    tracker = Tracker(TrackerConfig(min_hits=2, max_missed=2))
    # A walks right, B walks left on nearly the same row; they overlap fully around frame 15.
    frames = [[person(10.0 * i, y=100.0), person(300.0 - 10.0 * i, y=104.0)] for i in range(31)]
    updates = run(tracker, frames)
    first, last = updates[2].tracks, updates[-1].tracks
    rightward_id = min(first, key=lambda t: t.x0).track_id
    leftward_id = max(first, key=lambda t: t.x0).track_id
    by_id = {t.track_id: t for t in last}
    assert set(by_id) == {rightward_id, leftward_id}
    assert by_id[rightward_id].x0 > 250.0 and by_id[rightward_id].vx > 0.0
    assert by_id[leftward_id].x0 < 50.0 and by_id[leftward_id].vx < 0.0
    assert not kinds(updates, TrackEventKind.END)


def test_a_person_does_not_continue_a_car_track() -> None:
    tracker = Tracker(TrackerConfig(min_hits=1, max_missed=0))
    updates = run(tracker, [[person(0.0, cls=CAR)], [person(2.0, cls=PERSON)]])
    assert kinds(updates, TrackEventKind.NEW) == [(0, 1), (1, 2)]
    assert kinds(updates, TrackEventKind.END) == [(1, 1)]
    assert [t.class_id for t in updates[1].tracks] == [PERSON]


def test_class_unaware_tracker_lets_another_class_continue_the_track() -> None:
    tracker = Tracker(TrackerConfig(min_hits=1, max_missed=0, class_aware=False))
    updates = run(tracker, [[person(0.0, cls=CAR)], [person(2.0, cls=PERSON)]])
    assert kinds(updates, TrackEventKind.NEW) == [(0, 1)]
    assert kinds(updates, TrackEventKind.UPDATE) == [(1, 1)]


def test_a_van_scored_car_then_truck_keeps_one_track_whose_class_is_the_vote() -> None:
    # The parked van of the footage: "truck" on most frames, "car" on a run of a few (scores as measured, ~0.5).
    classes = [TRUCK] * 4 + [CAR] * 3 + [TRUCK] * 3
    frames = [[Det(650.0, 44.0, 724.0, 100.0, score=0.5, class_id=c)] for c in classes]
    grouped = run(Tracker(TrackerConfig(min_hits=3, max_missed=2, class_groups=VEHICLES.class_groups)), frames)
    assert kinds(grouped, TrackEventKind.NEW) == [(2, 1)] and not kinds(grouped, TrackEventKind.END)
    assert {tr.track_id for u in grouped for tr in u.tracks} == {1}
    # Three "car" frames after four "truck" ones do not relabel it; the votes would need to pass the lead.
    assert [u.tracks[0].class_id for u in grouped[2:]] == [TRUCK] * 8
    # Class by class, the same frames start a new track at each flip: truck, car, truck again.
    apart = run(Tracker(TrackerConfig(min_hits=3, max_missed=2)), frames)
    assert len({tr.track_id for u in apart for tr in u.tracks}) == 3


def test_the_voted_class_follows_the_summed_scores_and_keeps_the_current_class_on_a_tie() -> None:
    tracker = Tracker(TrackerConfig(min_hits=1, class_groups=VEHICLES.class_groups))
    box = (100.0, 100.0, 200.0, 160.0)
    votes = [(CAR, 0.5), (TRUCK, 0.5), (TRUCK, 0.25), (CAR, 0.125), (BUS, 0.75), (BUS, 0.5)]  # sums exact in binary
    got = [tracker.update([Det(*box, score=sc, class_id=c)], i / 10).tracks[0].class_id for i, (c, sc) in
           enumerate(votes)]
    # car .5 | tie .5/.5 keeps car | truck .75 leads | car .625 < .75 | bus .75 ties truck | bus 1.25 leads
    assert got == [CAR, CAR, TRUCK, TRUCK, TRUCK, BUS]


def test_a_person_never_continues_a_vehicle_track_of_a_group() -> None:
    tracker = Tracker(TrackerConfig(min_hits=1, max_missed=0, class_groups=VEHICLES.class_groups))
    updates = run(tracker, [[person(0.0, cls=TRUCK)], [person(2.0, cls=PERSON)]])
    assert kinds(updates, TrackEventKind.NEW) == [(0, 1), (1, 2)]
    assert kinds(updates, TrackEventKind.END) == [(1, 1)]


def test_class_groups_must_be_disjoint() -> None:
    with pytest.raises(ValueError, match="disjoint"):
        TrackerConfig(class_groups=(frozenset({CAR, TRUCK}), frozenset({TRUCK, BUS})))


def test_irregular_detector_rate_is_bridged_by_the_velocity_estimate() -> None:
    """After a 0.7 s gap (the motion gate skipped frames) the box moved 70 px: no overlap, same track."""
    tracker = Tracker(TrackerConfig(min_hits=1, max_missed=1))
    times = [0.0, 0.1, 0.2, 0.3, 0.4, 1.1]
    updates = [tracker.update([person(100.0 * t)], t) for t in times]
    assert iou_matrix(boxes_to_array([person(40.0)]), boxes_to_array([person(110.0)]))[0, 0] == 0.0
    assert {t.track_id for u in updates for t in u.tracks} == {1}
    assert kinds(updates, TrackEventKind.UPDATE)[-1] == (5, 1)


FRAME = (768.0, 576.0)


def test_a_track_leaving_at_the_right_edge_ends_there_instead_of_coasting_outside_the_picture() -> None:
    # A walker heading right at 100 px/s, last seen with his box's right side at the edge (x 728-768).
    frames = [*[[person(648.0 + 10.0 * i)] for i in range(9)], *[[]] * 7]
    free = run(Tracker(TrackerConfig(min_hits=2, max_missed=5)), frames)
    # Without the frame's size, the track coasts 5 updates past the edge (its box out of the picture by the 3rd);
    # with it, it ends on the update whose predicted box is half out (the 2nd: 10 px a step, 40 px wide), and
    # no reported box ever leaves the picture.
    assert kinds(free, TrackEventKind.END) == [(14, 1)]
    assert free[13].tracks[0].x0 > FRAME[0]
    clipped = Tracker(TrackerConfig(min_hits=2, max_missed=5))
    updates = [clipped.update(dets, i / 10, FRAME) for i, dets in enumerate(frames)]
    assert kinds(updates, TrackEventKind.END) in ([(10, 1)], [(11, 1)])
    for u in updates:
        for tr in (*u.tracks, *(e.track for e in u.events)):
            assert 0.0 <= tr.x0 <= tr.x1 <= FRAME[0] and 0.0 <= tr.y0 <= tr.y1 <= FRAME[1], tr
    coasting = updates[9].tracks[0]
    assert coasting.missed == 1 and coasting.x1 == FRAME[0] and coasting.x1 - coasting.x0 > 20.0


def test_a_coasting_box_keeps_its_last_size_instead_of_shrinking_to_a_pixel() -> None:
    # A box losing 6 px of width and height per update (a merged pair splitting, a walker going away)...
    shrinking = [[Det(300.0 + 3.0 * i, 200.0 + 3.0 * i, 360.0 - 3.0 * i, 320.0 - 3.0 * i)] for i in range(6)]
    tracker = Tracker(TrackerConfig(min_hits=2, max_missed=7))
    updates = [tracker.update(dets, i / 10, FRAME) for i, dets in enumerate([*shrinking, *[[]] * 7])]
    last_seen = updates[5].tracks[0]
    coasting = [u.tracks[0] for u in updates[6:]]
    assert [tr.missed for tr in coasting] == [1, 2, 3, 4, 5, 6, 7]
    # ...coasts at the size it had when last seen (one step of the estimated rate at most), not down to nothing.
    width, height = last_seen.x1 - last_seen.x0, last_seen.y1 - last_seen.y0
    for tr in coasting:
        assert tr.x1 - tr.x0 == pytest.approx(coasting[0].x1 - coasting[0].x0)
        assert tr.x1 - tr.x0 > 0.8 * width and tr.y1 - tr.y0 > 0.8 * height


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(-60, 800), st.integers(-60, 600), st.integers(4, 200)), max_size=3),
                max_size=20))
def test_with_the_frame_given_every_reported_box_lies_in_the_frame(frames: list[list[tuple[int, int, int]]]) -> None:
    tracker = Tracker(TrackerConfig(min_hits=1, max_missed=3))
    for i, cells in enumerate(frames):
        dets = [Det(float(x), float(y), float(x + size), float(y + 2 * size)) for x, y, size in cells]
        u = tracker.update(dets, 0.2 * i, FRAME)
        for tr in (*u.tracks, *(e.track for e in u.events)):
            assert 0.0 <= tr.x0 <= tr.x1 <= FRAME[0] and 0.0 <= tr.y0 <= tr.y1 <= FRAME[1], tr


def test_low_score_detections_are_ignored() -> None:
    tracker = Tracker(TrackerConfig(min_hits=1, min_score=0.5))
    u = tracker.update([Det(0, 0, 10, 10, score=0.3)], 0.0)
    assert u.tracks == () and u.events == ()


def test_time_going_backwards_is_rejected() -> None:
    tracker = Tracker()
    tracker.update([], 1.0)
    with pytest.raises(ValueError, match="backwards"):
        tracker.update([], 0.5)


def test_track_is_boxlike_and_its_foot_point_is_the_bottom_centre() -> None:
    u = Tracker(TrackerConfig(min_hits=1)).update([Det(10, 20, 50, 120)], 0.0)
    track: Track = u.tracks[0]
    assert foot_point(track) == pytest.approx((30.0, 120.0))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.integers(0, 20), st.integers(0, 20), st.sampled_from([PERSON, CAR])),
            max_size=4,
        ),
        max_size=25,
    )
)
def test_ids_are_unique_increasing_and_every_end_follows_a_new(frames: list[list[tuple[int, int, int]]]) -> None:
    tracker = Tracker(TrackerConfig(min_hits=2, max_missed=2))
    new_ids: list[int] = []
    ended: set[int] = set()
    for i, cells in enumerate(frames):
        dets = [Det(20.0 * x, 20.0 * y, 20.0 * x + 30.0, 20.0 * y + 60.0, class_id=c) for x, y, c in cells]
        u = tracker.update(dets, 0.1 * i)
        ids = [t.track_id for t in u.tracks]
        assert ids == sorted(set(ids))
        for e in u.events:
            if e.kind is TrackEventKind.NEW:
                new_ids.append(e.track.track_id)
            elif e.kind is TrackEventKind.END:
                assert e.track.track_id in new_ids and e.track.track_id not in ended
                ended.add(e.track.track_id)
        assert not ended & set(ids)
    assert new_ids == list(range(1, len(new_ids) + 1))


def test_greedy_match_takes_the_best_pair_first_and_respects_the_threshold() -> None:
    score = np.array([[0.9, 0.8], [0.85, 0.1], [0.05, 0.05]])
    pairs, rows, cols = greedy_match(score, 0.3)
    assert pairs == [(0, 0)]
    assert rows == [1, 2] and cols == [1]


def test_iou_of_two_half_overlapping_squares_is_one_third() -> None:
    a = np.array([[0.0, 0.0, 2.0, 2.0]])
    b = np.array([[1.0, 0.0, 3.0, 2.0], [5.0, 5.0, 6.0, 6.0]])
    assert iou_matrix(a, b) == pytest.approx(np.array([[1.0 / 3.0, 0.0]]))
    assert iou_matrix(a, np.zeros((0, 4))).shape == (1, 0)


box_strategy = st.tuples(st.floats(0, 500), st.floats(0, 500), st.floats(1, 200), st.floats(1, 200)).map(
    lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3])
)


@settings(max_examples=60, deadline=None)
@given(st.lists(box_strategy, min_size=1, max_size=6), st.lists(box_strategy, min_size=1, max_size=6))
def test_iou_matrix_is_symmetric_bounded_and_one_on_identical_boxes(
    a: list[tuple[float, float, float, float]], b: list[tuple[float, float, float, float]]
) -> None:
    aa, bb = np.array(a), np.array(b)
    m = iou_matrix(aa, bb)
    assert m.shape == (len(a), len(b))
    assert np.all((m >= 0.0) & (m <= 1.0 + 1e-12))
    assert np.allclose(m, iou_matrix(bb, aa).T)
    assert np.allclose(np.diag(iou_matrix(aa, aa)), 1.0)


# --- stationary tracks --------------------------------------------------------------------------------------------


def test_the_anchor_stays_within_the_bound_and_moves_beyond_it() -> None:
    a = stationary_step(None, 100.0, 100.0, 40.0, 0.0, 0.25)
    assert stationary_step(a, 109.0, 100.0, 40.0, 5.0, 0.25) is a  # 9 px < 10 px (a quarter of 40)
    moved = stationary_step(a, 111.0, 100.0, 40.0, 5.0, 0.25)
    assert (moved.cx, moved.since) == (111.0, 5.0)


def test_a_slow_walker_never_becomes_stationary_though_each_step_is_small() -> None:
    tracker = Tracker(TrackerConfig(stationary_s=2.0))
    updates = run(tracker, [[person(10.0 + 2.0 * i)] for i in range(60)])  # 2 px per 0.1 s, box 100 high
    assert updates[-1].tracks and not any(tr.stationary for u in updates for tr in u.tracks)


def test_a_still_box_becomes_stationary_after_the_configured_time_and_zero_disables_it() -> None:
    still = [[person(100.0 + (i % 3))] for i in range(40)]
    updates = run(Tracker(TrackerConfig(stationary_s=2.0)), still)
    first = next(i for i, u in enumerate(updates) if u.tracks and u.tracks[0].stationary)
    assert first == 20  # 2.0 s after its first detection at 0.0
    assert not any(tr.stationary for u in run(Tracker(TrackerConfig(stationary_s=0.0)), still) for tr in u.tracks)
    with pytest.raises(ValueError, match="stationary"):
        TrackerConfig(stationary_move=0.0)


@pytest.fixture(scope="module")
def excerpt_tracks() -> dict[int, tuple[str, bool]]:
    """The tracker on the detector's output for every 5th frame of the excerpt (15 s): class and last stationary."""
    detector = load_detector(NANODET_MANIFEST, 1, score_threshold=0.4)
    wanted = {"person", "car", "truck", "bus"}
    tracker = Tracker()
    cap = cv2.VideoCapture(str(Path(__file__).parent / "data" / "vtest_excerpt.avi"))
    last: dict[int, tuple[str, bool]] = {}
    index = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        if index % 5 == 0:
            found = [d for d in detector.detect(image) if d.class_name in wanted]
            for tr in tracker.update(found, index / 10).tracks:
                last[tr.track_id] = (detector.class_names[tr.class_id], tr.stationary)
        index += 1
    cap.release()
    return last


def test_on_the_footage_the_parked_vehicles_end_stationary_and_the_walkers_do_not(
    excerpt_tracks: dict[int, tuple[str, bool]],
) -> None:
    vehicles = [stationary for name, stationary in excerpt_tracks.values() if name != "person"]
    persons = [stationary for name, stationary in excerpt_tracks.values() if name == "person"]
    assert len(vehicles) >= 2 and sum(vehicles) >= 2  # the white van and the car parked at the back
    assert len(persons) >= 10 and not any(persons)
