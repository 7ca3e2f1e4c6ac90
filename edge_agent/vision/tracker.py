"""Multi-object tracker: IoU association plus a constant-velocity Kalman filter per track.

SORT-like, without the Hungarian algorithm (scipy is not a dependency): matching is greedy,
highest IoU first, which gives the same answer whenever tracks are better separated than
the objects' own overlap, and is what ByteTrack and Frigate's norfair settings effectively
do on street scenes. The Kalman prediction is what lets a track survive missed detections
and two people cross without swapping ids: we match detections to where each track *should
be now*, not to where it was last seen.

Time is injected (``update(detections, t)``): the motion gate makes the detector run at an
irregular rate, so the filter steps by the real elapsed time, and tests replay exact times.
A "miss" is an update in which a track found no detection; frames on which the detector did
not run at all are not misses.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .geometry import BoxLike, boxes_to_array, iou_matrix

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrackerConfig:
    """Tracker tuning; the defaults suit 5-15 detector runs per second on a street camera.

    Attributes:
        iou_threshold: Minimum IoU between a track's predicted box and a detection to match.
        max_missed: Consecutive updates a confirmed track may go unmatched before it ends.
        min_hits: Consecutive matched updates before a track is confirmed and reported; a
            tentative track is dropped at its first miss (one-frame false positives never
            become tracks).
        class_aware: A detection only continues a track of the same ``class_id``, or of a class of the
            same ``class_groups`` group.
        class_groups: Disjoint sets of class ids that may continue each other's tracks: the detector
            scores one van a car on a frame and a truck on the next, and a class-aware match would end
            the van's track at each flip and start another. Such a track's class is decided by vote
            (see :class:`Track`).
        min_score: Detections below this score are ignored.
        meas_noise: Detector box noise, as a fraction of the box height (std dev).
        accel_noise: Unmodelled acceleration, in box heights per s² (std dev); scaling by
            the box height makes the filter equally stiff for a near bus and a far pedestrian.
        init_vel_std: Initial velocity uncertainty, in box heights per second.
        stationary_s: A track whose box centre stays within ``stationary_move`` of where it
            was for this many seconds is stationary (a parked vehicle, someone waiting);
            ``0`` disables the marking.
        stationary_move: The bound on that displacement, in box heights (the box's own
            jitter is a few hundredths; a walker covers about one height per second).
        min_visible: When :meth:`Tracker.update` is given the frame's size, a coasting track whose
            predicted box has less than this fraction of its area inside the frame has left the
            picture: it ends there, instead of coasting off the edge for ``max_missed`` updates.
    """

    iou_threshold: float = 0.2
    max_missed: int = 5
    min_hits: int = 3
    class_aware: bool = True
    class_groups: tuple[frozenset[int], ...] = ()
    min_score: float = 0.0
    meas_noise: float = 0.05
    accel_noise: float = 2.0
    init_vel_std: float = 2.0
    stationary_s: float = 10.0
    stationary_move: float = 0.25
    min_visible: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError("iou_threshold must be in (0, 1]")
        if self.max_missed < 0:
            raise ValueError("max_missed must be >= 0")
        if self.min_hits < 1:
            raise ValueError("min_hits must be >= 1")
        if self.meas_noise <= 0.0 or self.accel_noise <= 0.0 or self.init_vel_std <= 0.0:
            raise ValueError("noise parameters must be > 0")
        if self.stationary_s < 0.0 or self.stationary_move <= 0.0:
            raise ValueError("stationary_s must be >= 0 and stationary_move > 0")
        if not 0.0 <= self.min_visible <= 1.0:
            raise ValueError("min_visible must be in [0, 1]")
        grouped = [c for g in self.class_groups for c in g]
        if len(grouped) != len(set(grouped)):
            raise ValueError("class_groups must be disjoint")

    def association_key(self, class_id: int) -> int:
        """Classes with the same key may match: a group's index, or ``-1 - class_id`` for an ungrouped class."""
        return self._group_index.get(class_id, -1 - class_id)

    @functools.cached_property
    def _group_index(self) -> dict[int, int]:
        return {c: i for i, group in enumerate(self.class_groups) for c in group}


