"""Property tests of the codec: whatever arrives, decoding yields a message or a WireError.

The ingest worker counts failures per ``WireError.reason`` and goes on; any other exception
(``TypeError``, ``OverflowError``, ``RecursionError``...) would kill it. Valid messages must
round-trip exactly.
"""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vigie_wire as wire
from vigie_wire import (
    EVENT_TYPES,
    MESSAGE_TYPES,
    AckResult,
    Birth,
    Command,
    CommandAck,
    Death,
    Detection,
    EventBatch,
    EventRecord,
    Header,
    Kind,
    Snapshot,
    State,
    Telemetry,
    UnknownEvent,
    WireError,
)
from vigie_wire.limits import INT64_MAX, INT64_MIN, UINT32_MAX, UINT64_MAX

FUZZ = settings(max_examples=500, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

SITE = "dijon"
DEV = "cam-1"

#: One topic of every kind, all naming ``DEV`` so payloads may get past the consistency check.
TOPICS: dict[str, Kind] = {
    **{wire.device_topic(SITE, DEV, k): k for k in wire.topics.DEVICE_KINDS},
    wire.group_command_topic(SITE, DEV): Kind.CMD,
    wire.state_topic(DEV): Kind.STATE,
    wire.team_topic(SITE, DEV, Kind.DISPATCH): Kind.DISPATCH,
    wire.team_topic(SITE, DEV, Kind.STATUS): Kind.STATUS,
}


def decode_or_wire_error(topic: str, payload: bytes) -> None:
    """The property: a message of the topic's type, or a WireError with a known reason."""
    try:
        msg = wire.decode(topic, payload)
    except WireError as exc:
        assert exc.reason in {"topic", "size", "msgpack", "schema", "field", "version", "mismatch"}
        assert isinstance(exc.path, str)
        return
    assert isinstance(msg, MESSAGE_TYPES[wire.parse_topic(topic).kind])


# --------------------------------------------------------------------------------------------
# Strategies of valid messages
# --------------------------------------------------------------------------------------------

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,63}", fullmatch=True)
device_ids = ids.filter(lambda s: s != "group")
cmd_ids = st.from_regex(r"[A-Za-z0-9_.:-]{1,64}", fullmatch=True)
u32 = st.integers(0, UINT32_MAX)
u64 = st.integers(0, UINT64_MAX)
times = st.integers(0, INT64_MAX) | st.integers(1_600_000_000_000, 1_900_000_000_000)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(INT64_MIN, UINT64_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
keys = st.text(min_size=1, max_size=16)


def free(depth: int) -> st.SearchStrategy[Any]:
    """JSON-like values nested at most ``depth`` levels (the contract allows 8 below a map)."""
    if depth == 0:
        return scalars
    inner = free(depth - 1)
    return scalars | st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4)


free_maps = st.dictionaries(keys, free(3), max_size=6)


def headers(dev: st.SearchStrategy[str]) -> st.SearchStrategy[Header]:
    return st.builds(Header, st.just(1), dev, u32, u64, times)


detections = st.builds(
    Detection,
    st.integers(0, 255),
    u32,
    st.integers(0, 65535),
    st.integers(0, 100),
    st.tuples(*[st.integers(0, 1000)] * 4),
)
unknown_events = st.builds(
    UnknownEvent,
    st.integers(0, 65535).filter(lambda c: c not in EVENT_TYPES),
    st.lists(free(2), max_size=4).map(tuple),
)
records = st.builds(EventRecord, u64, times, detections | unknown_events)
latitudes = st.none() | st.floats(-90, 90)
longitudes = st.none() | st.floats(-180, 180)


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, Any]:
    """A valid message and the topic it travels on."""
    kind = draw(st.sampled_from(sorted(Kind)))
    site = draw(ids)
    if kind is Kind.STATE:
        host = draw(ids)
        return wire.state_topic(host), State(draw(headers(st.just(host))), draw(st.booleans()))
    if kind is Kind.CMD:
        coordinator = draw(headers(ids))
        if draw(st.booleans()):
            target = draw(ids)
            topic = wire.group_command_topic(site, target)
        else:
            target = draw(device_ids)
            topic = wire.device_topic(site, target, kind)
        msg = Command(
            coordinator,
            target,
            draw(cmd_ids),
            draw(u64),
            draw(times),
            draw(st.from_regex(r"[a-z][a-z0-9_.]{0,63}", fullmatch=True)),
            draw(free_maps),
        )
        return topic, msg
    if kind is Kind.DISPATCH:
        team = draw(ids)
        return wire.team_topic(site, team, kind), wire.Dispatch(
            draw(headers(ids)),
            team,
            draw(st.integers(1, INT64_MAX)),
            draw(st.sampled_from(wire.DispatchAction.ALL)),
            draw(st.sampled_from(["new", "acknowledged", "assigned", "en_route", "on_site", "resolved", "closed"])),
            draw(st.sampled_from(["urgent", "high", "normal", "low"])),
            draw(ids),
            draw(st.text(max_size=200)),
            draw(st.text(max_size=512)),
            draw(latitudes),
            draw(longitudes),
        )
    if kind is Kind.STATUS:
        team = draw(ids)
        return wire.team_topic(site, team, kind), wire.TeamStatus(
            draw(headers(st.just(team))),
            draw(st.integers(1, INT64_MAX)),
            draw(st.sampled_from(["acknowledged", "en_route", "on_site", "resolved"])),
            draw(st.text(max_size=512)),
        )
    dev = draw(device_ids)
    topic = wire.device_topic(site, dev, kind)
    header = draw(headers(st.just(dev)))
    if kind is Kind.BIRTH:
        return topic, Birth(
            header,
            draw(st.text(max_size=64)),
            draw(st.from_regex(r"[0-9a-f]{8,64}", fullmatch=True)),
            tuple(draw(st.lists(st.text(max_size=64), max_size=8))),
            draw(latitudes),
            draw(longitudes),
        )
    if kind is Kind.DEATH:
        return topic, Death(header)
    if kind is Kind.EVENT:
        events = tuple(draw(st.lists(records, min_size=1, max_size=6)))
        return topic, EventBatch(header, draw(u32), draw(st.booleans()), events)
    if kind is Kind.TELEMETRY:
        return topic, Telemetry(header, draw(free_maps))
    if kind is Kind.SNAPSHOT:
        return topic, Snapshot(header, draw(st.integers(0, 255)), draw(u32), draw(u64), draw(st.binary(max_size=64)))
    if kind is Kind.META:
        return topic, wire.Meta(header, draw(st.from_regex(r"[0-9a-f]{8,64}", fullmatch=True)), draw(free_maps))
    assert kind is Kind.ACK
    return topic, CommandAck(
        header,
        draw(cmd_ids),
        draw(st.sampled_from(AckResult.ALL)),
        draw(st.text(max_size=80)),
        draw(free_maps),
    )


