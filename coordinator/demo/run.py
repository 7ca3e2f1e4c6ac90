"""``vigie-coordinator demo`` (= ``make demo``): the whole product on one machine.

A private Mosquitto, the coordinator on SQLite (migrations, fleet seeded from the box configs,
an ingest worker, the periodic jobs, the web app under gunicorn), two camera boxes running
NanoDet on the committed street footage (looped), the committed boxes of the Dijon demo district
(a DALI cabinet on the DALI simulator, with its Modbus controller and meter on the cabinet simulator),
and a simulated district of 20 light cabinets (2,000 luminaires) with presence sensors over seven
communes. Prints the UI address and the demo login. Ctrl-C stops everything; running it again
is safe (state lives in ``var/demo``; the database and outboxes are reused).

Every box and every piece of simulated field gear runs in a child process started by module name (``vigie-edge``'s
agent, :mod:`edge_agent.simulation.district_main`, :mod:`edge_agent.simulation.cabinet_main`): the coordinator
imports no box code. The demo writes the boxes' configs (:mod:`vigie_config.metropole.district` for the district)
and seeds its fleet from them, as an operator would.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from vigie_config.metropole import district as district_mod
from vigie_config.metropole.district import write_configs

from ..broker import LocalBroker, free_port
from ..storage import make_engine, upgrade
from ..storage import users as user_store
from .seed import seed_demo

DEMO_PORT = 18830
WEB_PORT = 8080
ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_CONFIGS = ROOT / "firmware_configs"
FOOTAGE = ROOT / "tests" / "data" / "vtest_excerpt.avi"
MODEL = ROOT / "models" / "nanodet-g-416.manifest.json"
DEMO_USER = "demo"
#: The field's simulators, box code started by module name (never imported here).
CABINET_MODULE = "edge_agent.simulation.cabinet_main"
DISTRICT_MODULE = "edge_agent.simulation.district_main"


def field_config(root: Path, port: int, src: Path, telemetry_s: int = 15) -> Path:
    """A committed field config pointed at the local broker (no TLS, no password: demo only)."""
    raw: dict[str, Any] = yaml.safe_load(src.read_text(encoding="utf-8"))
    device = raw["device_id"]
    raw["mqtt"] = {"host": "127.0.0.1", "port": port}
    raw["outbox"] = {**raw.get("outbox", {}), "path": str(root / f"{device}-outbox.sqlite3")}
    raw["telemetry_interval_s"] = telemetry_s
    # Pole cameras are replaced by the committed street footage, looped at its real pace, at a
    # detection rate two boxes can share on a small machine.
    for cam in raw.get("cameras", []):
        cam.update(source=str(FOOTAGE), loop=True, realtime=True, model=str(MODEL))
        cam["detect_fps"] = min(float(cam.get("detect_fps", 5)), 4.0)
    if raw.get("lighting"):
        raw["lighting"]["state_file"] = str(root / f"{device}-lighting-state.json")
        _simulate_dali(raw["lighting"])
        _simulate_cabinet(raw["lighting"])
    path = root / f"{device}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _simulate_dali(lighting: dict[str, Any]) -> None:
    """A DALI cabinet's interface is replaced by the DALI simulator (python-dali's fake bus with D4i gear), one
    gear per luminaire at its short address and with its rating, so the demo shows energy metered by the gear."""
    driver = lighting.get("driver")
    if not isinstance(driver, dict) or driver.get("kind") != "dali":
        return
    addresses = driver.get("addresses", {})
    at = {addresses.get(lum["id"], i): float(lum["rated_w"]) for i, lum in enumerate(lighting["luminaires"])}
    count = max(at) + 1
    ratings = ",".join(f"{at.get(a, 60.0):g}" for a in range(count))
    driver["transport"] = f"fake:{count}?rated_w={ratings}"


def _simulate_cabinet(lighting: dict[str, Any]) -> None:
    """A Modbus cabinet's interface is replaced by the cabinet simulator the demo starts on 127.0.0.1, on a port
    free now (see :mod:`edge_agent.simulation.cabinet_sim`): its controller and meter answer at the cabinet's
    address."""
    cabinet = lighting.get("cabinet")
    if not isinstance(cabinet, dict):
        return
    cabinet.update(host="127.0.0.1", port=free_port())
    for role in ("controller", "meter"):
        if isinstance(cabinet.get(role), dict):
            cabinet[role].pop("host", None)
            cabinet[role].pop("port", None)


def has_cabinet(path: Path) -> bool:
    """Whether a (demo-rewritten) box config has a Modbus cabinet for the demo to simulate."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return isinstance(raw.get("lighting"), dict) and isinstance(raw["lighting"].get("cabinet"), dict)


