"""The web UI in a real headless Chromium against a real server and database.

Each test saves a screenshot of its page in ``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.api_helpers import PASSWORD, add_user, make_app
from tests.web_helpers import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    chromium_missing,
    ensure_vendor,
    fleet_rows,
    seed_fleet,
    serve,
)


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
def app(db_url: str) -> Flask:
    return make_app(db_url)


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


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


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
