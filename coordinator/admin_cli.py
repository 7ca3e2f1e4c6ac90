"""``vigie-coordinator db ...``, ``user ...`` and ``audit``: database, accounts and the security log.

The database URL comes from ``--database-url`` or ``VIGIE_DATABASE_URL``. Passwords are read
from a file or standard input, never from the command line (it shows in ``ps``). Account changes
made here are written to the audit log like those made through the API, with the operating
system's user name as the actor and ``cli`` as the way in.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict

from sqlalchemy.engine import Engine

from .auth.audit import KINDS, Actor
from .storage import (
    DEFAULT_URL,
    audit,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    schema_drift,
    upgrade,
)
from .storage import users as user_store


def _engine(args: argparse.Namespace) -> Engine:
    return make_engine(args.database_url or os.environ.get("VIGIE_DATABASE_URL") or DEFAULT_URL)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    engine = _engine(args)
    upgrade(engine)
    print(f"database at revision {current_revision(engine)} (head {head_revision()})")
    return 0


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    """Back to an earlier revision, e.g. before a release is rolled back (each step keeps the data it can)."""
    engine = _engine(args)
    downgrade(engine, args.revision)
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


def _cli_actor() -> Actor:
    return Actor(getpass.getuser()[:64], "cli")


def _read_password(args: argparse.Namespace) -> str:
    if args.password_file:
        with open(args.password_file, encoding="utf-8") as fh:
            return fh.read().strip()
    return sys.stdin.readline().rstrip("\n")


def cmd_user_add(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        with engine.begin() as conn:
            uid = user_store.create_user(conn, args.username, _read_password(args), args.role, args.commune,
                                         by=_cli_actor())
            token = user_store.create_token(conn, uid, "cli", by=_cli_actor()) if args.token else None
    except user_store.UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"user {args.username} ({args.role}, {args.commune or 'métropole'}) created with id {uid}")
    if token:
        print(f"token (shown once): {token}")
    return 0


def _change_user(args: argparse.Namespace, active: bool | None = None, role: str | None = None) -> int:
    engine = _engine(args)
    try:
        with engine.begin() as conn:
            user = user_store.get_user(conn, username=args.username)
            if user is None:
                print(f"error: no user {args.username!r}", file=sys.stderr)
                return 1
            updated = user_store.update_user(conn, user, _cli_actor(), active=active, role=role)
    except user_store.UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(updated), ensure_ascii=False))
    return 0


def cmd_user_deactivate(args: argparse.Namespace) -> int:
    """Deactivate: the user's sessions end and tokens are revoked at once."""
    return _change_user(args, active=False)


def cmd_user_activate(args: argparse.Namespace) -> int:
    return _change_user(args, active=True)


def cmd_user_set_role(args: argparse.Namespace) -> int:
    return _change_user(args, role=args.role)


def cmd_user_list(args: argparse.Namespace) -> int:
    with _engine(args).connect() as conn:
        for u in user_store.list_users(conn):
            print(json.dumps(asdict(u), ensure_ascii=False))
    return 0


def cmd_user_revoke_tokens(args: argparse.Namespace) -> int:
    with _engine(args).begin() as conn:
        user = user_store.get_user(conn, username=args.username)
        if user is None:
            print(f"error: no user {args.username!r}", file=sys.stderr)
            return 1
        revoked = user_store.revoke_tokens(conn, user, _cli_actor(), args.token_id)
    print(f"{len(revoked)} token(s) of {args.username} revoked: {revoked}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Print security events newest first, one JSON object per line (``--before`` pages on)."""
    with _engine(args).connect() as conn:
        events = audit.page(conn, args.limit, args.before, args.kind, args.subject, args.actor)
    for e in events:
        row = asdict(e)
        row["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e.at_ms / 1000))
        print(json.dumps(row, ensure_ascii=False))
    return 0


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="database schema")
    db.add_argument("--database-url", help="default: $VIGIE_DATABASE_URL or " + DEFAULT_URL)
    dbsub = db.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", help="apply the migrations").set_defaults(func=cmd_db_upgrade)
    dbsub.add_parser("check", help="exit 1 unless the schema is current").set_defaults(func=cmd_db_check)
    down = dbsub.add_parser("downgrade", help="undo the migrations after a revision")
    down.add_argument("revision", help="the revision to go back to, e.g. 0003")
    down.set_defaults(func=cmd_db_downgrade)
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
    usub.add_parser("list", help="every account, one JSON line each").set_defaults(func=cmd_user_list)
    for name, func, text in (("deactivate", cmd_user_deactivate, "deactivate: sessions end and tokens are revoked"),
                             ("activate", cmd_user_activate, "reactivate (new tokens are needed)")):
        p = usub.add_parser(name, help=text)
        p.add_argument("username")
        p.set_defaults(func=func)
    role = usub.add_parser("set-role", help="change a user's role")
    role.add_argument("username")
    role.add_argument("role", choices=["viewer", "operator", "supervisor", "admin"])
    role.set_defaults(func=cmd_user_set_role)
    revoke = usub.add_parser("revoke-tokens", help="revoke the user's tokens (all, or one with --token-id)")
    revoke.add_argument("username")
    revoke.add_argument("--token-id", type=_bounded(1, 2**63 - 1))
    revoke.set_defaults(func=cmd_user_revoke_tokens)
    aud = sub.add_parser("audit", help="security events (logins, lockouts, tokens, account changes), newest first")
    aud.add_argument("--database-url")
    aud.add_argument("--limit", type=_bounded(1, 10_000), default=100)
    aud.add_argument("--before", type=_bounded(1, 2**63 - 1), help="only events with a smaller id (paging)")
    aud.add_argument("--kind", choices=KINDS)
    aud.add_argument("--subject", help="only events about this account name")
    aud.add_argument("--actor", help="only events caused by this user")
    aud.set_defaults(func=cmd_audit)