def _wait_tcp(path: Path, timeout: float) -> bool:
    """Wait until the cabinet simulator of box ``path`` listens (so the box's first poll finds it)."""
    port = int(yaml.safe_load(path.read_text(encoding="utf-8"))["lighting"]["cabinet"]["port"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


class Children:
    """Child processes started in order and stopped in reverse, each with its log file."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.last: set[int] = set()

    def start(self, name: str, argv: list[str], env: dict[str, str], *, last: bool = False) -> subprocess.Popen[bytes]:
        """Start ``argv`` logging to ``<name>.log``; a ``last`` process (field hardware a box talks to) is stopped
        only once every other one has exited."""
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.procs.append((name, proc))
        if last:
            self.last.add(proc.pid)
        return proc

    def dead(self) -> list[str]:
        return [f"{name} (exit {p.returncode}, see {self.logs / (name + '.log')})"
                for name, p in self.procs if p.poll() is not None]

    def stop_all(self) -> None:
        for last in (False, True):
            procs = [p for _name, p in reversed(self.procs) if (p.pid in self.last) == last]
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _start_cabinets(children: Children, field_paths: list[Path], port: int, env: dict[str, str]) -> bool:
    """Start the cabinet simulator of every box with a Modbus cabinet, and wait until each listens."""
    for path in (p for p in field_paths if has_cabinet(p)):
        children.start(f"cabinet-{path.stem}", [sys.executable, "-m", CABINET_MODULE,
                                                "--config", str(path), "--mqtt-port", str(port)], env, last=True)
        if not _wait_tcp(path, 20):
            print(f"cabinet simulator of {path.stem} did not start: {children.dead()}", file=sys.stderr)
            return False
    return True


def _step(n: int, total: int, text: str) -> None:
    print(f"[{n}/{total}] {text}", flush=True)


def _demo_password(root: Path) -> str:
    """The demo login's password: generated once, kept in var/demo (never a default credential)."""
    path = root / "demo-password.txt"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(9) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _secret_key(root: Path) -> str:
    path = root / "secret-key.txt"
    if not path.exists():
        path.write_text(secrets.token_hex(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _wait_http(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1) as resp:
                return bool(resp.status == 200)
        except OSError:
            time.sleep(0.3)
    return False


def _prepare_database(root: Path, db_url: str) -> str:
    """Migrate, and create the demo login once; returns its password."""
    engine = make_engine(db_url)
    upgrade(engine)
    password = _demo_password(root)
    with engine.begin() as conn:
        if user_store.get_user(conn, username=DEMO_USER) is None:
            user_store.create_user(conn, DEMO_USER, password, "admin", None)
    teams, rules = seed_demo(engine)
    if teams or rules:
        print(f"      demo teams and rules: {teams} teams, {rules} rules added", flush=True)
    engine.dispose()
    return password


def run_demo(root: Path = Path("var/demo"), port: int = DEMO_PORT, web_port: int = WEB_PORT,
             night: bool = True, telemetry_s: int | None = None, first_lamp_fault_s: float | None = None) -> int:
    """Run the demo until Ctrl-C (or SIGTERM).

    ``telemetry_s`` shortens every box's telemetry interval (15 s for the field boxes, 30 s for the district by
    default) and ``first_lamp_fault_s`` sets when the district's first lamp fails (30 to 90 s at random by
    default): the browser tests drive the demo's real processes and cannot wait a minute for either.
    """
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    boxes_dir = root / "boxes"
    boxes_dir.mkdir(exist_ok=True)
    db_url = f"sqlite:///{root / 'vigie.sqlite3'}"
    total = 7
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    broker = LocalBroker(root / "broker", port=port)
    children = Children(root / "logs")
    env = {**os.environ, "VIGIE_DATABASE_URL": db_url, "VIGIE_SECRET_KEY": _secret_key(root),
           "VIGIE_MQTT_HOST": "127.0.0.1", "VIGIE_MQTT_PORT": str(port), "PYTHONUNBUFFERED": "1",
           "VIGIE_MODELS_DIR": str(MODEL.parent)}
    exe = [sys.executable, "-m"]
    try:
        _step(1, total, f"broker: mosquitto on 127.0.0.1:{port}")
        broker.start()

        _step(2, total, f"database: {db_url} (migrations, demo login, teams and rules)")
        password = _prepare_database(root, db_url)

        _step(3, total, "box configs: the committed Dijon district + a simulated district of 20 cabinets")
        district = district_mod.generate()
        committed = sorted(p for p in FIRMWARE_CONFIGS.glob("*.yaml"))
        field_paths = [field_config(boxes_dir, port, p, telemetry_s or 15) for p in committed]
        light_paths, sensor_paths = write_configs(district, boxes_dir / "district", port, telemetry_s or 30)
        print(f"      {len(field_paths)} field boxes, {len(light_paths)} light cabinets "
              f"({district.luminaire_count} luminaires), {len(sensor_paths)} presence sensors", flush=True)
        for configs in (boxes_dir, boxes_dir / "district"):
            subprocess.run([*exe, "coordinator.cli", "fleet", "seed", "--configs", str(configs)], env=env,
                           check=True, cwd=ROOT)

        _step(4, total, "coordinator: ingest worker, periodic jobs, team notifications, web app")
        children.start("ingest", [*exe, "coordinator.cli", "ingest"], env)
        children.start("jobs", [*exe, "coordinator.cli", "jobs"], env)
        children.start("notify", [*exe, "coordinator.cli", "notify"], env)
        children.start("web", [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{web_port}",
                               "--worker-class", "gthread", "--threads", "16", "coordinator.wsgi:app"], env)
        if not _wait_http(web_port, 60):
            print(f"web app did not answer on port {web_port}: {children.dead()}", file=sys.stderr)
            return 1

        _step(5, total, "field boxes: cameras on the street footage (NanoDet), light cabinets (DALI and Modbus "
                        "cabinet simulators)")
        if not _start_cabinets(children, field_paths, port, env):
            return 1
        for path in field_paths:
            children.start(path.stem, [*exe, "edge_agent.cli", "run", "--config", str(path)], env)

        offset = _night_offset() if night else dt.timedelta(0)
        _step(6, total, "simulated district: 20 cabinets, 2,000 luminaires, presence sensors"
              + (f" (light clocks shifted {offset} to show the night)" if offset else ""))
        children.start("district", [*exe, DISTRICT_MODULE, "--dir", str(boxes_dir / "district"),
                                    "--port", str(port), "--clock-offset-s", str(int(offset.total_seconds())),
                                    *_pace(telemetry_s, first_lamp_fault_s)], env)

        _step(7, total, "ready")
        print(f"\n  Vigie UI:  http://127.0.0.1:{web_port}/\n  login:     {DEMO_USER}\n"
              f"  password:  {password}   (demo only, kept in {root / 'demo-password.txt'})\n"
              f"  Ctrl-C stops everything.\n", flush=True)
        while not stop.wait(2.0):
            dead = children.dead()
            if dead:
                print(f"stopping: a demo process exited: {', '.join(dead)}", file=sys.stderr)
                return 1
    finally:
        children.stop_all()
        broker.stop()
        print("demo stopped", flush=True)
    return 0


def _pace(telemetry_s: int | None, first_lamp_fault_s: float | None) -> list[str]:
    """The district process's options for a faster pace than the demo's own (tests)."""
    out = [] if telemetry_s is None else ["--telemetry-s", str(telemetry_s)]
    return out if first_lamp_fault_s is None else [*out, "--first-lamp-fault-s", str(first_lamp_fault_s)]


def _night_offset(now: dt.datetime | None = None) -> dt.timedelta:
    """Shift to 21:30 local time when the demo starts in daylight hours, so lights are on."""
    now = now or dt.datetime.now().astimezone()
    if now.hour >= 19 or now.hour < 6:
        return dt.timedelta(0)
    target = now.replace(hour=21, minute=30, second=0, microsecond=0)
    return target - now
