"""The operations centre's screen on the demo's real processes, in Debian Chromium.

One ``vigie-coordinator demo`` for the whole module, on private ports and its own directory: broker, ingest,
periodic jobs, gunicorn, the committed boxes with their DALI and Modbus cabinet simulators, the camera boxes on
the street footage and the simulated district. Only its pace is quickened (telemetry every 5 s, the district's
first lamp failure 20 s after it starts), so the tests wait for what the product does, not for a minute.

Screenshots go to ``tests/artifacts/demo-*.png`` at 1366x768 and 1920x1080, each after the accessibility audit.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from edge_agent.lighting.cabinet.simulator import free_port
from tests.web_helpers import CHROMIUM, CHROMIUM_ARGS, chromium_missing, ensure_vendor, shot

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((1366, 768), (1920, 1080))
PAGES = ("/map", "/feed", "/interventions", "/lighting", "/energy", "/fleet", "/requisitions", "/registre")
HOUR = 3_600_000
LAMP_FAILURE = re.compile(r"^Luminaire (\S+) \((light-\S+)\) : lampe en panne$")


class Demo(NamedTuple):
    url: str
    password: str
    log: list[str]
    root: Path

    def stored(self, kind: str) -> list[tuple[Any, ...]]:
        """What the demo's database holds of events of ``kind`` (for a failure's message)."""
        with sqlite3.connect(self.root / "vigie.sqlite3") as db:
            return db.execute("SELECT device_id, target, received_ms, body FROM events WHERE type = ?",
                              (kind,)).fetchall()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("demo")
    web_port = free_port()
    argv = [sys.executable, "-m", "coordinator.cli", "demo", "--dir", str(root), "--port", str(free_port()),
            "--web-port", str(web_port), "--telemetry-s", "5", "--first-lamp-fault-s", "20"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line.rstrip())
            if "[7/7] ready" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        while not ready.wait(0.5):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the demo did not start:\n" + "\n".join(log[-30:]))
        password = (root / "demo-password.txt").read_text(encoding="utf-8").strip()
        yield Demo(f"http://127.0.0.1:{web_port}", password, log, root)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the demo stops its children in order
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()
        reader.join(5)


@pytest.fixture(scope="module", autouse=True)
def patient_expectations() -> Iterator[None]:
    """The demo loads the machine (boxes, detection, gunicorn): assertions wait up to 20 s, not Playwright's 5."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = chromium_missing()
    if reason:
        pytest.fail(reason)
    ensure_vendor()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, demo: Demo) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR")
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(f"{demo.url}/login?next=/map")
    pg.get_by_label("Identifiant").fill("demo")
    pg.get_by_label("Mot de passe").fill(demo.password)
    pg.get_by_role("button", name="Se connecter").click()
    expect(pg).to_have_url(f"{demo.url}/map")
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def both_sizes(page: Page, name: str) -> None:
    """Screenshots at both sizes (the audit runs at each: a wide screen lays the page out differently)."""
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        shot(page, f"demo-{name}-{width}")
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})


def test_a_lamp_failure_in_the_district_turns_its_luminaire_red_and_opens_an_intervention_in_french(
        page: Page, demo: Demo) -> None:
    """The district's simulated gear fails a lamp; the node reports it; ingest stores it; the map's live stream
    turns the luminaire red; the light-fault rule opens an intervention, whose card on the map is in French."""
    expect(page.locator("body")).to_have_attribute("data-layers-ready", "1", timeout=30_000)
    assert int(page.locator("body").get_attribute("data-map-luminaires") or 0) > 2000  # district + committed boxes
    try:
        page.wait_for_function("() => window.vigieMap.layers.luminaires().some((l) => l.state === 'fault')",
                               timeout=90_000, polling=500)
    except PlaywrightError as exc:
        raise AssertionError(f"no luminaire turned red; stored lamp faults: {demo.stored('lamp_fault')} at "
                             f"{int(time.time() * 1000)}") from exc
    faulty = [lum["id"] for lum in page.evaluate("window.vigieMap.layers.luminaires()") if lum["state"] == "fault"]
    expect(page.locator('[data-layer-count="lum-fault"]')).not_to_have_text("0")
    page.wait_for_function("() => window.vigieMap.layers.interventions().some((iv) => / : lampe en panne$/"
                           ".test(iv.title))", timeout=60_000, polling=500)
    ivs = [iv for iv in page.evaluate("window.vigieMap.layers.interventions()") if LAMP_FAILURE.match(iv["title"])]
    match = LAMP_FAILURE.match(ivs[0]["title"])
    assert match is not None
    lum_id = f"{match.group(2)}/{match.group(1)}"
    assert lum_id in faulty, (lum_id, faulty)
    page.evaluate(f"window.vigieMap.layers.openIntervention({ivs[0]['id']})")
    card = page.locator(f'.leaflet-popup-content .popup[data-intervention="{ivs[0]["id"]}"]')
    expect(card).to_contain_text(ivs[0]["title"])
    expect(card).to_contain_text("Priorité")
    text = card.text_content() or ""
    assert "lampFailure" not in text and "light_fault" not in text
    both_sizes(page, "map-intervention")
    page.evaluate(f"window.vigieMap.layers.openLuminaire('{lum_id}')")
    popup = page.locator(f'.leaflet-popup-content .popup[data-lum="{lum_id}"]')
    expect(popup).to_contain_text("en défaut")
    expect(popup).to_contain_text("lampe en panne")
    expect(popup.locator(".lum-card")).to_have_attribute("data-state", "ready", timeout=10_000)
    both_sizes(page, "map-fault")


