"""The recording status page and the authorities' download page, in a real headless Chromium, axe-core checked."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

import vigie_wire as wire
from coordinator.evidence import generate_key, verify_package
from coordinator.ingest_hooks import default_hooks
from coordinator.storage import make_engine
from coordinator.storage import requisitions as store
from coordinator.storage.ingest import store_batch
from tests.api_helpers import add_user, make_app
from tests.ingest_helpers import decoded, header, register
from tests.test_evidence import write_clip
from tests.test_web_ui import base_url, browser, login, page, playwright, shot

__all__ = ["base_url", "browser", "page", "playwright"]

DAY = 24 * 3600 * 1000


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Flask:
    generate_key(tmp_path / "centre.pem")
    return make_app(db_url, EVIDENCE_KEY_FILE=str(tmp_path / "centre.pem"), SEGMENTS_DIR=str(tmp_path / "segments"),
                    EVIDENCE_DIR=str(tmp_path / "evidence"))


def test_the_recording_page_shows_each_cameras_retention_disk_and_oldest_image(app: Flask, base_url: str,
                                                                               browser: Browser) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    register(engine, ("cam-darcy-01", "dijon"), ("cam-talant-01", "talant"))
    now = int(time.time() * 1000)
    oldest = now - 29 * DAY
    metrics = {"rec.bytes": 3 * 1024**3, "rec.quota_bytes": 20 * 1024**3, "rec.holds": 1,
               "rec.north.retention_days": 30, "rec.north.bytes": 2 * 1024**3, "rec.north.segments": 41_760,
               "rec.north.oldest_ms": oldest, "rec.north.held": 4, "rec.north.destroyed_expired": 12,
               "rec.north.evicted_quota": 0,
               "rec.south.retention_days": 7, "rec.south.bytes": 1024**3, "rec.south.segments": 10_080,
               "rec.south.oldest_ms": now - 7 * DAY, "rec.south.held": 0, "rec.south.destroyed_expired": 3,
               "rec.south.evicted_quota": 2}
    store_batch(engine, [decoded("dijon", wire.Telemetry(header("cam-darcy-01", 1, 1, now), metrics)),
                         decoded("talant", wire.Telemetry(header("cam-talant-01", 1, 1, now), {"cpu": 0.2}))],
                now, default_hooks())
    engine.dispose()
    add_user(app, "veilleur", "operator")
    ctx = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    pg = ctx.new_page()
    login(pg, base_url, "veilleur", "/enregistrements")
    north = pg.locator('#rec-table tbody tr[data-camera="dijon/cam-darcy-01/north"]')
    expect(north).to_contain_text("30 jours")
    expect(north).to_contain_text("2,0 Gio")
    expect(north).to_contain_text("3,0 Gio sur 20,0 Gio")
    south = pg.locator('#rec-table tbody tr[data-camera="dijon/cam-darcy-01/south"]')
    expect(south).to_contain_text("7 jours")
    expect(pg.locator("#rec-table tbody tr")).to_have_count(2)  # the box that does not record is not listed
    cells = north.locator("td")
    expect(cells.nth(3)).not_to_have_text("—")  # the oldest image's date
    expect(cells.nth(4)).to_have_text("4")
    shot(pg, "recording-status")
    ctx.close()


def test_an_authority_downloads_its_package_from_its_page(app: Flask, base_url: str, browser: Browser,
                                                          tmp_path: Path) -> None:
    agent, cheffe = add_user(app, "agent", "operator"), add_user(app, "cheffe", "supervisor")
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        store.designate(conn, "agent", "root", 1)
        parquet, parquet_token = store.add_authority(conn, "Parquet de Dijon", 1)
        _, other_token = store.add_authority(conn, "Commissariat de Beaune", 1)
    engine.dispose()
    t0 = int(time.time() * 1000) - 3_600_000
    write_clip(tmp_path / "segments" / "dijon" / "cam-1" / "c0" / f"{t0}-{t0 + 60_000}.mp4", 5)
    rid = agent.post("/requisitions", json={
        "authority_id": parquet, "procedure": "PV-2026-077", "legal_basis": "60-1", "cameras": ["dijon/cam-1/c0"],
        "start_ms": t0, "end_ms": t0 + 60_000, "reason": "vol"}).get_json()["id"]
    assert cheffe.post(f"/requisitions/{rid}/decision", json={"approve": True}).status_code == 200
    link = agent.post(f"/requisitions/{rid}/package", json={}).get_json()["download_path"]

    ctx = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris", accept_downloads=True)
    pg = ctx.new_page()
    pg.goto(f"{base_url}/espace-autorite")
    expect(pg.get_by_role("navigation")).to_have_count(0)  # no staff menu here
    pg.get_by_label("Jeton d'accès").fill(other_token)
    pg.get_by_label("Lien de téléchargement").fill(f"{base_url}{link}")
    pg.get_by_role("button", name="Télécharger le paquet").click()
    expect(pg.locator("#notice")).to_contain_text("appartient à la réquisition d'une autre autorité")
    pg.get_by_label("Jeton d'accès").fill(parquet_token)
    pg.get_by_role("button", name="Voir mes réquisitions").click()
    expect(pg.locator("#auth-table tbody tr")).to_have_count(1)
    expect(pg.locator("#auth-table tbody tr")).to_contain_text("PV-2026-077")
    expect(pg.locator("#auth-table tbody tr")).to_contain_text("valable jusqu'au")
    with pg.expect_download() as got:
        pg.get_by_role("button", name="Télécharger le paquet").click()
    saved = tmp_path / "from-browser.zip"
    got.value.save_as(saved)
    assert got.value.suggested_filename == f"requisition-{rid}.zip"
    report = verify_package(saved)
    assert report.ok and report.files == 1
    expect(pg.locator("#dl-done")).to_contain_text("Paquet téléchargé")
    expect(pg.locator("#notice")).to_be_hidden()  # the earlier refusal is gone
    shot(pg, "authority-download")
    ctx.close()
