"""``vigie-coordinator db ...`` and ``user ...``: database and account administration.

The database URL comes from ``--database-url`` or ``VIGIE_DATABASE_URL``. Passwords are read
from a file or standard input, never from the command line (it shows in ``ps``).
"""

from __future__ import annotations

import argparse
import os
import sys

from sqlalchemy.engine import Engine

from .storage import DEFAULT_URL, current_revision, head_revision, make_engine, schema_drift, upgrade
from .storage import users as user_store


def _engine(args: argparse.Namespace) -> Engine:
    return make_engine(args.database_url or os.environ.get("VIGIE_DATABASE_URL") or DEFAULT_URL)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    engine = _engine(args)
    upgrade(engine)
    print(f"database at revision {current_revision(engine)} (head {head_revision()})")
    return 0


def cmd_db_check(args: argparse.Namespace) -> int:
    """Exit 1 when the database is not at head or differs from the code's tables."""
    engine = _engine(args)
    rev, head = current_revision(engine), head_revision()
    if rev != head:
        print(f"database at revision {rev}, code expects {head}: run 'vigie-coordinator db upgrade'",
              file=sys.stderr)
        return 1
    drift = schema_drift(engine)
    for d in drift:
        print(f"schema differs: {d}", file=sys.stderr)
    return 1 if drift else 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_file:
        with open(args.password_file, encoding="utf-8") as fh:
            return fh.read().strip()
    return sys.stdin.readline().rstrip("\n")


def cmd_user_add(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        with engine.begin() as conn:
            uid = user_store.create_user(conn, args.username, _read_password(args), args.role, args.commune)
            token = user_store.create_token(conn, uid, "cli") if args.token else None
    except user_store.UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"user {args.username} ({args.role}, {args.commune or 'métropole'}) created with id {uid}")
    if token:
        print(f"token (shown once): {token}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="database schema")
    db.add_argument("--database-url", help="default: $VIGIE_DATABASE_URL or " + DEFAULT_URL)
    dbsub = db.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", help="apply the migrations").set_defaults(func=cmd_db_upgrade)
    dbsub.add_parser("check", help="exit 1 unless the schema is current").set_defaults(func=cmd_db_check)
    user = sub.add_parser("user", help="accounts")
    user.add_argument("--database-url")
    usub = user.add_subparsers(dest="user_command", required=True)
    add = usub.add_parser("add", help="create a user; the password is read from --password-file or stdin")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["viewer", "operator", "supervisor", "admin"])
    add.add_argument("--commune", help="commune slug; omit for métropole staff")
    add.add_argument("--password-file")
    add.add_argument("--token", action="store_true", help="also create and print a bearer token")
    add.set_defaults(func=cmd_user_add)
