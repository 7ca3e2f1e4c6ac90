"""Authentication and authorisation of API requests.

Two ways in: a session cookie set by ``POST /api/v1/auth/login`` (the web UI), or an
``Authorization: Bearer <token>`` header (integrators, field apps). Session-authenticated
requests that change state must echo the session's CSRF token in ``X-CSRF-Token``: the cookie
alone is sent by the browser on any cross-site form, the header is not.

The signed cookie carries only a random session id and the CSRF token; the session itself lives
in the database (``storage.sessions``), so logout, the idle and absolute timeouts and a user's
deactivation end it on every worker at once, whatever copy of the cookie is still around.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.engine import Connection
from werkzeug.middleware.proxy_fix import ProxyFix

from coordinator.auth import Principal
from coordinator.auth.audit import Actor
from coordinator.auth.secrets import same_secret
from coordinator.auth.sessions import SessionPolicy
from coordinator.storage import audit
from coordinator.storage import sessions as session_store
from coordinator.storage import users as user_store
from coordinator.storage.flask import get_engine

from .errors import ApiError

P = ParamSpec("P")
R = TypeVar("R")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_POLICY = "vigie.session_policy"


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked ``Secure`` when configured so or when the request came over HTTPS.

    Behind a TLS-terminating proxy the request is seen as HTTPS once the proxy is trusted
    (``TRUSTED_PROXIES``), so a deployment over HTTPS never sends the session id in clear.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_app(app: Flask) -> None:
    """Session cookie interface, timeouts, and the proxies whose forwarded headers are believed."""
    app.session_interface = HttpsAwareSessionInterface()
    app.extensions[_POLICY] = SessionPolicy(idle_s=float(app.config["SESSION_IDLE_S"]),
                                            absolute_s=float(app.config["SESSION_ABSOLUTE_S"]),
                                            touch_s=float(app.config["SESSION_TOUCH_S"]))
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]


def now_ms() -> int:
    return int(time.time() * 1000)


def client_address() -> str:
    """The caller's address (the proxy's, unless ``TRUSTED_PROXIES`` says to believe its header)."""
    return (request.remote_addr or "unknown")[:64]


def actor(principal: Principal | None) -> Actor:
    """The audit log's view of the caller of this request."""
    if principal is None:
        return Actor(None, "anonymous", client_address())
    return Actor(principal.username, principal.via, client_address())


def start_session(conn: Connection, principal: Principal, at_ms: int) -> str:
    """Log ``principal`` in on this browser, in the caller's transaction; returns the CSRF token for the UI."""
    session.clear()
    session["sid"] = session_store.open_session(conn, principal.user_id, at_ms)
    session["csrf"] = secrets.token_urlsafe(24)
    session.permanent = True
    return str(session["csrf"])


def end_session() -> bool:
    """End this browser's session on the server and drop the cookie; False when none was open."""
    sid = session.get("sid")
    session.clear()
    if not isinstance(sid, str):
        return False
    with get_engine().begin() as conn:
        return session_store.end_session(conn, sid, now_ms())


def session_principal() -> Principal | None:
    """The user of this browser's session if it is open on the server; clears a dead cookie."""
    sid = session.get("sid")
    if not isinstance(sid, str):
        if session:
            session.clear()
        return None
    at = now_ms()
    policy: SessionPolicy = current_app.extensions[_POLICY]
    with get_engine().begin() as conn:
        resumed = session_store.resume(conn, sid, policy, at)
        if resumed.ended is not None:
            audit.record(conn, "session_end", Actor(resumed.username, "session", client_address()),
                         resumed.username, f"reason={resumed.ended}", at)
    if resumed.principal is None:
        session.clear()
    return resumed.principal


def credential_check() -> Callable[[Connection], bool]:
    """A re-check of this request's credential, for a response that outlives the request (the event stream).

    Logout, deactivation and revocation must stop an open stream too, not only the next request.
    The check reads only: it neither ends nor renews a session.
    """
    header = request.headers.get("Authorization")
    if header:
        token = header.partition(" ")[2].strip()
        return lambda conn: user_store.token_is_valid(conn, token)
    sid = str(session.get("sid", ""))
    policy: SessionPolicy = current_app.extensions[_POLICY]
    return lambda conn: session_store.is_open(conn, sid, policy, now_ms())


def _from_bearer(header: str) -> Principal:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Authorization header must be 'Bearer <token>'")
    with get_engine().begin() as conn:
        principal = user_store.principal_by_token(conn, token.strip())
    if principal is None:
        raise ApiError(401, "unknown or revoked token")
    return principal


def check_csrf() -> None:
    """403 unless a state-changing session request echoes the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("X-CSRF-Token", "")
    if not sent or not same_secret(sent, str(session.get("csrf", ""))):
        raise ApiError(403, "missing or wrong X-CSRF-Token header for a session-authenticated change")


def _from_session() -> Principal | None:
    principal = session_principal()
    if principal is not None:
        check_csrf()
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


#: Accounts outside the users' roles, with tokens of their own: judicial authorities and field boxes.
OTHER_ACCOUNTS = ("authority", "box")


def for_accounts(kind: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Route decorator naming the kind of account (see :data:`OTHER_ACCOUNTS`) the view authenticates itself.

    It checks nothing: the view reads that account's token. It publishes the kind as the operation's
    ``x-required-role``, so the document says who may call it and the audit holds users' tokens to a refusal.
    """
    if kind not in OTHER_ACCOUNTS:
        raise ValueError(f"unknown account kind {kind!r}")

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        view.required_role = kind  # type: ignore[attr-defined]
        return view

    return decorate


def check_commune(principal: Principal, commune: str | None) -> None:
    """403 when ``principal`` is commune staff and the resource is elsewhere."""
    if not principal.sees(commune):
        raise ApiError(403, f"{principal.username!r} acts only on commune {principal.commune!r}")
