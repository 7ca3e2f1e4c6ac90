"""Offline check of a package: the signature of the manifest, then every file against it.

Needs nothing but the package (a directory or its ZIP) and, to trust the signer, the centre's
published public key; with no key given, the package's own ``centre.pub`` is used and its
fingerprint printed so the reader can compare it with the published one.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature

from .errors import EvidenceError
from .keys import load_public_key
from .package import sha256_file


@dataclass
class Report:
    files: int = 0
    key_sha256: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_dir(root: Path, public_pem: bytes | None) -> Report:
    report = Report()
    try:
        data = (root / "manifest.json").read_bytes()
        sig = (root / "manifest.sig").read_bytes()
        included = (root / "centre.pub").read_bytes()
    except OSError as exc:
        raise EvidenceError(f"not an evidence package: {exc}") from exc
    key_pem = public_pem if public_pem is not None else included
    report.key_sha256 = hashlib.sha256(key_pem).hexdigest()
    if public_pem is not None and public_pem.strip() != included.strip():
        report.problems.append("centre.pub is not the public key given for the check")
    try:
        load_public_key(key_pem, "the public key").verify(sig, data)
    except InvalidSignature:
        report.problems.append("manifest.json: the signature does not match (manifest altered or another signer)")
    try:
        manifest = json.loads(data)
        listed = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"manifest.json is not a readable manifest: {exc}")
        return report
    seen = set()
    for f in listed:
        path = root / f["path"]
        seen.add(Path(f["path"]).as_posix())
        report.files += 1
        if not path.is_file():
            report.problems.append(f"{f['path']}: missing")
        elif path.stat().st_size != f["bytes"] or sha256_file(path) != f["sha256"]:
            report.problems.append(f"{f['path']}: content differs from the manifest (SHA-256)")
    for extra in sorted(p.relative_to(root).as_posix() for p in (root / "clips").rglob("*") if p.is_file()):
        if extra not in seen:
            report.problems.append(f"{extra}: not listed in the manifest")
    return report


def verify_package(package: Path, public_pem: bytes | None = None) -> Report:
    """Check a package directory or ZIP; ``problems`` is empty when everything holds."""
    if package.is_dir():
        return _check_dir(package, public_pem)
    try:
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(package) as zf:
            for name in zf.namelist():
                if name.startswith("/") or ".." in Path(name).parts:
                    raise EvidenceError(f"{package}: unsafe path {name!r} in the archive")
            zf.extractall(tmp)
            return _check_dir(Path(tmp), public_pem)
    except (OSError, zipfile.BadZipFile) as exc:
        raise EvidenceError(f"cannot read {package}: {exc}") from exc
