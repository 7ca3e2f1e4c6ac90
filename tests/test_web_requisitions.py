"""The requisitions page in a real headless Chromium: an agent records one, another supervisor approves it,
the agent extracts it and gets the link to transmit; the register page then shows the steps."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from coordinator.evidence import generate_key
from coordinator.storage import make_engine
from coordinator.storage import requisitions as store
from tests.api_helpers import add_user, make_app
from tests.test_evidence import write_clip
from tests.test_web_ui import base_url, browser, login, page, playwright, shot

__all__ = ["base_url", "browser", "page", "playwright"]


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Flask:
    generate_key(tmp_path / "centre.pem")
    return make_app(db_url, EVIDENCE_KEY_FILE=str(tmp_path / "centre.pem"), SEGMENTS_DIR=str(tmp_path / "segments"),
                    EVIDENCE_DIR=str(tmp_path / "evidence"))


def test_a_requisition_is_recorded_approved_and_extracted_from_the_page(app: Flask, base_url: str, browser: Browser,
                                                                         tmp_path: Path) -> None:
    add_user(app, "agent", "operator")
    add_user(app, "cheffe", "supervisor")
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        store.designate(conn, "agent", "root", 1)
        store.add_authority(conn, "Parquet de Dijon", 1)
    engine.dispose()
    now = int(time.time() * 1000)
    t0 = (now - 2 * 3_600_000) // 1000 * 1000
    write_clip(tmp_path / "segments" / "dijon" / "cam-1" / "c0" / f"{t0}-{t0 + 60_000}.mp4", 5)

    agent_ctx = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    agent = agent_ctx.new_page()
    login(agent, base_url, "agent", "/requisitions")
    expect(agent.get_by_label("Autorité requérante")).to_contain_text("Parquet de Dijon")
    agent.get_by_label("N° de procédure").fill("PV-2026-042")
    agent.get_by_label("Fondement").select_option("77-1-1")
    agent.get_by_label("Caméras (site/boîtier/caméra, une par ligne)").fill("dijon/cam-1/c0")
    # The form takes local (Paris) time; give it the segment's minute as Paris sees it.
    paris = agent.evaluate(f"""() => {{
      const f = (ms) => new Intl.DateTimeFormat('sv-SE', {{timeZone: 'Europe/Paris', dateStyle: 'short',
        timeStyle: 'medium'}}).format(new Date(ms)).replace(' ', 'T');
      return [f({t0}), f({t0 + 60_000})];
    }}""")
    agent.get_by_label("Début (heure locale)").fill(paris[0])
    agent.get_by_label("Fin (heure locale)").fill(paris[1])
    agent.get_by_label("Motif").fill("vol à la roulotte")
    agent.get_by_role("button", name="Enregistrer").click()
    expect(agent.locator("#notice")).to_contain_text("enregistrée, en attente d'approbation")
    row = agent.locator("#req-table tbody tr").first
    expect(row).to_contain_text("PV-2026-042")
    expect(row).to_contain_text("en attente")
    expect(row.get_by_role("button", name="Approuver")).to_have_count(0)  # an operator cannot approve

    sup_ctx = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    sup = sup_ctx.new_page()
    login(sup, base_url, "cheffe", "/requisitions")
    sup.locator("#req-table tbody tr").first.get_by_role("button", name="Approuver").click()
    expect(sup.locator("#req-table tbody tr").first).to_contain_text("approuvée")
    shot(sup, "requisitions-approved")

    agent.reload()
    agent.locator("#req-table tbody tr").first.get_by_role("button", name="Extraire").click()
    expect(agent.locator("#req-link")).to_contain_text("/api/v1/downloads/")
    shot(agent, "requisitions-extracted")

    sup.goto(f"{base_url}/registre?procedure=PV-2026-042")
    expect(sup.locator("#chain-state")).to_contain_text("Chaîne intègre")
    for label in ("Réquisition reçue", "Réquisition approuvée", "Extraction", "Transmission"):
        expect(sup.locator("table")).to_contain_text(label)
    agent_ctx.close()
    sup_ctx.close()
