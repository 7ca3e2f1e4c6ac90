"""A live stream's frames placed on the stream's own timeline, with a bound on how far behind live they may be.

Why not the arrival time: when FFmpeg opens an RTSP stream, its probe reads a few seconds of frames and hands them
over at once (on the test camera: 26 frames 1-8 ms apart, then 100 ms apart). A rate cap measured on arrival time
skips nearly all of that burst (at 5 fps, every frame after the first of each 200 ms), so what happened in those
seconds is lost at every (re)connection. Capping on the stream's timestamps (``CAP_PROP_POS_MSEC``: the packet's
presentation time, from the RTP timestamps on RTSP) analyses the burst at the configured rate.

Buffered frames are behind live, and a consumer slower than the stream would fall further behind for ever, so the
lag is measured and bounded:

* the **live edge** is the smallest ``arrival - timeline`` seen (a frame cannot arrive before it was filmed), a
  reference that rises by at most 1 ms per second so that a camera clock running slow against the box's (quartz:
  within 100 ppm) never accumulates into a false lag, while a consumer losing more than 0.1 % of real time does;
* a frame more than ``max_lag_s`` behind that edge starts a **catch-up**: frames are skipped (``grab()`` only, a
  fraction of a frame interval each) until one is back within a quarter of the bound *and* took at least half the
  stream's interval to arrive (FFmpeg's buffer is drained: the edge seen so far may itself be old, as it is during
  a connection burst), then the cap resumes. A stream that is genuinely behind catches up; latency stays under
  ``max_lag_s`` (plus the connection's burst, before the first catch-up has found the live edge).

Timestamps that do not follow the clock are not used: a missing, negative or repeated one takes the previous one
plus the nominal frame interval (the stream's first frame often has none), and so does one jumping more than 10 s
forward (a camera setting its clock); if a catch-up makes no progress in
``max_lag_s`` (an MJPEG server numbering frames at a nominal rate slower than the real one), or the stream runs
more than 10 s ahead of the clock (a nominal rate faster than the real one), the connection falls back to arrival
time for good. A new connection starts a new :class:`StreamClock`.

The analysis time given to the pipeline (:attr:`Placed.t`) follows the stream too, so the tracker sees the burst's
frames 100 ms apart, not 5: it is the frame's timeline position plus an offset. That offset starts at its lower
bound, "the first frame was not filmed before the stream was asked for" (``opened_at``; FFmpeg's probe had been
reading for as long as the burst lasts), and moves towards the live edge: at once when the edge is lower (no frame
is given a time after its arrival), else, once frames come at the stream's pace, by at most 2 % of each interval,
as NTP slews a clock instead of stepping it, so intervals stay within 2 % of the stream's.
"""

from __future__ import annotations

from dataclasses import dataclass

REFERENCE_CREEP = 1e-3  # s per s: how fast the live-edge reference may rise
SLEW = 0.02  # largest share of an interval taken off the analysis time while it is ahead of arrival
MAX_AHEAD_S = 10.0  # stream time ahead of the clock beyond any probe burst: a nominal rate, not timestamps
MAX_STAMP_S = 1e9  # about 30 years: beyond, a float no longer resolves a frame interval
CATCH_UP_TO = 0.25  # a catch-up ends on a frame within this share of max_lag_s behind the live edge


@dataclass(frozen=True, slots=True)
class Placed:
    """Where one frame sits.

    Attributes:
        when: Position on the timeline the rate cap runs on: stream seconds (continuous, increasing), or the
            arrival time once the connection has fallen back to it.
        t: Analysis time on the box's monotonic clock (see the module notes).
        late: Behind the live edge: skip it to catch up.
    """

    when: float
    t: float
    late: bool