# --------------------------------------------------------------------------------------------
# (a) arbitrary bytes
# --------------------------------------------------------------------------------------------


@FUZZ
@given(topic=st.sampled_from(sorted(TOPICS)), payload=st.binary(max_size=512))
def test_arbitrary_bytes_decode_to_a_message_or_wire_error(topic: str, payload: bytes) -> None:
    decode_or_wire_error(topic, payload)


@FUZZ
@given(topic=st.sampled_from(sorted(TOPICS)), tail=st.binary(max_size=256))
def test_arbitrary_bytes_after_a_valid_header_decode_to_a_message_or_wire_error(
    topic: str, tail: bytes
) -> None:
    # an array header of 5..15 items, then a real header: the random tail is parsed as fields
    count = 5 + len(tail) % 11
    prefix = bytes([0x90 | count]) + msgpack.packb(1) + msgpack.packb(DEV) + b"\x00\x00"
    decode_or_wire_error(topic, prefix + msgpack.packb(1_700_000_000_000) + tail)


# --------------------------------------------------------------------------------------------
# (b) arbitrary MessagePack structures
# --------------------------------------------------------------------------------------------

packable_ints = st.integers(INT64_MIN, UINT64_MAX) | st.sampled_from(
    [INT64_MIN, -1, 0, 1, 127, 128, 255, 65535, 65536, UINT32_MAX, UINT32_MAX + 1, INT64_MAX, UINT64_MAX]
)
plain_leaves = (
    st.none()
    | st.booleans()
    | packable_ints
    | st.floats()  # NaN and infinities included
    | st.text(max_size=80)
)
#: JSON-like structures (string keys, no binary): what a confused sender is most likely to emit.
plain = st.recursive(
    plain_leaves,
    lambda children: st.lists(children, max_size=8) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=40,
)
#: Everything MessagePack can carry, binary and integer map keys included.
structures = st.recursive(
    plain_leaves | st.binary(max_size=40),
    lambda children: st.lists(children, max_size=8)
    | st.dictionaries(st.text(max_size=10) | st.integers(-5, 5), children, max_size=5),
    max_leaves=40,
)
#: Arrays that start with a plausible v1 header, so the schema walk is reached.
headed = st.tuples(
    st.sampled_from([1, 1, 1, 2, True, 1.0, "1"]),
    st.sampled_from([DEV, DEV, "other", "", 5]),
    packable_ints | plain,
    packable_ints | plain,
    st.integers(0, 2**62) | plain,
    st.lists(plain | packable_ints, max_size=8),
).map(lambda t: [*t[:5], *t[5]])
#: Event batches whose events are arrays of mostly integers, to reach the event decoder.
event_batches = st.tuples(
    st.lists(st.lists(packable_ints | plain, max_size=10) | plain, max_size=5),
    packable_ints | plain,
    st.booleans() | plain,
).map(lambda t: [1, DEV, 0, 0, 1_700_000_000_000, t[1], t[2], t[0]])


@FUZZ
@given(topic=st.sampled_from(sorted(TOPICS)), value=structures | plain | headed | event_batches)
def test_arbitrary_msgpack_structures_decode_to_a_message_or_wire_error(topic: str, value: Any) -> None:
    decode_or_wire_error(topic, msgpack.packb(value, use_bin_type=True))


# --------------------------------------------------------------------------------------------
# (c) mutated valid messages
# --------------------------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    topic, msg = draw(messages())
    payload = bytearray(wire.encode(msg))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "set"]))
        at = draw(st.integers(0, max(len(payload) - 1, 0)))
        if op == "flip" and payload:
            payload[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and payload:
            payload[at] = draw(st.integers(0, 255))
        elif op == "insert":
            payload[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and payload:
            del payload[at : at + draw(st.integers(1, 4))]
        elif op == "truncate":
            del payload[at:]
    return topic, bytes(payload)


@FUZZ
@given(case=mutated())
def test_mutated_valid_messages_decode_to_a_message_or_wire_error(case: tuple[str, bytes]) -> None:
    decode_or_wire_error(*case)


# --------------------------------------------------------------------------------------------
# (d) valid messages round-trip
# --------------------------------------------------------------------------------------------


@FUZZ
@given(case=messages())
def test_valid_messages_round_trip_exactly(case: tuple[str, Any]) -> None:
    topic, msg = case
    payload = wire.encode(msg)
    assert wire.decode(topic, payload) == msg
    assert wire.encode(wire.decode(topic, payload)) == payload
