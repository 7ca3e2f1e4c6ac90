"""The durable outbox, on real SQLite files: order, bounds, counters, crash survival, several writers."""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.synchronize
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import vigie_wire as wire
from edge_agent.errors import OutboxError
from edge_agent.link.outbox import NewEvent, Outbox, OutboxWriter, Row, StaleBootError

REPO = Path(__file__).resolve().parents[1]
T0 = 1_700_000_000_000


def ev(k: int, ts: int | None = None) -> NewEvent:
    """An event told apart by ``k``: its track id, and its time unless ``ts`` is given."""
    items, blob = wire.pack_event(wire.Detection(0, k, 2, 80, (100, 200, 30, 60)))
    return NewEvent(T0 + k if ts is None else ts, items, blob)


def ks(rows: list[Row]) -> list[int]:
    """The ``k`` of :func:`ev` of each row (default times only)."""
    return [r.ts - T0 for r in rows]


def ns(rows: list[Row]) -> list[int]:
    return [r.n for r in rows]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "box" / "outbox.sqlite3"


@pytest.fixture
def box(path: Path) -> Iterator[Outbox]:
    ob = Outbox(path)
    yield ob
    ob.close()


# -- append / read ----------------------------------------------------------------------------


def test_append_then_read_returns_events_in_insertion_order(box: Outbox) -> None:
    boot = box.next_boot()
    box.append(boot, [ev(0), ev(1), ev(2)], historical=False)
    box.append(boot, [ev(3)], historical=True)
    rows = box.read(0, 100)
    assert ks(rows) == [0, 1, 2, 3]
    assert ns(rows) == [0, 1, 2, 3]
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    assert all(r.boot == boot for r in rows)
    assert [r.hist for r in rows][3] is True
    assert len(box) == 4


def test_append_returns_the_rows_as_stored(box: Outbox) -> None:
    boot = box.next_boot()
    box.append(boot, [ev(0)], historical=False)
    single = box.append(boot, [ev(1)], historical=True)
    several = box.append(boot, [ev(2), ev(3)], historical=False)
    assert [*single, *several] == box.read(box.read(0, 1)[0].id, 10)


def test_rows_are_historical_until_the_link_says_it_is_live(box: Outbox) -> None:
    boot = box.next_boot()
    box.append(boot, [ev(0)])
    box.set_live(boot, True)
    box.append(boot, [ev(1), ev(2)])
    box.append(boot, [ev(3)], historical=True)  # a producer may still say so itself
    box.set_live(boot, False)
    box.append(boot, [ev(4)])
    assert [r.hist for r in box.read(0, 10)] == [True, False, False, True, True]


def test_row_keeps_time_item_count_and_packed_body(box: Outbox) -> None:
    boot = box.next_boot()
    e = ev(42, ts=1_717_000_000_123)
    box.append(boot, [e], historical=False)
    (row,) = box.read(0, 10)
    assert (row.n, row.ts, row.items, row.blob) == (0, 1_717_000_000_123, e.items, e.blob)
    assert isinstance(row.blob, bytes)


def test_read_pages_after_an_id_with_a_limit(box: Outbox) -> None:
    boot = box.next_boot()
    box.append(boot, [ev(i) for i in range(10)], historical=False)
    first = box.read(0, 4)
    second = box.read(first[-1].id, 4)
    rest = box.read(second[-1].id, 100)
    assert ns(first) == [0, 1, 2, 3]
    assert ns(second) == [4, 5, 6, 7]
    assert ns(rest) == [8, 9]
    assert box.read(rest[-1].id, 100) == []


def test_stored_rows_encode_into_a_decodable_batch(box: Outbox) -> None:
    boot = box.next_boot()
    box.append(boot, [ev(0), ev(1)], historical=False)
    rows = box.read(0, 10)
    header = wire.Header(1, "cam-darcy-01", 0, 1, 1_700_000_000_500)
    payload = wire.encode_batch(header, boot, True, [wire.PackedEvent(r.n, r.ts, r.items, r.blob) for r in rows])
    msg = wire.decode(wire.device_topic("dijon", "cam-darcy-01", wire.Kind.EVENT), payload)
    assert isinstance(msg, wire.EventBatch)
    assert [r.n for r in msg.events] == [0, 1]
    assert [r.ts for r in msg.events] == [rows[0].ts, rows[1].ts]
    assert msg.events[1].body == wire.Detection(0, 1, 2, 80, (100, 200, 30, 60))


