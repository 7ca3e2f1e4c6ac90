"""The database in a Flask app: one engine per app, and optionally one on a read-only replica.

With ``VIGIE_DATABASE_READ_URL`` set (a PostgreSQL streaming replica of ``VIGIE_DATABASE_URL``), the operators'
read-only screens — map, fleet, lighting state, analytics, interventions, the event stream — read from the
replica, which takes their load off the primary that the ingest workers write to. The rule that keeps a user
from missing their own change (the replica applies the primary's changes a few milliseconds late):

* everything that is not a ``GET``/``HEAD`` request, and every write, uses the primary (:func:`get_engine`);
* a ``GET`` route opts in with :func:`get_read_engine`, only where a slightly old answer is harmless; access
  control (sessions, tokens, users), the legal register and requisitions always read the primary;
* a client whose request changed something (any other method answered below 400) gets a cookie
  (``vigie_read_primary``, ``READ_PRIMARY_AFTER_WRITE_S`` long, 10 s by default): while it holds it, its ``GET``
  requests read the primary too, so the page that reloads after an override shows the override. Clients that
  drop cookies (scripts with a bearer token) may read their own write a few milliseconds late.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy.engine import Engine
from werkzeug.wrappers import Response

from .engine import make_engine

_KEY = "vigie.engine"
_READ_KEY = "vigie.read_engine"
#: Cookie sent after a write: its holder reads the primary until it expires.
READ_PRIMARY_COOKIE = "vigie_read_primary"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def init_app(app: Flask) -> None:
    app.extensions[_KEY] = make_engine(app.config["DATABASE_URL"])
    read_url = app.config.get("DATABASE_READ_URL")
    if read_url:
        app.extensions[_READ_KEY] = make_engine(str(read_url))
        app.after_request(_mark_writer)


def get_engine() -> Engine:
    """The primary: for every write, and every read that must see the latest committed state."""
    engine: Engine = current_app.extensions[_KEY]
    return engine


def get_read_engine() -> Engine:
    """The engine of a read-only route: the replica, unless this request must read the primary (module doc)."""
    replica: Engine | None = current_app.extensions.get(_READ_KEY)
    if replica is None or request.method not in ("GET", "HEAD") or READ_PRIMARY_COOKIE in request.cookies:
        return get_engine()
    return replica


def _mark_writer(response: Response) -> ResponseReturnValue:
    """After a successful change, send the cookie that keeps this client's reads on the primary for a while."""
    if request.method not in _SAFE and response.status_code < 400:
        secure = bool(current_app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure
        response.set_cookie(
            READ_PRIMARY_COOKIE, "1", max_age=int(current_app.config.get("READ_PRIMARY_AFTER_WRITE_S", 10)),
            httponly=True, samesite="Strict", secure=secure, path="/",
        )
    return response
