"""The v1 codec: every message type round-trips, payloads are compact, bad input is refused.

Pure tests: no broker. Payloads that the encoder would refuse to produce are built by hand
with ``msgpack`` so the decoder's checks can be exercised one by one.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from typing import Any

import msgpack
import pytest

import vigie_wire as wire
from vigie_wire import (
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
    State,
    Telemetry,
    UnknownEvent,
    WireError,
    decode,
    encode,
)
from vigie_wire.limits import INT64_MAX, INT64_MIN, MAX_PAYLOAD_BYTES, UINT64_MAX

SITE = "dijon"
DEV = "cam-darcy-01"
HOST = "coord-1"
NOW = int(time.time() * 1000)
BOOT = int(time.time())
HASH = "9f2c4e1ab37d5e60" * 4


def hdr(dev: str = DEV, seq: int = 1, ts: int = NOW, bd: int = 3) -> Header:
    return Header(1, dev, bd, seq, ts)


def topic(kind: Kind, dev: str = DEV) -> str:
    return wire.device_topic(SITE, dev, kind)


def detection(track: int = 4242, conf: int = 87) -> Detection:
    return Detection(0, track, 2, conf, (412, 233, 58, 140))


def batch(*records: EventRecord, historical: bool = False, ts: int = NOW) -> EventBatch:
    return EventBatch(hdr(ts=ts), BOOT, historical, records)


def raw_header(v: Any = 1, dev: Any = DEV, bd: Any = 3, seq: Any = 1, ts: Any = NOW) -> list[Any]:
    return [v, dev, bd, seq, ts]


def raw_event(*, n: Any = 0, dt: Any = 0, code: Any = 1, cam: Any = 0, track: Any = 4242, cls: Any = 2,
              conf: Any = 87, box: Any = (412, 233, 58, 140)) -> list[Any]:
    return [n, dt, code, cam, track, cls, conf, list(box) if isinstance(box, tuple) else box]


def raw_batch(events: Any = None, header: list[Any] | None = None) -> bytes:
    body = [raw_event()] if events is None else events
    return msgpack.packb([*(header or raw_header()), BOOT, False, body])


def roundtrip(msg: Any, on: str) -> Any:
    return decode(on, encode(msg))


# --------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------


def test_birth_with_position_round_trips() -> None:
    msg = Birth(hdr(seq=0), "vigie-edge 0.1.0", HASH, ("link", "camera", "detector"), 47.3220, 5.0415)
    assert roundtrip(msg, topic(Kind.BIRTH)) == msg


def test_birth_without_position_round_trips() -> None:
    msg = Birth(hdr(seq=0), "vigie-edge 0.1.0", HASH, ("link",))
    out = roundtrip(msg, topic(Kind.BIRTH))
    assert out == msg
    assert out.lat is None
    assert out.lon is None


def test_birth_with_only_longitude_keeps_latitude_absent() -> None:
    msg = Birth(hdr(seq=0), "fw", HASH, (), None, 5.0415)
    assert roundtrip(msg, topic(Kind.BIRTH)) == msg


def test_death_round_trips() -> None:
    msg = Death(hdr(seq=0, bd=41))
    out = roundtrip(msg, topic(Kind.DEATH))
    assert out == msg
    assert out.header.bd == 41


@pytest.mark.parametrize("historical", [False, True])
def test_event_batch_of_several_detections_round_trips(historical: bool) -> None:
    msg = batch(
        EventRecord(10, NOW, detection(1, 55)),
        EventRecord(11, NOW - 40, detection(2, 91)),
        EventRecord(12, NOW - 1_250, Detection(3, 2**32 - 1, 65535, 100, (0, 0, 1000, 1000))),
        historical=historical,
    )
    out = roundtrip(msg, topic(Kind.EVENT))
    assert out == msg
    assert out.historical is historical
    assert [r.n for r in out.events] == [10, 11, 12]


def test_telemetry_with_nested_metrics_round_trips() -> None:
    metrics = {
        "cpu_pct": 37.5,
        "temp_c": 61,
        "outbox": {"depth": 12, "dropped": 0, "rejected": 0},
        "cams": [{"fps": 14.9, "ok": True}, {"fps": 0.0, "ok": False, "err": "no signal"}],
        "uptime_s": 86_400,
        "note": None,
        "big": UINT64_MAX,
        "small": INT64_MIN,
    }
    msg = Telemetry(hdr(), metrics)
    assert roundtrip(msg, topic(Kind.TELEMETRY)) == msg


def test_command_to_a_device_round_trips() -> None:
    msg = Command(hdr(dev=HOST), DEV, "c-01J2K3:7", NOW, NOW + 30_000, "camera.restart", {"cam": 0})
    assert roundtrip(msg, topic(Kind.CMD)) == msg


def test_command_to_a_group_round_trips() -> None:
    msg = Command(hdr(dev=HOST), "rue-de-la-liberte", "c-2", NOW, NOW + 5_000, "light.dim",
                  {"level": 40, "ramp_s": 2.5, "nodes": ["l-1", "l-2"]})
    assert roundtrip(msg, wire.group_command_topic(SITE, "rue-de-la-liberte")) == msg


def test_command_without_args_round_trips_with_empty_args() -> None:
    msg = Command(hdr(dev=HOST), DEV, "c-3", 1, NOW, "ping")
    out = roundtrip(msg, topic(Kind.CMD))
    assert out == msg
    assert out.args == {}


@pytest.mark.parametrize("result", AckResult.ALL)
def test_command_ack_round_trips_with_every_result(result: str) -> None:
    msg = CommandAck(hdr(), "c-01J2K3:7", result, f"because {result}", {"level": 40})
    out = roundtrip(msg, topic(Kind.ACK))
    assert out == msg
    assert out.result == result


@pytest.mark.parametrize("online", [True, False])
def test_state_round_trips(online: bool) -> None:
    msg = State(hdr(dev=HOST), online)
    assert roundtrip(msg, wire.state_topic(HOST)) == msg


def test_encoding_is_deterministic() -> None:
    msg = batch(EventRecord(1, NOW, detection()))
    assert encode(msg) == encode(batch(EventRecord(1, NOW, detection())))


# --------------------------------------------------------------------------------------------
# Size: tens of bytes, not kilobytes
# --------------------------------------------------------------------------------------------


def frigate_event() -> dict[str, Any]:
    """A typical NVR (Frigate ``frigate/events``) MQTT event: a car entering a zone."""
    start = time.time() - 3.2
    event_id = f"{start:.6f}-x7k2qp"

    def state(frame_time: float, end: float | None, score: float) -> dict[str, Any]:
        return {
            "id": event_id,
            "camera": "darcy_north",
            "frame_time": frame_time,
            "snapshot": {
                "frame_time": frame_time - 0.4,
                "box": [1054, 507, 1166, 781],
                "area": 30688,
                "region": [864, 384, 1280, 800],
                "score": 0.83203125,
                "attributes": [],
            },
            "label": "car",
            "sub_label": None,
            "top_score": 0.849609375,
            "false_positive": False,
            "start_time": start,
            "end_time": end,
            "score": score,
            "box": [1056, 510, 1169, 786],
            "area": 31188,
            "ratio": 0.40942028985507245,
            "region": [864, 384, 1280, 800],
            "current_zones": ["place_darcy_crossing"],
            "entered_zones": ["place_darcy_crossing", "rue_de_la_liberte"],
            "thumbnail": None,
            "has_snapshot": True,
            "has_clip": True,
            "stationary": False,
            "motionless_count": 0,
            "position_changes": 2,
            "attributes": {},
            "current_attributes": [],
            "pending_loitering": False,
            "max_severity": "alert",
            "current_estimated_speed": 0,
            "velocity_angle": 0,
            "path_data": [[[0.8234, 0.6125], start + 0.1], [[0.8301, 0.6349], start + 1.7]],
            "recognized_license_plate": None,
        }

    now = time.time()
    return {"type": "update", "before": state(now - 0.2, None, 0.8203125),
            "after": state(now, None, 0.83984375)}


def test_single_detection_event_message_is_at_most_64_bytes() -> None:
    msg = batch(EventRecord(12, NOW, detection()))
    assert NOW > 1_700_000_000_000  # a real, current ms timestamp (8 bytes on the wire)
    assert len(encode(msg)) <= 64


def test_nvr_json_event_used_for_comparison_is_about_two_kilobytes() -> None:
    size = len(json.dumps(frigate_event()).encode())
    assert 1500 <= size <= 2500


def test_detection_message_is_at_least_30_times_smaller_than_nvr_json() -> None:
    wire_size = len(encode(batch(EventRecord(12, NOW, detection()))))
    json_size = len(json.dumps(frigate_event()).encode())
    assert json_size / wire_size >= 30


def test_live_event_time_costs_one_byte_relative_to_header() -> None:
    one = len(encode(batch(EventRecord(0, NOW, detection()))))
    hour_old = len(encode(batch(EventRecord(0, NOW - 3_600_000, detection()))))
    assert hour_old - one == 4  # dt fits a positive fixint when live, an int32 when an hour old


# --------------------------------------------------------------------------------------------
# Trailing optionals, relative event times, forward compatibility
# --------------------------------------------------------------------------------------------


def test_birth_without_position_omits_trailing_none_fields_on_the_wire() -> None:
    with_pos = Birth(hdr(seq=0), "fw", HASH, ("link",), 47.32, 5.04)
    without = Birth(hdr(seq=0), "fw", HASH, ("link",))
    raw = msgpack.unpackb(encode(without))
    assert len(raw) == 5 + 3  # header, firmware, config_hash, caps: no trailing nils
    assert None not in raw
    assert len(encode(without)) < len(encode(with_pos))


def test_event_one_hour_older_than_header_round_trips_exactly() -> None:
    old = NOW - 3_600_000
    msg = batch(EventRecord(5, old, detection()), EventRecord(6, NOW, detection(7)))
    raw = msgpack.unpackb(encode(msg))
    assert [e[1] for e in raw[7]] == [-3_600_000, 0]  # dt relative to header ts
    out = decode(topic(Kind.EVENT), encode(msg))
    assert out.events[0].ts == old
    assert out.events[1].ts == NOW


def test_event_later_than_header_round_trips_exactly() -> None:
    msg = batch(EventRecord(5, NOW + 250, detection()))
    assert roundtrip(msg, topic(Kind.EVENT)).events[0].ts == NOW + 250


def test_unknown_event_code_is_kept_as_unknown_event() -> None:
    payload = raw_batch([raw_event(), [1, -5, 77, 3, "smoke", [10, 20]]])
    out = decode(topic(Kind.EVENT), payload)
    assert out.events[0].body == detection()
    assert out.events[1].body == UnknownEvent(77, (3, "smoke", [10, 20]))
    assert out.events[1].ts == NOW - 5
    assert encode(out) == payload  # relayed unchanged, byte for byte


def test_unknown_event_round_trips_through_encode() -> None:
    msg = batch(EventRecord(1, NOW, UnknownEvent(300, (1, "x", None))))
    assert roundtrip(msg, topic(Kind.EVENT)) == msg


def test_extra_trailing_message_fields_are_ignored() -> None:
    payload = msgpack.packb([*raw_header(seq=0), "fw", HASH, ["link"], 47.5, 5.0, "added in v1.3", 9])
    assert decode(topic(Kind.BIRTH), payload) == Birth(hdr(seq=0), "fw", HASH, ("link",), 47.5, 5.0)


def test_extra_trailing_event_fields_are_ignored() -> None:
    ev = [*raw_event(), 0.97, "future"]
    out = decode(topic(Kind.EVENT), raw_batch([ev]))
    assert out.events[0].body == detection()


def test_integer_where_float_expected_is_accepted_as_float() -> None:
    payload = msgpack.packb([*raw_header(seq=0), "fw", HASH, [], 47, 5])
    out = decode(topic(Kind.BIRTH), payload)
    assert out.lat == 47.0
    assert isinstance(out.lat, float)


# --------------------------------------------------------------------------------------------
# Every WireError reason, with a precise message
# --------------------------------------------------------------------------------------------

GOOD_BATCH = encode(batch(EventRecord(0, NOW, detection())))

#: (test id, topic, payload, reason, path, message regex)
BAD_INPUTS: list[tuple[str, str, bytes, str, str, str]] = [
    ("wildcard topic", f"vigie/v1/{SITE}/+/event", GOOD_BATCH, "topic", "", r"invalid device id '\+'"),
    ("foreign topic", "frigate/events", GOOD_BATCH, "topic", "", r"not a vigie/v1 topic"),
    ("empty payload", topic(Kind.EVENT), b"", "size", "", r"empty payload"),
    ("oversized payload", topic(Kind.EVENT), b"\xc0" * (MAX_PAYLOAD_BYTES + 1), "size", "",
     rf"payload of {MAX_PAYLOAD_BYTES + 1} bytes exceeds {MAX_PAYLOAD_BYTES}"),
    ("garbage", topic(Kind.EVENT), b"\xc1\xc1\xc1", "msgpack", "", r"not a valid MessagePack payload"),
    ("truncated", topic(Kind.EVENT), GOOD_BATCH[:-3], "msgpack", "", r"not a valid MessagePack payload"),
    ("trailing bytes", topic(Kind.EVENT), GOOD_BATCH + b"\x00", "msgpack", "",
     r"not a valid MessagePack payload"),
    ("binary blob", topic(Kind.TELEMETRY), msgpack.packb([*raw_header(), {"img": b"\x89PNG"}]),
     "field", "metrics.img", r"unsupported value of type bytes"),
    ("map instead of array", topic(Kind.EVENT), msgpack.packb({"v": 1, "dev": DEV}), "schema", "",
     r"expected an array starting with the 5 header fields"),
    ("short header", topic(Kind.DEATH), msgpack.packb([1, DEV, 0]), "schema", "",
     r"expected an array starting with the 5 header fields"),
    ("birth missing fields", topic(Kind.BIRTH), msgpack.packb([*raw_header(), "fw"]), "schema", "",
     r"Birth needs at least 4 fields, got 2"),
    ("event not a list", topic(Kind.EVENT), raw_batch([42]), "schema", "events[0]",
     r"an event is \[n, dt, code, \*fields\]"),
    ("detection missing fields", topic(Kind.EVENT), raw_batch([[0, 0, 1, 0, 5]]), "schema", "events[0]",
     r"Detection needs at least 5 fields, got 2"),
    ("conf above 100", topic(Kind.EVENT), raw_batch([raw_event(conf=101)]), "field", "events[0].conf",
     r"^events\[0\]\.conf: 101 is above 100$"),
    ("conf of second event", topic(Kind.EVENT), raw_batch([raw_event(), raw_event(n=1, conf=-1)]),
     "field", "events[1].conf", r"-1 is below 0"),
    ("box coordinate", topic(Kind.EVENT), raw_batch([raw_event(box=(0, 0, 1001, 5))]), "field",
     "events[0].box[2]", r"1001 is above 1000"),
    ("box of 3 items", topic(Kind.EVENT), raw_batch([raw_event(box=(0, 0, 5))]), "field",
     "events[0].box", r"expected 4\.\.4 items, got 3"),
    ("box not a list", topic(Kind.EVENT), raw_batch([raw_event(box="0,0,5,5")]), "field",
     "events[0].box", r"expected a list, got str"),
    ("conf as string", topic(Kind.EVENT), raw_batch([raw_event(conf="87")]), "field", "events[0].conf",
     r"expected an integer, got str"),
    ("dt as float", topic(Kind.EVENT), raw_batch([raw_event(dt=0.5)]), "field", "events[0].dt",
     r"expected an integer, got float"),
    ("event code too big", topic(Kind.EVENT), raw_batch([raw_event(code=70000)]), "field",
     "events[0].code", r"event code must be an integer 0\.\.65535, got 70000"),
    ("event before epoch", topic(Kind.EVENT), raw_batch([raw_event(dt=-NOW - 1)]), "field",
     "events[0].ts", r"-1 is below 0"),
    ("empty batch", topic(Kind.EVENT), raw_batch([]), "field", "events", r"expected 1\.\.1000 items, got 0"),
    ("negative seq", topic(Kind.DEATH), msgpack.packb(raw_header(seq=-1)), "field", "header.seq",
     r"-1 is below 0"),
    ("bd above uint32", topic(Kind.DEATH), msgpack.packb(raw_header(bd=2**32)), "field", "header.bd",
     r"4294967296 is above 4294967295"),
    ("dev upper case", topic(Kind.DEATH), msgpack.packb(raw_header(dev="Cam-Darcy-01")), "field",
     "header.dev", r"does not match"),
    ("latitude 91", topic(Kind.BIRTH), msgpack.packb([*raw_header(), "fw", HASH, [], 91.0, 5.0]),
     "field", "lat", r"91\.0 is above 90"),
    ("capability too long", topic(Kind.BIRTH), msgpack.packb([*raw_header(), "fw", HASH, ["x" * 65]]),
     "field", "caps[0]", r"longer than 64 characters \(65\)"),
    ("config hash not hex", topic(Kind.BIRTH), msgpack.packb([*raw_header(), "fw", "not-a-hash", []]),
     "field", "config_hash", r"does not match"),
    ("historical as int", topic(Kind.EVENT), msgpack.packb([*raw_header(), BOOT, 1, [raw_event()]]),
     "field", "historical", r"expected a boolean, got int"),
    ("metrics not a map", topic(Kind.TELEMETRY), msgpack.packb([*raw_header(), [1, 2]]), "field",
     "metrics", r"expected a map, got list"),
    ("metrics too deep", topic(Kind.TELEMETRY),
     msgpack.packb([*raw_header(), {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}]), "field",
     "metrics.a.b.c.d.e.f.g.h.i",
     r"nested deeper than 8 levels"),
    ("unknown ack result", topic(Kind.ACK), msgpack.packb([*raw_header(), "c-1", "ok"]), "field",
     "result", r"'ok' does not match"),
    ("version 2", topic(Kind.EVENT), msgpack.packb([2, DEV, 3, 1, NOW, BOOT, False, [raw_event()]]),
     "version", "", r"unsupported schema version 2 \(this decoder reads 1\)"),
    ("version 0", topic(Kind.DEATH), msgpack.packb(raw_header(v=0)), "version", "",
     r"unsupported schema version 0"),
    ("device mismatch", topic(Kind.EVENT, dev="cam-darcy-02"), GOOD_BATCH, "mismatch", "header.dev",
     r"payload from 'cam-darcy-01' on the topic of 'cam-darcy-02'"),
    ("state host mismatch", wire.state_topic("coord-2"), msgpack.packb([*raw_header(dev=HOST), True]),
     "mismatch", "header.dev", r"payload from 'coord-1' on the topic of 'coord-2'"),
    ("command target != device", topic(Kind.CMD, dev="cam-darcy-02"),
     encode(Command(hdr(dev=HOST), DEV, "c-1", 1, NOW, "ping")), "mismatch", "target",
     r"command target 'cam-darcy-01' but topic names 'cam-darcy-02'"),
    ("command target != group", wire.group_command_topic(SITE, "place-darcy"),
     encode(Command(hdr(dev=HOST), "rue-de-la-liberte", "c-1", 1, NOW, "light.dim")), "mismatch", "target",
     r"command target 'rue-de-la-liberte' but topic names 'place-darcy'"),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_raises_wire_error_with_reason_path_and_message(
    case: tuple[str, str, bytes, str, str, str],
) -> None:
    _name, on, payload, reason, path, message = case
    with pytest.raises(WireError) as info:
        decode(on, payload)
    assert info.value.reason == reason, str(info.value)
    assert info.value.path == path, str(info.value)
    assert re.search(message, str(info.value)), str(info.value)


def test_every_documented_reason_is_produced_by_some_bad_input() -> None:
    assert {b[3] for b in BAD_INPUTS} == {"topic", "size", "msgpack", "schema", "field", "version",
                                         "mismatch"}


def test_non_bytes_payload_is_a_size_error() -> None:
    with pytest.raises(WireError) as info:
        decode(topic(Kind.EVENT), "not bytes")  # type: ignore[arg-type]
    assert info.value.reason == "size"


def test_payload_of_exactly_the_limit_is_not_a_size_error() -> None:
    with pytest.raises(WireError) as info:
        decode(topic(Kind.EVENT), b"\xc0" * MAX_PAYLOAD_BYTES)
    assert info.value.reason == "msgpack"  # size accepted, content refused


def test_message_on_the_wrong_kind_of_topic_is_refused() -> None:
    with pytest.raises(WireError) as info:
        decode(topic(Kind.BIRTH), GOOD_BATCH)
    assert info.value.reason in {"schema", "field"}


# --------------------------------------------------------------------------------------------
# Booleans are not integers; floats must be finite
# --------------------------------------------------------------------------------------------


def test_boolean_version_is_an_unsupported_version() -> None:
    with pytest.raises(WireError) as info:
        decode(topic(Kind.DEATH), msgpack.packb(raw_header(v=True)))
    assert info.value.reason == "version"


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (msgpack.packb(raw_header(seq=True)), "header.seq"),
        (msgpack.packb(raw_header(bd=False)), "header.bd"),
        (msgpack.packb(raw_header(ts=True)), "header.ts"),
    ],
    ids=["seq", "bd", "ts"],
)
def test_bool_is_not_accepted_where_an_int_is_expected_in_header(payload: bytes, path: str) -> None:
    with pytest.raises(WireError) as info:
        decode(topic(Kind.DEATH), payload)
    assert info.value.reason == "field"
    assert info.value.path == path
    assert "got bool" in str(info.value)


@pytest.mark.parametrize("field_name", ["n", "dt", "code", "cam", "conf"])
def test_bool_is_not_accepted_where_an_int_is_expected_in_event(field_name: str) -> None:
    payload = raw_batch([raw_event(**{field_name: True})])
    with pytest.raises(WireError) as info:
        decode(topic(Kind.EVENT), payload)
    assert info.value.reason == "field"
    assert info.value.path == f"events[0].{field_name}"


def test_bool_is_not_accepted_for_an_int_field_at_construction() -> None:
    with pytest.raises(WireError) as info:
        Detection(True, 1, 2, 50, (0, 0, 1, 1))
    assert info.value.path == "cam"
    assert "expected an integer, got bool" in str(info.value)


def test_bool_is_not_accepted_where_a_float_is_expected() -> None:
    with pytest.raises(WireError) as info:
        decode(topic(Kind.BIRTH), msgpack.packb([*raw_header(), "fw", HASH, [], True]))
    assert info.value.path == "lat"
    assert "expected a number, got bool" in str(info.value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_latitude_is_rejected_on_decode(value: float) -> None:
    payload = msgpack.packb([*raw_header(), "fw", HASH, [], value, 5.0])
    with pytest.raises(WireError) as info:
        decode(topic(Kind.BIRTH), payload)
    assert info.value.reason == "field"
    assert info.value.path == "lat"
    assert "must be a finite number" in str(info.value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_metric_is_rejected_on_decode(value: float) -> None:
    payload = msgpack.packb([*raw_header(), {"cams": [{"fps": value}]}])
    with pytest.raises(WireError) as info:
        decode(topic(Kind.TELEMETRY), payload)
    assert info.value.reason == "field"
    assert info.value.path == "metrics.cams[0].fps"


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_float_cannot_be_constructed(value: float) -> None:
    with pytest.raises(WireError, match="finite"):
        Birth(hdr(), "fw", HASH, (), value, 0.0)
    with pytest.raises(WireError, match="finite"):
        Command(hdr(dev=HOST), DEV, "c", 1, NOW, "light.dim", {"level": value})


# --------------------------------------------------------------------------------------------
# The encoder cannot emit what the decoder refuses
# --------------------------------------------------------------------------------------------

BAD_CONSTRUCTIONS: list[tuple[str, Callable[[], object], str]] = [
    ("version 2 header", lambda: Header(2, DEV, 0, 0, NOW), "v"),
    ("upper-case device", lambda: Header(1, "Cam-01", 0, 0, NOW), "dev"),
    ("65-char device", lambda: Header(1, "c" * 65, 0, 0, NOW), "dev"),
    ("negative time", lambda: Header(1, DEV, 0, 0, -1), "ts"),
    ("seq above uint64", lambda: Header(1, DEV, 0, UINT64_MAX + 1, NOW), "seq"),
    ("conf 101", lambda: Detection(0, 1, 2, 101, (0, 0, 1, 1)), "conf"),
    ("camera 256", lambda: Detection(256, 1, 2, 50, (0, 0, 1, 1)), "cam"),
    ("box of 5", lambda: Detection(0, 1, 2, 50, (0, 0, 1, 1, 1)), "box"),
    ("box as list", lambda: Detection(0, 1, 2, 50, [0, 0, 1, 1]), "box"),  # type: ignore[arg-type]
    ("event ts above int64", lambda: EventRecord(0, INT64_MAX + 1, detection()), "ts"),
    ("event body not an event", lambda: EventRecord(0, NOW, "detection"), "body"),  # type: ignore[arg-type]
    ("empty batch", lambda: EventBatch(hdr(), BOOT, False, ()), "events"),
    ("1001 events", lambda: EventBatch(hdr(), BOOT, False, (EventRecord(0, NOW, detection()),) * 1001),
     "events"),
    ("historical as int", lambda: EventBatch(hdr(), BOOT, 1, (EventRecord(0, NOW, detection()),)),  # type: ignore[arg-type]
     "historical"),
    ("short config hash", lambda: Birth(hdr(), "fw", "abc", ()), "config_hash"),
    ("latitude -91", lambda: Birth(hdr(), "fw", HASH, (), -91.0), "lat"),
    ("longitude 181", lambda: Birth(hdr(), "fw", HASH, (), 0.0, 181.0), "lon"),
    ("caps as list", lambda: Birth(hdr(), "fw", HASH, ["link"]), "caps"),  # type: ignore[arg-type]
    ("command name upper", lambda: Command(hdr(), DEV, "c", 1, NOW, "Reboot"), "name"),
    ("command id with space", lambda: Command(hdr(), DEV, "c 1", 1, NOW, "reboot"), "cmd_id"),
    ("command target group wildcard", lambda: Command(hdr(), "+", "c", 1, NOW, "reboot"), "target"),
    ("args with int key", lambda: Command(hdr(), DEV, "c", 1, NOW, "x", {1: 2}), "args"),  # type: ignore[dict-item]
    ("args with bytes", lambda: Command(hdr(), DEV, "c", 1, NOW, "x", {"k": b"\x00"}), "args.k"),
    ("ack result", lambda: CommandAck(hdr(), "c", "ok"), "result"),
    ("ack detail too long", lambda: CommandAck(hdr(), "c", "applied", "x" * 513), "detail"),
    ("metrics empty key", lambda: Telemetry(hdr(), {"": 1}), "metrics"),
    ("metric string too long", lambda: Telemetry(hdr(), {"log": "x" * 513}), "metrics.log"),
    ("metric list too long", lambda: Telemetry(hdr(), {"xs": [0] * 1025}), "metrics.xs"),
    ("metric int above uint64", lambda: Telemetry(hdr(), {"x": UINT64_MAX + 1}), "metrics.x"),
    ("metric int below int64", lambda: Telemetry(hdr(), {"x": INT64_MIN - 1}), "metrics.x"),
    ("state online as int", lambda: State(hdr(dev=HOST), 1), "online"),  # type: ignore[arg-type]
    ("unknown event code above 65535", lambda: UnknownEvent(70000, ()), "type_code"),
    ("lone surrogate in firmware", lambda: Birth(hdr(), "fw\ud800", HASH, ()), "firmware"),
    ("lone surrogate in metric", lambda: Telemetry(hdr(), {"name": "\udfff"}), "metrics.name"),
]


@pytest.mark.parametrize(("name", "build", "path"), BAD_CONSTRUCTIONS, ids=[b[0] for b in BAD_CONSTRUCTIONS])
def test_constructing_a_message_with_a_bad_value_raises_wire_error(
    name: str, build: Callable[[], object], path: str
) -> None:
    with pytest.raises(WireError) as info:
        build()
    assert info.value.reason == "field"
    assert info.value.path == path, str(info.value)


def test_encoding_an_oversized_message_raises_size_error() -> None:
    msg = Telemetry(hdr(), {f"m{i}": [100_000] * 1024 for i in range(60)})
    with pytest.raises(WireError) as info:
        encode(msg)
    assert info.value.reason == "size"


def test_extreme_integers_accepted_by_construction_encode_and_decode() -> None:
    msg = Command(hdr(dev=HOST, seq=UINT64_MAX, bd=2**32 - 1, ts=INT64_MAX), DEV, "c", UINT64_MAX,
                  INT64_MAX, "x", {"lo": INT64_MIN, "hi": UINT64_MAX})
    assert roundtrip(msg, topic(Kind.CMD)) == msg