def test_append_of_an_empty_list_is_a_no_op(box: Outbox) -> None:
    boot = box.next_boot()
    box.append(boot, [ev(0)], historical=False)
    assert not box.append(boot, [], historical=False)
    assert len(box) == 1
    assert ns(box.read(0, 10)) == [0]
    assert box.dropped_total == 0


# -- event numbers and boots ------------------------------------------------------------------


def test_each_boot_numbers_its_events_from_zero_and_old_rows_keep_their_numbers(path: Path) -> None:
    ob = Outbox(path)
    first = ob.next_boot()
    ob.append(first, [ev(0), ev(1)])
    ob.close()
    ob = Outbox(path)
    second = ob.next_boot()
    ob.append(second, [ev(2)])
    ob.append(second, [ev(3), ev(4)])
    rows = ob.read(0, 10)
    assert [(r.boot, r.n) for r in rows] == [(first, 0), (first, 1), (second, 0), (second, 1), (second, 2)]
    ob.delete([rows[0].id])
    assert (ob.read(0, 1)[0].boot, ob.read(0, 1)[0].n) == (first, 1), "n is stable whatever is deleted"
    ob.close()


def test_appends_to_an_earlier_boot_are_refused_and_leave_nothing(box: Outbox) -> None:
    old = box.next_boot()
    box.append(old, [ev(0)])
    new = box.next_boot()
    with pytest.raises(StaleBootError):
        box.append(old, [ev(1)])
    with pytest.raises(StaleBootError):
        box.append(old, [ev(2), ev(3)])
    box.append(new, [ev(4)])
    rows = box.read(0, 10)
    assert [(r.boot, r.n, k) for r, k in zip(rows, ks(rows), strict=True)] == [(old, 0, 0), (new, 0, 4)]


def test_a_boot_never_opened_is_refused(box: Outbox) -> None:
    with pytest.raises(StaleBootError):
        box.append(12345, [ev(0)])
    assert len(box) == 0


def test_appended_counts_every_event_of_the_boot(box: Outbox) -> None:
    box.append(box.next_boot(), [ev(0)])
    boot = box.next_boot()
    assert box.appended(boot) == 0
    box.append(boot, [ev(1), ev(2)])
    box.delete([r.id for r in box.read(0, 10)])  # what was sent does not matter
    assert box.appended(boot) == 2


# -- delete -----------------------------------------------------------------------------------


def test_delete_removes_only_the_given_ids(box: Outbox) -> None:
    box.append(box.next_boot(), [ev(i) for i in range(5)], historical=False)
    ids = [r.id for r in box.read(0, 10)]
    assert box.delete([ids[1], ids[3]]) == 2
    assert ns(box.read(0, 10)) == [0, 2, 4]
    assert len(box) == 3


def test_delete_ignores_unknown_and_already_deleted_ids(box: Outbox) -> None:
    box.append(box.next_boot(), [ev(0), ev(1)], historical=False)
    ids = [r.id for r in box.read(0, 10)]
    box.delete([ids[0]])
    assert box.delete([ids[0], 9999, -1]) == 0
    assert ns(box.read(0, 10)) == [1]
    assert len(box) == 1


def test_delete_of_nothing_changes_nothing(box: Outbox) -> None:
    box.append(box.next_boot(), [ev(0)])
    assert box.delete([]) == 0
    assert len(box) == 1


def test_holds_only_tells_whether_anything_else_is_pending(box: Outbox) -> None:
    assert box.holds_only([])
    box.append(box.next_boot(), [ev(0), ev(1)])
    ids = [r.id for r in box.read(0, 10)]
    assert not box.holds_only([ids[0]])
    assert box.holds_only(ids)


# -- bound ------------------------------------------------------------------------------------


def test_one_event_at_a_time_over_the_bound_drops_the_oldest(path: Path) -> None:
    ob = Outbox(path, max_events=2)
    boot = ob.next_boot()
    for i in range(5):
        ob.append(boot, [ev(i)], historical=False)
    assert ks(ob.read(0, 100)) == [3, 4]
    assert ns(ob.read(0, 100)) == [3, 4], "the gap in n is the loss"
    assert len(ob) == 2
    assert ob.dropped_total == 3
    ob.close()


