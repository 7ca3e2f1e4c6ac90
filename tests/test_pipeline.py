"""The camera chain on the committed footage: tracks, line counts, masks, events on the wire."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import vigie_wire as wire
from edge_agent.vision.detectors import load_detector
from edge_agent.vision.pipeline import CameraPipeline
from tests.boxes import write_box
from tests.mqtt_helpers import Recorder, wait_until
from vigie_config.vision import CameraConfig

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / "tests" / "data" / "vtest_excerpt.avi"
CROSSINGS = json.loads((ROOT / "tests" / "data" / "line_crossings_ground_truth.json").read_text())
FPS = 10.0


def frames() -> Iterator[tuple[int, np.ndarray]]:
    cap = cv2.VideoCapture(str(VIDEO))
    index = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        yield index, image
        index += 1
    cap.release()


def camera(**overrides: Any) -> CameraConfig:
    raw: dict[str, Any] = {
        "name": "darcy-north",
        "source": str(VIDEO),
        "model": str(ROOT / "models" / "nanodet-g-416.manifest.json"),
        "lines": [{"id": "lawn-middle", "a": CROSSINGS["line"]["a"], "b": CROSSINGS["line"]["b"]}],
        "zones": [{"id": "lawn", "polygon": [[0.15, 0.45], [0.75, 0.45], [0.75, 1.0], [0.15, 1.0]], "loiter_s": 5}],
        "count_interval_s": 5,
    }
    raw.update(overrides)
    return CameraConfig.model_validate(raw)


#: Snapshots on crossings and zone entries, at most one every 3 s, full width: what the snapshot test checks.
SNAPSHOTS = {"enabled": True, "on": ["line_crossing", "zone_enter"], "min_interval_s": 3, "max_width": 768,
             "jpeg_quality": 90}


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    """The whole excerpt through the chain once; what each frame produced, the tracks, and the snapshots taken.

    One pass serves every test of the module (NanoDet on 150 frames is the costly part); snapshots do not change
    what the chain detects, tracks or emits, only what is encoded when an event calls for one.
    """
    cfg = camera(snapshots=SNAPSHOTS)
    pipe = CameraPipeline(0, cfg, load_detector(cfg.model, cfg.threads, score_threshold=cfg.score_threshold))
    events: list[tuple[int, wire.Event]] = []
    tracks: dict[int, list[tuple[int, tuple[float, float, float, float]]]] = {}
    shots: list[tuple[int, float, bytes]] = []
    originals: dict[int, np.ndarray] = {}
    for i, image in frames():
        produced = pipe.process(image, i / FPS)
        events += [(i, ev) for _, ev in produced]
        for tr in pipe.tracks:
            if tr.missed == 0:
                tracks.setdefault(tr.track_id, []).append((i, (tr.x0, tr.y0, tr.x1, tr.y1)))
        trigger = pipe.snapshot_trigger(produced)
        if trigger is not None:
            shots.append((i, produced[trigger][0], pipe.snapshot(image)))
            originals[i] = image
    return {"events": events, "tracks": tracks, "health": pipe.health(), "shots": shots, "originals": originals,
            "pipe": pipe}


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_line_crossings_match_the_hand_checked_count_with_direction(run: dict[str, Any]) -> None:
    crossings = [ev for _, ev in run["events"] if isinstance(ev, wire.LineCrossing)]
    # a = top, b = bottom of a vertical line: 'a_to_b' counts screen right-to-left as inbound.
    got = Counter("right_to_left" if c.inbound else "left_to_right" for c in crossings)
    want = CROSSINGS["totals"]
    assert abs(got["right_to_left"] - want["right_to_left"]) <= 1, (got, want)
    assert abs(got["left_to_right"] - want["left_to_right"]) <= 1, (got, want)


def test_crossings_happen_near_the_hand_checked_frames(run: dict[str, Any]) -> None:
    frames_seen = [i for i, ev in run["events"] if isinstance(ev, wire.LineCrossing)]
    truth = [c["frame"] for c in CROSSINGS["crossings"]]
    matched = [f for f in frames_seen if any(abs(f - t) <= 6 for t in truth)]
    assert len(matched) == len(frames_seen), f"crossings at {frames_seen}, truth at {truth}"


def test_a_person_walking_across_keeps_one_track_id(run: dict[str, Any]) -> None:
    # The bald man walks from near the lamp post (frame 60) up-left and stands near the left
    # edge from about frame 120 (positions checked by eye on the frames).
    start, end = (379, 157, 410, 236), (116, 142, 143, 215)

    def track_at(frame: int, box: tuple[int, ...]) -> int:
        best = max(((_iou(b, box), tid) for tid, path in run["tracks"].items() for f, b in path if f == frame),
                   default=(0.0, -1))
        assert best[0] > 0.3, f"no track on the person at frame {frame}"
        return best[1]

    assert track_at(60, start) == track_at(125, end)


def test_detections_and_zone_events_are_produced_as_changes(run: dict[str, Any]) -> None:
    kinds = Counter(type(ev).__name__ for _, ev in run["events"])
    assert kinds["Detection"] >= 8  # new tracks only, not one per frame
    assert kinds["Detection"] < 60, "a detection event per frame would be repeats, not changes"
    assert kinds["ZoneEnter"] >= 3 and kinds["Occupancy"] >= 3
    assert kinds["IntervalCounts"] == 2  # 15 s of footage, 5 s intervals closed at 5 and 10 s
    people = [ev for _, ev in run["events"] if isinstance(ev, wire.Detection)]
    assert all(ev.cls == 0 or ev.cls in (2, 7) for ev in people)  # persons, and the parked car/van


def test_a_masked_region_yields_no_detection(run: dict[str, Any]) -> None:
    right_half = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]
    cfg = camera(masks=[{"polygon": right_half}], lines=[], zones=[])
    pipe = CameraPipeline(0, cfg, load_detector(cfg.model, cfg.threads, score_threshold=cfg.score_threshold))
    unmasked_right = 0
    for i, image in frames():
        if i % 10:
            continue
        unmasked_right += sum(1 for d in pipe.detector.detect(image) if (d.x0 + d.x1) / 2 > 384 + 40)
        for d in pipe.last_detections(image):
            assert d.x1 <= 384 + 40, f"frame {i}: {d} lies in the masked half"
    assert unmasked_right > 10, "the test needs objects in the right half to mean anything"


#: The two vehicles parked top right for the whole excerpt (``tests/data/tracks_ground_truth.json``, V1 and V2).
PARKED = {"white van": (650, 44, 724, 100), "light-blue car": (735, 52, 768, 95)}


def test_parked_vehicles_are_tracked_and_marked_stationary_while_people_move(run: dict[str, Any]) -> None:
    # People walk through every second of the excerpt, so the frame always has motion somewhere, far from the
    # parked vehicles: only the detector runs that keep everything every refresh_s can start their tracks.
    pipe = run["pipe"]
    names = pipe.detector.class_names
    vehicles = [tr for tr in pipe.tracks if names[tr.class_id] in ("car", "truck", "bus")]
    for what, box in PARKED.items():
        on_it = [tr for tr in vehicles if _iou((tr.x0, tr.y0, tr.x1, tr.y1), box) > 0.5]
        assert len(on_it) == 1, f"{what}: {vehicles}"
        assert on_it[0].stationary, f"{what} not marked stationary: {on_it[0]}"
        assert on_it[0].first_seen <= 1.0, f"{what} tracked only from {on_it[0].first_seen} s"
    assert run["health"]["cam.0.stationary"] == 2
    # Their ids stay the same from the first frames to the last: one track each, not one per refresh.
    ids = {tid for tid, path in run["tracks"].items() for _, b in path if any(_iou(b, v) > 0.5 for v in PARKED.values())
           }
    assert len(ids) == 2, ids


def test_pipeline_reports_its_health(run: dict[str, Any]) -> None:
    h = run["health"]
    assert h["cam.0.frames"] == 150
    assert 0 < h["cam.0.inference_ms"] < 1000
    assert h["cam.0.detect_ratio"] > 0.5  # pedestrians move in almost every frame


def test_a_camera_box_publishes_its_events_to_the_broker(broker: Any, tmp_path: Path) -> None:
    cam = camera(detect_fps=10, snapshots={"enabled": True, "on": ["line_crossing"]}).model_dump(mode="json")
    _, path = write_box(tmp_path, broker.port, "cam-darcy-01", cameras=[cam])
    rec = Recorder(broker.port)
    proc = subprocess.Popen([sys.executable, "-m", "edge_agent.cli", "run", "--config", str(path)], cwd=ROOT)
    try:
        def events() -> list[wire.Event]:
            return [r.body for b in rec.decoded(wire.Kind.EVENT) for r in b.events]

        def clip_done() -> bool:  # the box's own telemetry says the clip is analysed and sent
            tel = [t.metrics for t in rec.decoded(wire.Kind.TELEMETRY)]
            return any(m.get("cam.0.frames") == 150 and m.get("link.outbox_depth") == 0 for m in tel)

        wait_until(clip_done, 120, "the whole clip analysed and delivered")
        emitted = [t.metrics for t in rec.decoded(wire.Kind.TELEMETRY)][-1]["link.events_emitted"]
        wait_until(lambda: len(events()) >= emitted, 10, "every event at the subscriber")
        birth = rec.decoded(wire.Kind.BIRTH)[-1]
        assert "vision" in birth.caps
        got = events()
        crossings = Counter("right_to_left" if e.inbound else "left_to_right"
                            for e in got if isinstance(e, wire.LineCrossing))
        want = CROSSINGS["totals"]
        assert abs(crossings["right_to_left"] - want["right_to_left"]) <= 1, crossings
        assert abs(crossings["left_to_right"] - want["left_to_right"]) <= 1, crossings
        assert sum(isinstance(e, wire.Detection) for e in got) >= 8
        batches = rec.decoded(wire.Kind.EVENT)
        ids = [(b.boot, r.n) for b in batches for r in b.events]
        assert len(ids) == len(set(ids)), "each event id once"
        assert sum(len(r.payload) for r in rec.snapshot() if "/event" in r.topic) < 50 * len(got) + 100 * len(batches)
        by_id = {(b.boot, r.n): r.body for b in batches for r in b.events}
        snaps = rec.decoded(wire.Kind.SNAPSHOT)
        assert snaps, "line crossings with snapshots on must send at least one"
        for snap in snaps:
            assert isinstance(by_id[(snap.boot, snap.n)], wire.LineCrossing)
            image = cv2.imdecode(np.frombuffer(snap.jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None and image.shape[1] == 640  # scaled to max_width
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        rec.close()


def _detail(grey: np.ndarray) -> float:
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def test_snapshots_are_rate_limited_and_no_longer_contain_the_people(run: dict[str, Any]) -> None:
    pipe: CameraPipeline = run["pipe"]
    shots: list[tuple[int, float, bytes]] = run["shots"]
    originals: dict[int, np.ndarray] = run["originals"]
    assert len(shots) >= 2
    times = [t for _, t, _ in shots]
    assert all(b - a >= 3 for a, b in itertools.pairwise(times)), times
    person = pipe.detector.class_names.index("person")
    checked = 0
    for i, _, jpeg in shots:
        snap = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
        orig = cv2.cvtColor(originals[i], cv2.COLOR_BGR2GRAY)
        assert snap.shape == orig.shape
        for d in pipe.detector.detect(originals[i]):
            if d.class_id != person or (d.x1 - d.x0) * (d.y1 - d.y0) < 1500:
                continue
            x0, y0, x1, y1 = (int(v) for v in (d.x0, d.y0, d.x1, d.y1))
            before, after = _detail(orig[y0:y1, x0:x1]), _detail(snap[y0:y1, x0:x1])
            assert after < 0.1 * before, f"frame {i}: person at {x0},{y0} still detailed ({after:.0f}/{before:.0f})"
            checked += 1
    assert checked >= 3, "the test must have looked at people"


def test_snapshots_are_off_unless_configured(run: dict[str, Any]) -> None:
    cfg = camera()
    assert cfg.snapshots.enabled is False
    pipe = CameraPipeline(0, cfg, load_detector(cfg.model, cfg.threads, score_threshold=cfg.score_threshold))
    assert pipe.snapshot_trigger([(0.0, ev) for _, ev in run["events"]]) is None
