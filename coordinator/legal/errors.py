"""Typed refusals of the requisition workflow; the API maps each to a status."""

from __future__ import annotations


class LegalError(Exception):
    """Base of the refusals below."""


class BadRequisitionError(LegalError):
    """The request itself is wrong (window, cameras, legal basis): 400."""


class NotAllowedError(LegalError):
    """The caller may not take this step (e.g. approve their own request): 403."""


class WrongStateError(LegalError):
    """The step does not apply in the request's state (e.g. a second decision): 409."""
