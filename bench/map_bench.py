"""Benchmark of the city map: 35,000 devices loaded and interactive in headless Chromium.

Setup. A fresh SQLite database (the single-machine default) holds 35,000 devices spread over the 23
communes of the métropole by population (``tests/web_helpers.fleet_rows``: gaussian around each commune
centre, 98.8 % lights and 1.2 % cameras, 93 % online, 3 % stale, 3 % offline, 1 % unknown). The coordinator
app is served by Werkzeug's threaded server on 127.0.0.1 in this process; Debian's Chromium runs headless
through Playwright with a 1366x768 viewport.

Measure. For each run, a logged-in browser context opens ``/map``. *Interactive* is the time from navigation
start until a click on the biggest cluster has zoomed the map and redrawn it: the page exposes its marks
(``window.vigieMap.marks``, ``performance.now()`` values, i.e. milliseconds since navigation start) and the
script waits for the redraw the click caused. The figure therefore includes the HTML, scripts, the
``GET /api/v1/map/devices`` layer (server time, transfer, JSON parse), building the supercluster index, the
first draw, and the round trip of the click through Playwright. *Cold* runs use a new browser context each
(empty HTTP cache and storage, the first visit of the day); *warm* runs reload in the same context (the
operator comes back to the map: the browser revalidates the layer with its ETag). The server keeps the
serialised layer until the fleet changes; the first run after the server starts (also reported, once)
pays for building it, as the first visit after any change of the fleet does.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import BrowserContext, sync_playwright  # noqa: E402

from bench.results import write_section  # noqa: E402
from coordinator.storage import make_engine, upgrade  # noqa: E402
from tests.api_helpers import PASSWORD, add_user, make_app  # noqa: E402
from tests.web_helpers import CHROMIUM, CHROMIUM_ARGS, ensure_vendor, fleet_rows, seed_fleet, serve  # noqa: E402

HEADING = "## Map: 35,000 devices in headless Chromium"
GOAL_MS = 2000.0


def machine() -> str:
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {chromium or 'chromium ?'}. "
            f"Code: commit {commit or '?'}")


def one_run(context: BrowserContext, base: str, expected: int) -> dict[str, float]:
    page = context.new_page()
    page.goto(f"{base}/map")
    page.wait_for_selector('body[data-map-ready="1"]', timeout=30_000)
    devices = int(page.locator("body").get_attribute("data-map-devices") or 0)
    if devices != expected:
        raise RuntimeError(f"the map shows {devices} devices, expected {expected}")
    zoom = page.locator("body").get_attribute("data-map-zoom")
    clusters: list[dict[str, Any]] = page.evaluate("window.vigieMap.clusters()")
    big = max(clusters, key=lambda c: c["count"])
    page.locator("#map").click(position={"x": big["x"], "y": big["y"]})
    page.wait_for_function(f'() => document.body.dataset.mapZoom !== "{zoom}"', timeout=10_000)
    page.wait_for_selector('body[data-map-fresh="1"]', timeout=30_000)
    marks: dict[str, float] = page.evaluate("window.vigieMap.marks")
    # An operator stays on the map: let the page keep the layer for the next visit before it closes.
    deadline = time.monotonic() + 10
    while not page.evaluate("Object.keys(localStorage).some((k) => k.startsWith('vigie.map-layer.'))"):
        if time.monotonic() > deadline:
            raise RuntimeError("the page did not keep the layer")
        page.wait_for_timeout(100)
    page.close()
    return {"fetched": marks["fetched"], "ready": marks["ready"], "interactive": marks["clusterDrawn"],
            "clusters": float(len(clusters))}


def run(devices: int, runs: int) -> dict[str, list[dict[str, float]]]:
    ensure_vendor()
    with tempfile.TemporaryDirectory(prefix="vigie-map-bench-") as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        seed_fleet(url, fleet_rows(devices, seed=2026))
        app = make_app(url, TESTING=False, VALIDATE_RESPONSES=False)
        add_user(app, "bench", "viewer")
        results: dict[str, list[dict[str, float]]] = {"first": [], "cold": [], "warm": []}
        with serve(app) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for i in range(runs + 1):  # the first cold run warms the server (imports, SQLite page cache)
                context = browser.new_context(viewport={"width": 1366, "height": 768})
                resp = context.request.post(f"{base}/api/v1/auth/login", data={"username": "bench",
                                                                                 "password": PASSWORD})
                if not resp.ok:
                    raise RuntimeError(f"login failed: {resp.status}")
                cold = one_run(context, base, devices)
                warm = one_run(context, base, devices)
                context.close()
                if i == 0:
                    results["first"].append(cold)
                else:
                    results["cold"].append(cold)
                    results["warm"].append(warm)
                print(f"run {i}{' (warm-up, not counted)' if i == 0 else ''}: cold {cold['interactive']:.0f} ms, "
                      f"warm {warm['interactive']:.0f} ms", flush=True)
            browser.close()
    return results


def section(devices: int, runs: int, results: dict[str, list[dict[str, float]]], command: str) -> str:
    rows = ["| visit | layer fetched (median) | clusters drawn (median) | interactive: median | max | goal < 2 s |",
            "|---|---:|---:|---:|---:|---|"]
    labels = {"first": "first visit after a server start or a fleet change (server builds the layer), once",
              "cold": "cold (new browser, server layer cached)", "warm": "warm (reload, ETag revalidation)"}
    for mode in ("first", "cold", "warm"):
        rs = results[mode]
        inter = [r["interactive"] for r in rs]
        rows.append(f"| {labels[mode]} | {statistics.median(r['fetched'] for r in rs):.0f} ms "
                    f"| {statistics.median(r['ready'] for r in rs):.0f} ms | {statistics.median(inter):.0f} ms "
                    f"| {max(inter):.0f} ms | {'met' if max(inter) < GOAL_MS else 'missed'} |")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{HEADING}\n\nMachine: {machine()}; load average at the end of the run {load} (a shared machine: other "
            "work running at the same time slows every figure).\n\n"
            f"Command: `{command}` ({devices} devices, {runs} runs of each "
            "kind after one warm-up run; times in ms since navigation start, see the script's docstring).\n\n"
            + "\n".join(rows) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=35_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--write", type=Path, help="rewrite this script's section of bench/RESULTS.md")
    args = ap.parse_args()
    t0 = time.monotonic()
    results = run(args.devices, args.runs)
    command = "python bench/map_bench.py" + (f" --devices {args.devices}" if args.devices != 35_000 else "") + \
        (f" --runs {args.runs}" if args.runs != 5 else "") + (" --write bench/RESULTS.md" if args.write else "")
    text = section(args.devices, args.runs, results, command)
    print(text)
    print(f"({time.monotonic() - t0:.0f} s)")
    if args.write:
        write_section(args.write, HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
