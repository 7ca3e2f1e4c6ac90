"""The web UI in a real headless Chromium against a real server and database.

Each test saves a screenshot of its page in ``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Browser, Locator, Page, Playwright, expect, sync_playwright

import vigie_wire as wire
from coordinator.analytics.buckets import local_day_start
from coordinator.dispatch import service as dispatch_service
from coordinator.ingest.config import IngestSettings
from coordinator.ingest.hooks import Hooks
from coordinator.ingest.worker import IngestWorker
from coordinator.ingest_hooks import default_hooks
from coordinator.interventions.rules import DeviceView, offline_candidates
from coordinator.lighting import hooks as lighting_hooks
from coordinator.seed import seed_fleet as config_seed_fleet
from coordinator.storage import interventions as intervention_store
from coordinator.storage import make_engine
from coordinator.storage import teams as team_store
from coordinator.storage.schema import analytics_counts, energy_hourly, events, interventions, telemetry
from coordinator.web import i18n
from edge_agent.agent import Agent
from tests.api_helpers import PASSWORD, add_user, make_app
from tests.ingest_helpers import birth, event_batch, header, now_ms, register, topic_of
from tests.lighting_helpers import NIGHT, light_box, running_clock
from tests.lighting_helpers import register as register_box
from tests.mqtt_helpers import Mosquitto, wait_until
from tests.tile_server import TILE_PATH, tile_server
from tests.web_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    accessibility_violations,
    chromium_missing,
    ensure_vendor,
    fleet_rows,
    seed_fleet,
    serve,
    shot,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    reason = chromium_missing()
    if reason:
        pytest.fail(reason)
    ensure_vendor()
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serve(app) as url:
        yield url


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def t_fr(key: str) -> str:
    return i18n.translate("fr", key)


def login(page: Page, base_url: str, username: str, next_path: str = "/map") -> None:
    page.goto(f"{base_url}{next_path}")
    expect(page).to_have_url(f"{base_url}/login?next={next_path}")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{base_url}{next_path}")


def test_login_refuses_a_wrong_password_then_opens_the_map(app: Flask, base_url: str, page: Page) -> None:
    add_user(app, "operateur.dijon", "operator")
    page.goto(f"{base_url}/")
    expect(page).to_have_url(f"{base_url}/login?next=/map")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.get_by_label("Identifiant").fill("operateur.dijon")
    page.get_by_label("Mot de passe").fill("pas le bon")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_have_text("Identifiant ou mot de passe incorrect.")
    shot(page, "login-refused")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base_url}/map")
    expect(page.get_by_text("operateur.dijon")).to_be_visible()
    shot(page, "login-map")


def test_login_says_when_failures_have_locked_the_name(db_url: str, page: Page) -> None:
    app = make_app(db_url, LOGIN_THROTTLE_ACCOUNT_FREE=0, LOGIN_THROTTLE_BASE_S=60)
    add_user(app, "operateur.dijon", "operator")
    with serve(app) as base:
        page.goto(f"{base}/login")
        page.get_by_label("Identifiant").fill("operateur.dijon")
        page.get_by_label("Mot de passe").fill("pas le bon")
        page.get_by_role("button", name="Se connecter").click()
        expect(page.get_by_role("alert")).to_have_text("Identifiant ou mot de passe incorrect.")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        expect(page.get_by_role("alert")).to_have_text(
            "Trop d'échecs de connexion : réessayez dans quelques minutes.")
        expect(page).to_have_url(f"{base}/login")
        shot(page, "login-throttled")


def test_map_shows_every_device_of_the_fleet(app: Flask, db_url: str, base_url: str, page: Page) -> None:
    rows = fleet_rows(1500, seed=3)
    seed_fleet(db_url, rows)
    add_user(app, "superviseur", "supervisor")
    login(page, base_url, "superviseur")
    expect(page.locator("body")).to_have_attribute("data-map-ready", "1", timeout=10_000)
    assert page.locator("body").get_attribute("data-map-devices") == str(len(rows))
    expect(page.locator("#device-total")).to_have_text(str(len(rows)))
    by_status = {s: sum(1 for r in rows if r["status"] == s) for s in ("online", "stale", "offline", "unknown")}
    for status, count in by_status.items():
        expect(page.locator(f'[data-count="{status}"]')).to_have_text(str(count))
    clusters = page.evaluate("window.vigieMap.clusters()")
    assert sum(c["count"] for c in clusters) + len(page.evaluate("window.vigieMap.points()")) == len(rows)
    # Commune names sit beside their centre, never over a cluster (whose count stays readable) nor each other.
    labels = page.evaluate("window.vigieMap.labels()")
    circles = page.evaluate("window.vigieMap.clusterCircles()")
    assert len(labels) >= 5
    for lab in labels:
        for c in circles:
            nx = min(max(c["x"], lab["x"]), lab["x"] + lab["w"])
            ny = min(max(c["y"], lab["y"]), lab["y"] + lab["h"])
            assert (nx - c["x"]) ** 2 + (ny - c["y"]) ** 2 >= c["r"] ** 2, f"{lab['name']} covers a cluster"
        for other in labels:
            if other is not lab:
                assert not (lab["x"] < other["x"] + other["w"] and other["x"] < lab["x"] + lab["w"]
                            and lab["y"] < other["y"] + other["h"] and other["y"] < lab["y"] + lab["h"])
    shot(page, "map")
    # A click on the biggest cluster zooms in on it.
    zoom = int(page.locator("body").get_attribute("data-map-zoom") or 0)
    big = max(clusters, key=lambda c: c["count"])
    page.locator("#map").click(position={"x": big["x"], "y": big["y"]})
    expect(page.locator("body")).not_to_have_attribute("data-map-zoom", str(zoom))
    assert int(page.locator("body").get_attribute("data-map-zoom") or 0) > zoom
    # Finding a device by id centres on it and shows its details.
    target = rows[42]
    page.get_by_label("Trouver un équipement").fill(target["id"])
    page.get_by_role("button", name="Chercher").click()
    details = page.locator("#device-details")
    expect(details).to_be_visible()
    expect(details).to_contain_text(target["id"])
    expect(details).to_contain_text(target["firmware"])
    shot(page, "map-device")


def test_every_page_renders_in_french_and_in_english(app: Flask, base_url: str, page: Page) -> None:
    add_user(app, "lectrice", "viewer")
    login(page, base_url, "lectrice", "/fleet")
    for path, heading in (("/feed", "Événements en direct"), ("/interventions", "Tableau des interventions"),
                          ("/lighting", "Éclairage public"), ("/energy", "Énergie et comptages"),
                          ("/fleet", "Santé du parc")):
        page.goto(f"{base_url}{path}")
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.locator(f'nav a[href="{path}"]')).to_have_attribute("aria-current", "page")
        if path != "/feed":
            expect(page.locator("body")).to_have_attribute("data-loaded", "1")
        expect(page.locator("#notice")).to_be_hidden()
        shot(page, f"page{path.replace('/', '-')}")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fleet health")
    page.goto(f"{base_url}/lighting")
    expect(page.get_by_role("heading", level=1)).to_have_text("Street lighting")
    # Keyboard: the skip link is the first stop and leads to the content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.set_viewport_size({"width": 1920, "height": 1080})
    shot(page, "lighting-en-1920")


@pytest.fixture
def ingest(db_url: str, broker: Mosquitto) -> Iterator[IngestWorker]:
    engine = make_engine(db_url)
    worker = IngestWorker(IngestSettings(database_url=db_url, mqtt_port=broker.port, client_id="vigie-ingest-web",
                                         batch_ms=20), engine, Hooks(acks=[lighting_hooks.on_acks]))
    worker.start()
    wait_until(worker.client.subscribed.is_set, 10, "ingest worker subscribed")
    yield worker
    worker.stop()
    engine.dispose()


def _publish(port: int, site: str, *messages: wire.Message) -> None:
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="web-test-box",
                         protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for msg in messages:
            client.publish(topic_of(site, msg), wire.encode(msg), qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def test_an_event_published_on_the_broker_appears_in_the_feed_within_2_s(
        app: Flask, db_url: str, base_url: str, page: Page, broker: Mosquitto, ingest: IngestWorker) -> None:
    engine = make_engine(db_url)
    register(engine, ("cam-darcy-01", "dijon"))
    engine.dispose()
    add_user(app, "operateur", "operator")
    login(page, base_url, "operateur", "/feed")
    expect(page.locator("#feed-state")).to_have_attribute("data-state", "open")
    _publish(broker.port, "dijon", birth("cam-darcy-01", 1, now_ms()))
    t0 = time.monotonic()
    _publish(broker.port, "dijon", event_batch("cam-darcy-01", 1, 1, 7, [0, 1], ts=now_ms()))
    row = page.locator('#feed-rows tr[data-key="cam-darcy-01/7/1"]')
    expect(row).to_be_visible(timeout=2000)
    assert time.monotonic() - t0 < 2.0
    expect(row).to_contain_text("Détection")
    expect(row).to_contain_text("Dijon")  # the commune by its name, not its slug
    expect(page.locator("#feed-rows tr")).to_have_count(2)
    shot(page, "feed")


def _expect_deadlines_in_french(page: Page) -> None:
    """One labelled, translated line per SLA deadline, none overdue yet."""
    due = page.locator("#detail-fields .deadlines li")
    expect(due).to_have_count(3)
    expect(due.nth(0)).to_contain_text("Prise en compte :")
    expect(due.nth(1)).to_contain_text("Arrivée sur place :")
    expect(due.nth(2)).to_contain_text("Résolution :")
    expect(page.locator("#detail-fields")).not_to_contain_text("acknowledged")
    expect(page.locator('#detail-fields .deadlines li[data-standing="overdue"]')).to_have_count(0)
    expect(page.locator("#detail-fields")).to_contain_text("Dijon")


def _expect_history_in_french(page: Page) -> None:
    history = page.locator("#history li")
    expect(history.nth(0)).to_contain_text("Création")
    expect(history.nth(1)).to_contain_text("Prise en compte (nouvelle → prise en compte) — operateur")
    expect(history.nth(2)).to_contain_text("Affectation")
    expect(page.locator("#history")).not_to_contain_text("user:")


def _expect_board_beside_the_detail(page: Page) -> None:
    """The seven columns and the detail panel fit side by side: "Clôturées" is not cut off."""
    closed = page.locator('.column[data-state="closed"]').bounding_box()
    panel = page.locator("#detail").bounding_box()
    assert closed is not None and panel is not None
    assert closed["x"] + closed["width"] <= panel["x"]
    expect(page.locator("#board-hint")).to_be_hidden()


def test_an_intervention_is_created_acknowledged_and_assigned_from_the_board(
        app: Flask, db_url: str, base_url: str, page: Page) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for team_id, skills, lat in (("eclairage-nord", ["eclairage"], 47.33), ("voirie-sud", ["voirie"], 47.29)):
            team_store.save_team(conn, team_store.TeamRow(team_id, team_id, "dijon", skills, lat, 5.04, True, None,
                                                          None), now_ms(), create=True)
    engine.dispose()
    operator = add_user(app, "operateur", "operator")
    login(page, base_url, "operateur", "/interventions")
    page.get_by_text("Nouvelle intervention").click()
    page.get_by_label("Objet").fill("Candélabre éteint rue de la Liberté")
    page.get_by_label("Nature").select_option("streetlight")
    page.get_by_label("Compétence").select_option("eclairage")
    page.get_by_role("button", name="Créer").click()
    detail = page.locator("#detail")
    expect(detail).to_have_attribute("data-state", "new")
    iid = detail.get_attribute("data-id")
    expect(page.locator('.column[data-state="new"] .ticket')).to_have_count(1)
    _expect_deadlines_in_french(page)
    # The state select offers the moves the API allows from "new", by their French names.
    assert page.locator("#status-to option").all_inner_texts() == [
        "Prendre en compte → prise en compte", "Affecter une équipe → affectée", "Annuler l'intervention → clôturée"]
    page.get_by_role("button", name="Prendre en compte").click()
    expect(detail).to_have_attribute("data-state", "acknowledged")
    expect(page.locator('.column[data-state="acknowledged"] .ticket')).to_have_count(1)
    expect(page.locator('#detail-fields .deadlines li[data-milestone="acknowledged"]')).to_have_attribute(
        "data-standing", "met")
    expect(page.get_by_role("button", name="Prendre en compte")).to_have_count(0)
    page.get_by_role("button", name="Proposer une équipe").click()
    first = page.locator('#proposals input[name="team"]').first
    expect(first).to_be_focused()
    expect(first).to_have_value("eclairage-nord")  # the team with the skill ranks first
    expect(page.locator("#proposals")).to_contain_text("a la compétence Éclairage public (+100)")
    expect(page.locator("#proposals")).not_to_contain_text("skill")
    page.get_by_role("button", name="Affecter").click()
    expect(detail).to_have_attribute("data-state", "assigned")
    expect(detail).to_contain_text("eclairage-nord")
    # Assigned: nothing to acknowledge any more; the team can be changed or taken off, or it departs.
    expect(page.get_by_role("button", name="Prendre en compte")).to_have_count(0)
    expect(page.locator("#btn-propose")).to_have_text("Réaffecter (proposer une équipe)")
    assert page.locator("#status-to option").all_inner_texts() == [
        "Réaffecter → affectée", "Retirer l'équipe → prise en compte", "Marquer en route → en route",
        "Annuler l'intervention → clôturée"]
    page.get_by_label("Commentaire").fill("Équipe prévenue par radio")
    page.get_by_role("button", name="Commenter").click()
    expect(page.locator("#history li")).to_have_count(4)
    expect(page.locator("#history")).to_contain_text("Équipe prévenue par radio")
    _expect_history_in_french(page)
    _expect_board_beside_the_detail(page)
    shot(page, "interventions")
    page.set_viewport_size({"width": 1920, "height": 1080})
    expect(page.locator('.column[data-state="closed"]')).to_be_in_viewport(ratio=1)
    shot(page, "interventions-1920")
    stored = operator.get(f"/interventions/{iid}").get_json()
    assert stored["state"] == "assigned"
    assert stored["team"] == "eclairage-nord"
    assert [h["action"] for h in stored["history"]][:3] == ["create", "acknowledge", "assign"]


def _expect_group_at_its_calendar_level(group: Locator) -> None:
    """State first: the node commands 70 % (the night step of the calendar) and the luminaires' own telemetry
    says where their output is on its way there (the simulated gear ramps up); nobody overrides."""
    expect(group.locator("td.commanded")).to_have_attribute("data-median", "70", timeout=10_000)
    expect(group.locator("td.measured")).to_have_attribute("data-median", re.compile(r"^\d+(\.\d)?$"))
    measured = float(group.locator("td.measured").get_attribute("data-median") or "nan")
    assert 0 <= measured <= 70
    expect(group.locator("td.override")).to_have_text("aucun")
    expect(group.locator("td.calendar")).to_have_text("celui des armoires")
    expect(group.locator("td.states")).to_have_text(re.compile(r"^2 \(2 (abaissés|éteints)\)$"))


def _expect_drill_down_to_the_luminaires(page: Page, group: Locator) -> None:
    """From the group to its cabinet, then to the cabinet's luminaires, each at its measured level."""
    group.get_by_role("button", name="Armoires du groupe rue-liberte").click()
    cabinet = page.locator('#cabinets tr[data-device="light-liberte-01"]')
    expect(cabinet.locator("td.measured")).to_have_attribute("data-median", "100")
    cabinet.get_by_role("button", name="Luminaires de l'armoire light-liberte-01").click()
    lums = page.locator("#luminaires tbody tr")
    expect(lums).to_have_count(2)
    expect(lums.first).to_have_attribute("data-state", "on")
    expect(lums.first.locator("td.measured")).to_have_text("100 %")
    expect(lums.first).to_contain_text("allumé")
    shot(page, "lighting-drill-down")


