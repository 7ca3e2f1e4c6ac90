"""Password and API-token hashing.

Passwords use Werkzeug's salted scrypt (slow on purpose). Tokens are 256-bit random strings,
so a fast SHA-256 is enough to store them: the table never holds a usable secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

TOKEN_PREFIX = "vgt_"
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return generate_password_hash(password, method="scrypt")


def verify_password(stored_hash: str, password: str) -> bool:
    return check_password_hash(stored_hash, password)


@cache
def _dummy_hash() -> str:
    """A hash made with the same method and cost as real ones, of a password nobody knows."""
    return generate_password_hash(secrets.token_urlsafe(24), method="scrypt")


def verify_password_or_dummy(stored_hash: str | None, password: str) -> bool:
    """Check ``password``; without a stored hash, spend the same time on a dummy one and refuse.

    A login for an unknown or deactivated account must cost what a wrong password costs, or the
    response time tells an attacker which names exist.
    """
    if stored_hash is None:
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(stored_hash, password)


def new_token() -> str:
    """A bearer token; the prefix lets secret scanners and operators recognise it."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
