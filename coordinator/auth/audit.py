"""Security events an auditor reads: their kinds and who caused them (pure values)."""

from __future__ import annotations

from dataclasses import dataclass

#: Every kind of security event, in the order an account lives through them.
KINDS: tuple[str, ...] = (
    "login",             # a successful login (a browser session starts)
    "login_failure",     # wrong name or password, or a deactivated account
    "lockout",           # failures locked an account name or a client address for a while
    "login_throttled",   # a login refused without checking because its name or address is locked
    "logout",
    "session_end",       # a session ended by its idle or absolute timeout, or by deactivation
    "token_created",
    "token_revoked",
    "user_created",
    "user_deactivated",
    "user_activated",
    "role_changed",
    "commune_changed",
)


@dataclass(frozen=True)
class Actor:
    """Who caused an event: a user through a session or token, the command line, or nobody known.

    Attributes:
        name: the username, or ``None`` for an anonymous HTTP caller (a login attempt).
        via: ``session``, ``token``, ``cli`` or ``anonymous``.
        address: the client address of an HTTP request, ``None`` on the command line.
    """

    name: str | None
    via: str
    address: str | None = None