class _TelemetryLoop(threading.Thread):
    """Publishes a started box's telemetry every half second, as its ``run_forever`` loop would."""

    def __init__(self, box: Agent) -> None:
        super().__init__(name="box-telemetry", daemon=True)
        self.box = box
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.box.link.publish_telemetry(self.box.metrics())

    def stop(self) -> None:
        self.done.set()
        self.join(5)


def test_an_override_set_from_the_lighting_panel_is_acknowledged_by_the_light_node(
        db_url: str, broker: Mosquitto, ingest: IngestWorker, browser: Browser, tmp_path: Path) -> None:
    app = make_app(db_url, MQTT_PORT=broker.port)
    cfg, path = light_box(tmp_path, broker.port, "light-liberte-01", site="dijon", groups=("rue-liberte",))
    engine = make_engine(db_url)
    register(engine, ("light-liberte-01", "dijon"))  # the fleet registry knows the box before its birth
    register_box(engine, cfg)  # and the lighting inventory its luminaires and groups
    engine.dispose()
    box = Agent(cfg, path, light_clock=running_clock(NIGHT))
    box.start()
    telemetry = _TelemetryLoop(box)  # what Agent.run_forever does every telemetry interval
    telemetry.start()
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        wait_until(box.link.connected.is_set, 10, "light box connected")
        assert box.light is not None
        driver = box.light.driver
        wait_until(lambda: {driver.read(lum).target_pct for lum in driver.luminaires()} == {70.0}, 5, "calendar")
        add_user(app, "operateur", "operator")
        with serve(app) as base_url:
            login(page, base_url, "operateur", "/lighting")
            group = page.locator('#groups tr[data-group="rue-liberte"]')
            _expect_group_at_its_calendar_level(group)
            page.get_by_label("Portée").select_option("group")
            page.locator("#ov-site").select_option("dijon")
            page.locator("#ov-group").fill("rue-liberte")
            page.get_by_label("Niveau (%)").fill("100")
            page.get_by_label("Durée (minutes)").fill("30")
            page.get_by_role("button", name="Envoyer la commande").click()
            expect(page.locator("#notice")).to_contain_text("Commande envoyée", timeout=15_000)
            wait_until(lambda: {driver.read(lum).target_pct for lum in driver.luminaires()} == {100.0}, 5,
                       "override applied on the box")
            row = page.locator("#commands tbody tr").first
            expect(row).to_have_attribute("data-state", "complete", timeout=10_000)
            ack = row.locator('li[data-device="light-liberte-01"]')
            expect(ack).to_have_attribute("data-result", "applied")
            expect(ack).to_contain_text("acquitté")
            # The measured level follows the command, from the luminaires' telemetry.
            expect(group.locator("td.measured")).to_have_attribute("data-median", "100", timeout=15_000)
            expect(group.locator("td.override")).to_contain_text("100 % par operateur, jusqu'au ")
            expect(group.locator("td.commanded")).to_contain_text("100 %")
            shot(page, "lighting")
            _expect_drill_down_to_the_luminaires(page, group)
    finally:
        context.close()
        telemetry.stop()
        box.shutdown(drain_s=1)


