"""Exceptions of the edge agent, translated at their boundary (``raise ... from exc``).

A config that cannot be used raises :class:`vigie_config.errors.ConfigError`, shared with the coordinator.
"""

from __future__ import annotations


class EdgeError(Exception):
    """Base of the edge agent's own errors."""


class OutboxError(EdgeError):
    """The durable outbox cannot be opened or written (disk full, corrupt file...)."""
