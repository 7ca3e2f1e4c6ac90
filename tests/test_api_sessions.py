"""Browser sessions kept on the server: logout, timeouts, Secure cookies, deactivation, token revocation.

Real SQLite and PostgreSQL behind the Flask test client. Timeouts are shown by moving a session's
stored times back, not by sleeping.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from coordinator.storage import make_engine
from coordinator.storage.schema import auth_sessions, security_events
from tests.api_helpers import PASSWORD, add_user, make_app


def _login(c: FlaskClient, username: str, **kw: Any) -> str:
    resp = c.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}, **kw)
    assert resp.status_code == 200, resp.get_json()
    return str(resp.get_json()["csrf_token"])


def _clone(c: FlaskClient, app: Flask) -> FlaskClient:
    """A second browser holding a copy of ``c``'s session cookie (what an attacker who stole it would have)."""
    cookie = c.get_cookie("session")
    assert cookie is not None
    other = app.test_client()
    other.set_cookie("session", cookie.value)
    return other


def _events(app: Flask, kind: str) -> list[sa.Row[Any]]:
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(sa.select(security_events).where(security_events.c.kind == kind)
                            .order_by(security_events.c.id)).all()
    engine.dispose()
    return list(rows)


def _shift_session(app: Flask, **back_s: float) -> None:
    """Move every stored session's ``created_ms``/``seen_ms`` back by the given seconds."""
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        t = auth_sessions
        conn.execute(t.update().values({t.c[f"{col}_ms"]: t.c[f"{col}_ms"] - int(s * 1000)
                                        for col, s in back_s.items()}))
    engine.dispose()