def test_an_overdue_deadline_is_highlighted_on_the_board_and_in_english(
        app: Flask, db_url: str, base_url: str, page: Page) -> None:
    operator = add_user(app, "operateur", "operator")
    iv = operator.post("/interventions", json={"title": "Chaussée effondrée", "kind": "pothole", "priority": "urgent",
                                               "commune": "fontaine-les-dijon"}).get_json()
    engine = make_engine(db_url)
    with engine.begin() as conn:  # started an hour ago: the 2 min and 15 min deadlines have passed
        conn.execute(sa.update(interventions).where(interventions.c.id == iv["id"])
                     .values(sla_start_ms=now_ms() - 3_600_000))
    engine.dispose()
    login(page, base_url, "operateur", "/interventions")
    card = page.locator(f'.ticket[data-id="{iv["id"]}"]')
    expect(card).to_have_attribute("data-overdue", "1")
    expect(card).to_contain_text("En retard")
    expect(card).to_contain_text("Fontaine-lès-Dijon")
    card.click()
    due = page.locator("#detail-fields .deadlines li")
    expect(due.nth(0)).to_have_attribute("data-standing", "overdue")
    expect(due.nth(0)).to_contain_text("en retard")
    expect(due.nth(1)).to_have_attribute("data-standing", "overdue")
    expect(due.nth(2)).to_have_attribute("data-standing", "pending")
    shot(page, "interventions-overdue")
    page.goto(f"{base_url}/interventions?lang=en")
    page.locator(f'.ticket[data-id="{iv["id"]}"]').click()
    expect(due.nth(0)).to_contain_text("Acknowledgement:")
    expect(due.nth(0)).to_contain_text("overdue")
    assert page.locator("#status-to option").all_inner_texts() == [
        "Acknowledge → acknowledged", "Assign a team → assigned", "Cancel the intervention → closed"]
    # A cancellation needs a reason: the field says so before the API has to.
    page.get_by_label("Change status").select_option("closed")
    expect(page.locator("#status-reason")).to_have_attribute("required", "")
    expect(page.locator("#history li").first).to_contain_text("Created")
    shot(page, "interventions-en")


