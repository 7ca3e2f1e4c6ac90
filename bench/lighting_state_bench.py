"""Benchmark of the measured lighting state for the whole métropole: 350 cabinets, 35,000 luminaires.

Setup. A fresh SQLite database (the single-machine default) holds 350 light nodes spread over the 23 communes
by population (``tests/web_helpers.POPULATION_K``), 100 luminaires each, every cabinet in one sector group of
its commune and every third one also in a second group; each node's latest telemetry carries its 100-row
``light.lum`` table (levels around 70 %, 2 % of gear not answering), and 1 % of the luminaires have an active
``lamp_fault`` among 1,500 fault changes. The app runs in this process behind Flask's test client (no network).

Measure. Server time of the calls the lighting page and the map make: ``GET /api/v1/lighting/groups`` for the
métropole (every group with its summary and cabinets: what the lighting page renders first) and for Dijon,
one page of ``/lighting/luminaires`` (1,000 luminaires), the whole métropole read page by page, and
``/lighting/map`` (every luminaire by columns in one response: what the map's luminaire layer loads). The server
keeps the measured cabinets between requests (:mod:`coordinator.lighting.layer`), so ``groups`` and ``map`` are
each timed three ways: nothing changed since the last call; *live*, 20 cabinets' telemetry rewritten before each
call (as the ingest rewrites a node's row when its telemetry arrives: 350 nodes reporting every 15-60 s is 6-23
a second), the rewrite not timed; and *from scratch*, the plain computation the kept one is held equal to (the
code before the cabinets were kept), called directly and serialised with ``json.dumps``. Median and max of 5
runs after one warm-up, and each median as a ratio to a bare baseline measured in the same run: reading every
node's telemetry row once (the least any of these answers must do). The goal of the issue (first
render of the lighting page under 1 s) is a browser figure: the ``groups`` call is the server's part of it, and
the page itself is then opened in headless Chromium (Debian's, through Playwright, 1366x768) on the app served by
Werkzeug's threaded server in this process. *First render* is the time from navigation start until the page has
drawn every group of the métropole, its calendars and its commands (the ``vigie-first-render`` performance mark
the page sets once), in a new browser context each run (cold cache), 20 cabinets' telemetry rewritten before each
run. The page's own marks split that time: the server's answers arrived (``vigie-data``) and the rows drawn. Its
bare baseline, measured in the same run: the login page's ``load`` event (same server and browser, no data).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from bench.results import write_section  # noqa: E402
from coordinator.lighting import state  # noqa: E402
from coordinator.storage import make_engine, upgrade  # noqa: E402
from coordinator.storage.schema import devices, events, light_group_members, light_luminaires, telemetry  # noqa: E402
from coordinator.web import communes  # noqa: E402
from tests.api_helpers import PASSWORD, add_user, make_app  # noqa: E402
from tests.web_helpers import CHROMIUM, CHROMIUM_ARGS, POPULATION_K, ensure_vendor, serve  # noqa: E402

HEADING = "## Lighting state: 350 cabinets, 35,000 luminaires"
GOAL_MS = 1000.0


def seed(url: str, cabinets: int, per_cabinet: int, seed_: int = 11) -> int:
    rng = random.Random(seed_)
    places = communes.communes()
    weights = [POPULATION_K.get(c.slug, 1.0) for c in places]
    now = int(time.time() * 1000)
    engine = make_engine(url)
    lums: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []
    tele: list[dict[str, Any]] = []
    faults: list[dict[str, Any]] = []
    for k in range(cabinets):
        c = rng.choices(places, weights)[0]
        dev = f"light-{c.slug[:12]}-{k:03d}"
        lat, lon = c.lat + rng.gauss(0, 0.01), c.lon + rng.gauss(0, 0.014)
        nodes.append({"id": dev, "site": c.slug, "district": None, "roles": ["light"], "lat": lat, "lon": lon,
                      "caps": [], "status": "online", "created_ms": now, "updated_ms": now})
        ids = [f"l{i:03d}" for i in range(per_cabinet)]
        for lum in ids:
            lums.append({"device_id": dev, "lum_id": lum, "site": c.slug, "rated_w": 60.0,
                         "lat": lat + rng.gauss(0, 0.001), "lon": lon + rng.gauss(0, 0.0014), "updated_ms": now})
            members.append({"site": c.slug, "group_name": f"secteur-{k % 12:02d}", "device_id": dev, "lum_id": lum})
            if k % 3 == 0:
                members.append({"site": c.slug, "group_name": "axes-principaux", "device_id": dev, "lum_id": lum})
        levels = [None if rng.random() < 0.02 else round(rng.gauss(70, 3), 1) for _ in ids]
        tele.append({"device_id": dev, "ts_ms": now - rng.randint(1_000, 50_000), "stale": False, "metrics": {
            "light.n": len(ids), "light.lum": {"ids": ids, "level": levels, "target": [70] * len(ids),
                                               "power_w": [None if v is None else v * 0.6 for v in levels],
                                               "energy_wh": [100_000] * len(ids), "hours": [4000] * len(ids),
                                               "switch_ons": [900] * len(ids)}}})
    for n in range(1500):
        lum = rng.choice(lums)
        faults.append({"device_id": lum["device_id"], "boot": 1, "n": n, "site": lum["site"], "ts_ms": now - 1500 + n,
                       "received_ms": now, "type": "lamp_fault", "target": lum["lum_id"], "historical": False,
                       "stale": False, "body": {"lum": lum["lum_id"], "fault": "lampFailure", "active": n % 3 != 2}})
    with engine.begin() as conn:
        for table, rows in ((devices, nodes), (light_luminaires, lums), (light_group_members, members),
                            (telemetry, tele), (events, faults)):
            for start in range(0, len(rows), 5000):
                conn.execute(sa.insert(table), rows[start:start + 5000])
    engine.dispose()
    return len(lums)


def timed(call: Any, runs: int, before: Any = None) -> tuple[float, float]:
    """Median and max in ms of ``runs`` calls after one warm-up; ``before`` runs ahead of each, not timed."""
    if before is not None:
        before()
    call()  # warm-up
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


class TelemetryWriter:
    """Rewrites ``per_call`` nodes' telemetry rows (new time, levels moved a little), in turn, as ingest would."""

    def __init__(self, url: str, per_call: int = 20) -> None:
        self.engine = make_engine(url)
        with self.engine.connect() as conn:
            self.rows = [(r.device_id, r.metrics) for r in conn.execute(sa.select(telemetry.c.device_id,
                                                                                   telemetry.c.metrics))]
        self.per_call, self.next = per_call, 0

    def __call__(self) -> None:
        now = int(time.time() * 1000)
        with self.engine.begin() as conn:
            for _ in range(self.per_call):
                device, metrics = self.rows[self.next % len(self.rows)]
                self.next += 1
                table = dict(metrics["light.lum"])
                table["level"] = [None if v is None else round(v + random.uniform(-1, 1), 1) for v in table["level"]]
                conn.execute(sa.update(telemetry).where(telemetry.c.device_id == device)
                             .values(ts_ms=now, metrics={**metrics, "light.lum": table}))

    def dispose(self) -> None:
        self.engine.dispose()


