"""``vigie-coordinator simulate city``: the métropole's boxes against the coordinator as deployed, on one machine.

What it starts, in order (each a real process, stopped in reverse on Ctrl-C/SIGTERM):

1. a private Mosquitto on 127.0.0.1 (or ``--broker-port`` of one already running);
2. a throwaway PostgreSQL database on the server of ``--pg-admin-url`` (dropped at the end unless
   ``--keep-database``), or ``--database-url``; migrated, with an ``admin`` account whose API token is written to
   ``<dir>/api-token.txt`` (0600);
3. the city's box configs (:mod:`vigie_config.metropole.city`) under ``<dir>/boxes``, seeded into the fleet
   registry and the lighting inventory as ``vigie-coordinator fleet seed`` does;
4. the coordinator: ``--ingest-workers`` ingest workers on the shared subscription, the periodic jobs, the
   notification worker, the web app under gunicorn;
5. ``--hosts`` processes hosting the boxes (:mod:`edge_agent.simulation.city_host_main`, started by module name:
   the coordinator imports no box code), a slice of the city each.

``<dir>/city.json`` then says where everything is (ports, database, token file, process ids by name), for a
benchmark to drive and measure. SIGUSR1 takes ``--offline-share`` of the cabinets offline, SIGUSR2 brings them back,
SIGHUP starts the cameras' burst (``--burst-s`` long).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from vigie_config.metropole.city import Timing, city_argv, city_from, write_city_configs

from ..broker import LocalBroker, free_port
from ..demo.run import Children
from ..lighting.inventory_sync import sync_inventory
from ..seed import seed_fleet
from ..storage import make_engine, upgrade
from ..storage import users as user_store

ROOT = Path(__file__).resolve().parents[2]
ADMIN_USER = "admin"
PARIS = ZoneInfo("Europe/Paris")
#: A process hosting a slice of the city's boxes: box code, started by module name, never imported here.
HOST_MODULE = "edge_agent.simulation.city_host_main"


def clock_offset(at: str, now: dt.datetime | None = None) -> dt.timedelta:
    """How far the traffic's clock runs ahead so that Paris time reads ``at`` (HH:MM) now; ``now``: no shift."""
    if at == "now":
        return dt.timedelta(0)
    now = now or dt.datetime.now(PARIS)
    hour, minute = (int(x) for x in at.split(":"))
    target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target < now:
        target += dt.timedelta(days=1)
    return target - now


def _throwaway_database(admin_url: str) -> str:
    name = f"vigie_city_{uuid.uuid4().hex[:10]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _prepare(db_url: str, root: Path, boxes: Path) -> tuple[int, int]:
    """Migrate, create the admin account and its token, seed the fleet; returns (devices, light boxes)."""
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            user = user_store.get_user(conn, username=ADMIN_USER)
            uid = user.id if user is not None else user_store.create_user(
                conn, ADMIN_USER, secrets.token_urlsafe(12), "admin", None)
            token = user_store.create_token(conn, uid, "city simulation")
        path = root / "api-token.txt"
        path.write_text(token + "\n", encoding="utf-8")
        path.chmod(0o600)
        seeded = seed_fleet(engine, boxes)
        if seeded.errors:
            raise RuntimeError("box configs refused: " + "; ".join(seeded.errors[:3]))
        inventory = sync_inventory(engine, boxes)
        return seeded.created + seeded.updated, inventory.boxes
    finally:
        engine.dispose()


