"""Benchmark of the map a night shift keeps open: 35,000 luminaires, 300 boxes, 200 interventions, live updates.

Extends ``bench/map_bench.py`` (same server, browser and *interactive* method) to the map with its layers.

Setup. A fresh SQLite database (the single-machine default) holds 270 light cabinets of 130 luminaires each
(35,100 luminaires; inventory, groups, each node's latest telemetry with its ``light.lum`` table, 1 % of the
luminaires at fault: ``bench/lighting_state_bench.seed``) and 30 camera boxes, 300 boxes in all, over the 23
communes by population, each camera with a zone and a counting line on the ground (as seeding stores them from the
box configs); 200 open interventions (every priority, around the commune centres) are opened through the API.
The coordinator app is served by Werkzeug's threaded server on 127.0.0.1 in this process; Debian's
Chromium runs headless through Playwright with a 1366x768 viewport.

Interactive. From navigation start until both the device clusters are drawn after a click on the biggest one
(as in ``map_bench.py``) and the layers are in (every luminaire by its measured state, the interventions, the
teams and the cameras' zones and lines: the page's ``layersReady`` mark); the page's marks are
``performance.now()`` values. Cold runs use a new browser context each, 20 cabinets' telemetry rewritten before
each (as the ingest rewrites a node's row when its telemetry arrives), so the server redoes those cabinets' part of
the luminaire layer it keeps; the first run, which warms the server, is reported apart.

Server. ``/lighting/map`` for the whole métropole, in the same run: the kept layer after 20 cabinets changed (what
a cold run gets) against the plain computation it is held equal to (the code before the layer was kept), median of
5 after one warm-up (``bench/lighting_state_bench.py`` has the full table).

Memory. One map stays open while a writer stores ``lamp_fault`` events (a fault on, then off, on random
luminaires) at 20 a second, as the ingest worker would, so they reach the page through the real event stream
(``/api/v1/events/stream``) and each one recolours its luminaire and reloads its cabinet, as in the control room.
Every 30 s the script collects the tab's garbage and reads its JavaScript heap (``JSHeapUsedSize``) and DOM node
count through the Chrome DevTools Protocol (``HeapProfiler.collectGarbage``, ``Performance.getMetrics``). The
goal: after the first minute (warm-up: the first 30-second layer refresh has happened), the heap does not grow
by more than 10 %. Baseline of the heap, measured in the same run: an empty page of the same origin (``/login``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from playwright.sync_api import BrowserContext, Page, sync_playwright  # noqa: E402

from bench.lighting_state_bench import TelemetryWriter, timed  # noqa: E402
from bench.lighting_state_bench import seed as seed_lighting  # noqa: E402
from bench.map_bench import machine  # noqa: E402
from bench.results import write_section  # noqa: E402
from coordinator.lighting import state as lighting_state  # noqa: E402
from coordinator.storage import make_engine, upgrade  # noqa: E402
from coordinator.storage.camera_geometry import GeoTarget, replace_geometry  # noqa: E402
from coordinator.storage.schema import devices, events, light_luminaires  # noqa: E402
from coordinator.web import communes  # noqa: E402
from tests.api_helpers import PASSWORD, add_user, make_app  # noqa: E402
from tests.web_helpers import CHROMIUM, CHROMIUM_ARGS, ensure_vendor, serve  # noqa: E402

HEADING = "## Night-shift map: 35,000 luminaires, 300 boxes, 200 interventions, live updates"
GOAL_MS = 2000.0
GROWTH_GOAL = 0.10
PRIORITIES = ("urgent", "high", "normal", "low")
NOTE = ("*Clusters drawn after the click*: the map answers (pan, zoom, a cluster's click); *layers in*: every "
        "luminaire's measured state, the interventions, the teams and the cameras' zones and lines are in (the "
        "luminaires come from `/lighting/map`, whose server time the lighting-state section measures); "
        "*interactive* is the later of the two.\n")


def seed(url: str, cabinets: int, per_cabinet: int, cameras: int, interventions: int) -> int:
    lums = seed_lighting(url, cabinets, per_cabinet)
    rng = random.Random(5)
    places = communes.communes()
    now = int(time.time() * 1000)
    engine = make_engine(url)
    boxes = [{"id": f"cam-{c.slug[:12]}-{k:03d}", "site": c.slug, "district": None, "roles": ["camera"],
              "lat": c.lat + rng.gauss(0, 0.008), "lon": c.lon + rng.gauss(0, 0.011), "caps": [], "status": "online",
              "created_ms": now, "updated_ms": now}
             for k, c in enumerate(rng.choice(places) for _ in range(cameras))]
    with engine.begin() as conn:
        conn.execute(sa.insert(devices), boxes)
        for box in boxes:  # a 30 x 20 m zone beside the box and a 20 m line across the street, inbound eastwards
            lat, lon, dlat, dlon = box["lat"], box["lon"], 0.00009, 0.00013
            zone = [[lon, lat], [lon + 3 * dlon, lat], [lon + 3 * dlon, lat - 2 * dlat], [lon, lat - 2 * dlat],
                    [lon, lat]]
            replace_geometry(conn, box["id"], box["site"], [
                GeoTarget(0, "rue", "trottoir", "zone", zone),
                GeoTarget(0, "rue", "passage", "line", {"a": [lon - dlon, lat + dlat], "b": [lon - dlon, lat - dlat],
                                                        "in_side": "left"})], now)
    engine.dispose()
    app = make_app(url, VALIDATE_RESPONSES=False)
    sup = add_user(app, "bench-chef", "supervisor")
    for i in range(interventions):
        c = rng.choice(places)
        made = sup.post("/interventions", json={
            "kind": "incident", "title": f"Signalement {i + 1}", "priority": PRIORITIES[i % 4], "commune": c.slug,
            "lat": round(c.lat + rng.gauss(0, 0.006), 6), "lon": round(c.lon + rng.gauss(0, 0.008), 6)})
        if made.status_code != 201:
            raise RuntimeError(f"intervention {i}: {made.status_code} {made.get_json()}")
    return lums


def one_run(context: BrowserContext, base: str, luminaires: int, interventions: int,
            cameras: int) -> dict[str, float]:
    page = context.new_page()
    page.goto(f"{base}/map")
    page.wait_for_selector('body[data-map-ready="1"]', timeout=60_000)
    zoom = page.locator("body").get_attribute("data-map-zoom")
    clusters: list[dict[str, Any]] = page.evaluate("window.vigieMap.clusters()")
    big = max(clusters, key=lambda c: c["count"])
    page.locator("#map").click(position={"x": big["x"], "y": big["y"]})
    page.wait_for_function(f'() => document.body.dataset.mapZoom !== "{zoom}"', timeout=30_000)
    page.wait_for_selector('body[data-layers-ready="1"]', timeout=60_000)
    shown = (int(page.locator("body").get_attribute("data-map-luminaires") or 0),
             int(page.locator("body").get_attribute("data-map-interventions") or 0),
             int(page.locator("body").get_attribute("data-map-zones") or 0))
    if shown != (luminaires, interventions, cameras):
        raise RuntimeError(f"the map shows {shown} luminaires, interventions and zones, expected "
                           f"{luminaires, interventions, cameras}")
    marks: dict[str, float] = page.evaluate("window.vigieMap.marks")
    page.close()
    print(f"  luminaires fetched {marks['lumsFetched']:.0f} ms, built {marks['lumsBuilt']:.0f} ms", flush=True)
    return {"clusters": marks["clusterDrawn"], "layers": marks["layersReady"],
            "interactive": max(marks["clusterDrawn"], marks["layersReady"])}


class FaultWriter(threading.Thread):
    """Stores ``rate`` lamp-fault events a second (on, then off, on random luminaires), as ingest stores them."""

    def __init__(self, url: str, rate: float) -> None:
        super().__init__(name="fault-writer", daemon=True)
        self.engine = make_engine(url)
        with self.engine.connect() as conn:
            self.lums = [(r.device_id, r.lum_id, r.site) for r in
                         conn.execute(sa.select(light_luminaires.c.device_id, light_luminaires.c.lum_id,
                                                light_luminaires.c.site))]
        self.rate, self.done, self.written = rate, threading.Event(), 0
        self.rng = random.Random(9)
        self.on: list[tuple[str, str, str]] = []

    def run(self) -> None:
        start = time.monotonic()
        while not self.done.is_set():
            due = int((time.monotonic() - start) * self.rate) - self.written
            if due <= 0:
                self.done.wait(0.02)
                continue
            now = int(time.time() * 1000)
            rows = []
            for _ in range(due):
                active = not self.on or (len(self.on) < 50 and self.rng.random() < 0.5)
                lum = self.rng.choice(self.lums) if active else self.on.pop(0)
                if active:
                    self.on.append(lum)
                self.written += 1
                rows.append({"device_id": lum[0], "boot": 2, "n": self.written, "site": lum[2], "ts_ms": now,
                             "received_ms": now, "type": "lamp_fault", "target": lum[1], "historical": False,
                             "stale": False, "body": {"lum": lum[1], "fault": "lampFailure", "active": active}})
            with self.engine.begin() as conn:
                conn.execute(sa.insert(events), rows)

    def stop(self) -> None:
        self.done.set()
        self.join(10)
        self.engine.dispose()


def heap(page: Page, cdp: Any) -> tuple[float, float]:
    """The tab's live JavaScript heap (MB, after a garbage collection) and DOM node count."""
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics["JSHeapUsedSize"] / 1e6, metrics["Nodes"]


