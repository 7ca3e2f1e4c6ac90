"""Helpers of the web UI tests and the map benchmark: a real server thread, a fleet, headless Chromium.

The browser is Debian's ``chromium`` driven by Playwright (``make system-deps`` installs it);
Playwright never downloads a browser of its own here.
"""

from __future__ import annotations

import math
import random
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page
from werkzeug.serving import BaseWSGIServer, make_server

from coordinator.storage import make_engine
from coordinator.storage.schema import devices
from coordinator.web import communes, vendor

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
#: axe-core, vendored from npm with the UI's libraries (same origin: the pages' CSP lets it load).
AXE_URL = "/assets/vendor/axe-core/axe.min.js"
#: The WCAG 2.1 A and AA rules, which RGAA 4.1 takes up.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

#: Rough population of each commune (thousands): light points follow streets, streets follow people.
POPULATION_K = {
    "dijon": 156, "chenove": 14, "talant": 11, "chevigny-saint-sauveur": 11, "quetigny": 9.5, "longvic": 9,
    "fontaine-les-dijon": 9, "saint-apollinaire": 7.5, "marsannay-la-cote": 5, "plombieres-les-dijon": 3,
    "neuilly-crimolois": 2.6, "sennecey-les-dijon": 2, "perrigny-les-dijon": 2, "daix": 1.5, "fenay": 1.5,
    "ouges": 1.4, "ahuy": 1.3, "hauteville-les-dijon": 1.2, "bressey-sur-tille": 1.1, "breteniere": 0.9,
    "magny-sur-tille": 0.9, "corcelles-les-monts": 0.6, "flavignerot": 0.2,
}
STATUS_SHARES = (("online", 0.93), ("stale", 0.03), ("offline", 0.03), ("unknown", 0.01))


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: make system-deps installs Debian's chromium"
    return None


def ensure_vendor() -> None:
    """The UI's npm libraries (``make web-assets``), built now if an install step was skipped."""
    if shutil.which("npm") is None and not vendor.is_built():
        raise RuntimeError("npm is missing: make system-deps installs nodejs and npm")
    vendor.ensure()


def fleet_rows(count: int, seed: int = 7, now_ms: int | None = None) -> list[dict[str, Any]]:
    """``count`` devices spread over the 23 communes by population, mostly lights, a few cameras."""
    rng = random.Random(seed)
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    places = communes.communes()
    weights = [POPULATION_K.get(c.slug, 1.0) ** 0.8 for c in places]
    statuses = [s for s, _ in STATUS_SHARES]
    shares = [w for _, w in STATUS_SHARES]
    rows = []
    for i in range(count):
        c = rng.choices(places, weights)[0]
        spread = 0.016 if c.slug == "dijon" else 0.006
        lat = c.lat + rng.gauss(0, spread)
        lon = c.lon + rng.gauss(0, spread / math.cos(math.radians(c.lat)))
        camera = rng.random() < 0.012
        status = rng.choices(statuses, shares)[0]
        rows.append({
            "id": f"{'cam' if camera else 'light'}-{c.slug[:12]}-{i:05d}", "site": c.slug, "district": None,
            "roles": ["camera"] if camera else ["light"], "lat": round(lat, 6), "lon": round(lon, 6), "caps": [],
            "firmware": rng.choice(("1.4.2", "1.4.2", "1.4.2", "1.5.0")), "config_hash": None,
            "seed_config_hash": None, "status": status, "bd_seq": None,
            "last_seen_ms": None if status == "unknown" else now - rng.randint(1_000, 600_000),
            "status_since_ms": now - rng.randint(60_000, 86_400_000), "created_ms": now, "updated_ms": now,
        })
    return rows


def seed_fleet(db_url: str, rows: list[dict[str, Any]]) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(sa.insert(devices), rows[start:start + 5000])
    engine.dispose()


def accessibility_violations(page: Page) -> list[str]:
    """The serious and critical WCAG 2.1 AA violations axe-core finds on the page as it is now, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=AXE_URL)
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, "
                           "resultTypes: ['violations']})", AXE_TAGS)
    return [f"{v['id']} ({v['impact']}): {v['help']} -- {[n['target'] for n in v['nodes']][:5]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app on a real threaded HTTP server on a free port; yields its base URL."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="web-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def shot(page: Page, name: str) -> Path:
    """Save a screenshot of the page, after an accessibility audit of it: 0 serious or critical violations.

    The audit waits for running CSS transitions to end: a popup fading in has not reached its colours yet.
    """
    page.wait_for_function("() => document.getAnimations().every((a) => a.playState !== 'running')", timeout=5000)
    violations = accessibility_violations(page)
    assert not violations, f"{name}: {violations}"
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