def browser_first_render(url: str, runs: int) -> tuple[tuple[float, float], tuple[float, float], int,
                                                       tuple[float, float]]:
    """((median, max) first render of /lighting, (median, max) bare baseline, groups drawn, (median, max) data
    arrived), in ms."""
    ensure_vendor()
    app = make_app(url, TESTING=False, VALIDATE_RESPONSES=False)
    add_user(app, "bench-web", "viewer")
    writer = TelemetryWriter(url)
    renders: list[float] = []
    arrived: list[float] = []
    bare: list[float] = []
    drawn = 0
    with serve(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for i in range(runs + 1):  # the first run warms the server and the browser, not counted
            context = browser.new_context(viewport={"width": 1366, "height": 768})
            page = context.new_page()
            page.goto(f"{base}/login")
            login_ms = float(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
            resp = context.request.post(f"{base}/api/v1/auth/login",
                                        data={"username": "bench-web", "password": PASSWORD})
            if not resp.ok:
                raise RuntimeError(f"login failed: {resp.status}")
            writer()
            page.goto(f"{base}/lighting")
            page.wait_for_selector('body[data-loaded="1"]', timeout=60_000)
            first = float(page.evaluate("performance.getEntriesByName('vigie-first-render')[0].startTime"))
            data = float(page.evaluate("performance.getEntriesByName('vigie-data')[0].startTime"))
            drawn = page.locator("#groups tbody tr[data-group]").count()
            context.close()
            print(f"browser run {i}{' (warm-up, not counted)' if i == 0 else ''}: first render {first:.0f} ms "
                  f"(data in at {data:.0f} ms), login page {login_ms:.0f} ms", flush=True)
            if i:
                renders.append(first)
                arrived.append(data)
                bare.append(login_ms)
        browser.close()
    writer.dispose()
    return ((statistics.median(renders), max(renders)), (statistics.median(bare), max(bare)), drawn,
            (statistics.median(arrived), max(arrived)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cabinets", type=int, default=350)
    parser.add_argument("--per-cabinet", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", type=Path, help="write the section into this RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        total = seed(url, args.cabinets, args.per_cabinet)
        app = make_app(url, VALIDATE_RESPONSES=False)
        viewer = add_user(app, "bench", "viewer")

        def ok(path: str) -> dict[str, Any]:
            resp = viewer.get(path)
            if resp.status_code != 200:
                raise RuntimeError(f"{path}: {resp.status_code} {resp.get_data(as_text=True)[:200]}")
            body: dict[str, Any] = resp.get_json()
            return body

        def all_pages() -> None:
            first = ok("/lighting/luminaires?limit=1000")
            for offset in range(1000, first["total"], 1000):
                ok(f"/lighting/luminaires?limit=1000&offset={offset}")

        reader = make_engine(url)

        def read_telemetry() -> None:
            with reader.connect() as conn:
                conn.execute(sa.select(telemetry)).all()

        def plain(build: Any) -> Any:
            def call() -> None:
                with reader.connect() as conn:
                    json.dumps(build(conn, None, int(time.time() * 1000)))
            return call

        writer = TelemetryWriter(url)
        baseline = timed(read_telemetry, args.runs)
        groups = len(ok("/lighting/groups")["groups"])
        lums = f"{total} luminaires"
        rows = [("baseline: read every node's telemetry row once", f"{args.cabinets} rows", baseline),
                ("`/lighting/groups`, métropole, nothing changed", f"{groups} groups",
                 timed(lambda: ok("/lighting/groups"), args.runs)),
                ("`/lighting/groups`, métropole, live: 20 cabinets changed", f"{groups} groups",
                 timed(lambda: ok("/lighting/groups"), args.runs, writer)),
                ("`/lighting/groups`, métropole, from scratch (as before)", f"{groups} groups",
                 timed(plain(state.group_states), args.runs, writer)),
                ("`/lighting/groups?site=dijon`, live", "Dijon",
                 timed(lambda: ok("/lighting/groups?site=dijon"), args.runs, writer)),
                ("`/lighting/luminaires?limit=1000`", "one page", timed(lambda: ok("/lighting/luminaires?limit=1000"),
                                                                         args.runs)),
                ("every page of `/lighting/luminaires`", lums, timed(all_pages, args.runs)),
                ("`/lighting/map`, métropole, nothing changed", lums, timed(lambda: ok("/lighting/map"), args.runs)),
                ("`/lighting/map`, métropole, live: 20 cabinets changed", lums,
                 timed(lambda: ok("/lighting/map"), args.runs, writer)),
                ("`/lighting/map`, métropole, from scratch (as before)", lums,
                 timed(plain(state.luminaire_layer), args.runs, writer))]
        writer.dispose()
        reader.dispose()
        render, bare, drawn, arrived = browser_first_render(url, args.runs)
    load = os.getloadavg()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            check=False).stdout.strip()
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    lines = [HEADING, "",
             f"Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, SQLite. Code: commit "
             f"{commit or '?'}; load average at the end of the run {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} "
             "(a shared machine: other work running at the same time slows every figure).", "",
             f"Command: `python bench/lighting_state_bench.py --runs {args.runs} --write bench/RESULTS.md` "
             f"({args.cabinets} cabinets x "
             f"{args.per_cabinet} luminaires, {args.runs} runs after one warm-up; server time through Flask's test "
             "client, see the script's docstring).", "",
             f"The baseline is the least any answer costs: reading the {args.cabinets} telemetry rows (JSON decoded) "
             "once, measured in the same run, so the ratios hold whatever the load.", "",
             "| call | what | median | max | median / baseline | goal |", "|---|---|---:|---:|---:|---|"]
    for name, what, (median, worst) in rows:
        goal = ("< 1 s: " + ("met" if worst < GOAL_MS else "not met")) if "groups`, métropole, live" in name else "—"
        lines.append(f"| {name} | {what} | {median:.0f} ms | {worst:.0f} ms | {median / baseline[0]:.1f}x | {goal} |")
    lines += ["", "In the browser (headless Chromium, new context each run, times since navigation start):", "",
              "| page | what | median | max | median / bare baseline | goal |", "|---|---|---:|---:|---:|---|",
              f"| bare baseline: the login page's load event | no data | {bare[0]:.0f} ms | {bare[1]:.0f} ms "
              "| 1.0x | — |",
              f"| `/lighting`, métropole: the server's answers in | calendars, commands, {drawn} groups "
              f"| {arrived[0]:.0f} ms | {arrived[1]:.0f} ms | {arrived[0] / bare[0]:.1f}x | — |",
              f"| `/lighting`, métropole: first render | {drawn} groups drawn | {render[0]:.0f} ms "
              f"| {render[1]:.0f} ms | {render[0] / bare[0]:.1f}x "
              f"| < 1 s: {'met' if render[1] < GOAL_MS else 'not met'} |"]
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write:
        write_section(args.write, HEADING, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
