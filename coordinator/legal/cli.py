"""``vigie-coordinator legal designate|authority-add``: designated agents and authority accounts.

Both are decisions of the centre's head (the prefect's authorisation names the agents), made on
the server's command line rather than through the web.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time

from coordinator.storage import DEFAULT_URL, make_engine
from coordinator.storage import requisitions as store


def cmd_designate(args: argparse.Namespace) -> int:
    engine = make_engine(args.database_url or os.environ.get("VIGIE_DATABASE_URL") or DEFAULT_URL)
    now = int(time.time() * 1000)
    with engine.begin() as conn:
        if not store.designate(conn, args.username, getpass.getuser()[:64], now):
            print(f"error: no user {args.username!r}", file=sys.stderr)
            return 1
    engine.dispose()
    print(f"{args.username} is a designated agent")
    return 0


def cmd_authority_add(args: argparse.Namespace) -> int:
    engine = make_engine(args.database_url or os.environ.get("VIGIE_DATABASE_URL") or DEFAULT_URL)
    now = int(time.time() * 1000)
    with engine.begin() as conn:
        aid, token = store.add_authority(conn, args.name, now)
    engine.dispose()
    print(f"authority {aid} {args.name!r}; its bearer token (shown once): {token}")
    return 0


def cmd_box_token(args: argparse.Namespace) -> int:
    engine = make_engine(args.database_url or os.environ.get("VIGIE_DATABASE_URL") or DEFAULT_URL)
    with engine.begin() as conn:
        token = store.set_box_token(conn, args.device, int(time.time() * 1000))
    engine.dispose()
    print(token)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    legal = sub.add_parser("legal", help="designated agents and authority accounts (requisitions)")
    legal.add_argument("--database-url", help="default: $VIGIE_DATABASE_URL or " + DEFAULT_URL)
    lsub = legal.add_subparsers(dest="legal_command", required=True)
    d = lsub.add_parser("designate", help="make a user a designated agent (may record requisitions and extract)")
    d.add_argument("username")
    d.set_defaults(func=cmd_designate)
    a = lsub.add_parser("authority-add", help="create an authority account (parquet, OPJ service) and its token")
    a.add_argument("name")
    a.set_defaults(func=cmd_authority_add)
    b = lsub.add_parser("box-token", help="issue (or replace) a box's segment upload token; prints it")
    b.add_argument("device")
    b.set_defaults(func=cmd_box_token)

