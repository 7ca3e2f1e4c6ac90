"""The published AsyncAPI document (``docs/asyncapi.yaml``) agrees with ``vigie_wire``.

``vigie_wire`` is the single source of truth of the wire contract; the document is what
integrators read. These tests decode every documented example with the real codec, and
compare every documented payload position with the dataclass field it describes, so that
adding a field, a message type or an event type in code without documenting it fails here.

JSON examples cannot hold bytes: a MessagePack ``bin`` position (a ``bytes`` field) is
documented with ``x-msgpack-bin: true``, ``type: string`` and ``contentEncoding: base64``, and
its examples are base64 text that :func:`to_wire` turns back into bytes before packing (see
"Binary fields" in the document's description).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import math
import re
import types
import typing
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import msgpack
import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

import vigie_wire as wire
from coordinator.broker.acl import integrator_user
from edge_agent.vision.pipeline import CameraPipeline, CameraStats
from edge_agent.vision.source import FrameSource
from vigie_wire.limits import MAX_LIST_ITEMS, MAX_MAP_ITEMS, MAX_TEXT_LEN
from vigie_wire.schema import ID_PATTERN, Record, Rule, record_fields, required_count

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "asyncapi.yaml"
SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
HEADER_TITLES = ["v", "dev", "bd", "seq", "ts"]
EVENT_RECORD_TITLES = ["n", "dt", "code"]
JSON_TYPES: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    bytes: "string",  # MessagePack bin, rendered as base64 text in the JSON examples
    tuple: "array",
    dict: "object",
}
#: QoS and retain flag of each topic kind (what the edge agent and coordinator do).
MQTT_FLAGS: dict[wire.Kind, tuple[int, bool]] = {
    wire.Kind.BIRTH: (1, True),
    wire.Kind.DEATH: (1, True),
    wire.Kind.EVENT: (1, False),
    wire.Kind.TELEMETRY: (0, False),
    wire.Kind.CMD: (1, False),
    wire.Kind.ACK: (1, False),
    wire.Kind.SNAPSHOT: (1, False),
    wire.Kind.STATE: (1, True),
    wire.Kind.DISPATCH: (1, False),
    wire.Kind.STATUS: (1, False),
    wire.Kind.META: (1, True),
}


# -- loading and navigating the document ---------------------------------------------------
@cache
def load_doc() -> dict[str, Any]:
    with DOC_PATH.open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    assert isinstance(doc, dict), f"{DOC_PATH} is not a YAML mapping"
    return doc


def resolve(node: Any) -> Any:
    """Follow local ``$ref``s (``#/components/...``, ``#/channels/...``) to their target."""
    doc = load_doc()
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert isinstance(ref, str) and ref.startswith("#/"), f"only local references are used, got {ref!r}"
        assert ref not in seen, f"circular reference {ref}"
        seen.add(ref)
        target: Any = doc
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            target = target[int(part)] if isinstance(target, list) else target[part]
        node = target
    return node


#: Where the opt-in bridge republishes the contract as keyed JSON: documented beside it, checked in test_bridge.py.
BRIDGE_ROOT = "vigie-json/"


def is_bridge(channel: dict[str, Any]) -> bool:
    return str(channel["address"]).startswith(BRIDGE_ROOT)


def contract_channels() -> dict[str, dict[str, Any]]:
    """The channels of the MessagePack contract (the bridge's JSON channels left out)."""
    return {ch_id: ch for ch_id, ch in load_doc()["channels"].items() if not is_bridge(ch)}


def channel_topic(channel: dict[str, Any], payload: list[Any] | None = None) -> str:
    """The channel's address with each parameter replaced by its first example or, for an example ``payload``,
    by the value the parameter's ``location`` (``$message.payload#/<i>``) points to in it, which must be one of
    the parameter's examples (a light node's event batch goes on the topic of the light node, not the camera).
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        param = resolve(channel["parameters"][name])
        location = param.get("location")
        if payload is None or location is None:
            return str(param["examples"][0])
        found = re.fullmatch(r"\$message\.payload#/(\d+)", location)
        assert found, f"{name}: unexpected location {location!r}"
        chosen = payload[int(found.group(1))]
        assert chosen in param["examples"], f"{name}: {chosen!r} (at {location}) is not one of its examples"
        return str(chosen)

    return re.sub(r"\{([^{}]+)\}", value, channel["address"])


def channel_kind(channel: dict[str, Any]) -> wire.Kind:
    return wire.parse_topic(channel_topic(channel)).kind


def documented_messages() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(channel id, message key, channel, message) for every message of every channel."""
    out = []
    for ch_id, channel in contract_channels().items():
        for key, ref in channel.get("messages", {}).items():
            out.append((ch_id, key, channel, resolve(ref)))
    return out


def documented_examples() -> list[Any]:
    cases = []
    for ch_id, key, channel, message in documented_messages():
        for i, example in enumerate(message.get("examples", [])):
            name = example.get("name", str(i))
            cases.append(pytest.param(channel, message, example, id=f"{ch_id}:{key}:{name}"))
    return cases


def message_cases() -> list[Any]:
    return [
        pytest.param(channel, message, id=f"{ch_id}:{key}") for ch_id, key, channel, message in documented_messages()
    ]


def event_schemas() -> dict[int, dict[str, Any]]:
    """Schemas that document an event type, by their ``x-event-code``."""
    out: dict[int, dict[str, Any]] = {}
    for name, schema in load_doc()["components"]["schemas"].items():
        if "x-event-code" in schema:
            code = schema["x-event-code"]
            assert code not in out, f"two schemas document event code {code} ({name})"
            out[code] = schema
    return out


def positions(schema: dict[str, Any]) -> list[dict[str, Any]]:
    items = schema.get("prefixItems")
    assert isinstance(items, list), f"{schema.get('title')}: expected a tuple schema (prefixItems: [...])"
    assert "additionalItems" not in schema, f"{schema.get('title')}: draft-07 additionalItems in a 2020-12 schema"
    return [resolve(p) for p in items]


def payload_schema(message: dict[str, Any]) -> dict[str, Any]:
    """The payload schema of a message, declared as JSON Schema 2020-12 (a multi-format schema object)."""
    payload = message["payload"]
    assert payload.get("schemaFormat") == SCHEMA_FORMAT, f"{message.get('name')}: schemaFormat not declared"
    return typing.cast(dict[str, Any], resolve(payload["schema"]))


def base64_length(n_bytes: int) -> int:
    """Length of the padded base64 text of ``n_bytes`` bytes."""
    return 4 * math.ceil(n_bytes / 3)


def check_media(data: bytes, media_type: str, where: str) -> None:
    """Bytes documented with a ``contentMediaType`` really are of that type."""
    if media_type == "image/jpeg":
        width, height = jpeg_size(data, where)
        assert width > 0 and height > 0, f"{where}: empty JPEG frame"
    else:
        raise AssertionError(f"{where}: no check for media type {media_type!r}; add one")


def jpeg_size(data: bytes, where: str) -> tuple[int, int]:
    """(width, height) from the start-of-frame segment of a baseline or progressive JPEG."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9", f"{where}: not a JPEG (SOI/EOI missing)"
    i = 2
    while i + 4 <= len(data):
        assert data[i] == 0xFF, f"{where}: broken JPEG marker at byte {i}"
        marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):  # SOF0/1/2: precision, height, width
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        assert marker != 0xDA, f"{where}: JPEG scan before any frame header"
        i += 2 + length
    raise AssertionError(f"{where}: JPEG without a frame header")


def to_wire(value: Any, schema: Any, where: str = "payload") -> Any:
    """The MessagePack value a JSON example stands for.

    Positions documented as MessagePack bin (``x-msgpack-bin: true``) hold canonical base64
    text in the examples; they become bytes here, checked against their ``contentMediaType``.
    Tuple schemas (``items: [...]``) and list schemas (``items: {...}``) are walked; anything
    else is taken as it is (JSON and MessagePack agree on it).
    """
    schema = resolve(schema)
    if not isinstance(schema, dict):
        return value
    if schema.get("x-msgpack-bin"):
        assert isinstance(value, str), f"{where}: a bin position is written as base64 text in examples"
        data = base64.b64decode(value, validate=True)
        assert base64.b64encode(data).decode("ascii") == value, f"{where}: not canonical padded base64"
        if "contentMediaType" in schema:
            check_media(data, schema["contentMediaType"], where)
        return data
    items = schema.get("items")
    prefix = schema.get("prefixItems")
    if isinstance(value, list) and isinstance(prefix, list):
        head = [to_wire(v, s, f"{where}[{i}]") for i, (v, s) in enumerate(zip(value, prefix, strict=False))]
        return head + value[len(prefix) :]
    if isinstance(value, list) and isinstance(items, list):
        head = [to_wire(v, s, f"{where}[{i}]") for i, (v, s) in enumerate(zip(value, items, strict=False))]
        return head + value[len(items) :]
    if isinstance(value, list) and isinstance(items, dict):
        return [to_wire(v, items, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def wire_payload(message: dict[str, Any], example: dict[str, Any]) -> Any:
    return to_wire(example["payload"], payload_schema(message), example.get("name", "example"))


def packed(message: dict[str, Any], example: dict[str, Any]) -> bytes:
    return typing.cast(bytes, msgpack.packb(wire_payload(message, example), use_bin_type=True))


# -- checking one documented position against its dataclass field ------------------------------
def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        rest = [a for a in args if a is not type(None)]
        assert len(rest) == 1, f"unexpected union {hint!r}"
        return rest[0], len(rest) < len(args)
    return hint, False


def _anchored(pattern: str) -> set[str]:
    return {f"^{pattern}$", f"^({pattern})$", f"^(?:{pattern})$"}


def _check_scalar(doc: dict[str, Any], hint: Any, r: Rule, where: str) -> None:
    """Range, length and pattern of a scalar (or of the items of a list field)."""
    assert doc.get("minimum") == r.lo, f"{where}: minimum {doc.get('minimum')} but the code says {r.lo}"
    assert doc.get("maximum") == r.hi, f"{where}: maximum {doc.get('maximum')} but the code says {r.hi}"
    if hint is bytes:
        _check_binary(doc, r, where)
    else:
        for key in ("x-msgpack-bin", "x-max-bytes", "contentEncoding", "contentMediaType"):
            assert key not in doc, f"{where}: {key} on a position the code does not read as binary"
    if hint is str:
        assert doc.get("type") == "string", f"{where}: expected type string"
        if r.max_len is not None:
            assert doc.get("maxLength") == r.max_len, f"{where}: maxLength should be {r.max_len}"
        else:
            assert doc.get("maxLength", MAX_TEXT_LEN + 1) <= MAX_TEXT_LEN, f"{where}: maxLength <= {MAX_TEXT_LEN}"
    if r.pattern is None:
        assert "pattern" not in doc, f"{where}: documents a pattern the code does not enforce"
    else:
        assert doc.get("pattern") in _anchored(r.pattern.pattern), (
            f"{where}: pattern {doc.get('pattern')!r} is not the code's {r.pattern.pattern!r}"
        )
        for value in doc.get("enum", []):
            assert r.pattern.fullmatch(value), f"{where}: enum value {value!r} is refused by the code"


def _check_binary(doc: dict[str, Any], r: Rule, where: str) -> None:
    """A bytes field: MessagePack bin on the wire, base64 text in the JSON rendering."""
    max_bytes = r.max_len if r.max_len is not None else 0  # as vigie_wire.schema checks bytes
    assert doc.get("type") == "string", f"{where}: a bin position is documented as type string (base64)"
    assert doc.get("x-msgpack-bin") is True, f"{where}: a bytes field needs x-msgpack-bin: true"
    assert doc.get("contentEncoding") == "base64", f"{where}: a bytes field needs contentEncoding: base64"
    assert doc.get("x-max-bytes") == max_bytes, f"{where}: x-max-bytes should be {max_bytes}"
    assert doc.get("maxLength") == base64_length(max_bytes), (
        f"{where}: maxLength should be {base64_length(max_bytes)}, the base64 length of {max_bytes} bytes"
    )


def check_position(doc: dict[str, Any], f: dataclasses.Field[Any], hint: Any, where: str) -> None:
    """The documented position ``doc`` describes field ``f`` exactly as the code checks it."""
    r: Rule = f.metadata.get("rule", Rule())
    where = f"{where}.{f.name}"
    assert doc.get("title") == f.name, f"{where}: title {doc.get('title')!r}"
    assert doc.get("description"), f"{where}: no description"
    base, optional = _unwrap_optional(hint)
    origin = typing.get_origin(base) or base
    expected = JSON_TYPES[origin]
    documented = doc.get("type")
    documented_types = documented if isinstance(documented, list) else [documented]
    assert expected in documented_types, f"{where}: type {documented!r}, expected {expected!r}"
    assert ("null" in documented_types) == optional, f"{where}: nil allowed in the doc but not the code, or vice versa"
    if origin is tuple:
        assert doc.get("minItems", 0) == r.min_items, f"{where}: minItems should be {r.min_items}"
        limit = r.max_items if r.max_items is not None else MAX_LIST_ITEMS
        assert doc.get("maxItems") == limit, f"{where}: maxItems should be {limit}"
        (item_hint, _ellipsis) = typing.get_args(base)
        if isinstance(item_hint, type) and issubclass(item_hint, wire.EventRecord):
            return  # documented by EventRecord and the event type schemas
        if typing.get_origin(item_hint) is tuple:  # a list of lists, e.g. [cls, count] pairs
            _check_nested_list(resolve(doc["items"]), item_hint, r, f"{where}[]")
            return
        if "prefixItems" in doc:  # a closed tuple of one type, e.g. a detection box [x, y, w, h]
            prefix = [resolve(p) for p in doc["prefixItems"]]
            assert doc.get("items") is False, f"{where}: a closed tuple says items: false"
            assert len(prefix) == r.min_items == limit, f"{where}: {len(prefix)} positions, the code wants {limit}"
            for i, position in enumerate(prefix):
                assert position.get("title"), f"{where}[{i}]: no title"
                _check_scalar(position, item_hint, r, f"{where}[{i}]")
            return
        _check_scalar(resolve(doc["items"]), item_hint, r, f"{where}[]")
        if isinstance(item_hint, type) and issubclass(item_hint, Record):  # rows, e.g. CountRow
            check_record_schema(resolve(doc["items"]), item_hint, f"{where}[]")
    elif origin is dict:
        assert doc.get("maxProperties") == MAX_MAP_ITEMS, f"{where}: maxProperties should be {MAX_MAP_ITEMS}"
    else:
        _check_scalar(doc, base, r, where)


def _check_nested_list(doc: dict[str, Any], hint: Any, r: Rule, where: str) -> None:
    """The items of a list of lists: the code bounds the inner lists by the generic list limit
    (a record may check a tighter length itself, see the Occupancy test) and applies the
    field's range, length and pattern to the innermost values."""
    assert doc.get("type") == "array", f"{where}: expected type array"
    lo_items, hi_items = doc.get("minItems", 0), doc.get("maxItems")
    assert hi_items is not None, f"{where}: no maxItems"
    assert 0 <= lo_items <= hi_items <= MAX_LIST_ITEMS, f"{where}: items bounds outside 0..{MAX_LIST_ITEMS}"
    (item_hint, _ellipsis) = typing.get_args(hint)
    if "prefixItems" in doc:  # a closed tuple, e.g. [cls, count]: the record checks its length itself
        prefix = [resolve(p) for p in doc["prefixItems"]]
        assert doc.get("items") is False, f"{where}: a closed tuple says items: false"
        assert lo_items == hi_items == len(prefix), f"{where}: minItems and maxItems should be {len(prefix)}"
        for i, position in enumerate(prefix):
            assert position.get("title") and position.get("type") == "integer", f"{where}[{i}]: titled integer"
            # the field's range, or tighter where the record checks more (see the Occupancy test)
            assert r.lo is not None and position["minimum"] >= r.lo, f"{where}[{i}]: minimum below the code's"
            assert position["maximum"] == r.hi, f"{where}[{i}]: maximum {position['maximum']}, the code says {r.hi}"
    elif typing.get_origin(item_hint) is tuple:
        _check_nested_list(resolve(doc["items"]), item_hint, r, f"{where}[]")
    else:
        _check_scalar(resolve(doc["items"]), item_hint, r, f"{where}[]")


def check_record_schema(schema: dict[str, Any], cls: type, where: str) -> None:
    """A nested record (a row inside an event, e.g. CountRow) is documented position by position."""
    assert schema.get("description"), f"{where}: no description"
    assert schema.get("type") == "array", f"{where}: expected type array"
    docs = positions(schema)
    assert [p.get("title") for p in docs] == [f.name for f in dataclasses.fields(cls)], (
        f"{where}: documented positions differ from the {cls.__name__} fields"
    )
    assert schema.get("minItems") == required_count(cls), f"{where}: minItems should be {required_count(cls)}"
    assert schema.get("items") is True, f"{where}: decoders must accept extra trailing elements"
    for doc, (f, hint) in zip(docs, record_fields(cls), strict=True):
        check_position(doc, f, hint, where)


# -- the document as a whole --------------------------------------------------------------
def test_document_is_asyncapi_3_0_0_with_msgpack_payloads() -> None:
    doc = load_doc()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "Vigie wire contract"
    assert doc["info"]["version"] == "1.1.0"  # v1 payloads (schema version 1), document revision 1.1
    assert doc["defaultContentType"] == "application/msgpack"


def test_servers_are_mqtt_5_brokers_in_clear_and_over_tls() -> None:
    servers = load_doc()["servers"]
    assert servers["broker"]["protocol"] == "mqtt"
    assert servers["broker"]["protocolVersion"] == "5"
    assert servers["broker-tls"]["host"].endswith(":8883")
    assert servers["broker-tls"]["protocolVersion"] == "5"


def test_every_channel_parameter_is_described_with_valid_examples() -> None:
    for ch_id, channel in load_doc()["channels"].items():
        names = re.findall(r"\{([^{}]+)\}", channel["address"])
        assert set(names) == set(channel.get("parameters", {})), f"{ch_id}: parameters do not match the address"
        for name in names:
            param = resolve(channel["parameters"][name])
            assert param.get("description"), f"{ch_id}.{name}: no description"
            assert param.get("examples"), f"{ch_id}.{name}: no examples"
            for value in param["examples"]:
                assert ID_PATTERN.fullmatch(value), f"{ch_id}.{name}: example {value!r} is not a valid id"


def test_every_topic_kind_has_a_channel() -> None:
    documented = {channel_kind(ch) for ch in contract_channels().values()}
    missing = set(wire.MESSAGE_TYPES) - documented
    assert not missing, f"topic kinds without a channel: {sorted(missing)}"


def test_group_commands_have_their_own_channel() -> None:
    topics = [wire.parse_topic(channel_topic(ch)) for ch in contract_channels().values()]
    assert any(t.kind is wire.Kind.CMD and t.group is not None for t in topics)
    assert any(t.kind is wire.Kind.CMD and t.device is not None for t in topics)


def test_every_message_type_has_a_documented_message_with_examples() -> None:
    for kind, cls in wire.MESSAGE_TYPES.items():
        messages = [m for _, _, ch, m in documented_messages() if channel_kind(ch) is kind]
        assert messages, f"{cls.__name__} ({kind}) has no documented message"
        assert any(m.get("examples") for m in messages), f"{cls.__name__} has no example"


def test_every_documented_message_is_complete_and_used_by_a_channel() -> None:
    used = {id(m) for _, _, _, m in documented_messages()}
    for name, message in load_doc()["components"]["messages"].items():
        if message.get("contentType") == "application/json":
            continue  # the bridge's keyed copies: test_bridge.py
        assert id(message) in used, f"message {name} is not used by any channel"
        for key in ("name", "title", "summary", "payload", "examples"):
            assert message.get(key), f"message {name} has no {key}"
        assert message["contentType"] == "application/msgpack", name


def test_every_channel_has_an_operation_with_its_qos_and_retain_flag() -> None:
    doc = load_doc()
    operated = set()
    for op_id, op in doc["operations"].items():
        assert op["action"] in ("send", "receive"), op_id
        assert op.get("summary") or op.get("description"), f"{op_id}: not described"
        channel = resolve(op["channel"])
        operated.add(id(channel))
        if is_bridge(channel):
            continue  # JSON copies, flags checked in test_bridge.py
        qos, retain = MQTT_FLAGS[channel_kind(channel)]
        mqtt = op["bindings"]["mqtt"]
        assert (mqtt["qos"], mqtt["retain"]) == (qos, retain), f"{op_id}: expected qos {qos}, retain {retain}"
        for ref in op["messages"]:
            assert any(resolve(ref) is resolve(m) for m in channel["messages"].values()), op_id
    for ch_id, channel in doc["channels"].items():
        assert id(channel) in operated, f"channel {ch_id} has no operation"


# -- examples go through the real codec ------------------------------------------------------
@pytest.mark.parametrize(("channel", "message", "example"), documented_examples())
def test_example_decodes_on_its_topic_and_survives_a_round_trip(
    channel: dict[str, Any], message: Any, example: Any
) -> None:
    topic = channel_topic(channel, example["payload"])
    msg = wire.decode(topic, packed(message, example))
    assert type(msg) is wire.MESSAGE_TYPES[wire.parse_topic(topic).kind]
    again = wire.decode(topic, wire.encode(msg))
    assert again == msg


@pytest.mark.parametrize(("channel", "message", "example"), documented_examples())
def test_example_is_smaller_than_the_payload_limit(channel: dict[str, Any], message: Any, example: Any) -> None:
    assert len(packed(message, example)) < wire.MAX_PAYLOAD_BYTES


@pytest.mark.parametrize("corruption", ["sender-or-target-not-the-topics", "required-field-missing", "version-2"])
@pytest.mark.parametrize(("channel", "message", "example"), documented_examples())
def test_corrupted_example_is_rejected_with_a_wire_error(
    channel: dict[str, Any], message: Any, example: Any, corruption: str
) -> None:
    topic = channel_topic(channel, example["payload"])
    kind = wire.parse_topic(topic).kind
    wire.decode(topic, packed(message, example))  # the uncorrupted example is accepted
    payload = copy.deepcopy(wire_payload(message, example))
    if corruption == "sender-or-target-not-the-topics":
        # cmd and dispatch: the topic names the target (device, group or team), not the sender
        payload[5 if kind in (wire.Kind.CMD, wire.Kind.DISPATCH) else 1] = "someone-else"
    elif corruption == "required-field-missing":
        required = len(HEADER_TITLES) + required_count(wire.MESSAGE_TYPES[kind]) - 1  # header counted once
        payload = payload[: required - 1]
    else:
        payload[0] = 2
    with pytest.raises(wire.WireError):
        wire.decode(topic, msgpack.packb(payload, use_bin_type=True))


def test_event_batch_examples_show_every_event_type_and_a_historical_replay() -> None:
    batches = [
        ex["payload"]
        for _, _, ch, m in documented_messages()
        if channel_kind(ch) is wire.Kind.EVENT
        for ex in m.get("examples", [])
    ]
    codes = {event[2] for batch in batches for event in batch[7]}
    assert set(wire.EVENT_TYPES) <= codes, f"event types without an example: {set(wire.EVENT_TYPES) - codes}"
    assert {batch[6] for batch in batches} == {True, False}, "need a live and a historical batch"


def test_documented_detection_size_is_the_encoded_size() -> None:
    doc = load_doc()
    event_channel = next(ch for ch in contract_channels().values() if channel_kind(ch) is wire.Kind.EVENT)
    message = resolve(next(iter(event_channel["messages"].values())))
    found = re.search(r"`([\w-]+)` example encodes to (\d+) bytes", message["description"])
    assert found, "the EventBatch description should state the size of an example"
    example = next(ex for ex in message["examples"] if ex["name"] == found.group(1))
    assert any(event[2] == wire.Detection.code for event in example["payload"][7])
    size = len(wire.encode(wire.decode(channel_topic(event_channel), packed(message, example))))
    assert int(found.group(2)) == size
    assert re.search(rf"encodes to\s+{size} bytes", doc["info"]["description"]), "info states another size"


def test_binary_positions_are_bin_on_the_wire_and_base64_in_the_examples() -> None:
    """A bin example really packs as bin (not str), and its base64 text is what the decoder refuses."""
    bin_fields = [
        (kind, cls, i)
        for kind, cls in wire.MESSAGE_TYPES.items()
        for i, (f, hint) in enumerate(record_fields(cls))
        if f.name != "header" and _unwrap_optional(hint)[0] is bytes
    ]
    assert bin_fields, "no bytes field left in the code: drop this test and the binary convention"
    for kind, cls, i in bin_fields:
        index = len(HEADER_TITLES) + i - 1  # the header is the first field but spans five positions
        messages = [(ch, m) for _, _, ch, m in documented_messages() if channel_kind(ch) is kind]
        cases = [(ch, m, ex) for ch, m in messages for ex in m.get("examples", [])]
        assert cases, f"{cls.__name__} has no example"
        for channel, message, example in cases:
            payload = wire_payload(message, example)
            assert isinstance(payload[index], bytes), f"{cls.__name__}: position {index} should become bytes"
            assert isinstance(example["payload"][index], str)
            raw = msgpack.packb(payload, use_bin_type=True)
            assert msgpack.unpackb(raw, raw=False)[index] == payload[index]  # bin, not str
            with pytest.raises(wire.WireError):  # the base64 text itself is not the wire form
                wire.decode(channel_topic(channel), msgpack.packb(example["payload"], use_bin_type=True))


def test_snapshot_examples_are_real_jpegs_of_documented_events() -> None:
    snapshots = [(ch, m) for _, _, ch, m in documented_messages() if channel_kind(ch) is wire.Kind.SNAPSHOT]
    batches = [
        ex["payload"]
        for _, _, ch, m in documented_messages()
        if channel_kind(ch) is wire.Kind.EVENT
        for ex in m.get("examples", [])
    ]
    events = {(b[1], b[5], e[0]) for b in batches for e in b[7]}
    for channel, message in snapshots:
        for example in message["examples"]:
            snap = wire.decode(channel_topic(channel), packed(message, example))
            assert isinstance(snap, wire.Snapshot)
            width, height = jpeg_size(snap.jpeg, example["name"])
            assert width > 0 and height > 0
            assert (snap.header.dev, snap.boot, snap.n) in events, "the example should illustrate a documented event"


def test_ack_result_codes_are_the_codes_of_the_code() -> None:
    ack = load_doc()["components"]["schemas"]["CommandAckPayload"]
    result = next(p for p in positions(ack) if p["title"] == "result")
    assert set(result["enum"]) == set(wire.AckResult.ALL)


# -- schemas follow the dataclasses ----------------------------------------------------------
def test_header_schema_is_the_header_dataclass() -> None:
    schema = load_doc()["components"]["schemas"]["Header"]
    assert [f.name for f in dataclasses.fields(wire.Header)] == HEADER_TITLES
    docs = positions(schema)
    assert [p.get("title") for p in docs] == HEADER_TITLES
    assert schema["minItems"] == len(HEADER_TITLES)
    assert schema["items"] is True
    for doc, (f, hint) in zip(docs, record_fields(wire.Header), strict=True):
        check_position(doc, f, hint, "Header")


@pytest.mark.parametrize(("channel", "message"), message_cases())
def test_payload_schema_positions_are_the_dataclass_fields(channel: dict[str, Any], message: Any) -> None:
    cls = wire.MESSAGE_TYPES[channel_kind(channel)]
    schema = payload_schema(message)
    fields = [(f, hint) for f, hint in record_fields(cls) if f.name != "header"]
    assert dataclasses.fields(cls)[0].name == "header"
    docs = positions(schema)
    assert [p.get("title") for p in docs] == HEADER_TITLES + [f.name for f, _ in fields], (
        f"{cls.__name__}: documented positions differ from the dataclass fields"
    )
    assert schema["type"] == "array"
    assert schema["items"] is True, "decoders must accept extra trailing elements"
    assert schema["minItems"] == len(HEADER_TITLES) + required_count(cls) - 1
    for doc, (f, hint) in zip(docs, record_fields(wire.Header) + tuple(fields), strict=True):
        check_position(doc, f, hint, cls.__name__)


def test_event_record_schema_is_number_time_offset_and_code() -> None:
    schema = load_doc()["components"]["schemas"]["EventRecord"]
    docs = positions(schema)
    assert [p.get("title") for p in docs] == EVENT_RECORD_TITLES
    assert schema["minItems"] == 3
    assert schema["items"] is True
    n_field, _ = record_fields(wire.EventRecord)[0]
    assert n_field.name == "n"
    check_position(docs[0], n_field, int, "EventRecord")
    assert (docs[2]["minimum"], docs[2]["maximum"]) == (0, 65535)


def test_every_event_type_has_a_schema_with_its_code() -> None:
    schemas = event_schemas()
    missing = set(wire.EVENT_TYPES) - set(schemas)
    assert not missing, f"event types without a schema (x-event-code): {sorted(missing)}"
    unknown = set(schemas) - set(wire.EVENT_TYPES)
    assert not unknown, f"documented event codes the code does not know: {sorted(unknown)}"
    for code, cls in wire.EVENT_TYPES.items():
        assert schemas[code]["x-event-name"] == cls.wire_name


@pytest.mark.parametrize("code", sorted(wire.EVENT_TYPES))
def test_event_type_schema_positions_are_the_dataclass_fields(code: int) -> None:
    cls = wire.EVENT_TYPES[code]
    schema = event_schemas()[code]
    docs = positions(schema)
    assert [p.get("title") for p in docs] == EVENT_RECORD_TITLES + [f.name for f in dataclasses.fields(cls)], (
        f"{cls.__name__}: documented positions differ from the dataclass fields"
    )
    assert docs[2].get("const") == code
    assert schema["minItems"] == len(EVENT_RECORD_TITLES) + required_count(cls)
    assert schema["items"] is True
    for doc, (f, hint) in zip(docs[3:], record_fields(cls), strict=True):
        check_position(doc, f, hint, cls.__name__)


def test_occupancy_counts_are_documented_as_the_pairs_the_code_accepts() -> None:
    counts = next(p for p in positions(event_schemas()[wire.Occupancy.code]) if p.get("title") == "counts")
    pair = resolve(counts["items"])
    assert (pair.get("minItems"), pair.get("maxItems"), pair.get("items")) == (2, 2, False), "closed [cls, count]"
    cls, count = (resolve(p) for p in pair["prefixItems"])
    assert (cls["title"], count["title"]) == ("cls", "count"), "not 'n', the name of the event number"
    assert (count["minimum"], count["maximum"]) == (1, 65535)
    wire.Occupancy(cam=0, zone="z", counts=((0, 1), (1, 65535)))
    for bad in ((0,), (0, 1, 2), (0, 0), (0, 65536)):
        with pytest.raises(wire.WireError):
            wire.Occupancy(cam=0, zone="z", counts=(bad,))


# -- the document as integrators' tools read it -------------------------------------------------
#: Keywords of JSON Schema 2020-12 (core, applicator, validation, unevaluated, format, content, meta-data).
JSON_SCHEMA_2020_12 = frozenset({
    "$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary", "$comment", "$defs",
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "prefixItems", "items", "contains",
    "properties", "patternProperties", "additionalProperties", "propertyNames", "unevaluatedItems",
    "unevaluatedProperties", "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains",
    "minContains", "maxProperties", "minProperties", "required", "dependentRequired", "format", "contentEncoding",
    "contentMediaType", "contentSchema", "title", "description", "default", "deprecated", "readOnly", "writeOnly",
    "examples",
})
#: Keywords whose value is a schema, a list of schemas or a map of schemas (walked by :func:`schema_nodes`).
_SUBSCHEMA_ONE = ("not", "if", "then", "else", "items", "contains", "additionalProperties", "propertyNames",
                  "unevaluatedItems", "unevaluatedProperties", "contentSchema")
_SUBSCHEMA_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAP = ("properties", "patternProperties", "dependentSchemas", "$defs")


def schema_nodes(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object inside ``node`` (not following references), with its path."""
    if not isinstance(node, dict):
        return
    yield where, node
    for key in _SUBSCHEMA_ONE:
        if key in node:
            yield from schema_nodes(node[key], f"{where}/{key}")
    for key in _SUBSCHEMA_LIST:
        for i, sub in enumerate(node.get(key, [])):
            yield from schema_nodes(sub, f"{where}/{key}/{i}")
    for key in _SUBSCHEMA_MAP:
        for name, sub in node.get(key, {}).items():
            yield from schema_nodes(sub, f"{where}/{key}/{name}")


def registry() -> Registry[Any]:
    resource = Resource.from_contents(load_doc(), default_specification=DRAFT202012)
    return Registry().with_resource("urn:vigie:asyncapi", resource)


def test_every_schema_keyword_is_json_schema_2020_12_or_a_declared_annotation() -> None:
    annotations = set(load_doc()["info"]["x-schema-annotations"])
    assert all(a.startswith("x-") for a in annotations)
    used: set[str] = set()
    for name, schema in load_doc()["components"]["schemas"].items():
        for where, node in schema_nodes(schema, name):
            unknown = set(node) - JSON_SCHEMA_2020_12 - annotations
            assert not unknown, f"{where}: {sorted(unknown)} are neither 2020-12 keywords nor declared annotations"
            assert "additionalItems" not in node and not isinstance(node.get("items"), list), f"{where}: draft-07"
            used |= set(node) & annotations
        Draft202012Validator.check_schema(schema)
    assert used == annotations, f"declared but unused annotations: {annotations - used}"


@pytest.mark.parametrize(("channel", "message", "example"), documented_examples())
def test_example_is_valid_against_its_payload_schema_under_json_schema_2020_12(
    channel: dict[str, Any], message: Any, example: Any
) -> None:
    ref = message["payload"]["schema"]["$ref"]
    validator = Draft202012Validator({"$ref": f"urn:vigie:asyncapi{ref}"}, registry=registry())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(example["payload"])]
    assert not errors, errors


@pytest.mark.parametrize(("channel", "message", "example"), documented_examples())
def test_example_hex_vector_is_its_messagepack_encoding(channel: dict[str, Any], message: Any, example: Any) -> None:
    vector = example.get("x-msgpack-hex")
    refresh = "run .venv/bin/python -m tests.asyncapi_vectors"
    assert isinstance(vector, str) and re.fullmatch(r"(?:[0-9a-f]{2})+", vector), f"no hex vector: {refresh}"
    raw = bytes.fromhex(vector)
    assert raw == packed(message, example), f"stale hex vector: {refresh}"
    assert msgpack.unpackb(raw, raw=False) == wire_payload(message, example)
    wire.decode(channel_topic(channel, example["payload"]), raw)


@pytest.mark.parametrize("whole", [14.0, 0.0])
def test_a_float_is_refused_where_an_integer_is_expected_even_when_whole(whole: float) -> None:
    """JSON Schema's ``integer`` admits 14.0; the wire does not: an integer position takes a MessagePack integer."""
    good = [1, "cam-darcy-01", 3, 16, 1764086460095, True]
    topic = wire.state_topic("cam-darcy-01")
    wire.decode(topic, msgpack.packb(good))
    for i in (2, 3, 4):  # bd, seq, ts
        bad = list(good)
        bad[i] = whole + (14 if i == 4 else 0)
        with pytest.raises(wire.WireError, match="expected an integer, got float"):
            wire.decode(topic, msgpack.packb(bad))


def test_an_integer_is_accepted_where_a_number_is_expected() -> None:
    birth = [1, "cam-darcy-01", 3, 0, 1764086400000, "vigie-edge/0.1.0", "61e761ad", ["link"], 47, 5]
    msg = wire.decode(wire.device_topic("dijon", "cam-darcy-01", wire.Kind.BIRTH), msgpack.packb(birth))
    assert isinstance(msg, wire.Birth) and (msg.lat, msg.lon) == (47.0, 5.0)


def test_a_map_that_repeats_a_key_is_refused() -> None:
    head = b"\x96\x01\xaccam-darcy-01\x03\x00\x00"
    topic = wire.device_topic("dijon", "cam-darcy-01", wire.Kind.TELEMETRY)
    assert isinstance(wire.decode(topic, head + b"\x82\xa1x\x01\xa1y\x02"), wire.Telemetry)
    with pytest.raises(wire.WireError, match="repeats a key"):
        wire.decode(topic, head + b"\x82\xa1x\x01\xa1x\x02")


def test_free_values_nest_eight_levels_in_the_schema_as_in_the_code() -> None:
    validator = Draft202012Validator({"$ref": "urn:vigie:asyncapi#/components/schemas/TelemetryPayload"},
                                     registry=registry())
    header = [1, "cam-darcy-01", 3, 14, 1764086460000]

    def nested(levels: int) -> Any:
        value: Any = 1
        for _ in range(levels):
            value = [value]
        return value

    for levels in (7, 8):  # the top map's value is at depth 1; 7 lists put the 1 at depth 8
        ok = {"x": nested(levels)}
        fits = levels <= 7
        assert validator.is_valid([*header, ok]) is fits, levels
        telemetry = wire.Telemetry(wire.Header(*header), {}) if fits else None
        if fits:
            assert wire.Telemetry(telemetry.header, ok).metrics == ok  # type: ignore[union-attr]
        else:
            with pytest.raises(wire.WireError, match="nested deeper"):
                wire.Telemetry(wire.Header(*header), ok)


# -- prose the code must keep true ----------------------------------------------------------
REPO = DOC_PATH.parents[1]


def test_the_documented_class_list_is_the_shipped_models() -> None:
    manifest = json.loads((REPO / "models" / "nanodet-g-416.manifest.json").read_text(encoding="utf-8"))
    text = load_doc()["info"]["description"]
    block = text[text.index("`model:nanodet-g-416`") : text.index("A box reports only the classes")]
    documented = [(int(i), name) for i, name in re.findall(r"(\d+) `(\w+)`", block)]
    assert documented == list(enumerate(manifest["class_names"]))


def test_the_documented_camera_metrics_are_what_a_camera_reports() -> None:
    with FrameSource(str(REPO / "tests" / "data" / "vtest_excerpt.avi")) as source:
        keys = {f"cam.0.{k}" for k in source.health()}
    keys |= set(CameraPipeline.health(types.SimpleNamespace(stats=CameraStats(), cam=0)))  # type: ignore[arg-type]
    keys |= {"cam.0.events_emitted", "cam.0.process_alive", "cam.0.process_restarts"}  # edge_agent/vision/process.py
    telemetry = resolve(load_doc()["components"]["messages"]["Telemetry"])["description"]
    documented = {name.replace("<i>", "0") for name in re.findall(r"^\| `(cam\.<i>\.[\w.]+)` \|", telemetry, re.M)}
    assert documented == keys


def test_the_documented_integrator_topics_are_the_acl_of_the_integrator_account() -> None:
    text = load_doc()["info"]["description"]
    section = text[text.index("**Your account.**") : text.index("**Do not lose events")]
    documented = re.findall(r"^\* `([^`]+)`$", section, re.MULTILINE)
    user = integrator_user("opendata")
    assert sorted(documented) == sorted(user.read) and not user.write
