"""Refused messages are all counted and logged once per kind per interval, whatever their rate."""

from __future__ import annotations

import logging
import threading

import pytest

from vigie_wire.rejects import RejectLog


class Clock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rejects(clock: Clock) -> RejectLog:
    return RejectLog(logging.getLogger("vigie.test.rejects"), "refused", every_s=60.0, clock=clock)


def records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "vigie.test.rejects"]


def test_the_first_of_a_kind_is_logged_with_its_detail_the_rest_of_the_minute_only_counted(
        rejects: RejectLog, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    for i in range(1000):
        clock.now += 0.01
        rejects.note("msgpack", f"payload {i}")
    assert records(caplog) == [
        "refused (msgpack): payload 0; further ones of this kind are counted and logged at most once every 60 s"]
    assert rejects.counts == {"msgpack": 1000}
    assert rejects.total == 1000


def test_each_kind_has_its_own_minute(rejects: RejectLog, caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(3):
        rejects.note("msgpack", "m")
        rejects.note("schema", "s")
    assert [m.split(":")[0] for m in records(caplog)] == ["refused (msgpack)", "refused (schema)"]
    assert rejects.by_kind() == {"msgpack": 3, "schema": 3}


def test_after_a_minute_the_next_one_is_logged_with_how_many_were_only_counted(
        rejects: RejectLog, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(5):
        rejects.note("msgpack", "early")
    clock.now += 59.9
    assert not rejects.note("msgpack", "still within the minute")
    clock.now += 0.1
    assert rejects.note("msgpack", "late")
    assert records(caplog)[1] == "refused (msgpack): late; 5 more of this kind since the last record, only counted"


def test_flush_logs_what_a_kind_gone_quiet_left_unlogged_once_its_minute_is_over(
        rejects: RejectLog, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(4):
        rejects.note("schema", "s")
    rejects.note("size", "z")  # nothing left unlogged of this kind: flush has nothing to say about it
    rejects.flush()
    assert len(records(caplog)) == 2  # the minute is not over
    clock.now += 60.0
    rejects.flush()
    rejects.flush()  # said once
    assert records(caplog)[2:] == ["refused (schema): 3 more of this kind since the last record, only counted"]
    clock.now += 30.0
    assert not rejects.note("schema", "s")  # the flush's record started a new minute for its kind


def test_a_traceback_goes_with_the_record_that_is_logged(rejects: RejectLog, caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise KeyError("boom")
    except KeyError as exc:
        rejects.note("handler_failed", "handler failed", exc_info=exc)
        rejects.note("handler_failed", "handler failed", exc_info=exc)
    logged = [r for r in caplog.records if r.name == "vigie.test.rejects"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None and logged[0].exc_info[0] is KeyError


def test_counts_are_exact_when_threads_note_refusals_at_once(rejects: RejectLog) -> None:
    def flood() -> None:
        for _ in range(5000):
            rejects.note("msgpack", "x")

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rejects.total == 20_000
