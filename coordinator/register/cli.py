"""``vigie-coordinator register verify|export``: check the chain, or write it out as CSV.

``verify`` exits 0 when every entry and the head hold, 1 naming the first bad entry otherwise;
it needs only the database, so an auditor can run it against a copy.
"""

from __future__ import annotations

import argparse
import os
import sys

from coordinator.storage import DEFAULT_URL, make_engine
from coordinator.storage import register as register_store

from .csv_export import write_csv


def _url(args: argparse.Namespace) -> str:
    return str(args.database_url or os.environ.get("VIGIE_DATABASE_URL") or DEFAULT_URL)


def cmd_verify(args: argparse.Namespace) -> int:
    engine = make_engine(_url(args))
    try:
        with engine.connect() as conn:
            count, broken = register_store.verify(conn)
    finally:
        engine.dispose()
    if broken is not None:
        print(f"register BROKEN at entry {broken.seq}: {broken.reason} ({count} entries read)", file=sys.stderr)
        return 1
    print(f"register intact: {count} entries, chain and head agree")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    engine = make_engine(_url(args))
    try:
        with engine.connect() as conn:
            f = register_store.Filter(camera=args.camera, procedure=args.procedure)
            write_csv(sys.stdout, register_store.iter_all(conn, f))
    finally:
        engine.dispose()
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    reg = sub.add_parser("register", help="the R252-11 register (hash-chained)")
    reg.add_argument("--database-url", help="default: $VIGIE_DATABASE_URL or " + DEFAULT_URL)
    rsub = reg.add_subparsers(dest="register_command", required=True)
    rsub.add_parser("verify", help="check every entry's hash and the chain; exit 1 naming the first bad entry"
                    ).set_defaults(func=cmd_verify)
    exp = rsub.add_parser("export", help="write entries as CSV to standard output")
    exp.add_argument("--camera")
    exp.add_argument("--procedure")
    exp.set_defaults(func=cmd_export)
