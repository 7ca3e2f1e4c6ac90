"""The durable outbox, on real SQLite files: order, bounds, counters, and crash survival."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import vigie_wire as wire
from edge_agent.errors import OutboxError
from edge_agent.link.outbox import NewEvent, Outbox, Row

REPO = Path(__file__).resolve().parents[1]


def ev(n: int, ts: int | None = None) -> NewEvent:
    items, blob = wire.pack_event(wire.Detection(0, n, 2, 80, (100, 200, 30, 60)))
    return NewEvent(n, 1_700_000_000_000 + n if ts is None else ts, items, blob)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "box" / "outbox.sqlite3"


@pytest.fixture
def box(path: Path) -> Iterator[Outbox]:
    ob = Outbox(path)
    yield ob
    ob.close()


def ns(rows: list[Row]) -> list[int]:
    return [r.n for r in rows]


# -- append / read ----------------------------------------------------------------------------


def test_append_then_read_returns_events_in_insertion_order(box: Outbox) -> None:
    box.append(7, [ev(0), ev(1), ev(2)], historical=False)
    box.append(7, [ev(3)], historical=True)
    rows = box.read(0, 100)
    assert ns(rows) == [0, 1, 2, 3]
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    assert all(r.boot == 7 for r in rows)
    assert [r.hist for r in rows] == [False, False, False, True]
    assert len(box) == 4


def test_append_returns_the_rows_as_stored(box: Outbox) -> None:
    box.append(1, [ev(0)], historical=False)
    single = box.append(2, [ev(1)], historical=True)
    several = box.append(3, [ev(2), ev(3)], historical=False)
    assert [*single, *several] == box.read(box.read(0, 1)[0].id, 10)


def test_one_event_at_a_time_over_the_bound_drops_the_oldest(path: Path) -> None:
    ob = Outbox(path, max_events=2)
    for i in range(5):
        ob.append(1, [ev(i)], historical=False)
    assert ns(ob.read(0, 100)) == [3, 4]
    assert len(ob) == 2
    assert ob.dropped_total == 3
    ob.close()


def test_row_keeps_time_item_count_and_packed_body(box: Outbox) -> None:
    e = ev(42, ts=1_717_000_000_123)
    box.append(9, [e], historical=False)
    (row,) = box.read(0, 10)
    assert (row.n, row.ts, row.items, row.blob) == (42, 1_717_000_000_123, e.items, e.blob)
    assert isinstance(row.blob, bytes)


def test_read_pages_after_an_id_with_a_limit(box: Outbox) -> None:
    box.append(1, [ev(i) for i in range(10)], historical=False)
    first = box.read(0, 4)
    second = box.read(first[-1].id, 4)
    rest = box.read(second[-1].id, 100)
    assert ns(first) == [0, 1, 2, 3]
    assert ns(second) == [4, 5, 6, 7]
    assert ns(rest) == [8, 9]
    assert box.read(rest[-1].id, 100) == []


def test_stored_rows_encode_into_a_decodable_batch(box: Outbox) -> None:
    box.append(5, [ev(0), ev(1)], historical=False)
    rows = box.read(0, 10)
    header = wire.Header(1, "cam-darcy-01", 0, 1, 1_700_000_000_500)
    payload = wire.encode_batch(header, 5, True, [wire.PackedEvent(r.n, r.ts, r.items, r.blob) for r in rows])
    msg = wire.decode(wire.device_topic("dijon", "cam-darcy-01", wire.Kind.EVENT), payload)
    assert isinstance(msg, wire.EventBatch)
    assert [r.n for r in msg.events] == [0, 1]
    assert [r.ts for r in msg.events] == [rows[0].ts, rows[1].ts]
    assert msg.events[1].body == wire.Detection(0, 1, 2, 80, (100, 200, 30, 60))


def test_append_of_an_empty_list_is_a_no_op(box: Outbox) -> None:
    box.append(1, [ev(0)], historical=False)
    assert not box.append(1, [], historical=False)
    assert len(box) == 1
    assert ns(box.read(0, 10)) == [0]
    assert box.dropped_total == 0


# -- delete ----------------------------------------------------------------------------------


def test_delete_removes_only_the_acknowledged_ids(box: Outbox) -> None:
    box.append(1, [ev(i) for i in range(5)], historical=False)
    ids = [r.id for r in box.read(0, 10)]
    box.delete([ids[1], ids[3]])
    assert ns(box.read(0, 10)) == [0, 2, 4]
    assert len(box) == 3


def test_delete_ignores_unknown_and_already_deleted_ids(box: Outbox) -> None:
    box.append(1, [ev(0), ev(1)], historical=False)
    ids = [r.id for r in box.read(0, 10)]
    box.delete([ids[0]])
    box.delete([ids[0], 9999, -1])
    assert ns(box.read(0, 10)) == [1]
    assert len(box) == 1


def test_delete_of_nothing_changes_nothing(box: Outbox) -> None:
    box.append(1, [ev(0)], historical=False)
    box.delete([])
    assert len(box) == 1


# -- bound ------------------------------------------------------------------------------------


def test_full_outbox_drops_the_oldest_rows_and_counts_them(path: Path) -> None:
    ob = Outbox(path, max_events=5)
    ob.append(1, [ev(i) for i in range(4)], historical=False)
    assert ob.dropped_total == 0
    ob.append(1, [ev(4), ev(5), ev(6)], historical=False)
    assert ns(ob.read(0, 100)) == [2, 3, 4, 5, 6]
    assert len(ob) == 5
    assert ob.dropped_total == 2
    ob.close()


def test_a_batch_larger_than_the_bound_keeps_its_newest_events(path: Path) -> None:
    ob = Outbox(path, max_events=3)
    ob.append(1, [ev(i) for i in range(8)], historical=False)
    assert ns(ob.read(0, 100)) == [5, 6, 7]
    assert ob.dropped_total == 5
    ob.close()


def test_dropped_counter_survives_reopening(path: Path) -> None:
    ob = Outbox(path, max_events=2)
    ob.append(1, [ev(i) for i in range(5)], historical=False)
    ob.close()
    ob = Outbox(path, max_events=2)
    assert ob.dropped_total == 3
    assert len(ob) == 2
    ob.append(2, [ev(10)], historical=False)
    assert ob.dropped_total == 4
    ob.close()
    assert Outbox(path, max_events=2).dropped_total == 4


@pytest.mark.parametrize("bad", [0, -1])
def test_max_events_below_one_raises_outbox_error(path: Path, bad: int) -> None:
    with pytest.raises(OutboxError, match=f"max_events must be >= 1, got {bad}"):
        Outbox(path, max_events=bad)


def test_unopenable_path_raises_outbox_error(tmp_path: Path) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    with pytest.raises(OutboxError, match="cannot open outbox"):
        Outbox(directory)


# -- reject -----------------------------------------------------------------------------------


def test_reject_moves_rows_to_the_rejected_table_and_counts_them(box: Outbox, path: Path) -> None:
    box.append(3, [ev(i) for i in range(4)], historical=False)
    ids = [r.id for r in box.read(0, 10)]
    box.reject([ids[0], ids[2], 12345], "not authorized")
    assert ns(box.read(0, 10)) == [1, 3]
    assert len(box) == 2
    assert box.rejected_total == 2
    with sqlite3.connect(path) as db:
        rejected = db.execute("SELECT id, boot, n, reason FROM rejected ORDER BY id").fetchall()
    assert rejected == [(ids[0], 3, 0, "not authorized"), (ids[2], 3, 2, "not authorized")]


def test_rejected_counter_accumulates_and_survives_reopening(path: Path) -> None:
    ob = Outbox(path)
    ob.append(1, [ev(i) for i in range(3)], historical=False)
    ids = [r.id for r in ob.read(0, 10)]
    ob.reject([ids[0]], "quota")
    ob.reject([ids[1], ids[2]], "payload too large")
    ob.reject([], "nothing")
    ob.close()
    ob = Outbox(path)
    assert ob.rejected_total == 3
    assert len(ob) == 0
    ob.close()


# -- boot and bdSeq ---------------------------------------------------------------------------


def test_next_boot_is_seeded_from_the_clock_on_a_fresh_file(box: Outbox) -> None:
    before = int(time.time())
    boot = box.next_boot()
    assert before <= boot <= int(time.time())


def test_next_boot_strictly_increases_across_reopenings(path: Path) -> None:
    boots = []
    for _ in range(4):
        ob = Outbox(path)
        boots.append(ob.next_boot())
        boots.append(ob.next_boot())
        ob.close()
    assert boots == sorted(set(boots))  # strictly increasing, even within the same second


def test_next_boot_never_goes_back_when_the_stored_value_is_ahead_of_the_clock(path: Path) -> None:
    ob = Outbox(path)
    ob.next_boot()
    ob.close()
    future = int(time.time()) + 86_400
    with sqlite3.connect(path) as db:  # e.g. the clock was wrong at a previous start
        db.execute("UPDATE meta SET value = ? WHERE key = 'boot'", (future,))
    ob = Outbox(path)
    assert ob.next_boot() == future + 1
    ob.close()


def test_next_bdseq_starts_at_zero_increases_and_persists(path: Path) -> None:
    ob = Outbox(path)
    assert [ob.next_bdseq(), ob.next_bdseq()] == [0, 1]
    ob.close()
    ob = Outbox(path)
    assert ob.next_bdseq() == 2
    ob.close()


def test_boot_and_bdseq_are_independent_counters(box: Outbox) -> None:
    boot = box.next_boot()
    assert box.next_bdseq() == 0
    assert box.next_boot() == boot + 1
    assert box.next_bdseq() == 1


# -- historical -------------------------------------------------------------------------------


def test_mark_all_historical_flags_every_pending_row(path: Path) -> None:
    ob = Outbox(path)
    ob.append(1, [ev(0), ev(1)], historical=False)
    ob.append(1, [ev(2)], historical=True)
    ob.close()
    ob = Outbox(path)
    assert ob.mark_all_historical() == 2
    assert [r.hist for r in ob.read(0, 10)] == [True, True, True]
    assert ob.mark_all_historical() == 0
    ob.close()


def test_rows_appended_after_marking_are_live(box: Outbox) -> None:
    box.append(1, [ev(0)], historical=False)
    box.mark_all_historical()
    box.append(2, [ev(1)], historical=False)
    assert [r.hist for r in box.read(0, 10)] == [True, False]


# -- durability -------------------------------------------------------------------------------


def test_rows_survive_closing_and_reopening(path: Path) -> None:
    ob = Outbox(path)
    ob.append(11, [ev(0), ev(1), ev(2)], historical=False)
    acked = ob.read(0, 1)[0].id
    ob.delete([acked])
    ob.close()
    ob = Outbox(path)
    rows = ob.read(0, 10)
    assert ns(rows) == [1, 2]
    assert len(ob) == 2
    assert rows[0].blob == ev(1).blob
    ob.close()


def test_ids_are_never_reused_after_the_newest_row_is_deleted(path: Path) -> None:
    ob = Outbox(path)
    ob.append(1, [ev(0), ev(1)], historical=False)
    last = ob.read(0, 10)[-1].id
    ob.delete([last])
    ob.close()
    ob = Outbox(path)
    ob.append(1, [ev(2)], historical=False)
    assert ob.read(0, 10)[-1].id > last  # a sender resuming after ``last`` would see it
    ob.close()


CHILD = textwrap.dedent(
    """
    import sys, time
    from edge_agent.link.outbox import NewEvent, Outbox
    ob = Outbox(sys.argv[1])
    boot = ob.next_boot()
    ob.append(boot, [NewEvent(n, 1_700_000_000_000 + n, 1, bytes([n])) for n in range(50)], False)
    ob.append(boot, [NewEvent(50, 1_700_000_000_050, 1, b"last")], True)
    print(boot, flush=True)
    time.sleep(60)
    """
)


def test_rows_appended_by_a_killed_process_are_found_after_reopening(path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        child.send_signal(signal.SIGKILL)  # no close(), no checkpoint: what a crash leaves
    finally:
        child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    boot = int(line)
    ob = Outbox(path)
    rows = ob.read(0, 100)
    assert len(ob) == 51
    assert ns(rows) == list(range(51))
    assert {r.boot for r in rows} == {boot}
    assert rows[-1].blob == b"last"
    assert rows[-1].hist is True
    assert ob.next_boot() > boot
    ob.close()
