"""Logout and login throttling hold across the workers of a real gunicorn, as deployed.

Each gunicorn worker is its own process with its own memory: a revocation or a failure counter
kept in one worker's memory would let the next connection, served by another worker, through.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coordinator.broker import free_port
from coordinator.storage import make_engine
from coordinator.storage import users as user_store
from tests.mqtt_helpers import wait_until

PASSWORD = "mot-de-passe-de-test"
WORKERS = 3
REPO = Path(__file__).resolve().parents[1]


class Server:
    def __init__(self, port: int) -> None:
        self.port = port

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             ) -> tuple[int, dict[str, str], Any]:
        """One request on a new connection (so the workers take turns accepting them)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            sent = dict(headers or {})
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                sent["Content-Type"] = "application/json"
            conn.request(method, f"/api/v1{path}", body=data, headers={**sent, "Connection": "close"})
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(raw) if raw else None
        finally:
            conn.close()


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        user_store.create_user(conn, "chef", PASSWORD, "admin", None)
    engine.dispose()
    port = free_port()
    env = {**os.environ, "VIGIE_DATABASE_URL": db_url, "VIGIE_SECRET_KEY": "test-only-secret",
           "VIGIE_LOGIN_THROTTLE_ACCOUNT_FREE": "2", "VIGIE_LOGIN_THROTTLE_BASE_S": "60",
           "VIGIE_MODELS_DIR": str(REPO / "models")}
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-k", "gthread", "--workers", str(WORKERS),
                             "--threads", "2", "--bind", f"127.0.0.1:{port}", "coordinator.wsgi:app"],
                            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    srv = Server(port)

    def up() -> bool:
        assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
        try:
            return srv.call("GET", "/openapi.json")[0] == 200
        except OSError:
            return False

    try:
        wait_until(up, 60, "gunicorn answering", step=0.2)
        yield srv
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_a_logged_out_cookie_is_refused_by_every_worker(server: Server) -> None:
    status, headers, body = server.call("POST", "/auth/login", {"username": "chef", "password": PASSWORD})
    assert status == 200
    cookie = {"Cookie": headers["set-cookie"].split(";", 1)[0]}
    csrf = body["csrf_token"]
    assert {server.call("GET", "/auth/me", headers=cookie)[0] for _ in range(2 * WORKERS)} == {200}
    assert server.call("POST", "/auth/logout", headers={**cookie, "X-CSRF-Token": csrf})[0] == 204
    replayed = [server.call("GET", "/auth/me", headers=cookie)[0] for _ in range(3 * WORKERS)]
    assert set(replayed) == {401}
    change = server.call("POST", "/auth/tokens", {"name": "x"}, headers={**cookie, "X-CSRF-Token": csrf})
    assert change[0] == 401


def test_failures_counted_by_one_worker_lock_the_name_on_every_worker(server: Server) -> None:
    wrong = {"username": "chef", "password": "not-the-password"}
    assert [server.call("POST", "/auth/login", wrong)[0] for _ in range(3)] == [401, 401, 401]
    right = [server.call("POST", "/auth/login", {"username": "chef", "password": PASSWORD})
             for _ in range(2 * WORKERS)]
    assert {r[0] for r in right} == {429}
    assert all(1 <= int(r[1]["retry-after"]) <= 60 for r in right)
