"""``vigie-coordinator demo``: what exists today, end to end, in one command.

A private Mosquitto with the project's configuration, one camera box running NanoDet on the
committed street footage (looped at its real pace) and publishing tracked, privacy-safe events
through its link (durable outbox, batching, birth/death), and the wire watcher printing every
decoded message. Ctrl-C stops everything; running it again reuses ``var/demo`` safely.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from .broker import LocalBroker
from .watch import watch

DEMO_PORT = 18830
ROOT = Path(__file__).resolve().parents[1]
FIRMWARE_CONFIGS = ROOT / "firmware_configs"
FOOTAGE = ROOT / "tests" / "data" / "vtest_excerpt.avi"
MODEL = ROOT / "models" / "nanodet-g-416.manifest.json"


def _demo_config(root: Path, port: int, device: str) -> Path:
    """A field config of ``firmware_configs/`` pointed at the local broker (no TLS, no password: demo only)."""
    raw = yaml.safe_load((FIRMWARE_CONFIGS / f"{device}.yaml").read_text(encoding="utf-8"))
    raw["mqtt"] = {"host": "127.0.0.1", "port": port}
    raw["outbox"] = {**raw.get("outbox", {}), "path": str(root / f"{device}-outbox.sqlite3")}
    raw["telemetry_interval_s"] = 10
    # The pole camera is replaced by the committed street footage, looped at its real pace.
    for cam in raw.get("cameras", []):
        cam.update(source=str(FOOTAGE), loop=True, realtime=True, model=str(MODEL))
    if raw.get("lighting"):
        raw["lighting"]["state_file"] = str(root / f"{device}-lighting-state.json")
    path = root / f"{device}.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def run_demo(root: Path = Path("var/demo"), port: int = DEMO_PORT) -> int:
    root = root.resolve()
    broker = LocalBroker(root / "broker", port=port)
    root.mkdir(parents=True, exist_ok=True)
    camera_box = _demo_config(root, port, "cam-darcy-01")
    light_box = _demo_config(root, port, "light-darcy-01")

    print(f"[1/3] broker: mosquitto on 127.0.0.1:{port} ({broker.conf})", flush=True)
    broker.start()
    children: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        print("[2/3] edge box cam-darcy-01 (dijon): NanoDet on the street footage, events through its link",
              flush=True)
        children.append(subprocess.Popen([sys.executable, "-m", "edge_agent.cli", "run", "--config", str(camera_box)]))
        print("      light box light-darcy-01: 8 simulated luminaires, boosted by the camera's crossing zone",
              flush=True)
        children.append(subprocess.Popen([sys.executable, "-m", "edge_agent.cli", "run", "--config", str(light_box)]))
        print("[3/3] watching vigie/v1/# — one decoded message per line; Ctrl-C stops", flush=True)
        watch("127.0.0.1", port, "vigie/v1/#", lambda line: print(line, flush=True), stop)
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
        broker.stop()
        print("demo stopped", flush=True)
    return 0
