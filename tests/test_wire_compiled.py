"""The compiled decoder agrees with the reference walk on every payload, valid or not.

``decode_payload`` builds records with per-class functions generated from the field rules and
defers to the generic walk (``decode_payload_reference``) whenever they decline. The property:
for any payload both give the same message (same classes, same values, same Python types:
``1`` and ``1.0`` differ) or the same ``WireError`` (reason, path and text). Payloads are
valid messages of every kind and event type, then the same with one value replaced by an
awkward one (booleans for integers, out-of-range numbers, NaN, long or non-matching strings,
wrong containers), truncated or extended.
"""

from __future__ import annotations

import re
import typing
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vigie_wire as wire
from tests.test_wire_fuzz import TOPICS, messages
from vigie_wire import EVENT_TYPES, Kind, WireError, codec
from vigie_wire.compiled import builder
from vigie_wire.limits import INT64_MAX, INT64_MIN, UINT32_MAX, UINT64_MAX
from vigie_wire.schema import Record, _is_optional, _rule_of, record_fields

AGREE = settings(max_examples=400, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def outcome(fn: Any, kind: Kind, payload: bytes) -> tuple[Any, ...]:
    try:
        msg = fn(kind, payload)
    except WireError as exc:
        return ("error", exc.reason, exc.path, str(exc))
    return ("message", repr(msg), msg)


def assert_agree(kind: Kind, payload: bytes) -> tuple[Any, ...]:
    fast = outcome(codec.decode_payload, kind, payload)
    ref = outcome(codec.decode_payload_reference, kind, payload)
    assert fast == ref
    return fast


# -- valid values from the rules, so that every event type is reached ------------------------

def _values(hint: Any, rule: Any) -> st.SearchStrategy[Any]:
    optional, hint = _is_optional(hint)
    out: st.SearchStrategy[Any]
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        lo_items = rule.min_items
        hi_items = min(rule.max_items if rule.max_items is not None else 6, 6)
        if isinstance(item, type) and issubclass(item, Record):
            out = st.lists(_raw_record(item), min_size=lo_items, max_size=max(lo_items, hi_items))
        elif typing.get_origin(item) is tuple:  # Occupancy's [cls, n] pairs
            out = st.lists(st.lists(st.integers(0, 3), min_size=2, max_size=2), max_size=3)
        else:
            out = st.lists(_values(item, rule), min_size=lo_items, max_size=max(lo_items, hi_items))
    elif hint is bool:
        out = st.booleans()
    elif hint is int:
        lo = int(rule.lo) if rule.lo is not None else INT64_MIN
        hi = int(rule.hi) if rule.hi is not None else UINT64_MAX
        out = st.integers(lo, hi) | st.sampled_from([lo, hi])
    elif hint is float:
        out = st.floats(rule.lo, rule.hi, allow_nan=False) | st.integers(int(rule.lo or -5), int(rule.hi or 5))
    elif hint is str:
        if rule.pattern is not None:
            out = st.from_regex(rule.pattern, fullmatch=True)
        else:
            out = st.text(max_size=min(rule.max_len or 40, 40))
    elif hint is bytes:
        out = st.binary(max_size=16)
    else:
        out = st.dictionaries(st.text(min_size=1, max_size=8), st.integers(0, 9), max_size=3)
    return out | st.none() if optional else out


def _raw_record(cls: type) -> st.SearchStrategy[list[Any]]:
    return st.tuples(*[_values(hint, _rule_of(f)) for f, hint in record_fields(cls)]).map(list)


@st.composite
def raw_events(draw: st.DrawFn) -> list[Any]:
    code = draw(st.sampled_from([*sorted(EVENT_TYPES), 40_000]))
    cls = EVENT_TYPES.get(code)
    fields = draw(_raw_record(cls)) if cls else draw(st.lists(st.integers(0, 9), max_size=3))
    if cls and draw(st.booleans()):  # trailing defaults left out, or extra trailing items sent
        fields = fields[: len(fields) - 1] if draw(st.booleans()) else [*fields, 7]
    return [draw(st.integers(0, UINT64_MAX)), draw(st.integers(-1000, 1000)), code, *fields]


@st.composite
def raw_batches(draw: st.DrawFn) -> list[Any]:
    header = [1, "cam-1", draw(st.integers(0, UINT32_MAX)), draw(st.integers(0, UINT64_MAX)),
              draw(st.integers(1000, INT64_MAX - 1000))]
    return [*header, draw(st.integers(0, UINT32_MAX)), draw(st.booleans()),
            draw(st.lists(raw_events(), min_size=1, max_size=6))]


# -- mutations ----------------------------------------------------------------------------

AWKWARD = st.sampled_from([
    None, True, False, -1, 0, 1, 255, 256, 1000, 1001, 65536, UINT32_MAX + 1, INT64_MAX, INT64_MAX + 1,
    UINT64_MAX, INT64_MIN, 0.5, -0.0, 1e300, float("nan"), float("inf"), "", "A", "zone-1", "x" * 65,
    "x" * 513, "lampFailure", "é", [], [1], [0, 0, 1, 1], [0, 0, 1, 1, 1], {}, {"a": 1}, b"\x00",
]) | st.integers(INT64_MIN, UINT64_MAX) | st.text(max_size=12)


def _paths(value: Any, prefix: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    out = [prefix]
    if isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(value: Any, path: tuple[int, ...], new: Any) -> Any:
    if not path:
        return new
    copy = list(value)
    copy[path[0]] = _replace(copy[path[0]], path[1:], new)
    return copy


@st.composite
def mutated(draw: st.DrawFn, raw: list[Any]) -> list[Any]:
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(_paths(raw)[1:]))  # the first change may reshape the list
        how = draw(st.sampled_from(["replace", "replace", "truncate", "extend"]))
        target: Any = raw
        for i in path:
            target = target[i]
        if how == "truncate" and isinstance(target, list):
            raw = _replace(raw, path, target[: draw(st.integers(0, max(0, len(target) - 1)))])
        elif how == "extend" and isinstance(target, list):
            raw = _replace(raw, path, [*target, draw(AWKWARD)])
        else:
            raw = _replace(raw, path, draw(AWKWARD))
    return raw


# -- properties -----------------------------------------------------------------------------

@AGREE
@given(batch=raw_batches())
def test_valid_batches_of_every_event_type_decode_alike(batch: list[Any]) -> None:
    assert_agree(Kind.EVENT, msgpack.packb(batch))


@AGREE
@given(data=st.data())
def test_batches_with_awkward_values_decode_or_fail_alike(data: st.DataObject) -> None:
    batch = data.draw(mutated(data.draw(raw_batches())))
    assert_agree(Kind.EVENT, msgpack.packb(batch, use_bin_type=True))


@AGREE
@given(msg=messages())
def test_valid_messages_of_every_kind_decode_alike(msg: tuple[str, Any]) -> None:
    topic, message = msg
    kind = wire.parse_topic(topic).kind
    got = assert_agree(kind, wire.encode(message))
    assert got[0] == "message"
    assert got[2] == message


@AGREE
@given(data=st.data())
def test_messages_with_awkward_values_decode_or_fail_alike(data: st.DataObject) -> None:
    topic, message = data.draw(messages())
    raw = msgpack.unpackb(wire.encode(message), raw=False)
    payload = msgpack.packb(data.draw(mutated(raw)), use_bin_type=True)
    assert_agree(wire.parse_topic(topic).kind, payload)


@pytest.mark.parametrize("kind", sorted(set(TOPICS.values())))
def test_every_message_kind_but_batches_has_a_compiled_builder(kind: Kind) -> None:
    # Batches have their own loop in the codec; every other kind goes through a builder, so
    # the properties above exercise the fast path and not only the fallback.
    cls = wire.MESSAGE_TYPES[kind]
    assert (builder(cls, 4, flat_header=True) is None) == (kind is Kind.EVENT)


def test_event_types_with_checks_of_their_own_take_the_reference_path() -> None:
    # Occupancy checks its pairs in __post_init__ and IntervalCounts nests records: the rules
    # alone do not say everything, so no builder is compiled for them.
    compiled = {cls.__name__ for cls in EVENT_TYPES.values() if builder(cls, 3) is not None}
    assert compiled == {cls.__name__ for cls in EVENT_TYPES.values()} - {"Occupancy", "IntervalCounts"}


def test_a_bad_event_in_a_long_batch_gets_the_reference_error() -> None:
    events = [[i, 0, 1, 0, 1, 0, 84, [1, 2, 3, 4]] for i in range(500)]
    events[321][7] = [1, 2, 3, 1001]
    payload = msgpack.packb([1, "cam-1", 0, 1, 1_790_000_000_000, 0, False, events])
    got = assert_agree(Kind.EVENT, payload)
    assert got[:3] == ("error", "field", "events[321].box[3]")
    assert re.search("1001 is above 1000", got[3])
