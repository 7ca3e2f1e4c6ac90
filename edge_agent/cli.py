"""``vigie-edge``: run a box, validate box configs, probe field devices, or push test events through the link."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import vigie_wire as wire
from vigie_config.errors import ConfigError, SharedConfigError

from .agent import Agent
from .box_config import load_box_config
from .errors import EdgeError
from .probe.cli import add_probe_parser
from .recording.crypto import generate_key


def _cmd_validate(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.configs:
        try:
            load_box_config(path)
        except ConfigError as exc:
            failed += 1
            print(exc, file=sys.stderr)
        else:
            print(f"{path}: ok")
    return 1 if failed else 0


def _cmd_recording_key(args: argparse.Namespace) -> int:
    """Create a box's recording key once; an existing key is never replaced (its segments would be lost)."""
    try:
        generate_key(args.path)
    except FileExistsError:
        print(f"{args.path}: a recording key exists already; it is kept", file=sys.stderr)
        return 2
    print(f"{args.path}: new recording key (32 random bytes, mode 0600)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    agent = Agent(load_box_config(args.config), Path(args.config))
    agent.run_forever()
    return 0


def _cmd_selftest(args: argparse.Namespace) -> int:
    """Emit synthetic detections, printing each accepted id: a field check of the whole path."""
    agent = Agent(load_box_config(args.config), Path(args.config))
    agent.start()
    period = 1.0 / args.rate if args.rate > 0 else 0.0
    next_at = time.monotonic()
    try:
        for i in range(args.events):
            boot, n = agent.link.emit(wire.Detection(0, i, 0, 80, (100, 100, 50, 120)))
            print(f"accepted {boot} {n}", flush=True)
            if period:
                next_at += period
                time.sleep(max(0.0, next_at - time.monotonic()))
        drained = agent.link.wait_drained(args.drain_s)
        print(f"drained {drained} depth {len(agent.outbox)}", flush=True)
    finally:
        agent.shutdown(drain_s=0)
    return 0 if drained else 3


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vigie-edge", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check box configs; exit 1 on any error")
    v.add_argument("configs", nargs="+", type=Path)
    v.set_defaults(func=_cmd_validate)
    k = sub.add_parser("recording-key", help="create the box's recording key (once; never replaced)")
    k.add_argument("path", type=Path)
    k.set_defaults(func=_cmd_recording_key)
    r = sub.add_parser("run", help="run a box against its broker")
    r.add_argument("--config", required=True, type=Path)
    r.set_defaults(func=_cmd_run)
    s = sub.add_parser("selftest", help="send synthetic detection events through the link")
    s.add_argument("--config", required=True, type=Path)
    s.add_argument("--events", type=int, default=100)
    s.add_argument("--rate", type=float, default=50.0, help="events per second (0 = as fast as possible)")
    s.add_argument("--drain-s", type=float, default=30.0, help="how long to wait for the broker's PUBACKs")
    s.set_defaults(func=_cmd_selftest)
    add_probe_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s",
    )
    try:
        return int(args.func(args))
    except (SharedConfigError, EdgeError) as exc:
        print(f"vigie-edge: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
