"""The one exception of the wire contract.

Every decoding failure, whatever its cause (bad topic, truncated MessagePack, a field out of
range, a device id that does not match its topic), surfaces as :class:`WireError`. Callers
such as the ingest worker count failures per ``reason`` and go on; they never need to know
which library raised underneath.
"""

from __future__ import annotations


class WireError(ValueError):
    """A topic or payload that does not follow the Vigie v1 contract.

    Attributes:
        reason: a short, stable code (``"topic"``, ``"size"``, ``"msgpack"``, ``"schema"``,
            ``"field"``, ``"version"``, ``"mismatch"``) suitable as a metric label.
        path: where in the message the problem is (``"header.dev"``, ``"events[3].conf"``),
            empty when it concerns the whole message.
    """

    def __init__(self, reason: str, message: str, path: str = "") -> None:
        self.reason = reason
        self.path = path
        self.detail = message
        super().__init__(f"{path}: {message}" if path else message)
