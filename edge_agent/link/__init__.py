"""The MQTT link of an edge agent: the only part of the box that talks to the broker."""

from .outbox import Outbox, OutboxWriter, StaleBootError
from .producer import OutboxSink
from .session import ConnectRefusedError, Link, LinkStats

__all__ = ["ConnectRefusedError", "Link", "LinkStats", "Outbox", "OutboxSink", "OutboxWriter", "StaleBootError"]
