"""Errors of evidence packaging."""

from __future__ import annotations


class EvidenceError(Exception):
    """A package that cannot be built (missing key, unreadable segment) or read."""
