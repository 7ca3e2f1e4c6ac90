"""The ``simulate city`` command line, loadable without the simulation.

The simulation hosts real boxes (edge agents, simulated drivers) in child processes of its own
(:mod:`edge_agent.simulation.city_host_main`), started by module name: the coordinator imports no box code. The
city's shape (:mod:`vigie_config.metropole.city`) is shared by the runner and its hosts; the runner itself (a
broker, a database, processes) is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from vigie_config.metropole.city import add_city_arguments

PG_ADMIN_URL = "postgresql+psycopg://vigie_test:vigie_test@127.0.0.1:5432/postgres"


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
    from .run import run_city  # noqa: PLC0415 - the runner's machinery loads with this command only

    return run_city(args)