@pytest.fixture
def ingest_with_rules(db_url: str, broker: Mosquitto) -> Iterator[IngestWorker]:
    """An ingest worker with the product's hooks: rules open interventions from the events it stores."""
    engine = make_engine(db_url)
    worker = IngestWorker(IngestSettings(database_url=db_url, mqtt_port=broker.port, client_id="vigie-ingest-rules",
                                         batch_ms=20), engine, default_hooks())
    worker.start()
    wait_until(worker.client.subscribed.is_set, 10, "ingest worker subscribed")
    yield worker
    worker.stop()
    engine.dispose()


def _events(dev: str, seq: int, ts: int, *bodies: wire.Event) -> wire.EventBatch:
    return wire.EventBatch(header(dev, 1, seq, ts), 1, False,
                           tuple(wire.EventRecord(n, ts, body) for n, body in enumerate(bodies, start=1)))


#: What each camera event says in the French feed (class 0 is a person, 1 a bicycle, 2 a car).
CAMERA_EVENTS: tuple[tuple[wire.Event, str], ...] = (
    (wire.Detection(0, 11, 1, 84, (100, 200, 50, 120)), "vélo (confiance 84 %), caméra 1"),
    (wire.ZoneEnter(0, "crossing", 12, 0), "Zone crossing : personne, caméra 1"),
    (wire.Occupancy(0, "crossing", ((0, 4), (1, 1))), "Zone crossing : 4 personnes, 1 vélo"),
    (wire.LineCrossing(0, "liberte-west", 11, 1, True),
     "Franchissement de la ligne liberte-west dans le sens entrant : vélo"),
    (wire.Loitering(0, "crossing", 12, 0, 125_000), "Zone crossing : personne, présence depuis 2 min 5 s"),
    (wire.ZoneLeave(0, "crossing", 12, 0, 130_000), "Zone crossing : personne, présence de 2 min 10 s, caméra 1"),
    (wire.TrackEnd(0, 12, 0, 12_000), "Suivi terminé après 12 s : personne, caméra 1"),
    (wire.IntervalCounts(0, 60, (wire.CountRow("liberte-west", 2, 3, 1), wire.CountRow("crossing", 0, 5, 0))),
     "Sur 1 min : ligne liberte-west, voitures : 3 dans le sens entrant, 1 dans le sens sortant ; "
     "zone ou ligne crossing, personnes : 5 entrées"),
)


