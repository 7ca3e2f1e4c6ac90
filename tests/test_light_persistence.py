"""The light node's state file: saves that overlap (a host of many boxes told at once to dim) share their
directory syncs, and each save still returns only once a directory sync begun after its rename has finished."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from edge_agent.lighting.persistence import DirectorySync, write_atomic

BOXES = 20


class SlowDisk:
    """A directory sync that records when it starts and ends; the first one holds until every box is waiting."""

    def __init__(self, log: list[tuple[str, int]], lock: threading.Lock, hold_first_until: int = 0) -> None:
        self.log, self.lock, self.hold = log, lock, hold_first_until
        self.calls = 0
        self.directories: DirectorySync | None = None

    def __call__(self, directory: Path) -> None:
        with self.lock:
            self.calls += 1
            k = self.calls
            self.log.append(("start", k))
        if k == 1 and self.hold and self.directories is not None:
            deadline = time.monotonic() + 30
            while self.directories.pending(directory) < self.hold and time.monotonic() < deadline:
                time.sleep(0.01)
        with self.lock:
            self.log.append(("end", k))


def test_overlapping_saves_share_directory_syncs_each_after_its_rename(tmp_path: Path) -> None:
    log: list[tuple[str, int]] = []
    lock = threading.Lock()
    disk = SlowDisk(log, lock, hold_first_until=BOXES)
    directories = disk.directories = DirectorySync(disk)
    errors: list[BaseException] = []

    def box(i: int) -> None:
        try:
            with lock:
                log.append(("renamed", i))  # what write_atomic does just before
            directories.after_rename(tmp_path)
            with lock:
                log.append(("returned", i))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=box, args=(i,)) for i in range(BOXES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and all(not t.is_alive() for t in threads)
    # the first sync covers the one rename done before it began; the second, every other one
    assert disk.calls == directories.syncs == 2
    where = {event: n for n, event in enumerate(log)}
    for i in range(BOXES):
        covering = [k for k in (1, 2) if where[("renamed", i)] < where[("start", k)]
                    and where[("end", k)] < where[("returned", i)]]
        assert covering, f"box {i} returned without a directory sync begun after its rename: {log}"
    assert directories.pending(tmp_path) == 0


def test_a_failed_directory_sync_covers_nobody(tmp_path: Path) -> None:
    calls: list[Path] = []

    def flaky(directory: Path) -> None:
        calls.append(directory)
        if len(calls) == 1:
            raise OSError(5, "Input/output error")

    directories = DirectorySync(flaky)
    with pytest.raises(OSError):
        directories.after_rename(tmp_path)
    assert directories.syncs == 0 and directories.pending(tmp_path) == 1
    directories.after_rename(tmp_path)  # the next save syncs again: it covers both renames
    assert len(calls) == 2 and directories.syncs == 1 and directories.pending(tmp_path) == 0


def test_saves_into_other_directories_do_not_wait_for_each_other(tmp_path: Path) -> None:
    synced: list[Path] = []
    directories = DirectorySync(synced.append)
    a, b = tmp_path / "a", tmp_path / "b"
    write_atomic(a / "state.json", b"{}", directories)
    write_atomic(b / "state.json", b"[]", directories)
    write_atomic(a / "state.json", b'{"v": 2}', directories)
    assert synced == [a, b, a]
    assert (a / "state.json").read_bytes() == b'{"v": 2}' and (b / "state.json").read_bytes() == b"[]"
    assert sorted(p.name for p in a.iterdir()) == ["state.json"]  # no temporary file left behind


def test_many_boxes_saving_at_once_each_end_with_their_own_last_state(tmp_path: Path) -> None:
    """Real files, real fsync: sharing the directory's syncs mixes no box's state with another's."""
    directories = DirectorySync()
    start = threading.Barrier(BOXES)

    def box(i: int) -> None:
        start.wait(30)
        for n in range(3):
            write_atomic(tmp_path / f"light-{i:02d}.json", f'{{"box": {i}, "n": {n}}}'.encode(), directories)

    threads = [threading.Thread(target=box, args=(i,)) for i in range(BOXES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for i in range(BOXES):
        assert (tmp_path / f"light-{i:02d}.json").read_text() == f'{{"box": {i}, "n": 2}}'
    assert directories.syncs >= 1 and directories.pending(tmp_path) == 0
