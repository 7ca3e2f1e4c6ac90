"""``vigie-coordinator light-inventory``: load the luminaires of the box configs into the database."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from coordinator.storage import DEFAULT_URL, make_engine

from .inventory_sync import sync_inventory


def _cmd_inventory(args: argparse.Namespace) -> int:
    engine = make_engine(args.database_url or os.environ.get("VIGIE_DATABASE_URL") or DEFAULT_URL)
    report = sync_inventory(engine, Path(args.configs))
    for name, error in sorted(report.errors.items()):
        print(f"{name}: skipped: {error}", file=sys.stderr)
    print(f"{report.boxes} light boxes, {report.luminaires} luminaires")
    return 1 if report.errors else 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("light-inventory", help="load luminaires and their groups from the box configs")
    p.add_argument("--configs", default=os.environ.get("VIGIE_FIRMWARE_CONFIGS", "firmware_configs"))
    p.add_argument("--database-url", default=None)
    p.set_defaults(func=_cmd_inventory)
