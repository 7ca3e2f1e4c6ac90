"""Record, once, what the real camera chain emits on the committed footage: the camera boxes' event mix.

The city simulation cannot run NanoDet for 115 cameras on two cores; its camera boxes replay instead the mix the
real chain produces. This module produces that mix: the committed excerpt (``tests/data/vtest_excerpt.avi``, a
campus road crossing, 15 s at 10 fps) goes through :class:`~edge_agent.vision.pipeline.CameraPipeline` with the
zones and line of ``firmware_configs/cam-darcy-01.yaml`` at its detection rate (5 fps: every other frame), and
the events are tallied per type and per class, scaled to a minute. The result is committed as
``edge_agent/simulation/camera_mix.json`` and read by :mod:`.camera_replay`; re-run it when the chain changes::

    .venv/bin/python -m edge_agent.simulation.record_mix      # writes edge_agent/simulation/camera_mix.json

Counts (``counts`` events) come once per ``count_interval_s`` whatever the traffic, so the file records the
interval rather than a rate for them.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

import vigie_wire as wire
from edge_agent.vision.detectors import load_detector
from edge_agent.vision.pipeline import CameraPipeline
from vigie_config.vision import CameraConfig

ROOT = Path(__file__).resolve().parents[2]
FOOTAGE = ROOT / "tests" / "data" / "vtest_excerpt.avi"
CONFIG = ROOT / "firmware_configs" / "cam-darcy-01.yaml"
MODEL = ROOT / "models" / "nanodet-g-416.manifest.json"
OUT = Path(__file__).resolve().with_name("camera_mix.json")
SOURCE_FPS = 10.0


def record(passes: int = 1) -> dict[str, Any]:
    """Run the real chain over the footage ``passes`` times (a fresh chain each pass) and tally its events."""
    raw = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["cameras"][0]
    raw.update(source=str(FOOTAGE), model=str(MODEL))
    cfg = CameraConfig.model_validate(raw)
    step = max(1, round(SOURCE_FPS / cfg.detect_fps))
    by_type: Counter[str] = Counter()
    by_class: Counter[int] = Counter()
    seconds = 0.0
    detector = load_detector(cfg.model, cfg.threads, score_threshold=cfg.score_threshold)
    for _ in range(passes):
        pipe = CameraPipeline(0, cfg, detector)
        cap = cv2.VideoCapture(str(FOOTAGE))
        index = 0
        while True:
            ok, image = cap.read()
            if not ok:
                break
            if index % step == 0:
                for _t, ev in pipe.process(np.asarray(image, dtype=np.uint8), index / SOURCE_FPS):
                    by_type[ev.wire_name] += 1
                    cls = getattr(ev, "cls", None)
                    if isinstance(cls, int) and isinstance(ev, wire.ZoneEnter | wire.LineCrossing | wire.TrackEnd):
                        by_class[cls] += 1
            index += 1
        cap.release()
        seconds += index / SOURCE_FPS
    minutes = seconds / 60
    total_cls = sum(by_class.values()) or 1
    return {
        "source": f"{FOOTAGE.relative_to(ROOT)} through {CONFIG.relative_to(ROOT)}'s first camera, "
                  f"{cfg.detect_fps:g} fps detection, {passes} pass(es) of {seconds / passes:.1f} s",
        "per_minute": {k: round(v / minutes, 2) for k, v in sorted(by_type.items()) if k != "counts"},
        "count_interval_s": cfg.count_interval_s,
        "class_share": {str(c): round(n / total_cls, 3) for c, n in sorted(by_class.items())},
        "zones": [z.id for z in cfg.zones],
        "lines": [ln.id for ln in cfg.lines],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--passes", type=int, default=1)
    args = p.parse_args()
    mix = record(args.passes)
    args.out.write_text(json.dumps(mix, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(mix, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
