"""Errors of evidence packaging."""

from __future__ import annotations


class EvidenceError(Exception):
    """A package that cannot be built (missing key, unreadable segment) or read."""


class UploadRefusedError(EvidenceError):
    """A segment chunk not taken; ``status`` is the HTTP status the API answers, ``received`` the bytes held."""

    def __init__(self, status: int, message: str, received: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.received = received
