"""``vigie-coordinator``: the centre's commands."""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from . import admin_cli, ingest_cli
from .broker import BrokerSettings, render_mosquitto_conf
from .broker.files import add_parser as add_broker_config_parser
from .dispatch import cli as dispatch_cli
from .evidence import cli as evidence_cli
from .json_bridge import cli as bridge_cli
from .legal import cli as legal_cli
from .lighting import cli as lighting_cli
from .register import cli as register_cli
from .sim import options as simulate_cli
from .watch import watch


def _cmd_watch(args: argparse.Namespace) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    counts = watch(args.host, args.port, args.topic, lambda line: print(line, flush=True), stop)
    print(f"# {sum(counts.values())} messages: {dict(counts)}", file=sys.stderr)
    return 0


def _cmd_broker(args: argparse.Namespace) -> int:
    """Write the project's Mosquitto config for a local broker and exec Mosquitto on it."""
    data = Path(args.data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    # Run as whoever launched it, so the broker can write its persistence into data_dir.
    settings = BrokerSettings(data_dir=data, port=args.port, allow_anonymous=args.anonymous,
                              user=getpass.getuser())
    conf = data / "mosquitto.conf"
    conf.write_text(render_mosquitto_conf(settings), encoding="utf-8")
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    print(f"mosquitto on 127.0.0.1:{args.port}, config {conf}", flush=True)
    os.execv(exe, [exe, "-c", str(conf)])
    return 0  # not reached


def _cmd_demo(args: argparse.Namespace) -> int:
    # The demo's runner (a broker, a database, its child processes) loads with this command only; its boxes and
    # simulated gear run in child processes started by module name (edge_agent.simulation), never imported here.
    from .demo.run import run_demo  # noqa: PLC0415

    return run_demo(Path(args.dir), args.port, args.web_port, night=not args.real_time, telemetry_s=args.telemetry_s,
                    first_lamp_fault_s=args.first_lamp_fault_s)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vigie-coordinator", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("watch", help="print every decoded Vigie message as one JSON line")
    w.add_argument("--host", default="127.0.0.1")
    w.add_argument("--port", type=int, default=1883)
    w.add_argument("--topic", default="vigie/v1/#")
    w.set_defaults(func=_cmd_watch)
    b = sub.add_parser("broker", help="run a local Mosquitto with the project's configuration")
    b.add_argument("--data-dir", default="var/broker")
    b.add_argument("--port", type=int, default=1883)
    b.add_argument("--anonymous", action="store_true", help="allow anonymous clients (demo only)")
    b.set_defaults(func=_cmd_broker)
    d = sub.add_parser("demo", help="run the whole product on this machine (make demo)")
    d.add_argument("--dir", default="var/demo")
    d.add_argument("--port", type=int, default=18830)
    d.add_argument("--web-port", type=int, default=8080)
    d.add_argument("--real-time", action="store_true",
                   help="run the simulated cabinets on the real clock (by default a daytime demo shows 21:30)")
    d.add_argument("--telemetry-s", type=int, default=None,
                   help="every box's telemetry interval (default: 15 s for the field boxes, 30 s for the district)")
    d.add_argument("--first-lamp-fault-s", type=float, default=None,
                   help="when the district's first lamp fails (default: 30 to 90 s after start, at random)")
    d.set_defaults(func=_cmd_demo)
    admin_cli.add_parsers(sub)
    dispatch_cli.add_parsers(sub)
    lighting_cli.add_parsers(sub)
    ingest_cli.add_parsers(sub)
    register_cli.add_parsers(sub)
    evidence_cli.add_parsers(sub)
    legal_cli.add_parsers(sub)
    add_broker_config_parser(sub)
    bridge_cli.add_parsers(sub)
    simulate_cli.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
