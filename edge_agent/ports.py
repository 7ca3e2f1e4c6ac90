"""The narrow port between a box's roles (vision, lighting) and its link.

Roles emit typed events into an :class:`EventSink`; only :mod:`edge_agent.link` knows MQTT.
Two implementations: :class:`edge_agent.link.Link` for roles in the link's process (the light
role), :class:`edge_agent.link.OutboxSink` for roles in their own process (cameras), which
write into the outbox file that the link sends from. Both give the same guarantees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import vigie_wire as wire


class EventSink(Protocol):
    """Where a role's events go: durably queued, delivered in order, never dropped silently."""

    def emit_many(self, bodies: Sequence[wire.Event], ts_ms: int | None = None) -> list[tuple[int, int]]:
        """Queue ``bodies`` that happened at ``ts_ms``; returns their ids ``(boot, n)``."""
        ...

    def publish_snapshot(self, cam: int, event_id: tuple[int, int], jpeg: bytes) -> bool:
        """Send an already privacy-safe JPEG illustrating event ``event_id`` if connected."""
        ...
