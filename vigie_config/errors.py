"""Exceptions of the shared box configuration, raised the same way on the box and at the centre."""

from __future__ import annotations


class SharedConfigError(Exception):
    """Base of this package's errors, so that a caller of the box or of the centre catches them in one clause."""


class ConfigError(SharedConfigError):
    """A box config that cannot be used; the message names file, field and reason."""


class RegisterMapError(ConfigError):
    """A register map that cannot be used (unknown model, bad file, overlapping points, short answer)."""
