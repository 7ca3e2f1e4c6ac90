"""Errors of the camera role that leave their module (``raise ... from exc`` at the boundary)."""

from __future__ import annotations

from typing import Literal

from ..errors import EdgeError

#: Likely causes a field technician can act on: cable/route, wrong port or service off, credentials, slowness,
#: and "it answers, but not as a camera should".
Cause = Literal["unreachable", "refused", "auth", "timeout", "protocol"]


class StreamResolveError(EdgeError):
    """A camera's stream address could not be obtained from it (ONVIF).

    Attributes:
        cause: The likely cause, one of :data:`Cause`.
    """

    def __init__(self, message: str, cause: Cause) -> None:
        super().__init__(message)
        self.cause: Cause = cause
