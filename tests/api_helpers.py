"""Flask test clients on a real database, with users of each role and commune."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from coordinator import create_app
from coordinator.storage import make_engine
from coordinator.storage import users as user_store

PASSWORD = "mot-de-passe-de-test"


def make_app(db_url: str, **config: Any) -> Flask:
    """An app on ``db_url`` that checks every API response against the OpenAPI document."""
    cfg = {"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "test-only-secret", "VALIDATE_RESPONSES": True}
    cfg.update(config)
    return create_app(cfg)


@dataclass
class Caller:
    """A user with a bearer token; ``call`` sends requests as that user."""

    client: FlaskClient
    token: str
    username: str

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}) or {})
        headers["Authorization"] = f"Bearer {self.token}"
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.call("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.call("PATCH", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.call("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.call("DELETE", path, **kw)


def add_user(app: Flask, username: str, role: str, commune: str | None = None) -> Caller:
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        uid = user_store.create_user(conn, username, PASSWORD, role, commune)
        token = user_store.create_token(conn, uid, "tests")
    engine.dispose()
    return Caller(app.test_client(), token, username)
