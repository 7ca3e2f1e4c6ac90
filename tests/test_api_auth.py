"""Authentication, roles, CSRF and the error format of the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from coordinator.api.openapi import api_routes, document, documented_routes
from coordinator.settings import SettingsError
from coordinator.storage import make_engine
from coordinator.storage.schema import api_tokens, users
from tests.api_helpers import PASSWORD, add_user, make_app


def test_every_route_is_documented_and_every_documented_route_exists(app: Flask) -> None:
    assert api_routes(app) == documented_routes(document())


def test_openapi_document_is_served_without_login(app: Flask) -> None:
    resp = app.test_client().get("/api/v1/openapi.json")
    assert resp.status_code == 200
    assert resp.get_json()["openapi"].startswith("3.1")
    assert "LoginRequest" in resp.get_json()["components"]["schemas"]


def test_no_secret_key_refuses_to_start(db_url: str) -> None:
    with pytest.raises(SettingsError, match="secret key"):
        make_app(db_url, SECRET_KEY=None)


def test_unauthenticated_gets_401_with_the_error_shape(app: Flask) -> None:
    resp = app.test_client().get("/api/v1/auth/me")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthenticated"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_bearer_token_identifies_the_user_with_role_and_commune(app: Flask) -> None:
    op = add_user(app, "agent.chenove", "operator", "chenove")
    me = op.get("/auth/me").get_json()
    assert me == {"id": me["id"], "username": "agent.chenove", "role": "operator", "commune": "chenove",
                  "via": "token"}


def test_wrong_or_malformed_token_is_401(app: Flask) -> None:
    c = app.test_client()
    assert c.get("/api/v1/auth/me", headers={"Authorization": "Bearer vgt_nope"}).status_code == 401
    resp = c.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"})
    assert resp.status_code == 401
    assert "Bearer" in resp.get_json()["error"]["message"]


def test_tokens_and_passwords_are_stored_hashed(app: Flask) -> None:
    op = add_user(app, "agent", "operator")
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.connect() as conn:
        stored = conn.execute(sa.select(api_tokens.c.token_sha256)).scalars().all()
        pw = conn.execute(sa.select(users.c.password_hash)).scalar_one()
    engine.dispose()
    assert op.token not in stored and len(stored[0]) == 64
    assert PASSWORD not in pw and pw.startswith("scrypt:")


def test_session_login_then_changes_need_the_csrf_header(app: Flask) -> None:
    add_user(app, "chef", "admin")
    c = app.test_client()
    assert c.post("/api/v1/auth/login", json={"username": "chef", "password": "wrong-password"}).status_code == 401
    resp = c.post("/api/v1/auth/login", json={"username": "chef", "password": PASSWORD})
    assert resp.status_code == 200
    csrf = resp.get_json()["csrf_token"]
    assert c.get("/api/v1/auth/me").get_json()["via"] == "session"
    body = {"name": "ui"}
    refused = c.post("/api/v1/auth/tokens", json=body)
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.get_json()["error"]["message"]
    assert c.post("/api/v1/auth/tokens", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert c.post("/api/v1/auth/logout").status_code == 403
    assert c.get("/api/v1/auth/me").status_code == 200
    assert c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert c.get("/api/v1/auth/me").status_code == 401


def test_roles_gate_user_management(app: Flask) -> None:
    viewer = add_user(app, "lecteur", "viewer")
    admin = add_user(app, "admin", "admin")
    new = {"username": "agent.talant", "password": "une phrase assez longue", "role": "operator",
           "commune": "talant"}
    resp = viewer.post("/users", json=new)
    assert resp.status_code == 403 and "'admin'" in resp.get_json()["error"]["message"]
    assert admin.post("/users", json=new).status_code == 201
    assert admin.post("/users", json=new).status_code == 409
    names = [u["username"] for u in admin.get("/users").get_json()["users"]]
    assert names == ["admin", "agent.talant", "lecteur"]


def test_bad_bodies_name_every_field_and_write_nothing(app: Flask) -> None:
    admin = add_user(app, "admin", "admin")
    resp = admin.post("/users", json={"username": "x y", "password": "short", "role": "boss", "extra": 1})
    assert resp.status_code == 400
    fields = {d["field"] for d in resp.get_json()["error"]["details"]}
    assert fields == {"username", "password", "role", "extra"}
    assert admin.post("/users", data="not json", headers={"Content-Type": "text/plain"}).status_code == 415
    bad_json = admin.post("/users", data="{", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    assert [u["username"] for u in admin.get("/users").get_json()["users"]] == ["admin"]


def test_unknown_url_is_a_json_404(app: Flask) -> None:
    admin = add_user(app, "admin", "admin")
    resp = admin.get("/no-such-thing")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"


def test_prometheus_metrics_count_requests_by_route(db_url: str) -> None:
    c = make_app(db_url, METRICS_TOKEN="metrics-secret").test_client()
    c.get("/api/v1/auth/me")
    text = c.get("/metrics", headers={"Authorization": "Bearer metrics-secret"}).get_data(as_text=True)
    assert 'vigie_api_requests_total{method="GET",route="/api/v1/auth/me",status="401"} 1.0' in text


def test_metrics_need_their_token_and_are_not_served_without_one(db_url: str, tmp_path: Path) -> None:
    assert make_app(db_url).test_client().get("/metrics").status_code == 404
    token_file = tmp_path / "metrics_token"
    token_file.write_text("from-a-file\n", encoding="utf-8")
    c = make_app(db_url, METRICS_TOKEN_FILE=str(token_file)).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic from-a-file"}):
        resp = c.get("/metrics", headers=headers)
        assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthenticated"
    resp = c.get("/metrics", headers={"Authorization": "Bearer from-a-file"})
    assert resp.status_code == 200 and "vigie_api_requests_total" in resp.get_data(as_text=True)