def soak(context: BrowserContext, base: str, url: str, seconds: float, rate: float,
         warmup_s: float) -> dict[str, Any]:
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.goto(f"{base}/login")
    bare = heap(page, cdp)
    page.goto(f"{base}/map")
    page.wait_for_selector('body[data-layers-ready="1"]', timeout=60_000)
    writer = FaultWriter(url, rate)
    writer.start()
    samples: list[tuple[float, float, float]] = []
    t0 = time.monotonic()
    try:
        while (elapsed := time.monotonic() - t0) < seconds:
            page.wait_for_timeout(min(30_000, max(0.0, seconds - elapsed) * 1000))
            mb, nodes = heap(page, cdp)
            samples.append((time.monotonic() - t0, mb, nodes))
            faults = int(page.locator('[data-layer-count="lum-fault"]').text_content() or 0)
            print(f"{samples[-1][0]:5.0f} s: heap {mb:.1f} MB, {nodes:.0f} nodes, {writer.written} events written, "
                  f"{faults} luminaires at fault on the map", flush=True)
    finally:
        writer.stop()
    page.close()
    after = [s for s in samples if s[0] >= warmup_s] or samples
    return {"bare_mb": bare[0], "samples": samples, "start": after[0], "end": samples[-1],
            "max_mb": max(s[1] for s in after), "events": writer.written, "seconds": samples[-1][0]}