class StreamClock:
    """One connection's timeline. Pure: it is given each frame's timestamp and arrival time.

    Args:
        nominal_s: The stream's nominal frame interval, for frames without a usable timestamp.
        max_lag_s: How far behind the live edge a frame may be before the source catches up.
        opened_at: When the connection was asked for (the first frame is no older); None: its arrival.
    """

    def __init__(self, nominal_s: float, max_lag_s: float, opened_at: float | None = None) -> None:
        if not (nominal_s > 0 and max_lag_s > 0):
            raise ValueError(f"need nominal_s > 0 and max_lag_s > 0, got {nominal_s}, {max_lag_s}")
        self._nominal = nominal_s
        self._max_lag = max_lag_s
        #: Why the connection fell back to arrival time; empty while it runs on the stream's timestamps.
        self.fallback = ""
        self._shift = 0.0  # added to timestamps to keep the timeline increasing across their jumps
        self._when: float | None = None
        self._offset: float | None = None  # arrival - when of the previous frame
        self._ref: float | None = None  # live edge: smallest arrival - when, rising by REFERENCE_CREEP
        self._ref_first = 0.0
        self._ref_at = 0.0
        self._catch_up: tuple[float, float] | None = None  # (arrival, lag) when the current catch-up began
        self._opened_at = opened_at
        self._shown: float | None = None  # analysis time = timeline + this offset
        self._when_t = 0.0  # timeline position of the last frame placed

    @property
    def stamped(self) -> bool:
        """Whether the connection still runs on the stream's timestamps."""
        return not self.fallback

    def place(self, pts_s: float | None, arrival: float) -> Placed:
        """Place the next frame, given its stream timestamp (None when the stream gives none) and arrival time."""
        if self.fallback:
            return Placed(arrival, arrival, False)
        prev_when, prev_offset = self._when, self._offset
        when = self._timeline(pts_s)
        offset = self._offset = arrival - when
        drained = prev_when is None or prev_offset is None or offset - prev_offset > -0.5 * (when - prev_when)
        if self._ref is None:
            self._ref = self._ref_first = offset
        else:
            self._ref = min(offset, self._ref + REFERENCE_CREEP * max(0.0, arrival - self._ref_at))
        self._ref_at = arrival
        lag = offset - self._ref
        if self._ref_first - self._ref > MAX_AHEAD_S:
            return self._fall_back(arrival, f"stream time ran more than {MAX_AHEAD_S:g} s ahead of the clock")
        t = self._analysis_time(when, self._ref, drained)
        if self._catch_up is None and lag > self._max_lag:
            self._catch_up = (arrival, lag)
        if self._catch_up is not None:
            since, lag0 = self._catch_up
            if lag <= CATCH_UP_TO * self._max_lag and drained:
                self._catch_up = None
            elif arrival - since > self._max_lag and lag >= lag0:
                return self._fall_back(arrival, f"skipping for {arrival - since:.1f} s did not catch up")
            else:
                return Placed(when, t, True)
        return Placed(when, t, False)

    def _timeline(self, pts_s: float | None) -> float:
        usable = pts_s is not None and 0 <= pts_s < MAX_STAMP_S  # False for NaN
        prev = self._when
        if prev is None:
            when = pts_s if usable and pts_s is not None else 0.0
        elif not usable or pts_s is None:
            when = prev + self._nominal
        else:
            when = pts_s + self._shift
            if not prev < when <= prev + MAX_AHEAD_S:  # repeated, gone back or leaping: continue the timeline
                self._shift += prev + self._nominal - when
                when = prev + self._nominal
        self._when = when
        return when

    def _analysis_time(self, when: float, edge: float, drained: bool) -> float:
        shown = self._shown
        if shown is None:
            shown = edge if self._opened_at is None else min(edge, self._opened_at - when)
        elif shown > edge:
            shown = edge
        elif drained:  # while a burst is handed over, its edge is no better than the lower bound
            shown = min(edge, shown + SLEW * (when - self._when_t))
        self._shown, self._when_t = shown, when
        return when + shown

    def _fall_back(self, arrival: float, reason: str) -> Placed:
        self.fallback = reason
        self._catch_up = None
        return Placed(arrival, arrival, False)
