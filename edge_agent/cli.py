"""``vigie-edge``: run a box, validate box configs, probe field devices, or push test events through the link."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import vigie_wire as wire

from .agent import Agent
from .config import load_config
from .config.secrets import read_password
from .errors import ConfigError, EdgeError
from .probe.camera import probe_camera


def _cmd_validate(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.configs:
        try:
            load_config(path)
        except ConfigError as exc:
            failed += 1
            print(exc, file=sys.stderr)
        else:
            print(f"{path}: ok")
    return 1 if failed else 0


def _cmd_run(args: argparse.Namespace) -> int:
    agent = Agent(load_config(args.config), Path(args.config))
    agent.run_forever()
    return 0


def _cmd_selftest(args: argparse.Namespace) -> int:
    """Emit synthetic detections, printing each accepted id: a field check of the whole path."""
    agent = Agent(load_config(args.config), Path(args.config))
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


def _cmd_probe_camera(args: argparse.Namespace) -> int:
    """Probe one camera, given by its URL or by its section of a box config; exit 1 on any failed step."""
    camera = None
    if args.config is not None:
        cameras = load_config(args.config).cameras
        named = [c for c in cameras if args.camera in (None, c.name)]
        if not named:
            known = ", ".join(c.name for c in cameras) or "none"
            raise ConfigError(f"{args.config}: no camera {args.camera!r} (cameras: {known})")
        camera = named[0]
    source = args.source or (camera.source if camera is not None else None)
    if source is None:
        raise ConfigError("probe camera: give a source (URL, onvif://user@host, file, device) or --config")
    password_file = args.password_file or (camera.password_file if camera is not None else None)
    password = None if password_file is None else read_password(password_file)
    report = probe_camera(source, password=password, camera=camera, frames=args.frames, snapshot=args.snapshot,
                          timeout_s=args.timeout, model=args.model)
    print(report.table(), flush=True)
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vigie-edge", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check box configs; exit 1 on any error")
    v.add_argument("configs", nargs="+", type=Path)
    v.set_defaults(func=_cmd_validate)
    r = sub.add_parser("run", help="run a box against its broker")
    r.add_argument("--config", required=True, type=Path)
    r.set_defaults(func=_cmd_run)
    s = sub.add_parser("selftest", help="send synthetic detection events through the link")
    s.add_argument("--config", required=True, type=Path)
    s.add_argument("--events", type=int, default=100)
    s.add_argument("--rate", type=float, default=50.0, help="events per second (0 = as fast as possible)")
    s.add_argument("--drain-s", type=float, default=30.0, help="how long to wait for the broker's PUBACKs")
    s.set_defaults(func=_cmd_selftest)
    pr = sub.add_parser("probe", help="check field devices before running a box; exit 1 on any failure")
    kinds = pr.add_subparsers(dest="kind", required=True)
    c = kinds.add_parser("camera", help="connect, read, measure, detect; --snapshot for the install report")
    c.add_argument("source", nargs="?", help="rtsp://..., onvif://user@host[:port], file or device index")
    c.add_argument("--config", type=Path, help="box config: take the camera's source, password, masks, model")
    c.add_argument("--camera", help="camera name in --config (default: the first)")
    c.add_argument("--password-file", type=Path, help="file holding the camera password (first line)")
    c.add_argument("--frames", type=int, default=20, help="frames read to measure the rate")
    c.add_argument("--snapshot", type=Path, help="write a privacy-masked JPEG frame here")
    c.add_argument("--timeout", type=float, default=10.0, help="seconds allowed to each network step")
    c.add_argument("--model", type=Path, help="detector manifest (default: the camera's, else NanoDet)")
    c.set_defaults(func=_cmd_probe_camera)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s",
    )
    try:
        return int(args.func(args))
    except (ConfigError, EdgeError) as exc:
        print(f"vigie-edge: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
