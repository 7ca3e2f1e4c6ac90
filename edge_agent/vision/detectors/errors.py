"""The one exception of the detectors package, raised at its boundary (``raise ... from exc``)."""

from __future__ import annotations

from ...errors import EdgeError


class DetectorError(EdgeError):
    """A detector that cannot be loaded or run.

    The message names the file and the reason (field, expected vs actual), because a box in the field is
    diagnosed from its log alone: "sha256 mismatch" is actionable, a protobuf stack trace is not.
    """