def _rules(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for name, config in (("attroupements", {"type": "crowd", "threshold": 3}),
                             ("présences", {"type": "loitering", "min_dwell_s": 60}),
                             ("luminaires", {"type": "light_fault"}),
                             ("boîtiers muets", {"type": "device_offline", "after_s": 600})):
            intervention_store.create_rule(conn, name, None, True, config, "test", now_ms())
    engine.dispose()


def _silent_box(db_url: str) -> None:
    """The offline rule's periodic check finds a box silent for 25 minutes."""
    engine = make_engine(db_url)
    now = now_ms()
    with engine.begin() as conn:
        rules = intervention_store.enabled_rules(conn, ["device_offline"])
        box = DeviceView("cam-talant-02", "talant", "offline", now - 25 * 60_000, now - 25 * 60_000, ("camera",))
        dispatch_service.open_candidates(conn, offline_candidates(rules, [box], now), now)
    engine.dispose()


def _crowd_context(page: Page, board: Locator) -> None:
    """The crowd's detail: the place, the rule, the zone's events around the trigger in words, the counts' chart."""
    board.locator(".ticket", has_text="Attroupement").click()
    expect(page.locator("#detail-h")).to_contain_text("Attroupement")
    context = page.locator("#context")
    expect(context).to_be_visible(timeout=5000)
    iid = page.locator("#detail").get_attribute("data-id")
    expect(context).to_have_attribute("data-loaded", str(iid))
    expect(page.locator("#context-place")).to_contain_text("boîtier cam-darcy-01 · cible crossing")
    expect(page.locator("#context-rule")).to_have_text(f"attroupements ({t_fr('kind.crowd')})")
    triggers = page.locator("#trigger-events li")
    expect(triggers).to_have_count(4)  # the events of zone crossing: entry, occupancy, loitering, exit
    expect(page.locator("#trigger-events")).to_contain_text("Zone crossing : 4 personnes, 1 vélo")
    assert "[" not in page.locator("#trigger-events").inner_text()
    api_window = page.evaluate(f"fetch('/api/v1/interventions/{iid}/context').then((r) => r.json())")["window"]
    chart = page.evaluate("window.vigieCharts['context-chart']")
    assert (chart["min"], chart["max"]) == (api_window["start_ms"], api_window["end_ms"])
    shot(page, "interventions-context")
    page.locator("#context-map").click()  # the place on the map: centred there, its card open
    expect(page).to_have_url(re.compile(rf"/map#iv-{iid}$"))
    expect(page.locator(f'.leaflet-popup-content .popup[data-intervention="{iid}"]')).to_contain_text(
        "Attroupement dans la zone crossing", timeout=10_000)


def test_events_and_rule_interventions_read_as_sentences_in_french_and_in_english(
        app: Flask, db_url: str, base_url: str, page: Page, broker: Mosquitto, ingest_with_rules: IngestWorker,
) -> None:
    engine = make_engine(db_url)
    register(engine, ("cam-darcy-01", "dijon"), ("light-darcy-01", "dijon"))
    engine.dispose()
    _rules(db_url)
    add_user(app, "operateur", "operator")
    login(page, base_url, "operateur", "/feed")
    expect(page.locator("#feed-state")).to_have_attribute("data-state", "open")
    ts = now_ms()
    _publish(broker.port, "dijon", birth("cam-darcy-01", 1, ts), birth("light-darcy-01", 1, ts),
             _events("cam-darcy-01", 1, ts, *(body for body, _ in CAMERA_EVENTS)),
             _events("light-darcy-01", 1, ts, wire.LampFault("l03", "lampFailure", True)))
    rows = page.locator("#feed-rows tr")
    expect(rows).to_have_count(len(CAMERA_EVENTS) + 1, timeout=5000)
    for n, (body, sentence) in enumerate(CAMERA_EVENTS, start=1):
        row = page.locator(f'#feed-rows tr[data-key="cam-darcy-01/1/{n}"]')
        expect(row.locator("td.detail")).to_have_text(sentence)
        expect(row).to_contain_text(t_fr(f"ev.{body.wire_name}"))
    fault = page.locator('#feed-rows tr[data-key="light-darcy-01/1/1"]')
    expect(fault).to_contain_text("Défaut de luminaire")
    expect(fault.locator("td.detail")).to_have_text("Luminaire l03 : lampe en panne")
    details = " ".join(page.locator("#feed-rows td.detail").all_inner_texts())
    for raw in ("[", "]", "=", "cls", "counts", "track_end", "lampFailure", "{"):
        assert raw not in details, raw
    shot(page, "feed-sentences")

    _silent_box(db_url)
    page.goto(f"{base_url}/interventions")
    board = page.locator("#board")
    expect(board.locator(".ticket")).to_have_count(4, timeout=10_000)
    expect(board).to_contain_text("Attroupement dans la zone crossing (cam-darcy-01) : effectif de 4")
    expect(board).to_contain_text("Présence prolongée dans la zone crossing (cam-darcy-01) : personne, 2 min 5 s")
    expect(board).to_contain_text("Luminaire l03 (light-darcy-01) : lampe en panne")
    expect(board).to_contain_text("Boîtier cam-talant-02 muet depuis 25 min (hors ligne)")
    for english in ("Crowd", "Loitering", "lampFailure", "silent"):
        expect(board).not_to_contain_text(english)
    board.locator(".ticket", has_text="Luminaire l03").click()
    expect(page.locator("#detail-fields")).to_contain_text(
        "Le boîtier light-darcy-01 signale sur le luminaire l03 : lampe en panne.")
    shot(page, "interventions-sentences")
    _crowd_context(page, board)
    # The stored titles are the rules' own (English) strings: the board words them from the data instead.
    stored = {iv["kind"]: iv["title"] for iv in page.evaluate(
        "fetch('/api/v1/interventions?limit=10').then((r) => r.json())")["interventions"]}
    assert stored["crowd"] == "Crowd of 4 in zone crossing (cam-darcy-01)"

    page.goto(f"{base_url}/interventions?lang=en")
    expect(board).to_contain_text("Crowd in zone crossing (cam-darcy-01): 4 counted")
    expect(board).to_contain_text("Luminaire l03 (light-darcy-01): lamp failure")
    expect(board).to_contain_text("Box cam-talant-02 silent for 25 min (offline)")
    page.goto(f"{base_url}/feed?lang=en")
    line = page.locator('#feed-rows tr[data-key="cam-darcy-01/1/4"]')
    expect(line.locator("td.detail")).to_have_text("Line liberte-west crossed in the inbound direction: bicycle")


HOUR = 3_600_000
FR_DAY = re.compile(r"^(lun|mar|mer|jeu|ven|sam|dim)\. \d{1,2} "
                    r"(janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc)\.?$")
EN_DAY = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)$")


def _seed_analytics(db_url: str) -> int:
    """One hour of energy in the last day, another three days ago, and one far in the future (a box's clock
    gone wrong); line crossings in the last day."""
    now = now_ms()
    hour = now - now % HOUR
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for site, group, t, wh in (("dijon", "commune-dijon", hour - 2 * HOUR, 5200.0),
                                   ("dijon", "rue-liberte", hour - 2 * HOUR, 800.0),
                                   ("talant", "commune-talant", hour - 2 * HOUR, 1300.0),
                                   ("dijon", "commune-dijon", hour - 72 * HOUR, 4100.0),
                                   ("dijon", "commune-dijon", hour + 2 * 365 * 24 * HOUR, 9999.0)):
            conn.execute(sa.insert(energy_hourly).values(site=site, group_name=group, hour_ms=t, energy_wh=wh,
                                                         rated_energy_wh=wh, reference_wh=wh * 2.5, lit_h=10.0))
        for target, inbound, outbound in (("liberte-west", 14, 9), ("crossing", 6, 0)):
            conn.execute(sa.insert(analytics_counts).values(site="dijon", device_id="cam-darcy-01", cam=0,
                                                            target=target, cls=0, minute_ms=hour - HOUR,
                                                            inbound=inbound, outbound=outbound))
    engine.dispose()
    return now


def _chart(page: Page, chart_id: str) -> dict[str, Any]:
    info: dict[str, Any] = page.evaluate(f"window.vigieCharts['{chart_id}']")
    return info


def _paris_hour(ms: int) -> int:
    return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo("Europe/Paris")).hour


