"""``vigie-coordinator ingest``, ``jobs`` and ``fleet seed``: the coordinator's background processes.

Settings come from ``VIGIE_*`` variables (the same keys as the Flask app, see
:mod:`coordinator.settings`); a few command-line options override them for one process.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from . import periodic, settings
from .ingest.config import IngestSettings
from .ingest.worker import IngestWorker
from .ingest_hooks import default_hooks
from .lighting.inventory_sync import sync_inventory
from .seed import seed_fleet
from .storage import make_engine


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_ingest(args: argparse.Namespace) -> int:
    _logging()
    config = settings.from_env()
    if args.client_id:
        config["INGEST_CLIENT_ID"] = args.client_id
    if args.metrics_port is not None:
        config["INGEST_METRICS_PORT"] = args.metrics_port
    s = IngestSettings.from_config(config)
    engine = make_engine(s.database_url)
    worker = IngestWorker(s, engine, hooks_factory=default_hooks)
    logging.getLogger("vigie.ingest").info(
        "ingest worker %s: broker %s:%d, group %s, database %s", s.client_id, s.mqtt_host, s.mqtt_port,
        s.share_group, engine.url.render_as_string(hide_password=True))
    try:
        worker.run(_stop_on_signals())
    except RuntimeError as exc:
        logging.getLogger("vigie.ingest").error("ingest worker stopped: %s", exc)
        return 1
    finally:
        engine.dispose()
    return 0


def cmd_jobs(_args: argparse.Namespace) -> int:
    _logging()
    engine = make_engine(str(settings.from_env()["DATABASE_URL"]))
    logging.getLogger("vigie.jobs").info("periodic jobs: %s", ", ".join(j.name for j in periodic.JOBS) or "none")
    periodic.run_jobs(engine, _stop_on_signals())
    engine.dispose()
    return 0


def cmd_fleet_seed(args: argparse.Namespace) -> int:
    config = settings.from_env()
    engine = make_engine(args.database_url or str(config["DATABASE_URL"]))
    configs = Path(args.configs or config["FIRMWARE_CONFIGS"])
    result = seed_fleet(engine, configs)
    # Group commands need to know which boxes must answer, energy needs each luminaire's rating.
    inventory = sync_inventory(engine, configs)
    engine.dispose()
    for err in result.errors:
        print(err, file=sys.stderr)
    print(f"fleet registry: {result.created} devices added, {result.updated} updated, {len(result.errors)} "
          f"configs refused; lighting inventory of {inventory.boxes} light boxes")
    return 1 if result.errors else 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    i = sub.add_parser("ingest", help="run an ingest worker (MQTT -> database), until SIGTERM")
    i.add_argument("--client-id", help="fixed MQTT client id of this worker (default $VIGIE_INGEST_CLIENT_ID)")
    i.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    i.set_defaults(func=cmd_ingest)
    j = sub.add_parser("jobs", help="run the periodic jobs (retention, SLA...), until SIGTERM")
    j.set_defaults(func=cmd_jobs)
    f = sub.add_parser("fleet", help="fleet registry")
    fsub = f.add_subparsers(dest="fleet_command", required=True)
    seed = fsub.add_parser("seed", help="add or update devices from the box configs (idempotent)")
    seed.add_argument("--configs", help="directory of box configs (default $VIGIE_FIRMWARE_CONFIGS)")
    seed.add_argument("--database-url", help="default: $VIGIE_DATABASE_URL")
    seed.set_defaults(func=cmd_fleet_seed)
