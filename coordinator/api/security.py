"""Authentication and authorisation of API requests.

Two ways in: a session cookie set by ``POST /api/v1/auth/login`` (the web UI), or an
``Authorization: Bearer <token>`` header (integrators, field apps). Session-authenticated
requests that change state must echo the session's CSRF token in ``X-CSRF-Token``: the cookie
alone is sent by the browser on any cross-site form, the header is not.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import g, request, session

from coordinator.auth import Principal
from coordinator.auth.secrets import same_secret
from coordinator.storage import users as user_store
from coordinator.storage.flask import get_engine

from .errors import ApiError

P = ParamSpec("P")
R = TypeVar("R")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def start_session(principal: Principal) -> str:
    """Log ``principal`` in on this browser session; returns the CSRF token for the UI."""
    session.clear()
    session["uid"] = principal.user_id
    session["csrf"] = secrets.token_urlsafe(24)
    session.permanent = True
    return str(session["csrf"])


def end_session() -> None:
    session.clear()


def _from_bearer(header: str) -> Principal:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Authorization header must be 'Bearer <token>'")
    with get_engine().begin() as conn:
        principal = user_store.principal_by_token(conn, token.strip())
    if principal is None:
        raise ApiError(401, "unknown or revoked token")
    return principal


def _from_session() -> Principal | None:
    uid = session.get("uid")
    if uid is None:
        return None
    with get_engine().connect() as conn:
        principal = user_store.principal_by_id(conn, int(uid))
    if principal is None:
        session.clear()
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent or not same_secret(sent, str(session.get("csrf", ""))):
            raise ApiError(403, "missing or wrong X-CSRF-Token header for a session-authenticated change")
    return principal


def current_principal() -> Principal:
    """The caller of this request; 401 if there is none."""
    cached = g.get("principal")
    if isinstance(cached, Principal):
        return cached
    header = request.headers.get("Authorization")
    principal = _from_bearer(header) if header else _from_session()
    if principal is None:
        raise ApiError(401, "authentication required: log in or send a bearer token")
    g.principal = principal
    return principal


def require(role: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Route decorator: 401 when nobody is authenticated, 403 when the role is too low."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            principal = current_principal()
            if not principal.can(role):
                raise ApiError(403, f"role {principal.role!r} may not do this; needs {role!r} or above")
            return view(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper

    return decorate


def check_commune(principal: Principal, commune: str | None) -> None:
    """403 when ``principal`` is commune staff and the resource is elsewhere."""
    if not principal.sees(commune):
        raise ApiError(403, f"{principal.username!r} acts only on commune {principal.commune!r}")
