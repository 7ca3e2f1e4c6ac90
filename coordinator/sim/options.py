"""The ``simulate city`` command line, loadable without the simulation.

The simulation hosts real boxes (edge agents, simulated drivers); the rest of ``vigie-coordinator`` must not load
them (a web or ingest worker holds no box code), so the runner is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .city import City, generate_city

PG_ADMIN_URL = "postgresql+psycopg://vigie_test:vigie_test@127.0.0.1:5432/postgres"


def add_city_arguments(p: argparse.ArgumentParser) -> None:
    """The city's shape and its field's behaviour: the same for the runner and each of its hosts."""
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--cabinets", type=int, default=340)
    p.add_argument("--cameras", type=int, default=115)
    p.add_argument("--luminaires", type=int, default=100, help="luminaires per cabinet")
    p.add_argument("--sensor-share", type=float, default=0.1, help="share of streets with a presence sensor")
    p.add_argument("--communes", default="", help="comma-separated slugs (default: the 23 communes)")
    p.add_argument("--fault-acceleration", type=float, default=100.0,
                   help="lamp failures arrive this many times faster than their yearly rate")
    p.add_argument("--burst-cameras", type=int, default=20)
    p.add_argument("--burst-factor", type=float, default=10.0)
    p.add_argument("--burst-at-s", type=float, default=-1.0,
                   help="burst start, s after the boxes start (default: only when SIGHUP starts it)")
    p.add_argument("--burst-s", type=float, default=0.0, help="burst length, s (0: no burst)")
    p.add_argument("--offline-share", type=float, default=0.05, help="cabinets SIGUSR1 takes offline")


def city_from(args: argparse.Namespace) -> City:
    sites = [s for s in args.communes.split(",") if s] or None
    return generate_city(args.seed, args.cabinets, args.cameras, args.luminaires, args.sensor_share, sites)


def add_parser(sub: Any) -> None:
    """``simulate city`` under the ``vigie-coordinator`` command."""
    sim = sub.add_parser("simulate", help="simulations of the field at scale")
    kinds = sim.add_subparsers(dest="simulation", required=True)
    c = kinds.add_parser("city", help="the whole métropole's boxes against the coordinator as deployed")
    c.add_argument("--dir", type=Path, default=Path("var/city"))
    c.add_argument("--broker-port", type=int, default=0, help="use this broker on 127.0.0.1 (default: start one)")
    c.add_argument("--web-port", type=int, default=8090)
    c.add_argument("--database-url", default="", help="use this database (default: a throwaway PostgreSQL one)")
    c.add_argument("--pg-admin-url", default=os.environ.get("VIGIE_SIM_PG", PG_ADMIN_URL))
    c.add_argument("--keep-database", action="store_true")
    c.add_argument("--ingest-workers", type=int, default=2)
    c.add_argument("--web-workers", type=int, default=2)
    c.add_argument("--hosts", type=int, default=2, help="processes hosting the boxes")
    c.add_argument("--traffic-at", default="now",
                   help="local hour (HH:MM) whose traffic the cameras and sensors follow from the start (default: now)")
    c.add_argument("--decision-interval-s", type=float, default=5.0,
                   help="light nodes' decision interval (a field box: 1 s; commands and presence act at once)")
    c.add_argument("--telemetry-s", type=float, default=60.0)
    add_city_arguments(c)
    c.set_defaults(func=_run_city)


def _run_city(args: argparse.Namespace) -> int:
    from .run import run_city  # noqa: PLC0415 - the boxes' code loads with this command only

    return run_city(args)