def test_logout_ends_the_session_for_every_copy_of_the_cookie(app: Flask) -> None:
    add_user(app, "chef", "admin")
    c = app.test_client()
    csrf = _login(c, "chef")
    stolen = _clone(c, app)
    assert stolen.get("/api/v1/auth/me").status_code == 200
    assert c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert stolen.get("/api/v1/auth/me").status_code == 401
    refused = stolen.post("/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 401
    assert stolen.get("/map").status_code == 302  # the UI sends it to the login page too
    assert [e.subject for e in _events(app, "logout")] == ["chef"]


def test_logout_needs_the_csrf_token_and_leaves_the_session_open_without_it(app: Flask) -> None:
    add_user(app, "chef", "admin")
    c = app.test_client()
    csrf = _login(c, "chef")
    resp = c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": "forged"})
    assert resp.status_code == 403 and "X-CSRF-Token" in resp.get_json()["error"]["message"]
    assert c.get("/api/v1/auth/me").status_code == 200
    assert c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert app.test_client().post("/api/v1/auth/logout").status_code == 204  # nothing to end


def test_a_signed_cookie_without_a_server_session_opens_nothing(app: Flask) -> None:
    """A cookie of the former kind (the user id, signed with the same key) is no way in."""
    admin = add_user(app, "chef", "admin")
    uid = admin.get("/auth/me").get_json()["id"]
    c = app.test_client()
    with c.session_transaction() as s:
        s["uid"] = uid
        s["csrf"] = "x"
    assert c.get("/api/v1/auth/me").status_code == 401


def test_an_idle_session_ends_and_stays_ended(db_url: str) -> None:
    app = make_app(db_url, SESSION_IDLE_S=600, SESSION_TOUCH_S=0)
    add_user(app, "veilleur", "operator")
    c = app.test_client()
    _login(c, "veilleur")
    _shift_session(app, seen=599)
    assert c.get("/api/v1/auth/me").status_code == 200  # activity within the idle time renews it
    _shift_session(app, seen=601)
    assert c.get("/api/v1/auth/me").status_code == 401
    assert [e.detail for e in _events(app, "session_end")] == ["reason=idle"]
    _shift_session(app, seen=-601)  # even a session made fresh again in the table stays ended
    assert c.get("/api/v1/auth/me").status_code == 401


def test_a_session_ends_at_its_absolute_lifetime_however_active(db_url: str) -> None:
    app = make_app(db_url, SESSION_ABSOLUTE_S=3600, SESSION_TOUCH_S=0)
    add_user(app, "veilleur", "operator")
    c = app.test_client()
    _login(c, "veilleur")
    _shift_session(app, created=3540)  # a minute short of the limit: a busy machine never spends that long here
    assert c.get("/api/v1/auth/me").status_code == 200
    _shift_session(app, created=61)
    assert c.get("/api/v1/auth/me").status_code == 401
    assert [e.detail for e in _events(app, "session_end")] == ["reason=expired"]


def test_the_cookie_lives_no_longer_than_the_session(db_url: str) -> None:
    app = make_app(db_url, SESSION_ABSOLUTE_S=3600)
    add_user(app, "chef", "admin")
    c = app.test_client()
    resp = c.post("/api/v1/auth/login", json={"username": "chef", "password": PASSWORD})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Max-Age=3600" in cookie or "Expires=" in cookie


def test_the_cookie_is_secure_over_https_and_when_configured(db_url: str) -> None:
    def set_cookie(app: Flask, **kw: Any) -> str:
        resp = app.test_client().post("/api/v1/auth/login", json={"username": "chef", "password": PASSWORD}, **kw)
        assert resp.status_code == 200
        return str(resp.headers["Set-Cookie"])

    app = make_app(db_url)
    add_user(app, "chef", "admin")
    assert "Secure" not in set_cookie(app)
    assert "Secure" in set_cookie(app, base_url="https://localhost")
    # Behind a trusted TLS proxy, its X-Forwarded-Proto says the browser used HTTPS.
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    assert "Secure" not in set_cookie(app, headers=forwarded)
    assert "Secure" in set_cookie(make_app(db_url, TRUSTED_PROXIES=1), headers=forwarded)
    assert "Secure" in set_cookie(make_app(db_url, SESSION_COOKIE_SECURE=True))


def test_a_deactivated_user_loses_sessions_and_tokens_at_once(app: Flask) -> None:
    admin = add_user(app, "chef", "admin")
    agent = add_user(app, "agent", "operator", "talant")
    browser = app.test_client()
    _login(browser, "agent")
    assert browser.get("/api/v1/auth/me").status_code == 200 and agent.get("/auth/me").status_code == 200
    uid = agent.get("/auth/me").get_json()["id"]
    resp = admin.patch(f"/users/{uid}", json={"active": False})
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    assert browser.get("/api/v1/auth/me").status_code == 401
    assert agent.get("/auth/me").status_code == 401
    refused = app.test_client().post("/api/v1/auth/login", json={"username": "agent", "password": PASSWORD})
    assert refused.status_code == 401 and refused.get_json()["error"]["message"] == "wrong username or password"
    # Reactivated: the password works again, the old token does not (it was revoked).
    assert admin.patch(f"/users/{uid}", json={"active": True}).get_json()["active"] is True
    assert agent.get("/auth/me").status_code == 401
    _login(app.test_client(), "agent")
    kinds = {k: [e.subject for e in _events(app, k)] for k in ("user_deactivated", "user_activated",
                                                                  "token_revoked", "login_failure")}
    assert kinds == {"user_deactivated": ["agent"], "user_activated": ["agent"], "token_revoked": ["agent"],
                     "login_failure": ["agent"]}
    assert _events(app, "login_failure")[0].detail == "deactivated account"
    assert [e.detail for e in _events(app, "session_end")] == ["reason=deactivated sessions=1"]


def test_role_and_commune_changes_are_checked_and_logged(app: Flask) -> None:
    admin = add_user(app, "chef", "admin")
    agent = add_user(app, "agent", "operator", "talant")
    uid = agent.get("/auth/me").get_json()["id"]
    resp = admin.patch(f"/users/{uid}", json={"role": "supervisor", "commune": None})
    assert resp.status_code == 200
    assert resp.get_json() == {"id": uid, "username": "agent", "role": "supervisor", "commune": None, "active": True}
    assert agent.get("/auth/me").get_json()["role"] == "supervisor"  # effective at the next request
    bad = admin.patch(f"/users/{uid}", json={"commune": "paris", "role": "king"})
    assert bad.status_code == 400
    assert {d["field"] for d in bad.get_json()["error"]["details"]} == {"commune", "role"}
    assert [e.detail for e in _events(app, "role_changed")] == ["operator -> supervisor"]
    assert [e.detail for e in _events(app, "commune_changed")] == ["talant -> -"]
    assert _events(app, "role_changed")[0].actor == "chef" and _events(app, "role_changed")[0].via == "token"
    me = admin.get("/auth/me").get_json()["id"]
    assert admin.patch(f"/users/{me}", json={"active": False}).status_code == 409
    assert admin.patch(f"/users/{me}", json={"role": "viewer"}).status_code == 409
    assert admin.patch("/users/99999", json={"active": False}).status_code == 404
    assert admin.patch("/users/99999999999999999999", json={"active": False}).status_code == 404
    assert agent.patch(f"/users/{uid}", json={"role": "admin"}).status_code == 403


def test_new_users_only_belong_to_communes_of_the_metropole(app: Flask) -> None:
    admin = add_user(app, "chef", "admin")
    new = {"username": "agent.x", "password": "une phrase assez longue", "role": "operator", "commune": "lyon"}
    resp = admin.post("/users", json=new)
    assert resp.status_code == 400
    assert [d["field"] for d in resp.get_json()["error"]["details"]] == ["commune"]
    assert [u["username"] for u in admin.get("/users").get_json()["users"]] == ["chef"]
    assert admin.post("/users", json={**new, "commune": "chenove"}).status_code == 201
    assert [e.subject for e in _events(app, "user_created")] == ["agent.x"]


def test_tokens_are_revoked_one_or_all_and_stop_at_once(app: Flask) -> None:
    admin = add_user(app, "chef", "admin")
    agent = add_user(app, "agent", "operator")
    uid = agent.get("/auth/me").get_json()["id"]
    second = agent.post("/auth/tokens", json={"name": "tablette"}).get_json()["token"]
    tokens = admin.get(f"/users/{uid}/tokens").get_json()["tokens"]
    assert [t["name"] for t in tokens] == ["tests", "tablette"] and not any(t["revoked"] for t in tokens)
    assert all(second not in str(t) for t in tokens)
    first_id, second_id = tokens[0]["id"], tokens[1]["id"]
    assert admin.delete(f"/users/{uid}/tokens/{first_id}").get_json() == {"revoked": [first_id]}
    assert agent.get("/auth/me").status_code == 401
    c = app.test_client()
    assert c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {second}"}).status_code == 200
    assert admin.delete(f"/users/{uid}/tokens/{first_id}").get_json() == {"revoked": []}
    assert admin.delete(f"/users/{uid}/tokens").get_json() == {"revoked": [second_id]}
    assert c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {second}"}).status_code == 401
    assert admin.delete(f"/users/{uid}/tokens/424242").status_code == 404
    me = admin.get("/auth/me").get_json()["id"]
    assert admin.delete(f"/users/{me}/tokens/{first_id}").status_code == 404  # not that user's token
    assert [e.detail for e in _events(app, "token_revoked")] == [f"token={first_id}", f"token={second_id}"]
    assert [e.detail for e in _events(app, "token_created")] == [f"token={second_id} name=tablette"]


def test_an_open_event_stream_stops_when_its_token_is_revoked_or_its_session_ends(db_url: str) -> None:
    app = make_app(db_url, EVENT_STREAM_MAX_S=60, EVENT_STREAM_POLL_MS=10, EVENT_STREAM_AUTH_CHECK_S=0)
    admin = add_user(app, "chef", "admin")
    agent = add_user(app, "agent", "viewer")
    uid = agent.get("/auth/me").get_json()["id"]

    def stream_then(client: FlaskClient, cut: Any, **kw: Any) -> float:
        resp = client.get("/api/v1/events/stream", buffered=False, **kw)
        assert resp.status_code == 200
        chunks = iter(resp.response)
        assert b"vigie event stream" in next(chunks)
        cut()
        t0 = time.monotonic()
        rest = list(chunks)  # ends by itself; the stream would otherwise run for EVENT_STREAM_MAX_S
        assert all(b"event: event" not in c for c in rest)
        return time.monotonic() - t0

    token_stream = stream_then(agent.client, lambda: admin.delete(f"/users/{uid}/tokens"),
                               headers={"Authorization": f"Bearer {agent.token}"})
    browser = app.test_client()
    csrf = _login(browser, "agent")
    other = _clone(browser, app)
    session_stream = stream_then(other, lambda: browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}))
    assert token_stream < 30 and session_stream < 30
