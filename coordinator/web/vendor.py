"""Vendor the UI's npm libraries into ``static/vendor/``, with their licences.

``frontend/package-lock.json`` pins the libraries; ``npm ci`` installs them there and this
module copies the few built files the pages load, plus each package's licence, into
``static/vendor/<package>/``. That folder is built at install time (``make web-assets``) and
git-ignored; nothing is fetched from a CDN when the UI runs.

Run as ``python -m coordinator.web.vendor`` (``--check`` only reports what is missing).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
FRONTEND = HERE / "frontend"
VENDOR = HERE / "static" / "vendor"
STAMP = VENDOR / ".lock-sha256"

#: package -> files copied from ``node_modules/<package>/`` (paths kept under the package's folder).
FILES: dict[str, tuple[str, ...]] = {
    "leaflet": ("dist/leaflet.js", "dist/leaflet.css", "dist/images/layers.png", "dist/images/layers-2x.png",
                "dist/images/marker-icon.png", "dist/images/marker-icon-2x.png", "dist/images/marker-shadow.png",
                "LICENSE"),
    # supercluster's UMD build bundles kdbush, whose licence travels with it.
    "supercluster": ("dist/supercluster.min.js", "LICENSE"),
    "kdbush": ("LICENSE",),
    "uplot": ("dist/uPlot.iife.min.js", "dist/uPlot.min.css", "LICENSE"),
    # The accessibility audit (RGAA 4.1 / WCAG 2.1 AA rules) that the browser tests run on every page; no page
    # loads it by itself.
    "axe-core": ("axe.min.js", "LICENSE"),
}


class VendorError(RuntimeError):
    """The front-end libraries could not be installed."""


def _lock_digest() -> str:
    return hashlib.sha256((FRONTEND / "package-lock.json").read_bytes()).hexdigest()


def _target(pkg: str, src: str) -> Path:
    """``dist/leaflet.js`` -> ``vendor/leaflet/leaflet.js``; ``dist/images/x.png`` -> ``vendor/leaflet/images/``."""
    rel = src[len("dist/"):] if src.startswith("dist/") else src
    return VENDOR / pkg / rel


def build(npm: str = "npm") -> list[Path]:
    """``npm ci`` in ``frontend/`` and copy the files; returns the files written."""
    exe = shutil.which(npm)
    if exe is None:
        raise VendorError("npm is not installed (make system-deps installs nodejs and npm)")
    result = subprocess.run([exe, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=FRONTEND,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise VendorError(f"npm ci failed in {FRONTEND}:\n{result.stdout}{result.stderr}")
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    written = []
    for pkg, files in FILES.items():
        for src in files:
            origin = FRONTEND / "node_modules" / pkg / src
            if not origin.exists():
                raise VendorError(f"{pkg}: {src} is not in the installed package")
            dest = _target(pkg, src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, dest)
            written.append(dest)
    STAMP.write_text(_lock_digest() + "\n", encoding="utf-8")
    return written


def is_built() -> bool:
    """Every vendored file is there and matches the current lock file."""
    if not STAMP.exists() or STAMP.read_text(encoding="utf-8").strip() != _lock_digest():
        return False
    return all(_target(pkg, src).exists() for pkg, files in FILES.items() for src in files)


def ensure() -> None:
    """Build the vendor folder unless it is already up to date."""
    if not is_built():
        build()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coordinator.web.vendor", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the vendor folder is missing or stale")
    args = parser.parse_args(argv)
    if args.check:
        ok = is_built()
        print("vendored front-end libraries are up to date" if ok else "vendored front-end libraries are missing")
        return 0 if ok else 1
    if is_built():
        print(f"{VENDOR} is up to date")
        return 0
    try:
        written = build()
    except VendorError as exc:
        print(f"vendor: {exc}", file=sys.stderr)
        return 1
    print(f"vendored {len(written)} files into {VENDOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
