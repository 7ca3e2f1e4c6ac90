"""``vigie-coordinator evidence keygen|verify``: the centre's signing key, and the offline check of a package."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from .errors import EvidenceError
from .keys import generate_key, public_key_pem
from .verify import verify_package


def cmd_keygen(args: argparse.Namespace) -> int:
    try:
        key = generate_key(Path(args.path))
    except EvidenceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    pem = public_key_pem(key)
    if args.public:
        Path(args.public).write_bytes(pem)
    sys.stdout.write(pem.decode())
    print(f"key SHA-256 {hashlib.sha256(pem).hexdigest()}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        public = Path(args.public_key).read_bytes() if args.public_key else None
        report = verify_package(Path(args.package), public)
    except (OSError, EvidenceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in report.problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    if not report.ok:
        return 1
    print(f"package verified: signature and {report.files} files hold (key SHA-256 {report.key_sha256})")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ev = sub.add_parser("evidence", help="judicial evidence packages")
    esub = ev.add_subparsers(dest="evidence_command", required=True)
    kg = esub.add_parser("keygen", help="create the centre's Ed25519 signing key (never overwrites one)")
    kg.add_argument("path", help="private key file to create (mode 0600); VIGIE_EVIDENCE_KEY_FILE names it")
    kg.add_argument("--public", help="also write the public key (PEM) here, for publication")
    kg.set_defaults(func=cmd_keygen)
    v = esub.add_parser("verify", help="check a package's signature and every file's SHA-256, offline")
    v.add_argument("package", help="the package directory or its ZIP")
    v.add_argument("--public-key", help="the centre's published public key (PEM); default: the package's own")
    v.set_defaults(func=cmd_verify)