def test_charts_span_the_chosen_window_in_paris_time_with_french_labels(
        app: Flask, db_url: str, base_url: str, page: Page) -> None:
    now = _seed_analytics(db_url)
    add_user(app, "lectrice", "viewer")
    login(page, base_url, "lectrice", "/energy")
    expect(page.locator("body")).to_have_attribute("data-loaded", "1")
    energy = _chart(page, "energy-chart")
    assert energy["max"] - energy["min"] == 24 * HOUR
    assert now - 60_000 <= energy["max"] <= now + 60_000
    assert energy["points"] == 1  # one hour of data: still a whole day of axis, not years
    assert energy["tickTimes"] and all(energy["min"] <= x <= energy["max"] for x in energy["tickTimes"])
    assert all(_paris_hour(x) % 3 == 0 for x in energy["tickTimes"])
    assert all(re.fullmatch(r"\d\d:00", label) for label in energy["ticks"])
    assert [f"{_paris_hour(x):02d}:00" for x in energy["tickTimes"]] == energy["ticks"]
    assert _chart(page, "split-chart")["series"] == ["Dijon", "Talant"]
    assert _chart(page, "counts-chart")["series"] == ["liberte-west (cam-darcy-01)", "crossing (cam-darcy-01)"]
    expect(page.locator('[data-kpi="counts"] .value')).to_have_text("29")
    shot(page, "energy-24h")

    page.get_by_label("7 jours").check()
    expect(page.locator("body")).to_have_attribute("data-loaded", "1")
    week = _chart(page, "energy-chart")
    assert week["max"] - week["min"] == 7 * 24 * HOUR
    assert week["points"] == 2
    assert len(week["ticks"]) in (6, 7) and all(FR_DAY.match(label) for label in week["ticks"]), week["ticks"]
    assert all(_paris_hour(x) == 0 for x in week["tickTimes"])
    shot(page, "energy-7d")

    page.get_by_label("Commune", exact=True).select_option("dijon")
    expect(page.locator("#split-h")).to_have_text("Énergie par groupe, par heure (kWh)")
    expect(page.locator("body")).to_have_attribute("data-loaded", "1")
    assert _chart(page, "split-chart")["series"] == ["Toute la commune", "rue-liberte"]
    page.get_by_label("Commune", exact=True).select_option("ahuy")  # nothing measured there
    expect(page.locator("#energy-chart")).to_have_attribute("data-empty", "1")
    expect(page.locator("#energy-chart")).to_have_text("Aucune mesure sur la période choisie.")
    expect(page.locator("#counts-chart")).to_have_text("Aucune mesure sur la période choisie.")
    shot(page, "energy-empty")

    page.goto(f"{base_url}/energy?lang=en")
    page.get_by_label("7 days").check()
    expect(page.locator("body")).to_have_attribute("data-loaded", "1")
    labels = _chart(page, "energy-chart")["ticks"]
    assert labels and all(EN_DAY.match(label) for label in labels), labels


def test_the_accessibility_audit_catches_a_violation(app: Flask, base_url: str, page: Page) -> None:
    """The audit every screenshot runs is real: an unnamed button and a low-contrast text fail it."""
    add_user(app, "lectrice", "viewer")
    login(page, base_url, "lectrice", "/fleet")
    assert accessibility_violations(page) == []
    page.evaluate("""() => {
        const b = document.createElement('button'); document.querySelector('main').append(b);
        const p = document.createElement('p'); p.textContent = 'pâle'; p.style.color = '#eeeeee';
        document.querySelector('main').append(p);
    }""")
    found = " ".join(accessibility_violations(page))
    assert "button-name (critical)" in found
    assert "color-contrast (serious)" in found


def test_the_map_shows_luminaires_by_measured_state_and_a_fault_turns_red_live(
        app: Flask, db_url: str, base_url: str, page: Page, broker: Mosquitto, ingest_with_rules: IngestWorker,
        tmp_path: Path) -> None:
    cfg, _ = light_box(tmp_path, broker.port, "light-liberte-01", site="dijon", groups=("rue-liberte",))
    engine = make_engine(db_url)
    register(engine, ("light-liberte-01", "dijon"), ("cam-darcy-01", "dijon"))
    register_box(engine, cfg)
    with engine.begin() as conn:
        intervention_store.create_rule(conn, "luminaires", None, True, {"type": "light_fault"}, "test", now_ms())
    engine.dispose()
    ts = now_ms()
    metrics = {"light.n": 2, "light.lum": {"ids": ["l01", "l02"], "level": [70, 100], "target": [70, 100],
                                           "power_w": [42, 60], "energy_wh": [900, 950], "hours": [3, 3],
                                           "switch_ons": [1, 1]}}
    _publish(broker.port, "dijon", birth("light-liberte-01", 1, ts),
             wire.Telemetry(header("light-liberte-01", 1, 1, ts), metrics))
    add_user(app, "operateur", "operator")
    login(page, base_url, "operateur", "/map")
    expect(page.locator("body")).to_have_attribute("data-layers-ready", "1", timeout=10_000)
    states = {lum["id"]: lum["state"] for lum in page.evaluate("window.vigieMap.layers.luminaires()")}
    assert states == {"light-liberte-01/l01": "dimmed", "light-liberte-01/l02": "on"}
    expect(page.locator('[data-layer-count="lum-dimmed"]')).to_have_text("1")
    expect(page.locator('[data-layer-count="lum-on"]')).to_have_text("1")
    # At city scale only faults are drawn over the device clusters; every luminaire from zoom 14.
    assert int(page.locator("body").get_attribute("data-map-zoom") or 99) < 14
    assert page.evaluate("window.vigieMap.layers.luminairesDrawn()") == 0
    t0 = time.monotonic()
    _publish(broker.port, "dijon", _events("light-liberte-01", 2, now_ms(), wire.LampFault("l02", "lampFailure", True)))
    page.wait_for_function("() => window.vigieMap.layers.luminaires().some((l) => l.state === 'fault')", timeout=2000)
    assert time.monotonic() - t0 < 2.0
    expect(page.locator('[data-layer-count="lum-fault"]')).to_have_text("1")
    assert page.evaluate("window.vigieMap.layers.luminairesDrawn()") == 1
    # The rule opened an intervention: it is on the map, worded in French, by its priority.
    expect(page.locator('[data-layer-count="iv-normal"]')).to_have_text("1", timeout=5000)
    ivs = page.evaluate("window.vigieMap.layers.interventions()")
    assert [iv["title"] for iv in ivs] == ["Luminaire l02 (light-liberte-01) : lampe en panne"]
    page.evaluate("window.vigieMap.layers.openLuminaire('light-liberte-01/l02')")
    popup = page.locator('.leaflet-popup-content .popup[data-lum="light-liberte-01/l02"]')
    expect(popup).to_contain_text("Luminaire l02")
    expect(popup).to_contain_text("en défaut")
    expect(popup).to_contain_text("lampe en panne")
    assert int(page.locator("body").get_attribute("data-map-zoom") or 0) >= 14
    assert page.evaluate("window.vigieMap.layers.luminairesDrawn()") == 2
    shot(page, "map-layers-fault")
    page.evaluate(f"window.vigieMap.layers.openIntervention({ivs[0]['id']})")
    card = page.locator(f'.leaflet-popup-content .popup[data-intervention="{ivs[0]["id"]}"]')
    expect(card).to_contain_text("Luminaire l02 (light-liberte-01) : lampe en panne")
    expect(card).to_contain_text("Normale")
    # The layers can be hidden from the legend.
    assert page.evaluate("window.vigieMap.layers.visible()") == {"luminaires": True, "interventions": True}
    page.get_by_label("Interventions ouvertes").uncheck()
    expect(card).to_have_count(0)
    page.get_by_label("Luminaires (état mesuré)").uncheck()
    assert page.evaluate("window.vigieMap.layers.visible()") == {"luminaires": False, "interventions": False}