def _wait_http(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            time.sleep(0.3)
    return False


def _start_coordinator(children: Children, args: argparse.Namespace,
                       env: dict[str, str]) -> tuple[dict[str, int], list[int]]:
    """The coordinator's processes as deployed: ingest workers on the shared subscription, jobs, notify, web."""
    exe = [sys.executable, "-m"]
    pids: dict[str, int] = {}
    metrics_ports: list[int] = []
    for i in range(1, args.ingest_workers + 1):
        mport = free_port()
        metrics_ports.append(mport)
        pids[f"ingest-{i}"] = children.start(f"ingest-{i}", [*exe, "coordinator.cli", "ingest", "--client-id",
                                                             f"vigie-ingest-{i}", "--metrics-port", str(mport)],
                                             env).pid
    pids["jobs"] = children.start("jobs", [*exe, "coordinator.cli", "jobs"], env).pid
    pids["notify"] = children.start("notify", [*exe, "coordinator.cli", "notify"], env).pid
    pids["web"] = children.start("web", [*exe, "gunicorn", "--bind", f"127.0.0.1:{args.web_port}",
                                         "--workers", str(args.web_workers), "--worker-class", "gthread",
                                         "--threads", "8", "coordinator.wsgi:app"], env).pid
    return pids, metrics_ports


def _start_hosts(children: Children, args: argparse.Namespace, boxes: Path, offset: dt.timedelta,
                 env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """``--hosts`` processes hosting a slice of the city's boxes each (box code, started by module name)."""
    return [children.start(f"host-{i}", [sys.executable, "-m", HOST_MODULE, "--dir", str(boxes), "--index", str(i),
                                         "--count", str(args.hosts), "--traffic-offset-s",
                                         str(offset.total_seconds()), *city_argv(args)], env)
            for i in range(args.hosts)]


def _signals() -> tuple[threading.Event, list[int]]:
    """Stop on SIGINT/SIGTERM; SIGUSR1/SIGUSR2/SIGHUP are queued to be passed on to the hosts."""
    stop = threading.Event()
    signals: list[int] = []
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: signals.append(signal.SIGUSR1))
    signal.signal(signal.SIGUSR2, lambda *_: signals.append(signal.SIGUSR2))
    signal.signal(signal.SIGHUP, lambda *_: signals.append(signal.SIGHUP))
    return stop, signals


def run_city(args: argparse.Namespace) -> int:
    root: Path = args.dir.resolve()
    boxes = root / "boxes"
    root.mkdir(parents=True, exist_ok=True)
    stop, signals = _signals()
    broker = LocalBroker(root / "broker") if not args.broker_port else None
    port = args.broker_port
    children = Children(root / "logs")
    db_url = args.database_url
    throwaway = not db_url
    try:
        if broker is not None:
            broker.start()
            port = broker.port
        print(f"broker: 127.0.0.1:{port}", flush=True)
        if throwaway:
            db_url = _throwaway_database(args.pg_admin_url)
        city = city_from(args)
        write_city_configs(city, boxes, port, Timing(light_telemetry_s=args.telemetry_s,
                                                     other_telemetry_s=args.telemetry_s,
                                                     decision_interval_s=args.decision_interval_s))
        devices, lights = _prepare(db_url, root, boxes)
        print(f"city: {len(city.light_boxes)} cabinets ({city.luminaire_count} luminaires), {len(city.cameras)} "
              f"cameras, {len(city.sensors)} presence sensors; {devices} devices seeded, {lights} light boxes",
              flush=True)
        env = {**os.environ, "VIGIE_DATABASE_URL": db_url, "VIGIE_SECRET_KEY": secrets.token_hex(32),
               "VIGIE_MQTT_HOST": "127.0.0.1", "VIGIE_MQTT_PORT": str(port), "PYTHONUNBUFFERED": "1"}
        pids, metrics_ports = _start_coordinator(children, args, env)
        offset = clock_offset(args.traffic_at)
        hosts = _start_hosts(children, args, boxes, offset, env)
        pids.update({f"host-{i}": proc.pid for i, proc in enumerate(hosts)})
        if not _wait_http(args.web_port, 120):
            print(f"web app did not answer on port {args.web_port}: {children.dead()}", file=sys.stderr)
            return 1
        if broker is not None and broker.proc is not None:
            pids["broker"] = broker.proc.pid
        status = {"broker_port": port, "web_port": args.web_port, "database_url": db_url,
                  "token_file": str(root / "api-token.txt"), "pids": pids, "ingest_metrics_ports": metrics_ports,
                  "boxes": city.box_count, "cabinets": len(city.light_boxes), "luminaires": city.luminaire_count,
                  "cameras": len(city.cameras), "sensors": len(city.sensors),
                  "traffic_offset_s": offset.total_seconds(), "logs": str(root / "logs")}
        (root / "city.json").write_text(json.dumps(status, indent=2), encoding="utf-8")
        print(f"ready: http://127.0.0.1:{args.web_port}/ ({city.box_count} boxes in {args.hosts} processes; "
              f"status in {root / 'city.json'})", flush=True)
        while not stop.wait(0.5):
            while signals:
                sig = signals.pop(0)
                for proc in hosts:
                    proc.send_signal(sig)
            dead = children.dead()
            if dead:
                print(f"stopping: a process exited: {', '.join(dead)}", file=sys.stderr)
                return 1
        return 0
    finally:
        children.stop_all()
        if broker is not None:
            broker.stop()
        if throwaway and db_url and not args.keep_database:
            _drop_database(args.pg_admin_url, db_url)
        print("city simulation stopped", flush=True)
