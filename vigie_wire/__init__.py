"""Vigie wire contract v1: topic names, message types, and their one codec.

Both the edge agents and the coordinator import this package; nothing else in the code base
knows a topic layout or a byte. See ``docs/asyncapi.yaml`` for the published document.
"""

from .codec import PackedEvent, check_consistency, decode, decode_payload, encode, encode_batch, pack_event
from .errors import WireError
from .events import (
    CountRow,
    IntervalCounts,
    LampFault,
    LineCrossing,
    Loitering,
    Occupancy,
    TrackEnd,
    ZoneEnter,
    ZoneLeave,
)
from .limits import MAX_EVENTS_PER_BATCH, MAX_PAYLOAD_BYTES, SCHEMA_VERSION
from .messages import (
    EVENT_TYPES,
    MESSAGE_TYPES,
    AckResult,
    Birth,
    Command,
    CommandAck,
    Death,
    Detection,
    Event,
    EventBatch,
    EventRecord,
    Header,
    Message,
    Snapshot,
    State,
    Telemetry,
    UnknownEvent,
)
from .topics import Kind, Topic, device_topic, group_command_topic, parse_topic, state_topic, subscription

__all__ = [
    "EVENT_TYPES",
    "MAX_EVENTS_PER_BATCH",
    "MAX_PAYLOAD_BYTES",
    "MESSAGE_TYPES",
    "SCHEMA_VERSION",
    "AckResult",
    "Birth",
    "Command",
    "CommandAck",
    "CountRow",
    "Death",
    "Detection",
    "Event",
    "EventBatch",
    "EventRecord",
    "Header",
    "IntervalCounts",
    "Kind",
    "LampFault",
    "LineCrossing",
    "Loitering",
    "Message",
    "Occupancy",
    "PackedEvent",
    "Snapshot",
    "State",
    "Telemetry",
    "Topic",
    "TrackEnd",
    "UnknownEvent",
    "WireError",
    "ZoneEnter",
    "ZoneLeave",
    "check_consistency",
    "decode",
    "decode_payload",
    "device_topic",
    "encode",
    "encode_batch",
    "group_command_topic",
    "pack_event",
    "parse_topic",
    "state_topic",
    "subscription",
]