@dataclass(frozen=True)
class Track:
    """A confirmed track as seen by the rest of the pipeline; also a :class:`BoxLike`.

    Attributes:
        track_id: Stable id, unique and increasing per tracker instance (assigned at
            confirmation, so consumers never see ids of tracks that did not make it).
        class_id: Class of the detections that built the track: within a ``class_groups`` group, the class
            with the highest summed score over the track's matched detections (the current one on a tie),
            so one frame scored "car" does not relabel a van that was "truck" on every other.
        x0, y0, x1, y1: Filtered box; the predicted box while the track is coasting. Clipped to the frame
            when the tracker is given its size.
        score: Score of the last matched detection.
        vx, vy: Estimated velocity of the box centre, pixels per second.
        hits: Matched updates so far.
        missed: Consecutive updates without a match; ``0`` means observed at ``last_seen``.
        first_seen: Time of the first detection of the track.
        last_seen: Time of the last matched detection.
        stationary: The box centre has stayed within ``stationary_move`` box heights of one
            place for ``stationary_s`` seconds of observations (see :func:`stationary_step`).
    """

    track_id: int
    class_id: int
    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    vx: float
    vy: float
    hits: int
    missed: int
    first_seen: float
    last_seen: float
    stationary: bool = False


@dataclass(frozen=True)
class Anchor:
    """Where a track was last seen to settle: a centre and the time it got there."""

    cx: float
    cy: float
    since: float


def stationary_step(anchor: Anchor | None, cx: float, cy: float, h: float, t: float, move: float
                    ) -> Anchor:
    """The anchor after an observed centre ``(cx, cy)`` of a box ``h`` high at ``t``.

    The anchor stays while the centre is within ``move * h`` of it, and moves to the centre (time reset)
    as soon as it leaves: a track is stationary when ``t - anchor.since`` reaches the configured time.
    Measuring from a fixed anchor, not frame to frame, keeps a slow walker (a few pixels per frame) from
    ever counting as stationary, and box jitter from ever resetting a parked car.
    """
    if anchor is not None and math.hypot(cx - anchor.cx, cy - anchor.cy) <= move * max(h, 1.0):
        return anchor
    return Anchor(cx, cy, t)


class TrackEventKind(enum.StrEnum):
    """Lifecycle of a confirmed track."""

    NEW = "new"
    UPDATE = "update"
    END = "end"


@dataclass(frozen=True)
class TrackEvent:
    """One lifecycle step of one track."""

    kind: TrackEventKind
    track: Track


@dataclass(frozen=True)
class TrackUpdate:
    """What one :meth:`Tracker.update` call returns.

    Attributes:
        t: The update's time.
        tracks: Confirmed, live tracks (observed or coasting), by increasing id.
        events: ``NEW`` for tracks confirmed now, ``UPDATE`` for confirmed tracks matched
            now, ``END`` for tracks lost beyond ``max_missed`` (no longer in ``tracks``).
    """

    t: float
    tracks: tuple[Track, ...]
    events: tuple[TrackEvent, ...]

    def of_kind(self, kind: TrackEventKind) -> tuple[Track, ...]:
        """The tracks of the events of one kind, in event order."""
        return tuple(e.track for e in self.events if e.kind is kind)