def test_full_outbox_drops_the_oldest_rows_and_counts_them(path: Path) -> None:
    ob = Outbox(path, max_events=5)
    boot = ob.next_boot()
    ob.append(boot, [ev(i) for i in range(4)], historical=False)
    assert ob.dropped_total == 0
    ob.append(boot, [ev(4), ev(5), ev(6)], historical=False)
    assert ks(ob.read(0, 100)) == [2, 3, 4, 5, 6]
    assert len(ob) == 5
    assert ob.dropped_total == 2
    ob.close()


def test_a_batch_larger_than_the_bound_keeps_its_newest_events(path: Path) -> None:
    ob = Outbox(path, max_events=3)
    ob.append(ob.next_boot(), [ev(i) for i in range(8)], historical=False)
    assert ks(ob.read(0, 100)) == [5, 6, 7]
    assert ob.dropped_total == 5
    ob.close()


def test_the_bound_stops_dropping_once_the_sender_catches_up(path: Path) -> None:
    ob = Outbox(path, max_events=3)
    boot = ob.next_boot()
    ob.append(boot, [ev(i) for i in range(5)])
    ob.delete([r.id for r in ob.read(0, 10)])
    for i in range(5, 8):
        ob.append(boot, [ev(i)])
    assert ks(ob.read(0, 10)) == [5, 6, 7]
    assert ob.dropped_total == 2
    ob.close()


def test_a_dropped_row_the_broker_acknowledged_leaves_the_dropped_count(path: Path) -> None:
    ob = Outbox(path, max_events=2)
    boot = ob.next_boot()
    ob.append(boot, [ev(0), ev(1)])
    in_flight = ob.read(0, 1)  # the sender has read (and sent) the oldest row...
    ob.append(boot, [ev(2)])  # ...when the bound drops it
    assert ob.dropped_total == 1
    ob.acknowledge([r.id for r in in_flight])  # it reached the broker after all
    assert ob.dropped_total == 0
    assert ks(ob.read(0, 10)) == [1, 2]
    ob.close()


def test_dropped_counter_survives_reopening(path: Path) -> None:
    ob = Outbox(path, max_events=2)
    ob.append(ob.next_boot(), [ev(i) for i in range(5)], historical=False)
    ob.close()
    ob = Outbox(path, max_events=2)
    assert ob.dropped_total == 3
    assert len(ob) == 2
    ob.append(ob.next_boot(), [ev(10)], historical=False)
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
    boot = box.next_boot()
    box.append(boot, [ev(i) for i in range(4)], historical=False)
    ids = [r.id for r in box.read(0, 10)]
    box.reject([ids[0], ids[2], 12345], "not authorized")
    assert ns(box.read(0, 10)) == [1, 3]
    assert len(box) == 2
    assert box.rejected_total == 2
    with sqlite3.connect(path) as db:
        rejected = db.execute("SELECT id, boot, n, reason FROM rejected ORDER BY id").fetchall()
    assert rejected == [(ids[0], boot, 0, "not authorized"), (ids[2], boot, 2, "not authorized")]


def test_rejected_counter_accumulates_and_survives_reopening(path: Path) -> None:
    ob = Outbox(path)
    ob.append(ob.next_boot(), [ev(i) for i in range(3)], historical=False)
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


def test_mark_all_historical_flags_every_pending_row_of_earlier_boots(path: Path) -> None:
    ob = Outbox(path)
    boot = ob.next_boot()
    ob.set_live(boot, True)
    ob.append(boot, [ev(0), ev(1)], historical=False)
    ob.append(boot, [ev(2)], historical=True)
    ob.close()
    ob = Outbox(path)
    ob.next_boot()
    assert ob.mark_all_historical() == 2
    assert [r.hist for r in ob.read(0, 10)] == [True, True, True]
    assert ob.mark_all_historical() == 0
    ob.close()


def test_rows_appended_after_marking_are_live(box: Outbox) -> None:
    box.append(box.next_boot(), [ev(0)], historical=False)
    boot = box.next_boot()
    box.mark_all_historical()
    box.set_live(boot, True)
    box.append(boot, [ev(1)], historical=False)
    assert [r.hist for r in box.read(0, 10)] == [True, False]


