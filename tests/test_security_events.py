"""The security audit log through the API (admins, paged, bounded) and the command line."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import get_args

import pytest
import sqlalchemy as sa
from alembic import command
from flask import Flask
from sqlalchemy.engine import Engine

from coordinator.api.routes.security_events import Kind
from coordinator.auth.audit import KINDS, Actor
from coordinator.auth.sessions import SessionPolicy, needs_touch, verdict
from coordinator.auth.throttle import ThrottlePolicy
from coordinator.auth_cleanup import cleanup
from coordinator.cli import main
from coordinator.storage import audit, current_revision, head_revision, schema_drift, sessions, throttle, upgrade
from coordinator.storage import users as user_store
from coordinator.storage.migrate import alembic_config
from coordinator.storage.schema import auth_sessions, login_throttle
from tests.api_helpers import PASSWORD, add_user


def test_the_api_lists_every_kind_the_log_knows() -> None:
    assert get_args(Kind) == KINDS


def test_session_timeouts_as_a_rule() -> None:
    p = SessionPolicy(idle_s=60, absolute_s=3600, touch_s=10)
    assert verdict(p, 0, 0, 59_999) == "open"
    assert verdict(p, 0, 0, 60_000) == "idle"
    assert verdict(p, 0, 3_599_000, 3_600_000) == "expired"  # active, but past the absolute limit
    assert needs_touch(p, 0, 10_000) and not needs_touch(p, 0, 9_999)
    with pytest.raises(ValueError, match="positive"):
        SessionPolicy(idle_s=0)


def test_admins_page_through_the_log_newest_first_with_filters(app: Flask) -> None:
    admin = add_user(app, "chef", "admin")
    c = app.test_client()
    for _ in range(3):
        c.post("/api/v1/auth/login", json={"username": "chef", "password": "wrong-password"})
    assert c.post("/api/v1/auth/login", json={"username": "chef", "password": PASSWORD}).status_code == 200
    first = admin.get("/security-events?limit=2").get_json()
    assert [e["kind"] for e in first["events"]] == ["login", "login_failure"]
    assert first["events"][0]["via"] == "session" and first["events"][1]["actor"] is None
    assert first["events"][1]["detail"] == "wrong password" and first["events"][1]["address"] == "127.0.0.1"
    rest = admin.get(f"/security-events?limit=2&before={first['next_before']}").get_json()
    assert [e["kind"] for e in rest["events"]] == ["login_failure", "login_failure"]
    assert rest["next_before"] is None  # the fourth event was the last one
    oldest = rest["events"][-1]["id"]
    assert admin.get(f"/security-events?before={oldest}").get_json() == {"events": [], "next_before": None}
    failures = admin.get("/security-events?kind=login_failure&subject=chef").get_json()
    assert len(failures["events"]) == 3 and failures["next_before"] is None
    assert admin.get("/security-events?actor=nobody").get_json()["events"] == []


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "before=0", "before=99999999999999999999",
                                   "kind=nonsense", "subject=" + "x" * 65, "limit=1&limit=2", "other=1"])
def test_out_of_bounds_parameters_are_a_400(app: Flask, query: str) -> None:
    admin = add_user(app, "chef", "admin")
    resp = admin.get(f"/security-events?{query}")
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "bad_request"


def test_only_admins_read_the_log(app: Flask) -> None:
    sup = add_user(app, "superviseur", "supervisor")
    assert sup.get("/security-events").status_code == 403
    assert app.test_client().get("/api/v1/security-events").status_code == 401


def _cli(db_url: str, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main([*args[:1], "--database-url", db_url, *args[1:]])
    return code, capsys.readouterr().out.splitlines()


def test_the_command_line_manages_accounts_and_reads_the_log(app: Flask, db_url: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    pw = tmp_path / "pw"
    pw.write_text("une phrase assez longue\n", encoding="utf-8")
    code, out = _cli(db_url, "user", "add", "agent", "--role", "operator", "--commune", "talant",
                     "--password-file", str(pw), "--token", capsys=capsys)
    assert code == 0
    token = out[-1].rsplit(" ", 1)[1]
    bearer = {"Authorization": f"Bearer {token}"}
    c = app.test_client()
    assert c.get("/api/v1/auth/me", headers=bearer).status_code == 200
    assert _cli(db_url, "user", "set-role", "agent", "supervisor", capsys=capsys)[0] == 0
    assert c.get("/api/v1/auth/me", headers=bearer).get_json()["role"] == "supervisor"
    code, out = _cli(db_url, "user", "deactivate", "agent", capsys=capsys)
    assert code == 0 and json.loads(out[0])["active"] is False
    assert c.get("/api/v1/auth/me", headers=bearer).status_code == 401
    assert _cli(db_url, "user", "activate", "agent", capsys=capsys)[0] == 0
    assert c.get("/api/v1/auth/me", headers=bearer).status_code == 401  # revoked at deactivation
    assert _cli(db_url, "user", "revoke-tokens", "agent", capsys=capsys)[1] == ["0 token(s) of agent revoked: []"]
    assert _cli(db_url, "user", "deactivate", "nobody", capsys=capsys)[0] == 1
    bad = _cli(db_url, "user", "add", "x", "--role", "viewer", "--commune", "lyon", "--password-file", str(pw),
               capsys=capsys)
    assert bad[0] == 1
    code, out = _cli(db_url, "audit", "--subject", "agent", capsys=capsys)
    events = [json.loads(line) for line in out]
    assert [e["kind"] for e in events] == ["user_activated", "token_revoked", "user_deactivated", "role_changed",
                                           "token_created", "user_created"]
    assert {(e["actor"], e["via"]) for e in events} == {(getpass.getuser(), "cli")}
    code, out = _cli(db_url, "audit", "--kind", "role_changed", "--limit", "1", capsys=capsys)
    assert [json.loads(line)["detail"] for line in out] == ["operator -> supervisor"]
    users = [json.loads(line) for line in _cli(db_url, "user", "list", capsys=capsys)[1]]
    assert [(u["username"], u["role"], u["active"]) for u in users] == [("agent", "supervisor", True)]


def test_cleanup_deletes_dead_sessions_stale_counters_and_old_events_only(engine: Engine) -> None:
    day = 86_400_000
    now = 400 * day
    policy = ThrottlePolicy(free=0, base_s=60, window_s=900)
    anyone = Actor(None, "anonymous", "198.51.100.1")
    with engine.begin() as conn:
        uid = user_store.create_user(conn, "chef", PASSWORD, "admin", None)
        old_sid = sessions.open_session(conn, uid, now - 3 * day)  # older than 12 h + a day: dead
        live_sid = sessions.open_session(conn, uid, now - 3600_000)
        throttle.fail(conn, "account:old", policy, now - 2 * 3600_000)  # window over, lock over
        throttle.fail(conn, "account:recent", policy, now - 60_000)  # within the window
        audit.record(conn, "login", anyone, "chef", at_ms=now - 366 * day)
        audit.record(conn, "login", anyone, "chef", at_ms=now - 364 * day)
    assert cleanup(engine, now, absolute_s=12 * 3600, window_s=900, retention_days=365) == 3
    with engine.connect() as conn:
        assert [k for k, in conn.execute(sa.select(login_throttle.c.key))] == ["account:recent"]
        assert len(audit.page(conn, 10)) == 1
        policy_s = SessionPolicy(idle_s=7200)
        assert sessions.is_open(conn, live_sid, policy_s, now)
        assert not sessions.is_open(conn, old_sid, policy_s, now)
        assert conn.execute(sa.select(sa.func.count()).select_from(auth_sessions)).scalar_one() == 1


def test_migration_0002_adds_its_tables_to_a_database_in_use_and_downgrades(engine: Engine) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    new_tables = {"auth_sessions", "login_throttle", "security_events"}
    assert current_revision(engine) == "0001" and not new_tables & set(sa.inspect(engine).get_table_names())
    with engine.begin() as conn:
        uid = user_store.create_user(conn, "chef", PASSWORD, "admin", None)
    upgrade(engine)
    assert current_revision(engine) == head_revision() and schema_drift(engine) == []
    assert new_tables <= set(sa.inspect(engine).get_table_names())
    with engine.begin() as conn:
        assert user_store.authenticate(conn, "chef", PASSWORD).principal is not None
        sid = sessions.open_session(conn, uid, 1_000)
        assert sessions.is_open(conn, sid, SessionPolicy(), 2_000)
