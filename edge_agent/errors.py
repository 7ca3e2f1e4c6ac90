"""Exceptions of the edge agent, translated at their boundary (``raise ... from exc``)."""

from __future__ import annotations


class EdgeError(Exception):
    """Base of the edge agent's own errors."""


class ConfigError(EdgeError):
    """A box config that cannot be used; the message names file, field and reason."""


class OutboxError(EdgeError):
    """The durable outbox cannot be opened or written (disk full, corrupt file...)."""