def test_map_tiles_come_from_the_configured_tile_server(db_url: str, page: Page) -> None:
    """``MAP_TILE_URL`` points the basemap at the city's tile server (here a local one): the map asks it for tiles,
    the page's security policy lets them in, they are drawn, and the plain-background hint goes."""
    with tile_server() as (url, asked):
        app = make_app(db_url, MAP_TILE_URL=url, MAP_TILE_ATTRIBUTION="Tuiles de la métropole", MAP_TILE_MAX_ZOOM=18)
        add_user(app, "operateur", "operator")
        with serve(app) as base:
            login(page, base, "operateur", "/map")
            expect(page.locator("img.leaflet-tile-loaded").first).to_be_attached(timeout=10_000)
            loaded = page.evaluate("[...document.querySelectorAll('img.leaflet-tile-loaded')]"
                                   ".filter((i) => i.naturalWidth === 256).length")
            assert loaded >= 1
            assert any(TILE_PATH.match(p) for p in asked), asked
            expect(page.locator("#no-tiles-hint")).to_be_hidden()
            expect(page.locator(".leaflet-control-attribution")).to_contain_text("Tuiles de la métropole")
            shot(page, "map-tiles")


def test_the_map_is_operated_from_the_keyboard_with_teams_at_their_last_position(
        app: Flask, base_url: str, page: Page) -> None:
    """Canvas markers take no focus: a list of buttons per layer reaches each point from the keyboard (the map
    centres on it and opens its card); the field teams' last positions are a layer of their own, toggled by
    keyboard like the others."""
    sup = add_user(app, "chef", "supervisor")
    made = sup.post("/teams", json={"id": "eclairage-nord", "name": "Éclairage nord", "commune": "dijon",
                                    "skills": ["eclairage"], "lat": 47.3301, "lon": 5.0402})
    assert made.status_code == 201, made.get_json()
    assert sup.post("/teams", json={"id": "voirie-sud", "name": "Voirie sud", "commune": "dijon",
                                    "skills": ["voirie"]}).status_code == 201  # no position: not on the map
    iv = sup.post("/interventions", json={"title": "Chaussée effondrée", "kind": "pothole", "priority": "urgent",
                                          "commune": "dijon", "lat": 47.3215, "lon": 5.0380}).get_json()
    login(page, base_url, "chef", "/map")
    expect(page.locator("body")).to_have_attribute("data-layers-ready", "1", timeout=10_000)
    assert page.evaluate("window.vigieMap.layers.teams()") == [{"id": "eclairage-nord", "lat": 47.3301,
                                                                "lon": 5.0402}]
    expect(page.locator('[data-layer-count="teams"]')).to_have_text("1")
    team_button = page.locator("#list-teams button")
    expect(team_button).to_have_text(["Éclairage nord (Dijon)"])
    expect(page.locator("#list-ivs button")).to_have_text([f"#{iv['id']} Chaussée effondrée"])
    # Hide the teams' layer from the keyboard, then reach the team by its button: the layer comes back, card open.
    page.locator('#layers input[value="teams"]').focus()
    page.keyboard.press("Space")
    assert page.evaluate("window.vigieMap.layers.teamsVisible()") is False
    team_button.focus()
    page.keyboard.press("Enter")
    card = page.locator('.leaflet-popup-content .popup[data-team="eclairage-nord"]')
    expect(card).to_contain_text("Éclairage nord")
    expect(card).to_contain_text("Éclairage public")
    assert page.evaluate("window.vigieMap.layers.teamsVisible()") is True
    expect(page.locator('#layers input[value="teams"]')).to_be_checked()
    page.locator("#list-ivs button").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f'.leaflet-popup-content .popup[data-intervention="{iv["id"]}"]')).to_contain_text(
        "Chaussée effondrée")
    shot(page, "map-keyboard-teams")


