"""Gap and duplicate rules of numbered streams, and the decoding checks ingest adds to the wire contract."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import vigie_wire as wire
from coordinator.ingest import decode as dec
from coordinator.ingest.sequences import Gap, advance, fill, split_new
from tests.ingest_helpers import birth, event_batch, topic_of


def test_advance_opens_a_gap_for_each_skip() -> None:
    a = advance(-1, [0, 1, 4, 9])
    assert (a.last, a.gaps, a.late, a.missing) == (9, [Gap(2, 3), Gap(5, 8)], [], 6)


def test_numbers_at_or_below_the_front_are_late() -> None:
    assert advance(5, [3, 6]).late == [3]


def test_split_new_counts_repeats_within_a_batch() -> None:
    assert split_new([1, 2, 2, 3, 1]) == ([1, 2, 3], 2)


def test_fill_shrinks_splits_and_closes_holes() -> None:
    f = fill([(7, Gap(2, 6))], [2, 4, 9])
    assert f.changed == {7: Gap(3, 3)} and f.added == [(7, Gap(5, 6))]
    assert f.filled == [2, 4] and f.unmatched == [9]
    assert fill([(1, Gap(3, 3))], [3]).changed == {1: None}


@given(st.sets(st.integers(0, 60), max_size=40), st.sets(st.integers(0, 60), max_size=40))
def test_holes_are_exactly_the_numbers_never_received(first: set[int], later: set[int]) -> None:
    """Whatever the arrival order across two batches, holes + received = 0..front."""
    a = advance(-1, first)
    holes = list(enumerate(a.gaps))
    b = advance(a.last, later - first)
    f = fill(holes, b.late)
    result = {hid: g for hid, g in holes}
    for hid, g in f.changed.items():
        if g is None:
            del result[hid]
        else:
            result[hid] = g
    pieces = list(result.values()) + [g for _h, g in f.added] + b.gaps
    missing = {n for g in pieces for n in range(g.first, g.last + 1)}
    received = first | later
    assert missing == set(range(b.last + 1)) - received
    assert f.unmatched == []  # numbers new to the stream always fall in a hole or beyond the front


def test_decode_rejects_with_the_wire_reason() -> None:
    msg = event_batch("cam-1", 1, 1, boot=0, ns=[0])
    topic = topic_of("dijon", msg)
    assert dec.decode(topic, b"\xc1garbage").reason == "msgpack"  # type: ignore[union-attr]
    other = wire.device_topic("dijon", "cam-2", wire.Kind.EVENT)
    assert dec.decode(other, wire.encode(msg)).reason == "mismatch"  # type: ignore[union-attr]
    assert dec.decode("vigie/v1/dijon/cam-1/nonsense", b"").reason == "topic"  # type: ignore[union-attr]
    assert dec.decode(topic_of("dijon", birth("cam-1", 1)), b"", True).reason == "cleared"  # type: ignore[union-attr]


def test_authorise_needs_the_registered_site() -> None:
    assert dec.authorise("dijon", None) == "unknown_device"
    assert dec.authorise("talant", "dijon") == "wrong_site"
    assert dec.authorise("dijon", "dijon") is None


def test_event_rows_name_their_target_and_keep_unknown_types() -> None:
    recs = (wire.EventRecord(0, 5, wire.LineCrossing(cam=1, line="l1", track=3, cls=2, inbound=True)),
            wire.EventRecord(1, 6, wire.UnknownEvent(500, (b"\x01", 1.5))))
    rows = dec.event_rows("dijon", wire.EventBatch(wire.Header(1, "cam-1", 1, 1, 5), 2, False, recs), 99)
    assert (rows[0]["type"], rows[0]["target"], rows[0]["cam"], rows[0]["track"]) == ("line_crossing", "l1", 1, 3)
    assert rows[1]["type"] == "unknown" and rows[1]["body"] == {"type_code": 500, "fields": ["01", 1.5]}