# -- durability -------------------------------------------------------------------------------


def test_rows_survive_closing_and_reopening(path: Path) -> None:
    ob = Outbox(path)
    ob.append(ob.next_boot(), [ev(0), ev(1), ev(2)], historical=False)
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
    ob.append(ob.next_boot(), [ev(0), ev(1)], historical=False)
    last = ob.read(0, 10)[-1].id
    ob.delete([r.id for r in ob.read(0, 10)])  # the table is empty
    ob.close()
    ob = Outbox(path)
    boot = ob.next_boot()
    ob.append(boot, [ev(2)], historical=False)
    (row,) = ob.read(0, 10)
    assert row.id > last  # a sender resuming after ``last`` would see it
    assert (row.boot, row.n) == (boot, 0)
    ob.close()


V1_LAYOUT = """
CREATE TABLE events (id INTEGER PRIMARY KEY, boot INTEGER NOT NULL, n INTEGER NOT NULL, ts INTEGER NOT NULL,
                     items INTEGER NOT NULL, blob BLOB NOT NULL, hist INTEGER NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def test_a_single_writer_outbox_is_carried_over_with_its_event_ids(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:  # what the previous layout left: ids and n numbered together
        db.executescript(V1_LAYOUT)
        db.executemany("INSERT INTO events VALUES(?, ?, ?, ?, 1, ?, 0)",
                       [(101, 7, 40, T0, b"a"), (102, 7, 41, T0, b"b"), (103, 8, 0, T0, b"c")])
        db.executemany("INSERT INTO meta VALUES(?, ?)", [("boot", 8), ("id_hw", 150), ("dropped", 3)])
    ob = Outbox(path)
    assert [(r.id, r.boot, r.n, r.blob) for r in ob.read(0, 10)] == [
        (101, 7, 40, b"a"), (102, 7, 41, b"b"), (103, 8, 0, b"c")]
    assert ob.dropped_total == 3
    boot = ob.next_boot()
    assert boot > 8
    assert ob.mark_all_historical() == 3, "they are from an earlier run"
    (new,) = ob.append(boot, [ev(0)])
    assert new.id == 151, "no id below the old high-water mark is given again"
    assert (new.boot, new.n) == (boot, 0)
    ob.close()


CHILD = textwrap.dedent(
    """
    import sys, time
    from edge_agent.link.outbox import NewEvent, Outbox
    ob = Outbox(sys.argv[1])
    boot = ob.next_boot()
    ob.append(boot, [NewEvent(1_700_000_000_000 + n, 1, bytes([n])) for n in range(50)], False)
    ob.append(boot, [NewEvent(1_700_000_000_050, 1, b"last")], True)
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


# -- several writer processes -----------------------------------------------------------------


def _write(path: str, boot: int, writer: int, count: int, burst: int, max_events: int,
           ready: multiprocessing.synchronize.Semaphore, go: multiprocessing.synchronize.Event,
           out: multiprocessing.Queue[list[tuple[int, int]]]) -> None:
    """Body of a producer process: ``count`` events, ``burst`` per append; reports (id, n) of each."""
    box = OutboxWriter(path, max_events)
    got: list[tuple[int, int]] = []
    ready.release()  # imported and the file open: released with the others, it really writes at the same time
    go.wait(60)
    for start in range(0, count, burst):
        k = range(start, min(count, start + burst))
        rows = box.append(boot, [NewEvent(writer * 1_000_000 + i, 1, f"{writer}:{i}".encode()) for i in k])
        got += [(r.id, r.n) for r in rows]
    box.close()
    out.put(got)


WRITERS = [(0, 1), (1, 1), (2, 7), (3, 1)]  # (writer, events per append)
PER_WRITER = 2000


