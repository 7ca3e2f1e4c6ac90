"""The database in a Flask app: one engine per app, a connection per request when asked."""

from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy.engine import Engine

from .engine import make_engine

_KEY = "vigie.engine"


def init_app(app: Flask) -> None:
    app.extensions[_KEY] = make_engine(app.config["DATABASE_URL"])


def get_engine() -> Engine:
    engine: Engine = current_app.extensions[_KEY]
    return engine
