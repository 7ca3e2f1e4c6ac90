"""Bounds of the v1 contract, shared by encoder and decoder.

They exist so that a hostile or broken payload cannot make a decoder allocate without limit,
and so that an encoder refuses what a decoder would reject.
"""

from __future__ import annotations

SCHEMA_VERSION = 1
#: MQTT v5 content type of every Vigie payload, set on every publish and will, so a generic consumer
#: (a bridge, a broker rule, a debugging tool) can tell the bytes are MessagePack without knowing the topic.
CONTENT_TYPE = "application/msgpack"
#: Largest payload accepted; a batch of 1,000 detection events is about 25 KiB.
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_EVENTS_PER_BATCH = 1000
MAX_ID_LEN = 64
MAX_TEXT_LEN = 512
MAX_MAP_ITEMS = 256
MAX_LIST_ITEMS = 1024
#: Nesting depth of free-form values (command arguments, telemetry).
MAX_VALUE_DEPTH = 8  # a calendar pushed to a light node nests 8 levels (entries, programs, steps)
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: A snapshot JPEG (people already blurred on the box); the rest of the message is small.
MAX_SNAPSHOT_BYTES = 200 * 1024