def test_the_cameras_zones_and_lines_are_drawn_where_their_configs_place_them_with_the_in_direction(
        app: Flask, db_url: str, base_url: str, page: Page) -> None:
    """The committed camera boxes' zones and counting lines come from their configs at seeding; the map draws
    them as a layer of its own with a legend, each line with an arrow to its "in" side, and reaches each one from
    the keyboard (its card names it, its camera and the inbound direction in words)."""
    engine = make_engine(db_url)
    config_seed_fleet(engine, ROOT / "firmware_configs")
    engine.dispose()
    add_user(app, "lecteur", "viewer")
    login(page, base_url, "lecteur", "/map")
    expect(page.locator("body")).to_have_attribute("data-layers-ready", "1", timeout=10_000)
    drawn = {(g["kind"], g["device"], g["id"]): g["towards"]
             for g in page.evaluate("window.vigieMap.layers.geometry()")}
    assert ("zone", "cam-darcy-01", "crossing") in drawn and ("zone", "cam-liberte-01", "street") in drawn
    # liberte-west runs from north (A) to south (B) and counts right-hand crossings as inbound: towards the west.
    assert drawn[("line", "cam-darcy-01", "liberte-west")] == "w"
    zones = sum(1 for kind, _, _ in drawn if kind == "zone")
    expect(page.locator('[data-layer-count="geo-zones"]')).to_have_text(str(zones))
    expect(page.locator('[data-layer-count="geo-lines"]')).to_have_text(str(len(drawn) - zones))
    # From the keyboard: hide the layer, then reach the line by its button; the layer comes back with its card.
    page.locator('#layers input[value="geometry"]').focus()
    page.keyboard.press("Space")
    assert page.evaluate("window.vigieMap.layers.geometryVisible()") is False
    button = page.locator("#list-geo button", has_text="Ligne liberte-west (cam-darcy-01)")
    button.focus()
    page.keyboard.press("Enter")
    card = page.locator('.leaflet-popup-content .popup[data-geo="cam-darcy-01/0/liberte-west"]')
    expect(card).to_contain_text("Ligne liberte-west")
    expect(card).to_contain_text("entrant vers l'ouest")
    expect(card).to_contain_text("cam-darcy-01")
    assert page.evaluate("window.vigieMap.layers.geometryVisible()") is True
    expect(page.locator('#layers input[value="geometry"]')).to_be_checked()
    assert int(page.locator("body").get_attribute("data-map-zoom") or 0) >= 17
    shot(page, "map-zones-lines")


def test_a_camera_shows_its_last_hour_and_a_luminaire_its_cabinet_and_energy_of_the_day(
        app: Flask, db_url: str, base_url: str, page: Page, tmp_path: Path) -> None:
    """Click a camera: counts per zone and line over the last hour as sparklines, its latest events in French, and
    why there is no image. Open a luminaire: its power, its groups' energy today and its cabinet's meter."""
    cfg, _ = light_box(tmp_path, 1883, "light-liberte-01", site="dijon", groups=("rue-liberte",))
    engine = make_engine(db_url)
    register(engine, ("cam-darcy-01", "dijon"))
    register_box(engine, cfg)
    now = now_ms()
    minute = now // 60_000 * 60_000
    with engine.begin() as conn:
        for n, (ago, typ, target, body) in enumerate((
                (9 * 60_000, "line_crossing", "liberte-west", {"cam": 0, "line": "liberte-west", "track": 4, "cls": 1,
                                                               "inbound": False}),
                (2 * 60_000, "zone_enter", "crossing", {"cam": 0, "zone": "crossing", "track": 5, "cls": 0})), start=1):
            conn.execute(sa.insert(events).values(device_id="cam-darcy-01", boot=1, n=n, site="dijon", ts_ms=now - ago,
                                                  received_ms=now - ago, type=typ, cam=0, target=target,
                                                  cls=body["cls"], historical=False, stale=False, body=body))
        for ago, target, inbound, outbound in ((50, "liberte-west", 6, 2), (20, "liberte-west", 3, 5),
                                               (5, "crossing", 4, 0)):
            conn.execute(sa.insert(analytics_counts).values(site="dijon", device_id="cam-darcy-01", cam=0,
                                                            target=target, cls=0, minute_ms=minute - ago * 60_000,
                                                            inbound=inbound, outbound=outbound))
        conn.execute(sa.insert(telemetry).values(device_id="light-liberte-01", ts_ms=now - 5000, stale=False, metrics={
            "light.n": 2, "light.lum": {"ids": ["l01", "l02"], "level": [70, 100], "target": [70, 100],
                                        "power_w": [42.5, 60], "energy_wh": [9000, 9500], "hours": [3, 3],
                                        "switch_ons": [1, 1]},
            "cabinet.meter.power_total": 231.5, "cabinet.meter.import_energy": 5120.25,
            "cabinet.meter.voltage_l1": 231.0,
            "cabinet.door_open": False, "cabinet.circuits": {"ids": [1], "on": [True], "tripped": [False]}}))
        conn.execute(sa.insert(energy_hourly).values(site="dijon", group_name="rue-liberte",
                                                     hour_ms=local_day_start(now), energy_wh=1250.0,
                                                     rated_energy_wh=1250.0, reference_wh=2500.0, lit_h=2.0))
    engine.dispose()
    add_user(app, "operateur", "operator")
    login(page, base_url, "operateur", "/map")
    expect(page.locator("body")).to_have_attribute("data-layers-ready", "1", timeout=10_000)
    page.get_by_label("Trouver un équipement").fill("cam-darcy-01")
    page.get_by_role("button", name="Chercher").click()
    card = page.locator("#device-activity-body")
    expect(card).to_have_attribute("data-state", "ready", timeout=5000)
    west = card.locator('.sparks li[data-target="liberte-west"]')
    expect(west).to_contain_text("9 vers l'intérieur, 7 vers l'extérieur")
    expect(west.locator("svg.spark")).to_have_attribute("aria-label", re.compile(r"^liberte-west, par tranche de 5 "
                                                                                  r"minutes sur la dernière heure : "))
    expect(card.locator('.sparks li[data-target="crossing"]')).to_contain_text("4 entrées")
    expect(card.locator(".recent-events li")).to_have_count(2)
    expect(card.locator(".recent-events li").first).to_contain_text(
        "Entrée en zone — Zone crossing : personne, caméra 1")
    expect(card.locator(".recent-events li").nth(1)).to_contain_text("liberte-west")
    expect(card).to_contain_text("Pas d'image : le centre ne conserve pas les instantanés des boîtiers.")
    expect(card.locator('.sparks li[data-target="liberte-west"]')).to_contain_text("16 personnes")
    text = card.text_content() or ""
    assert "[[" not in text and "null" not in text and "undefined" not in text
    card.scroll_into_view_if_needed()
    shot(page, "map-camera-card")
    page.evaluate("window.vigieMap.layers.openLuminaire('light-liberte-01/l01')")
    lum = page.locator('.leaflet-popup-content .popup[data-lum="light-liberte-01/l01"] .lum-card')
    expect(lum).to_have_attribute("data-state", "ready", timeout=5000)
    expect(lum).to_contain_text("42,5 W")
    expect(lum).to_contain_text("rue-liberte : 1,25 kWh (pleine puissance : 2,50 kWh)")
    expect(lum).to_contain_text("puissance 231,5 W, énergie importée 5\u202f120,3 kWh, tension 231 V")
    expect(lum).to_contain_text("fermée")
    expect(lum).to_contain_text("1 sous tension sur 1, 0 disjoncté(s)")
    shot(page, "map-luminaire-card")