def greedy_match(score: FloatArray, threshold: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Match rows to columns, best score first, ignoring pairs below ``threshold``.

    Returns ``(pairs, unmatched_rows, unmatched_cols)``. Ties are broken by row then column
    index, so the result is deterministic.
    """
    n_rows, n_cols = score.shape
    rows, cols = np.nonzero(score >= threshold)
    order = np.lexsort((cols, rows, -score[rows, cols]))
    used_r: set[int] = set()
    used_c: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        pairs.append((r, c))
    return (
        pairs,
        [r for r in range(n_rows) if r not in used_r],
        [c for c in range(n_cols) if c not in used_c],
    )


@functools.lru_cache(maxsize=16)
def _motion_model(dt: float) -> tuple[FloatArray, FloatArray]:
    """Transition ``F`` and the process noise per unit of acceleration variance, for a step of ``dt``.

    Every track of one update steps by the same ``dt`` (and at a steady frame rate, most updates too), so
    both are built once and shared instead of per track and frame. Read-only, since they are shared; ``Q``
    is then ``q_unit * var_a``, the same products as scaling each block by ``var_a`` directly.
    """
    i4 = np.eye(4)
    f = np.eye(8)
    f[:4, 4:] = i4 * dt
    q = np.zeros((8, 8))
    q[:4, :4] = i4 * (dt**4 / 4.0)
    q[:4, 4:] = q[4:, :4] = i4 * (dt**3 / 2.0)
    q[4:, 4:] = i4 * (dt**2)
    f.setflags(write=False)
    q.setflags(write=False)
    return f, q


def _xyxy_to_z(box: FloatArray) -> FloatArray:
    x0, y0, x1, y1 = box.tolist()  # Python floats: the same IEEE operations as on numpy scalars, cheaper
    return np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0, x1 - x0, y1 - y0], dtype=np.float64)


class KalmanBox:
    """Constant-velocity Kalman filter on ``(cx, cy, w, h)`` and their rates, in pixels and seconds.

    Process noise is a discrete white-noise acceleration scaled by the box height, as in
    DeepSORT: a far pedestrian moving 5 px is a large move, a near bus moving 5 px is not.
    """

    _I4 = np.eye(4)
    _I8 = np.eye(8)

    def __init__(self, box: FloatArray, config: TrackerConfig) -> None:
        self._cfg = config
        z = _xyxy_to_z(box)
        self.x: FloatArray = np.concatenate([z, np.zeros(4)])
        h = max(z[3], 1.0)
        pos_std = 2.0 * config.meas_noise * h
        vel_std = config.init_vel_std * h
        self.P: FloatArray = np.diag([pos_std**2] * 4 + [vel_std**2] * 4)

    def predict(self, dt: float) -> None:
        """Advance the state by ``dt`` seconds (``dt == 0`` leaves it unchanged)."""
        if dt <= 0.0:
            return
        f, q_unit = _motion_model(dt)
        h = max(self.x[3], 1.0)
        var_a = (self._cfg.accel_noise * h) ** 2
        self.x = f @ self.x
        self.P = f @ self.P @ f.T + q_unit * var_a
        self.x[2] = max(self.x[2], 1.0)
        self.x[3] = max(self.x[3], 1.0)

    def update(self, box: FloatArray) -> None:
        """Correct the state with a measured box.

        ``H = [I4 | 0]`` only selects the position rows, so ``H P``, ``H P Hᵀ``, ``H x`` and ``K H`` are
        written as slices: the same numbers as the matrix products (multiplying by 1 and adding exact zeros
        changes no bit), without four of the small-matrix calls whose overhead is most of their cost.
        """
        s, ph = self.innovation()
        self.correct(box, np.asarray(np.linalg.solve(s, ph), dtype=np.float64).T)

    def innovation(self) -> tuple[FloatArray, FloatArray]:
        """``S = H P Hᵀ + R`` and ``H P``, whose solution ``S⁻¹ H P`` is the transposed Kalman gain."""
        h = max(self.x[3], 1.0)
        r = self._I4 * (self._cfg.meas_noise * h) ** 2
        return self.P[:4, :4] + r, self.P[:4]

    def correct(self, box: FloatArray, k: FloatArray) -> None:
        """The rest of :meth:`update`, given the gain ``k`` (8x4) solved from :meth:`innovation`."""
        z = _xyxy_to_z(box)
        self.x = self.x + k @ (z - self.x[:4])
        i_kh = self._I8.copy()
        i_kh[:, :4] -= k
        self.P = i_kh @ self.P
        self.x[2] = max(self.x[2], 1.0)
        self.x[3] = max(self.x[3], 1.0)

    def box(self) -> FloatArray:
        """Current state as ``x0, y0, x1, y1``."""
        cx, cy, w, h = self.x[:4]
        return np.array([cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0], dtype=np.float64)


class _State:
    """Mutable per-track bookkeeping, private to the tracker."""

    __slots__ = ("anchor", "class_id", "first_seen", "hits", "kf", "last_seen", "missed", "score", "stationary",
                 "track_id", "votes")

    def __init__(self, det_box: FloatArray, class_id: int, score: float, t: float, config: TrackerConfig) -> None:
        self.kf = KalmanBox(det_box, config)
        self.class_id = class_id
        self.score = score
        self.hits = 1
        self.missed = 0
        self.first_seen = t
        self.last_seen = t
        self.track_id: int | None = None
        self.anchor: Anchor | None = None
        self.stationary = False
        self.votes: dict[int, float] = {class_id: score}

    def vote(self, class_id: int, score: float) -> None:
        """Count a matched detection's class, weighted by its score; the class is the leader, kept on a tie."""
        self.votes[class_id] = self.votes.get(class_id, 0.0) + score
        if self.votes[class_id] > self.votes.get(self.class_id, 0.0):
            self.class_id = class_id

    def settle(self, box: FloatArray, t: float, config: TrackerConfig) -> None:
        """Follow the observed box's centre for the stationary marking (measured, not filtered, positions)."""
        if config.stationary_s <= 0.0:
            return
        x0, y0, x1, y1 = box.tolist()
        self.anchor = stationary_step(self.anchor, (x0 + x1) / 2, (y0 + y1) / 2, y1 - y0, t, config.stationary_move)
        self.stationary = t - self.anchor.since >= config.stationary_s

    def hold_size(self) -> None:
        """Stop the box's size from changing while no detection measures it (at a track's first miss).

        The size rates come from a few noisy boxes; extrapolated over a few coasting updates they shrink (or
        swell) the box for no reason, down to a pixel wide. A box's size changes with distance, slowly: the
        last size stands until the object is seen again. Its position keeps the estimated velocity.
        """
        self.kf.x[6:8] = 0.0

    def snapshot(self, bounds: tuple[float, float] | None = None) -> Track:
        assert self.track_id is not None
        # KalmanBox.box() on Python floats: the same IEEE operations, without an array per snapshot.
        cx, cy, w, h, vx, vy = self.kf.x[:6].tolist()
        x0, y0, x1, y1 = cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0
        if bounds is not None:
            x0, y0, x1, y1 = _clip((x0, y0, x1, y1), bounds)
        return Track(
            track_id=self.track_id,
            class_id=self.class_id,
            x0=x0,
            y0=y0,
            x1=x1,
            y1=y1,
            score=self.score,
            vx=vx,
            vy=vy,
            hits=self.hits,
            missed=self.missed,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            stationary=self.stationary,
        )


class Tracker:
    """Turns per-frame detections into tracks with stable ids and lifecycle events."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._states: list[_State] = []
        self._next_id = 1
        self._t: float | None = None

    def update(self, detections: Sequence[BoxLike], t: float, frame: tuple[float, float] | None = None
               ) -> TrackUpdate:
        """Advance to time ``t`` with the detector's output for that frame.

        ``frame`` is the frame's ``(width, height)``: given, reported boxes are clipped to it and a coasting
        track whose predicted box has left it ends (``min_visible``).

        Raises:
            ValueError: ``t`` is earlier than the previous update's time.
        """
        cfg = self.config
        if self._t is not None and t < self._t:
            raise ValueError(f"time went backwards: {t} < {self._t}")
        dt = 0.0 if self._t is None else t - self._t
        self._t = t
        bounds = None if frame is None else (float(frame[0]), float(frame[1]))

        dets = [d for d in detections if d.score >= cfg.min_score]
        det_boxes = boxes_to_array(dets)
        for s in self._states:
            s.kf.predict(dt)
        track_boxes = (
            _boxes(np.stack([s.kf.x[:4] for s in self._states])) if self._states else np.zeros((0, 4), dtype=np.float64)
        )
        iou = iou_matrix(track_boxes, det_boxes)
        if cfg.class_aware and iou.size:
            track_cls = np.array([cfg.association_key(s.class_id) for s in self._states])
            det_cls = np.array([cfg.association_key(d.class_id) for d in dets])
            iou = np.where(track_cls[:, None] == det_cls[None, :], iou, 0.0)
        pairs, lost, fresh = greedy_match(iou, cfg.iou_threshold)

        events: list[TrackEvent] = []
        # Snapshots of matched tracks, reused for ``tracks`` below: nothing changes them after this loop.
        seen: dict[int, Track] = {}
        for (r, c), k in zip(pairs, _gains([self._states[r].kf for r, _ in pairs]), strict=True):
            s = self._states[r]
            s.kf.correct(det_boxes[c], k)
            s.settle(det_boxes[c], t, cfg)
            s.hits += 1
            s.missed = 0
            s.last_seen = t
            s.score = float(dets[c].score)
            s.vote(dets[c].class_id, s.score)
            if s.track_id is None and s.hits >= cfg.min_hits:
                s.track_id = self._take_id()
                seen[id(s)] = snap = s.snapshot(bounds)
                events.append(TrackEvent(TrackEventKind.NEW, snap))
            elif s.track_id is not None:
                seen[id(s)] = snap = s.snapshot(bounds)
                events.append(TrackEvent(TrackEventKind.UPDATE, snap))

        ended = self._miss(lost, track_boxes, bounds, events)
        self._states = [s for i, s in enumerate(self._states) if i not in ended]

        for c in fresh:
            d = dets[c]
            s = _State(det_boxes[c], d.class_id, float(d.score), t, cfg)
            s.settle(det_boxes[c], t, cfg)
            self._states.append(s)
            if cfg.min_hits <= 1:
                s.track_id = self._take_id()
                events.append(TrackEvent(TrackEventKind.NEW, s.snapshot(bounds)))

        tracks = tuple(
            sorted((seen.get(id(s)) or s.snapshot(bounds) for s in self._states if s.track_id is not None),
                   key=_by_id)
        )
        return TrackUpdate(t=t, tracks=tracks, events=tuple(events))

    def _miss(self, lost: list[int], predicted: FloatArray, bounds: tuple[float, float] | None,
              events: list[TrackEvent]) -> set[int]:
        """Count a miss for each of the ``lost`` states; the indices of those that end (``END`` events added).

        A tentative track ends at its first miss, a confirmed one after ``max_missed``, or as soon as its
        ``predicted`` box is out of the frame (``min_visible``).
        """
        cfg = self.config
        ended: set[int] = set()
        for r in lost:
            s = self._states[r]
            s.missed += 1
            if s.missed == 1:
                s.hold_size()
            gone = bounds is not None and _visible(predicted[r], bounds) < cfg.min_visible
            if s.track_id is None or s.missed > cfg.max_missed or gone:
                ended.add(r)
                if s.track_id is not None:
                    events.append(TrackEvent(TrackEventKind.END, s.snapshot(bounds)))
        return ended

    def followed(self) -> tuple[tuple[float, float, float, float], ...]:
        """Boxes ``(x0, y0, x1, y1)`` of every live track, tentative ones included, as of the last update.

        The camera's motion filter keeps a detection near one of these: a track that a refresh run started on a
        still object must be able to collect the consecutive hits that confirm it, moving or not.
        """
        if not self._states:
            return ()
        boxes = _boxes(np.stack([s.kf.x[:4] for s in self._states])).tolist()
        return tuple((x0, y0, x1, y1) for x0, y0, x1, y1 in boxes)

    def _take_id(self) -> int:
        track_id = self._next_id
        self._next_id += 1
        return track_id


def _gains(filters: list[KalmanBox]) -> list[FloatArray]:
    """The Kalman gains of :meth:`KalmanBox.update` for several filters, solved in one call.

    ``np.linalg.solve`` on a stack runs the same LAPACK solve on each matrix as on one alone (same gains to the
    bit), but its Python-level checks and error-state set-up, most of its cost on a 4x4 system, are paid once
    per frame instead of once per matched track.
    """
    if not filters:
        return []
    systems = [kf.innovation() for kf in filters]
    solved = np.linalg.solve(np.stack([s for s, _ in systems]), np.stack([ph for _, ph in systems]))
    return [k.T for k in solved]


def _boxes(z: FloatArray) -> FloatArray:
    """``[n, 4]`` centre/size states to ``x0, y0, x1, y1``: :meth:`KalmanBox.box` for all tracks at once."""
    half_w, half_h = z[:, 2] / 2.0, z[:, 3] / 2.0
    return np.stack([z[:, 0] - half_w, z[:, 1] - half_h, z[:, 0] + half_w, z[:, 1] + half_h], axis=1)


def _clip(box: tuple[float, float, float, float], bounds: tuple[float, float]) -> tuple[float, float, float, float]:
    """``box`` cut to the frame ``(0, 0)-(width, height)``; a box wholly outside collapses onto its edge."""
    w, h = bounds
    x0, y0, x1, y1 = box
    return (min(max(x0, 0.0), w), min(max(y0, 0.0), h), min(max(x1, 0.0), w), min(max(y1, 0.0), h))


def _visible(box: FloatArray, bounds: tuple[float, float]) -> float:
    """Fraction of ``box``'s area inside the frame ``(0, 0)-(width, height)`` (``0.0`` for an empty box)."""
    x0, y0, x1, y1 = (float(v) for v in box.tolist())
    area = (x1 - x0) * (y1 - y0)
    if area <= 0.0:
        return 0.0
    cx0, cy0, cx1, cy1 = _clip((x0, y0, x1, y1), bounds)
    return (cx1 - cx0) * (cy1 - cy0) / area


def _by_id(track: Track) -> int:
    return track.track_id
