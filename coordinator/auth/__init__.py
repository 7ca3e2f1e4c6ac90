"""Who may do what: roles, commune scoping, password and token hashing (pure, no Flask)."""

from .principal import ROLES, Principal, role_at_least
from .secrets import hash_password, hash_token, new_token, verify_password

__all__ = ["ROLES", "Principal", "hash_password", "hash_token", "new_token", "role_at_least", "verify_password"]