class Writers:
    """Real producer processes (spawned, as the agent starts its roles), released together."""

    def __init__(self, path: Path, boot: int, max_events: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        # Kept here: a child that unpickles them after the parent let them go would fail.
        self.ready, self.go, self.out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
        self.procs = [ctx.Process(target=_write, args=(str(path), boot, w, PER_WRITER, b, max_events,
                                                       self.ready, self.go, self.out)) for w, b in WRITERS]
        for p in self.procs:
            p.start()
        for _ in self.procs:  # each has imported and opened the file
            assert self.ready.acquire(timeout=60), "a writer process did not start"
        self.go.set()

    def results(self, timeout: float) -> list[list[tuple[int, int]]]:
        got = [self.out.get(timeout=timeout) for _ in self.procs]
        for p in self.procs:
            p.join(10)
            assert p.exitcode == 0
        return got


def _writer_of(row: Row) -> int:
    return int(row.blob.split(b":")[0])


def test_writer_processes_get_unique_increasing_ids_and_numbers_and_the_sender_misses_none(path: Path) -> None:
    ob = Outbox(path)
    boot = ob.next_boot()
    writers = Writers(path, boot, 1_000_000)
    # Meanwhile the sender reads behind a cursor and deletes what it read, as the link does.
    total = PER_WRITER * len(WRITERS)
    seen: list[Row] = []
    cursor = 0
    deadline = time.monotonic() + 120
    while len(seen) < total and time.monotonic() < deadline:
        rows = ob.read(cursor, 100)
        if rows:
            seen += rows
            cursor = rows[-1].id
            ob.acknowledge([r.id for r in rows])
    results = writers.results(60)
    assert len(seen) == total, "the cursor skipped nothing"
    ids = [r.id for r in seen]
    assert ids == list(range(ids[0], ids[0] + total)), "ids unique, increasing, without holes"
    assert ns(seen) == list(range(total)), "n unique and gapless within the boot"
    assert {r.boot for r in seen} == {boot}
    switches = sum(_writer_of(a) != _writer_of(b) for a, b in itertools.pairwise(seen))
    # One writer after the other would switch len(WRITERS) - 1 times: more means they raced.
    assert switches > 2 * len(WRITERS), f"the writers must really have interleaved ({switches} switches)"
    returned = sorted(pair for got in results for pair in got)
    assert returned == [(r.id, r.n) for r in seen], "every writer was told the id and n stored"
    for w, _ in WRITERS:  # each producer's own events keep their order
        mine = [r.ts - w * 1_000_000 for r in seen if _writer_of(r) == w]
        assert mine == list(range(PER_WRITER))
    assert len(ob) == 0 and ob.dropped_total == 0
    ob.close()


def test_writer_processes_over_the_bound_count_each_drop_once(path: Path) -> None:
    bound = 500
    ob = Outbox(path, max_events=bound)
    boot = ob.next_boot()
    results = Writers(path, boot, bound).results(120)
    total = PER_WRITER * len(WRITERS)
    rows = ob.read(0, total)
    assert len(rows) == bound == len(ob)
    assert ob.dropped_total == total - bound, "appended = kept + dropped: no drop counted twice"
    assert ns(rows) == list(range(total - bound, total)), "the newest are kept; the gap is exactly the drops"
    assert sum(len(got) for got in results) == total
    ob.close()


def test_a_writer_of_a_finished_boot_is_refused_while_the_new_one_writes(path: Path) -> None:
    ob = Outbox(path)
    old = ob.next_boot()
    writer = OutboxWriter(path)
    writer.append(old, [ev(0)])
    new = ob.next_boot()  # the link restarted; a producer of the old run must not go on
    with pytest.raises(StaleBootError):
        writer.append(old, [ev(1)])
    writer.append(new, [ev(2)])
    assert [(r.boot, r.n) for r in ob.read(0, 10)] == [(old, 0), (new, 0)]
    writer.close()
    ob.close()


def test_the_sender_does_not_wait_for_another_writers_lock_to_delete(box: Outbox, path: Path) -> None:
    """A deletion that meets another process's write lock is put off, not waited for; rows stay meanwhile."""
    boot = box.next_boot()
    rows = box.append(boot, [ev(0), ev(1), ev(2)])
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # a producer in the middle of its commit
    try:
        assert box.acknowledge([rows[0].id], wait=False) is False
        assert ks(box.read(0, 10)) == [0, 1, 2]
    finally:
        other.execute("COMMIT")
    assert box.acknowledge([rows[0].id], wait=False) is True
    assert ks(box.read(0, 10)) == [1, 2]
    # The busy timeout is back: a waiting deletion outlasts a writer that holds the lock a moment.
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    assert box.acknowledge([rows[1].id]) is True
    release.join()
    other.close()
    assert ks(box.read(0, 10)) == [2]
