"""Login with throttling, metrics, logs and the audit log.

Order of a login: the account name's and client address's locks are checked first (a locked
login is refused without looking at the password, for known and unknown names alike); then the
password is checked outside any write transaction (scrypt takes most of a second); then, in one
transaction, either the session opens and the name's failures are forgotten, or the failure is
counted against the name and the address, which may lock them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, current_app

from coordinator.auth import Principal
from coordinator.auth.audit import Actor
from coordinator.auth.throttle import Scope, ThrottlePolicy, retry_after_s
from coordinator.storage import audit
from coordinator.storage import throttle as throttle_store
from coordinator.storage import users as user_store
from coordinator.storage.flask import get_engine

from .metrics import get_metrics
from .security import client_address, now_ms, start_session

log = logging.getLogger(__name__)
_KEY = "vigie.login_guard"


@dataclass(frozen=True)
class LoginPolicy:
    account: ThrottlePolicy
    address: ThrottlePolicy


@dataclass(frozen=True)
class LoginOutcome:
    """A session's principal and CSRF token, or a refusal (``retry_after_s`` set when throttled)."""

    principal: Principal | None = None
    csrf: str | None = None
    retry_after_s: int | None = None


def init_app(app: Flask) -> None:
    c = app.config

    def policy(free_key: str) -> ThrottlePolicy:
        return ThrottlePolicy(free=int(c[free_key]), base_s=float(c["LOGIN_THROTTLE_BASE_S"]),
                              max_s=float(c["LOGIN_THROTTLE_MAX_S"]), window_s=float(c["LOGIN_THROTTLE_WINDOW_S"]))

    app.extensions[_KEY] = LoginPolicy(policy("LOGIN_THROTTLE_ACCOUNT_FREE"), policy("LOGIN_THROTTLE_ADDRESS_FREE"))


def login(username: str, password: str) -> LoginOutcome:
    """Check a login attempt and open a session on success; see the module's docstring for the order."""
    policy: LoginPolicy = current_app.extensions[_KEY]
    metrics = get_metrics(current_app)
    address = client_address()
    anonymous = Actor(None, "anonymous", address)
    keys: dict[Scope, str] = {"account": throttle_store.key("account", username),
                              "address": throttle_store.key("address", address)}
    at = now_ms()
    engine = get_engine()
    with engine.begin() as conn:
        locked = throttle_store.locked_until(conn, list(keys.values()), at)
        if locked:
            scopes = [s for s, k in keys.items() if k in locked]
            audit.record(conn, "login_throttled", anonymous, username, f"locked={','.join(scopes)}", at)
    if locked:
        metrics.logins.labels("throttled").inc()
        log.warning("login refused while locked: account %r from %s (%s)", username, address, ",".join(scopes))
        return LoginOutcome(retry_after_s=max(retry_after_s(until, at) for until in locked.values()))
    with engine.connect() as conn:
        checked = user_store.authenticate(conn, username, password)
    at = now_ms()
    with engine.begin() as conn:
        if checked.principal is not None:
            throttle_store.clear(conn, keys["account"])
            csrf = start_session(conn, checked.principal, at)
            audit.record(conn, "login", Actor(username, "session", address), username, None, at)
        else:
            audit.record(conn, "login_failure", anonymous, username, checked.reason, at)
            for scope, k in keys.items():
                failures = throttle_store.fail(conn, k, getattr(policy, scope), at)
                if failures.locked_until_ms > at:
                    seconds = retry_after_s(failures.locked_until_ms, at)
                    audit.record(conn, "lockout", anonymous, username,
                                 f"scope={scope} failures={failures.count} seconds={seconds}", at)
                    metrics.lockouts.labels(scope).inc()
                    log.warning("login lockout: %s %r locked for %d s after %d failures", scope,
                                username if scope == "account" else address, seconds, failures.count)
    if checked.principal is None:
        metrics.logins.labels("failure").inc()
        log.info("login failure: account %r from %s (%s)", username, address, checked.reason)
        return LoginOutcome()
    metrics.logins.labels("success").inc()
    log.info("login: %r from %s", username, address)
    return LoginOutcome(checked.principal, csrf)
