"""Requisitions through the API on both databases: designated agents, two-person approval, signed packages,
downloads scoped to the requesting authority and refused after expiry, every step in the register."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import Engine

from coordinator.cli import main
from coordinator.evidence import generate_key, verify_package
from coordinator.legal.errors import BadRequisitionError, NotAllowedError, WrongStateError
from coordinator.legal.requisitions import RETENTION_MS, check_window, decide
from coordinator.storage import register as register_store
from coordinator.storage import requisitions as store
from coordinator.storage.schema import download_links
from tests.api_helpers import Caller, add_user, make_app
from tests.test_evidence import write_clip

DAY = 24 * 3600 * 1000


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Flask:
    generate_key(tmp_path / "centre.pem")
    return make_app(db_url, EVIDENCE_KEY_FILE=str(tmp_path / "centre.pem"), SEGMENTS_DIR=str(tmp_path / "segments"),
                    EVIDENCE_DIR=str(tmp_path / "evidence"))


def test_the_window_rules() -> None:
    now = 100 * DAY
    check_window(now - RETENTION_MS, now, now)
    with pytest.raises(BadRequisitionError, match="more than 30 days ago"):
        check_window(now - RETENTION_MS - 1, now, now)
    with pytest.raises(BadRequisitionError, match="in the future"):
        check_window(now - 10, now + 1, now)
    with pytest.raises(BadRequisitionError, match="after start_ms"):
        check_window(now - 10, now - 10, now)


def test_the_decision_rules() -> None:
    assert decide("pending", "agent", "cheffe", True, 5, None).status == "approved"
    assert decide("pending", "agent", "cheffe", False, 5, "hors délai").status == "refused"
    with pytest.raises(NotAllowedError, match="cannot decide their own"):
        decide("pending", "cheffe", "cheffe", True, 5, None)
    with pytest.raises(WrongStateError, match="already approved"):
        decide("approved", "agent", "cheffe", True, 5, None)


def _authority(engine: Engine, name: str) -> tuple[int, str]:
    with engine.begin() as conn:
        return store.add_authority(conn, name, 1)


def _designate(engine: Engine, *names: str) -> None:
    with engine.begin() as conn:
        for n in names:
            assert store.designate(conn, n, "root", 1)


def _bearer(app: Flask, token: str, path: str) -> Any:
    return app.test_client().get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"})


@dataclass
class World:
    agent: Caller
    other_op: Caller
    cheffe: Caller
    chef2: Caller
    parquet: int
    parquet_token: str
    other: int
    other_token: str
    now: int
    body: dict[str, Any]


@pytest.fixture
def world(app: Flask, engine: Engine, tmp_path: Path) -> World:
    """Two designated agents (an operator and a supervisor), a plain operator, a supervisor, two authorities,
    three recorded segments of one camera an hour ago."""
    w_agent, w_other = add_user(app, "agent", "operator"), add_user(app, "veilleur", "operator")
    w_cheffe, w_chef2 = add_user(app, "cheffe", "supervisor"), add_user(app, "adjoint", "supervisor")
    _designate(engine, "agent", "adjoint")
    parquet, parquet_token = _authority(engine, "Parquet de Dijon")
    other, other_token = _authority(engine, "Commissariat de Beaune")
    now = int(time.time() * 1000)
    t0 = now - 3_600_000
    for k in range(3):
        write_clip(tmp_path / "segments" / "dijon" / "cam-1" / "c0" / f"{t0 + k * 60_000}-{t0 + (k + 1) * 60_000}.mp4",
                   4 + k)
    body = {"authority_id": parquet, "procedure": "PV-2026-017", "legal_basis": "77-1-1",
            "cameras": ["dijon/cam-1/c0"], "start_ms": t0 + 30_000, "end_ms": t0 + 150_000,
            "reason": "vol à la roulotte, rue de la Liberté"}
    return World(w_agent, w_other, w_cheffe, w_chef2, parquet, parquet_token, other, other_token, now, body)


def test_only_designated_agents_record_valid_requests_and_another_supervisor_decides(world: World,
                                                                                     engine: Engine) -> None:
    w, body = world, world.body
    refused = w.other_op.post("/requisitions", json=body)
    assert refused.status_code == 403 and "not a designated agent" in refused.get_json()["error"]["message"]
    too_old = w.agent.post("/requisitions", json={**body, "start_ms": w.now - 31 * DAY, "end_ms": w.now - 30 * DAY})
    assert too_old.status_code == 400 and "more than 30 days ago" in too_old.get_json()["error"]["message"]
    other_basis = w.agent.post("/requisitions", json={**body, "legal_basis": "other"})
    assert other_basis.status_code == 400 and "legal_basis_text" in other_basis.get_json()["error"]["message"]
    assert w.agent.post("/requisitions", json={**body, "cameras": ["cam-1"]}).status_code == 400
    assert w.agent.post("/requisitions", json={**body, "authority_id": 999}).status_code == 400

    created = w.agent.post("/requisitions", json=body)
    assert created.status_code == 201, created.get_json()
    rid = created.get_json()["id"]
    assert created.get_json()["status"] == "pending" and created.get_json()["authority"] == "Parquet de Dijon"
    assert w.agent.post(f"/requisitions/{rid}/package", json={}).status_code == 409  # not approved yet
    assert w.agent.post(f"/requisitions/{rid}/decision", json={"approve": True}).status_code == 403  # an operator

    own = w.chef2.post("/requisitions", json=body).get_json()["id"]
    mine = w.chef2.post(f"/requisitions/{own}/decision", json={"approve": True})
    assert mine.status_code == 403 and "cannot decide their own" in mine.get_json()["error"]["message"]
    assert w.cheffe.post(f"/requisitions/{own}/decision", json={"approve": False, "note": "doublon"}).status_code == 200
    approved = w.cheffe.post(f"/requisitions/{rid}/decision", json={"approve": True, "note": "conforme"})
    assert approved.status_code == 200 and approved.get_json()["decided_by"] == "cheffe"
    assert w.cheffe.post(f"/requisitions/{rid}/decision", json={"approve": False}).status_code == 409
    assert w.other_op.get("/requisitions").status_code == 403
    assert w.other_op.get("/authorities").status_code == 403
    assert [a["name"] for a in w.agent.get("/authorities").get_json()["authorities"]] == [
        "Commissariat de Beaune", "Parquet de Dijon"]
    assert [r["id"] for r in w.cheffe.get("/requisitions?status=pending").get_json()["requisitions"]] == []
    with engine.connect() as conn:
        kinds = [(e.kind, e.actor, e.procedure) for e in register_store.iter_all(conn)]
    assert kinds == [("requisition_created", "agent", "PV-2026-017"), ("requisition_created", "adjoint", "PV-2026-017"),
                     ("requisition_refused", "cheffe", "PV-2026-017"),
                     ("requisition_approved", "cheffe", "PV-2026-017"), ("legal_hold_set", "cheffe", "PV-2026-017")]


def test_the_package_goes_to_its_authority_only_until_the_link_expires(world: World, app: Flask, engine: Engine,
                                                                       tmp_path: Path) -> None:
    w = world
    rid = w.agent.post("/requisitions", json=w.body).get_json()["id"]
    w.cheffe.post(f"/requisitions/{rid}/decision", json={"approve": True})
    assert w.cheffe.post(f"/requisitions/{rid}/package", json={}).status_code == 403  # supervisor, not designated
    pkg = w.agent.post(f"/requisitions/{rid}/package", json={})
    assert pkg.status_code == 201, pkg.get_json()
    assert pkg.get_json()["files"] == 3
    assert pkg.get_json()["expires_ms"] - w.now >= 14 * DAY - 60_000
    path = pkg.get_json()["download_path"].removeprefix("/api/v1")

    assert app.test_client().get(f"/api/v1{path}").status_code == 401
    assert w.agent.get(path).status_code == 401  # a staff token is not an authority's
    assert _bearer(app, w.other_token, path).status_code == 403
    got = _bearer(app, w.parquet_token, path)
    assert got.status_code == 200 and got.mimetype == "application/zip"
    (tmp_path / "got.zip").write_bytes(got.data)
    report = verify_package(tmp_path / "got.zip")
    assert report.ok and report.files == 3

    mine_list = _bearer(app, w.parquet_token, "/authority/requisitions").get_json()["requisitions"]
    assert [r["id"] for r in mine_list] == [rid] and len(mine_list[0]["links"]) == 1
    assert _bearer(app, w.other_token, "/authority/requisitions").get_json() == {"requisitions": []}

    with engine.begin() as conn:
        conn.execute(download_links.update().values(expires_ms=w.now - 1))
    expired = _bearer(app, w.parquet_token, path)
    assert expired.status_code == 410 and "expired" in expired.get_json()["error"]["message"]

    with engine.connect() as conn:
        kinds = [(e.kind, e.actor) for e in register_store.iter_all(conn)]
        assert register_store.verify(conn)[1] is None
    assert kinds == [
        ("requisition_created", "agent"), ("requisition_approved", "cheffe"), ("legal_hold_set", "cheffe"),
        ("extraction", "agent"),
        ("transmission", "agent"), ("download_refused", f"authority:{w.other}"),
        ("download", f"authority:{w.parquet}"), ("download_refused", f"authority:{w.parquet}")]
    listed = w.cheffe.get(f"/requisitions/{rid}").get_json()
    assert listed["status"] == "approved" and len(listed["links"]) == 1


def test_without_a_key_or_segments_no_package_is_made(db_url: str, engine: Engine, tmp_path: Path) -> None:
    app = make_app(db_url, SEGMENTS_DIR=str(tmp_path / "none"), EVIDENCE_DIR=str(tmp_path / "ev"))
    agent = add_user(app, "agent", "operator")
    cheffe = add_user(app, "cheffe", "supervisor")
    _designate(engine, "agent")
    aid, _ = _authority(engine, "Parquet de Dijon")
    now = int(time.time() * 1000)
    rid = agent.post("/requisitions", json={
        "authority_id": aid, "procedure": "PV-1", "legal_basis": "60-1", "cameras": ["dijon/cam-1/c0"],
        "start_ms": now - 60_000, "end_ms": now - 1_000, "reason": "r"}).get_json()["id"]
    cheffe.post(f"/requisitions/{rid}/decision", json={"approve": True})
    no_key = agent.post(f"/requisitions/{rid}/package", json={})
    assert no_key.status_code == 409 and "EVIDENCE_KEY_FILE" in no_key.get_json()["error"]["message"]
    app.config["EVIDENCE_KEY_FILE"] = str(tmp_path / "k.pem")
    generate_key(tmp_path / "k.pem")
    none = agent.post(f"/requisitions/{rid}/package", json={})
    assert none.status_code == 409 and "no segment" in none.get_json()["error"]["message"]
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(download_links)).scalar_one()
    assert count == 0


def test_the_command_line_designates_agents_and_creates_authorities(app: Flask, engine: Engine, db_url: str,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    add_user(app, "agent", "operator")
    assert main(["legal", "--database-url", db_url, "designate", "agent"]) == 0
    assert main(["legal", "--database-url", db_url, "designate", "nobody"]) == 1
    assert main(["legal", "--database-url", db_url, "authority-add", "Parquet de Dijon"]) == 0
    out = capsys.readouterr().out
    token = out.rsplit(": ", 1)[1].strip()
    assert _bearer(app, token, "/authority/requisitions").get_json() == {"requisitions": []}
    with engine.connect() as conn:
        uid = conn.execute(sa.text("SELECT id FROM users WHERE username = 'agent'")).scalar_one()
        assert store.is_designated(conn, uid)
