"""Roles and commune scoping, as pure values.

Roles are ordered: each one can do what the ones before it can. Commune staff carry their
commune slug and see only that commune; métropole staff carry ``None`` and see all 23.
"""

from __future__ import annotations

from dataclasses import dataclass

#: viewer reads; operator handles interventions and lighting overrides; supervisor also
#: manages teams, rules and calendars; admin manages users and tokens.
ROLES: tuple[str, ...] = ("viewer", "operator", "supervisor", "admin")


def role_at_least(role: str, needed: str) -> bool:
    """True when ``role`` includes the rights of ``needed``; unknown roles have none."""
    if role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request or a command."""

    user_id: int
    username: str
    role: str
    commune: str | None
    via: str = "session"  # or "token"

    def can(self, needed: str) -> bool:
        return role_at_least(self.role, needed)

    def sees(self, commune: str | None) -> bool:
        """Métropole staff see everything; commune staff their commune only (and nothing unplaced)."""
        return self.commune is None or commune == self.commune

    @property
    def scope(self) -> str | None:
        """The commune filter to apply to listings, ``None`` for all."""
        return self.commune
