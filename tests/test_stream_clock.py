"""The live stream's timeline (:mod:`edge_agent.vision.stream_clock`): the connection burst kept, latency bounded,
timestamps that do not follow the clock refused. Pure: each frame's timestamp and arrival time are given."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from edge_agent.vision.stream_clock import SLEW, Placed, StreamClock

INTERVAL = 0.1  # a 10 fps camera


def _consume(clock: StreamClock, captured: list[float], stamps: list[float | None], *, delay: float,
             cost: float, skip_cost: float = 0.002, start: float = 0.0) -> list[tuple[int, float, Placed]]:
    """A consumer reading frames filmed at ``captured`` (stream timestamps ``stamps``), each available ``delay``
    after filming (``start`` at the earliest: FFmpeg's probe), spending ``cost`` on a delivered frame and
    ``skip_cost`` on a skipped one; returns ``(index, arrival, placed)`` of every frame."""
    out = []
    now = start
    for i, (filmed, stamp) in enumerate(zip(captured, stamps, strict=True)):
        now = max(now, filmed + delay)
        placed = clock.place(stamp, now)
        out.append((i, now, placed))
        now += skip_cost if placed.late else cost
    return out


def test_a_connection_burst_keeps_the_streams_intervals_and_is_not_late() -> None:
    """FFmpeg's probe reads 2.7 s of frames, then hands them over at once: none is skipped, and the analysis
    times are 100 ms apart (within the slew), never after the arrival."""
    clock = StreamClock(INTERVAL, max_lag_s=5.0, opened_at=0.0)
    captured = [i * INTERVAL for i in range(100)]
    placed = _consume(clock, captured, [c for c in captured], delay=0.02, cost=0.01, start=2.7)
    assert not any(p.late for _, _, p in placed)
    assert [p.when for _, _, p in placed] == pytest.approx(captured)
    steps = [b.t - a.t for (_, _, a), (_, _, b) in itertools.pairwise(placed)]
    assert all(INTERVAL * (1 - SLEW) - 1e-9 <= s <= INTERVAL * (1 + SLEW) + 1e-9 for s in steps), steps
    assert all(p.t <= arrival + 1e-9 for _, arrival, p in placed)
    assert clock.stamped


def test_a_consumer_slower_than_the_stream_skips_to_catch_up_and_stays_within_the_bound() -> None:
    clock = StreamClock(INTERVAL, max_lag_s=1.0, opened_at=0.0)
    captured = [i * INTERVAL for i in range(600)]
    placed = _consume(clock, captured, list(captured), delay=0.02, cost=0.3, start=2.7)
    late = [i for i, _, p in placed if p.late]
    assert len(late) > 300, "two frames of three must go to keep up with a consumer at a third of the rate"
    delivered = [(i, arrival) for i, arrival, p in placed if not p.late]
    # Once the burst is drained, no delivered frame is more than the bound (plus a frame) behind live.
    settled = [arrival - captured[i] for i, arrival in delivered if arrival > 10.0]
    assert settled and max(settled) <= 1.0 + INTERVAL + 0.3, max(settled)
    assert clock.stamped


def test_without_a_bound_breach_nothing_is_skipped() -> None:
    """A consumer just able to keep up never loses a frame to the catch-up, whatever the jitter."""
    clock = StreamClock(INTERVAL, max_lag_s=2.0)
    captured = [i * INTERVAL for i in range(300)]
    jitter = [0.02 + 0.05 * ((i * 7) % 5) / 4 for i in range(300)]
    placed = [clock.place(c, c + j) for c, j in zip(captured, jitter, strict=True)]
    assert not any(p.late for p in placed)


def test_timestamps_at_a_nominal_rate_slower_than_the_real_one_fall_back_to_arrival_time() -> None:
    """An MJPEG server numbering frames at 25 fps while sending 10: the catch-up cannot catch up."""
    clock = StreamClock(0.04, max_lag_s=1.0)
    placed = [clock.place(i * 0.04, i * INTERVAL) for i in range(200)]
    assert not clock.stamped and "did not catch up" in clock.fallback
    tail = placed[-20:]
    assert all(p.when == p.t and not p.late for p in tail)
    assert [p.when for p in tail] == pytest.approx([i * INTERVAL for i in range(180, 200)])


def test_timestamps_at_a_nominal_rate_faster_than_the_real_one_fall_back_to_arrival_time() -> None:
    clock = StreamClock(INTERVAL, max_lag_s=5.0)
    for i in range(400):
        clock.place(i * INTERVAL, i * 0.04)
    assert not clock.stamped and "ahead of the clock" in clock.fallback


def test_missing_repeated_and_backward_timestamps_continue_at_the_nominal_interval() -> None:
    """The first frame of an RTSP session often has none (OpenCV reports 0, then 0 again for the next)."""
    clock = StreamClock(INTERVAL, max_lag_s=5.0)
    stamps: list[float | None] = [0.0, 0.0, 0.1, 0.2, None, math.nan, -1.0, 0.6, 0.05, 0.15, 3600.0, 3600.1]
    whens = [clock.place(s, i * INTERVAL).when for i, s in enumerate(stamps)]
    assert whens == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1])
    assert clock.stamped


@given(st.lists(st.tuples(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
                          st.floats(0.0, 1.0)), min_size=1, max_size=60))
@example([(0.0, 0.0), (0.0, 0.0)])
@example([(2.0**50, 0.0), (2.0**50, 0.0)])
@example([(None, 0.5), (1e300, 0.0), (-0.0, 0.1)])
def test_the_timeline_increases_and_no_frame_is_timed_after_its_arrival(
        frames: list[tuple[float | None, float]]) -> None:
    clock = StreamClock(INTERVAL, max_lag_s=1.0, opened_at=0.0)
    arrival = 0.0
    previous = -math.inf
    for stamp, gap in frames:
        arrival += gap
        stamped = clock.stamped
        placed = clock.place(stamp, arrival)
        assert placed.t <= arrival + 1e-6
        if stamped and clock.stamped:
            assert placed.when > previous
        previous = placed.when


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="max_lag_s"):
        StreamClock(INTERVAL, max_lag_s=0)
