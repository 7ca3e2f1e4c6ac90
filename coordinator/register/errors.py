"""Errors of the register."""

from __future__ import annotations


class RegisterError(Exception):
    """An entry the register refuses (unknown kind, field too long...), or a broken chain."""