def test_the_camera_boxes_zones_and_lines_are_on_the_map_with_their_in_direction(page: Page) -> None:
    """The demo seeds its fleet from the box configs: the camera boxes' zones and counting lines are drawn where
    their configs place them on the ground, each line with its inbound direction, and their cards read in French."""
    expect(page.locator("body")).to_have_attribute("data-layers-ready", "1", timeout=30_000)
    drawn = page.evaluate("window.vigieMap.layers.geometry()")
    assert {"cam-darcy-01", "cam-liberte-01"} <= {g["device"] for g in drawn if g["kind"] == "zone"}, drawn
    lines = [g for g in drawn if g["kind"] == "line"]
    assert lines and all(g["towards"] for g in lines), lines
    expect(page.locator('[data-layer-count="geo-lines"]')).to_have_text(str(len(lines)))
    page.evaluate("window.vigieMap.layers.openGeometry('cam-darcy-01/0/liberte-west')")
    card = page.locator('.leaflet-popup-content .popup[data-geo="cam-darcy-01/0/liberte-west"]')
    expect(card).to_contain_text("Ligne liberte-west")
    expect(card).to_contain_text("entrant vers l'ouest")
    both_sizes(page, "map-zones-lines")


def test_the_lighting_page_shows_the_measured_level_following_an_override(page: Page) -> None:
    """Talant's two district cabinets: an override to 15 % is acknowledged per box in place, and the commune's
    measured median comes to 15 % from the luminaires' own telemetry."""
    page.goto(page.url.replace("/map", "/lighting"))
    expect(page.locator("body")).to_have_attribute("data-loaded", "1", timeout=20_000)
    talant = page.locator('#groups tr[data-group="commune-talant"]')
    measured = talant.locator("td.measured")
    expect(measured).to_have_attribute("data-median", re.compile(r"^\d"), timeout=30_000)
    before = float(measured.get_attribute("data-median") or "nan")
    assert before != 15
    page.get_by_label("Portée").select_option("commune")
    page.locator("#ov-site").select_option("talant")
    page.get_by_label("Niveau (%)").fill("15")
    page.get_by_label("Durée (minutes)").fill("30")
    page.get_by_role("button", name="Envoyer la commande").click()
    expect(page.locator("#notice")).to_contain_text("Commande envoyée", timeout=20_000)
    row = page.locator("#commands tbody tr").first
    expect(row).to_have_attribute("data-state", "complete", timeout=20_000)
    expect(row.locator('li[data-result="applied"]')).to_have_count(2)
    expect(measured).to_have_attribute("data-median", "15", timeout=40_000)
    expect(talant.locator("td.override")).to_contain_text("15 % par demo, jusqu'au ")
    both_sizes(page, "lighting-override")


def _chart(page: Page, chart_id: str) -> dict[str, Any]:
    info: dict[str, Any] = page.evaluate(f"window.vigieCharts['{chart_id}']")
    return info


def _paris_hour(ms: int) -> int:
    return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo("Europe/Paris")).hour


def test_every_page_at_both_sizes_with_chart_axes_within_the_window(page: Page) -> None:
    base = page.url.rsplit("/", 1)[0]
    for path in PAGES:
        page.goto(f"{base}{path}")
        if path in ("/interventions", "/lighting", "/energy", "/fleet", "/requisitions"):
            expect(page.locator("body")).to_have_attribute("data-loaded", "1", timeout=20_000)
        if path == "/map":
            expect(page.locator("body")).to_have_attribute("data-layers-ready", "1", timeout=30_000)
        if path == "/energy":
            now, drawn = int(time.time() * 1000), 0
            for chart_id in ("energy-chart", "split-chart", "counts-chart"):
                c = _chart(page, chart_id)
                if c.get("empty"):
                    continue
                assert c["max"] - c["min"] == 24 * HOUR, chart_id
                assert now - 120_000 <= c["max"] <= now + 120_000, chart_id
                assert c["tickTimes"] and all(c["min"] <= x <= c["max"] for x in c["tickTimes"]), chart_id
                assert all(_paris_hour(x) % 3 == 0 for x in c["tickTimes"]), chart_id
                drawn += 1
            assert drawn, "the demo measured nothing to chart"
        both_sizes(page, path.strip("/"))
