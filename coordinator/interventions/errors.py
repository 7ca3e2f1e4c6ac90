"""The exceptions of the intervention domain, one module for all of them.

The API maps them to HTTP statuses (400, 403, 409) and the MQTT status consumer to a
``refused`` dispatch; neither needs to know which rule of the domain was broken.
"""

from __future__ import annotations


class InterventionError(Exception):
    """Base of every refusal of the intervention domain."""


class InvalidRequestError(InterventionError):
    """The request lacks something the domain needs (a reason, a team...): a client error."""


class IllegalTransitionError(InterventionError):
    """The move is not allowed from the current state (a conflict with the current state)."""


class NotVerifiedError(IllegalTransitionError):
    """A light-fault intervention cannot be resolved until telemetry shows the luminaire healthy."""


class NotAllowedError(InterventionError):
    """The actor may not do this (a team acting on an intervention that is not assigned to it)."""


class UnknownIdError(InterventionError):
    """No intervention, team or rule with this id."""


class StaleVersionError(InterventionError):
    """Someone else changed the intervention since it was read; nothing was written."""


class ModelManifestError(InterventionError):
    """A detector model manifest cannot be read, so rule classes cannot be checked against it."""