def run(args: argparse.Namespace) -> tuple[dict[str, list[dict[str, float]]], dict[str, Any] | None,
                                           dict[str, float]]:
    ensure_vendor()
    with tempfile.TemporaryDirectory(prefix="vigie-night-map-bench-") as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        lums = seed(url, args.cabinets, args.per_cabinet, args.cameras, args.interventions)
        app = make_app(url, TESTING=False, VALIDATE_RESPONSES=False)
        add_user(app, "bench", "viewer")
        results: dict[str, list[dict[str, float]]] = {"first": [], "cold": []}
        memory = None
        with serve(app) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

            def logged_in() -> BrowserContext:
                context = browser.new_context(viewport={"width": 1366, "height": 768})
                resp = context.request.post(f"{base}/api/v1/auth/login", data={"username": "bench",
                                                                                 "password": PASSWORD})
                if not resp.ok:
                    raise RuntimeError(f"login failed: {resp.status}")
                return context

            writer = TelemetryWriter(url)
            server = server_times(app, url, writer, args.runs)
            print(f"server: /lighting/map kept, 20 cabinets changed {server['kept']:.0f} ms, from scratch "
                  f"{server['plain']:.0f} ms (medians)", flush=True)
            for i in range(args.runs + 1):
                writer()
                context = logged_in()
                r = one_run(context, base, lums, args.interventions, args.cameras)
                context.close()
                results["first" if i == 0 else "cold"].append(r)
                print(f"run {i}{' (warm-up, not counted)' if i == 0 else ''}: clusters {r['clusters']:.0f} ms, "
                      f"layers {r['layers']:.0f} ms, interactive {r['interactive']:.0f} ms", flush=True)
            writer.dispose()
            if args.soak_s > 0:
                context = logged_in()
                memory = soak(context, base, url, args.soak_s, args.rate, args.warmup_s)
                context.close()
            browser.close()
    return results, memory, server


def server_times(app: Any, url: str, writer: TelemetryWriter, runs: int) -> dict[str, float]:
    """Median ms of ``/lighting/map`` for the métropole: kept (20 cabinets changed before each call) and from
    scratch (the plain computation, serialised with ``json.dumps``), in the same run."""
    viewer = add_user(app, "bench-server", "viewer")
    engine = make_engine(url)

    def kept() -> None:
        resp = viewer.get("/lighting/map")
        if resp.status_code != 200:
            raise RuntimeError(f"/lighting/map: {resp.status_code}")

    def plain() -> None:
        with engine.connect() as conn:
            json.dumps(lighting_state.luminaire_layer(conn, None, int(time.time() * 1000)))

    out = {"kept": timed(kept, runs, writer)[0], "plain": timed(plain, runs, writer)[0]}
    engine.dispose()
    return out


def section(args: argparse.Namespace, results: dict[str, list[dict[str, float]]], memory: dict[str, Any] | None,
            server: dict[str, float], command: str) -> str:
    rows = ["| visit | clusters drawn after the click (median) | layers in (median) | interactive: median | max "
            "| goal < 2 s |", "|---|---:|---:|---:|---:|---|"]
    labels = {"first": "first visit after the server starts, once", "cold": "cold (new browser context)"}
    for mode in ("first", "cold"):
        rs = results[mode]
        inter = [r["interactive"] for r in rs]
        rows.append(f"| {labels[mode]} | {statistics.median(r['clusters'] for r in rs):.0f} ms "
                    f"| {statistics.median(r['layers'] for r in rs):.0f} ms | {statistics.median(inter):.0f} ms "
                    f"| {max(inter):.0f} ms | {'met' if max(inter) < GOAL_MS else 'missed'} |")
    text = (f"{HEADING}\n\nMachine: {machine()}; load average at the end of the run "
            f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (a shared machine: other work running at the same "
            "time slows every figure).\n\n"
            f"Command: `{command}` ({args.cabinets} cabinets x {args.per_cabinet} luminaires, {args.cameras} camera "
            f"boxes, {args.interventions} open interventions; {args.runs} cold runs after one warm-up run; times in "
            "ms since navigation start, see the script's docstring).\n\n" + "\n".join(rows) + "\n\n" + NOTE
            + f"\nServer, same run: `/lighting/map` for the métropole, the kept layer after 20 cabinets changed "
            f"{server['kept']:.0f} ms against {server['plain']:.0f} ms from scratch (the computation before the "
            f"layer was kept), medians of {args.runs} ({server['plain'] / server['kept']:.1f}x).\n")
    if memory is not None:
        start, end = memory["start"], memory["end"]
        growth = (end[1] - start[1]) / start[1]
        text += (f"\nMemory of the tab over {memory['seconds'] / 60:.1f} minutes of live updates: "
                 f"{memory['events']} `lamp_fault` events at {args.rate:g} a second through the event stream "
                 f"(heap read after a garbage collection every 30 s; warm-up: the first {args.warmup_s:.0f} s).\n\n"
                 "| | JS heap | DOM nodes |\n|---|---:|---:|\n"
                 f"| bare baseline: the login page | {memory['bare_mb']:.1f} MB | — |\n"
                 f"| after warm-up ({start[0]:.0f} s) | {start[1]:.1f} MB | {start[2]:.0f} |\n"
                 f"| end ({end[0]:.0f} s) | {end[1]:.1f} MB | {end[2]:.0f} |\n"
                 f"| largest after warm-up | {memory['max_mb']:.1f} MB | — |\n\n"
                 f"Growth after warm-up: {growth * 100:+.1f} % (goal: at most +{GROWTH_GOAL * 100:.0f} %: "
                 f"{'met' if growth <= GROWTH_GOAL else 'missed'}); the map's heap is "
                 f"{end[1] / memory['bare_mb']:.1f}x the bare page's.\n\nHeap every 30 s (MB): "
                 + ", ".join(f"{mb:.1f}" for _t, mb, _n in memory["samples"]) + ".\n")
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cabinets", type=int, default=270)
    ap.add_argument("--per-cabinet", type=int, default=130)
    ap.add_argument("--cameras", type=int, default=30)
    ap.add_argument("--interventions", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--soak-s", type=float, default=600.0, help="live updates for this long (0: none)")
    ap.add_argument("--rate", type=float, default=20.0, help="events a second during the soak")
    ap.add_argument("--warmup-s", type=float, default=60.0)
    ap.add_argument("--write", type=Path, help="rewrite this script's section of bench/RESULTS.md")
    args = ap.parse_args()
    t0 = time.monotonic()
    results, memory, server = run(args)
    command = "python bench/night_map_bench.py" + (f" --runs {args.runs}" if args.runs != 5 else "") + \
        (f" --soak-s {args.soak_s:g}" if args.soak_s != 600 else "") + \
        (" --write bench/RESULTS.md" if args.write else "")
    text = section(args, results, memory, server, command)
    print(text)
    print(f"({time.monotonic() - t0:.0f} s)")
    if args.write:
        write_section(args.write, HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
