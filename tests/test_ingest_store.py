"""One ingest batch against real databases (SQLite and PostgreSQL): idempotence, sequences, births and deaths."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from coordinator.ingest.hooks import DeviceChange, Hooks, StoredEvent, StoredTelemetry
from coordinator.retention import enforce_retention, partitions_job
from coordinator.seed import seed_fleet
from coordinator.storage.ingest import stale_events_update, store_batch
from coordinator.storage.partition_plan import EVENTS, partition_name, span_start
from coordinator.storage.schema import device_sessions, devices, event_streams, events, telemetry
from tests.ingest_helpers import (
    T0,
    birth,
    death,
    decoded,
    event_batch,
    event_ids,
    gaps,
    register,
)
from tests.ingest_helpers import (
    telemetry as telemetry_msg,
)

ROOT = Path(__file__).resolve().parents[1]


class Recording(Hooks):
    """Real hooks that keep what they were given (and prove they run inside the transaction)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen_events: list[StoredEvent] = []
        self.seen_devices: list[DeviceChange] = []
        self.seen_telemetry: list[StoredTelemetry] = []
        self.events.append(lambda _c, items: self.seen_events.extend(items))
        self.devices.append(lambda _c, items: self.seen_devices.extend(items))
        self.telemetry.append(lambda _c, items: self.seen_telemetry.extend(items))


def _device(engine: Engine, dev: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(devices).where(devices.c.id == dev)).mappings().one()


def test_events_are_stored_once_and_a_replayed_batch_only_counts_duplicates(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    hooks = Recording()
    batch = [decoded("dijon", event_batch("cam-1", 1, 1, boot=2, ns=range(5)))]
    first = store_batch(engine, batch, T0, hooks)
    again = store_batch(engine, batch, T0 + 1, hooks)
    assert first.stored_events == 5 and again.stored_events == 0
    assert again.duplicates["event"] == 5 and again.duplicates["message"] == 1
    assert event_ids(engine) == [("cam-1", 2, n) for n in range(5)]
    assert [e.n for e in hooks.seen_events] == [0, 1, 2, 3, 4]  # the replay reached no hook
    with engine.connect() as conn:
        s = conn.execute(sa.select(event_streams)).mappings().one()
    assert (s["last_n"], s["events"], s["duplicates"], s["missing"]) == (4, 5, 5, 0)


def test_a_hole_in_event_numbers_is_recorded_and_closed_by_late_events(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    hooks = Hooks()
    store_batch(engine, [decoded("dijon", event_batch("cam-1", 1, 1, boot=0, ns=[0, 1, 6, 7]))], T0, hooks)
    assert gaps(engine, "event") == [("cam-1", 0, 2, 5)]
    # Another worker commits the middle later: the hole shrinks and splits, then closes.
    store_batch(engine, [decoded("dijon", event_batch("cam-1", 1, 2, boot=0, ns=[3]))], T0, hooks)
    assert gaps(engine, "event") == [("cam-1", 0, 2, 2), ("cam-1", 0, 4, 5)]
    store_batch(engine, [decoded("dijon", event_batch("cam-1", 1, 3, boot=0, ns=[2, 4, 5]))], T0, hooks)
    assert gaps(engine, "event") == []
    with engine.connect() as conn:
        s = conn.execute(sa.select(event_streams)).mappings().one()
    assert (s["last_n"], s["events"], s["missing"], s["duplicates"]) == (7, 8, 0, 0)


def test_message_sequence_gaps_and_duplicates_per_connection(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    msgs = [birth("cam-1", 4), telemetry_msg("cam-1", 4, 1), telemetry_msg("cam-1", 4, 5),
            telemetry_msg("cam-1", 4, 5)]
    report = store_batch(engine, [decoded("dijon", m) for m in msgs], T0, Hooks())
    assert report.gaps["message"] == 1 and report.missing["message"] == 3 and report.duplicates["message"] == 1
    assert gaps(engine, "message") == [("cam-1", 4, 2, 4)]
    with engine.connect() as conn:
        s = conn.execute(sa.select(device_sessions)).mappings().one()
    assert (s["bd_seq"], s["last_seq"], s["messages"], s["missing"], s["duplicates"]) == (4, 5, 3, 3, 1)


def test_unknown_devices_and_wrong_sites_are_rejected_and_nothing_is_written(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    items = [decoded("dijon", event_batch("cam-x", 1, 1, boot=0, ns=[0])),
             decoded("talant", event_batch("cam-1", 1, 1, boot=0, ns=[0])),
             decoded("talant", birth("cam-1", 1))]
    report = store_batch(engine, items, T0, Hooks())
    assert report.rejected == [(0, "unknown_device"), (1, "wrong_site"), (2, "wrong_site")]
    assert event_ids(engine) == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(device_sessions)).scalar() == 0
    assert _device(engine, "cam-1")["status"] == "unknown"


def test_birth_goes_online_once_even_when_the_retained_birth_is_seen_again(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    hooks = Recording()
    store_batch(engine, [decoded("dijon", birth("cam-1", 3))], T0, hooks)
    store_batch(engine, [decoded("dijon", birth("cam-1", 3), retain=True)], T0 + 5, hooks)
    row = _device(engine, "cam-1")
    assert (row["status"], row["bd_seq"], row["firmware"], row["caps"]) == ("online", 3, "vigie-edge/0.1.0",
                                                                            ["camera"])
    assert row["lat"] == 47.3225 and row["last_seen_ms"] == T0
    assert [(c.status, c.previous) for c in hooks.seen_devices] == [("online", "unknown")]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(device_sessions)).scalar() == 1


def test_death_of_the_current_session_marks_the_device_and_its_data_stale(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"), ("cam-2", "dijon"))
    hooks = Recording()
    store_batch(engine, [decoded("dijon", m) for m in (
        birth("cam-1", 3), event_batch("cam-1", 3, 1, boot=1, ns=[0, 1]), telemetry_msg("cam-1", 3, 2),
        birth("cam-2", 1), event_batch("cam-2", 1, 1, boot=1, ns=[0]))], T0, hooks)
    assert len(hooks.seen_telemetry) == 1
    store_batch(engine, [decoded("dijon", death("cam-1", 3))], T0 + 10, hooks)
    assert _device(engine, "cam-1")["status"] == "offline"
    assert _device(engine, "cam-2")["status"] == "online"
    with engine.connect() as conn:
        assert conn.execute(sa.select(telemetry.c.stale)).scalar() is True
        stale = dict(conn.execute(sa.select(events.c.device_id, events.c.stale)).all())
        ended = conn.execute(sa.select(device_sessions.c.ended_ms).where(device_sessions.c.device_id == "cam-1"))
        assert ended.scalar() == T0 + 10
    assert stale == {"cam-1": True, "cam-2": False}
    assert [(c.device_id, c.status, c.previous) for c in hooks.seen_devices][-1] == ("cam-1", "offline", "online")


DAY_MS = 86_400_000


def test_a_death_flags_its_session_events_even_historical_ones_and_nothing_of_the_session_before(
        engine: Engine) -> None:
    """The session's earliest event time bounds the stale UPDATE; events replayed from the outbox, timed days
    before the birth, are in the session all the same."""
    register(engine, ("cam-1", "dijon"))
    hooks = Recording()
    store_batch(engine, [decoded("dijon", m) for m in (birth("cam-1", 1), event_batch(
        "cam-1", 1, 1, boot=1, ns=[0], ts=T0 - 5 * DAY_MS))], T0 - 5 * DAY_MS, hooks)
    assert _device(engine, "cam-1")["session_events_from_ms"] == T0 - 5 * DAY_MS
    store_batch(engine, [decoded("dijon", birth("cam-1", 2))], T0, hooks)  # a new session, no death seen
    assert _device(engine, "cam-1")["session_events_from_ms"] == T0, "a birth starts at its own time"
    store_batch(engine, [decoded("dijon", m) for m in (
        event_batch("cam-1", 2, 1, boot=1, ns=[1], ts=T0 + 1000),
        event_batch("cam-1", 2, 2, boot=1, ns=[2], ts=T0 - 3 * DAY_MS, historical=True))], T0 + 2000, hooks)
    assert _device(engine, "cam-1")["session_events_from_ms"] == T0 - 3 * DAY_MS
    store_batch(engine, [decoded("dijon", death("cam-1", 2))], T0 + 3000, hooks)
    with engine.connect() as conn:
        stale = dict(conn.execute(sa.select(events.c.n, events.c.stale)).all())
    assert stale == {0: False, 1: True, 2: True}


def test_the_stale_update_reads_only_the_partitions_from_the_sessions_first_event(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("time partitions are PostgreSQL's (SQLite reads the device's rows through its key)")
    partitions_job(engine, T0)
    partitions_job(engine, T0 + 7 * DAY_MS)
    with engine.connect() as conn:
        since = conn.execute(stale_events_update("cam-1", T0, T0 + 8 * DAY_MS))  # compiles and runs
        assert since.rowcount == 0
        stmt = stale_events_update("cam-1", T0, T0 + 8 * DAY_MS).compile(
            dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {stmt}"))
        unbounded = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + str(stale_events_update(
            "cam-1", T0, None).compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))))
    first = partition_name(EVENTS, span_start(T0, "day"))
    later = partition_name(EVENTS, span_start(T0 + 8 * DAY_MS, "day"))
    assert first in unbounded and later in unbounded
    assert first not in plan and later in plan


def test_a_death_of_an_older_connection_is_ignored(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    hooks = Recording()
    store_batch(engine, [decoded("dijon", birth("cam-1", 5))], T0, hooks)
    report = store_batch(engine, [decoded("dijon", death("cam-1", 4))], T0 + 1, hooks)
    assert report.ignored["stale_death"] == 1
    assert _device(engine, "cam-1")["status"] == "online"
    assert len(hooks.seen_devices) == 1
    # The retained birth of the session that just died changes nothing either.
    store_batch(engine, [decoded("dijon", death("cam-1", 5))], T0 + 2, hooks)
    store_batch(engine, [decoded("dijon", birth("cam-1", 5), retain=True)], T0 + 3, hooks)
    assert _device(engine, "cam-1")["status"] == "offline"


def test_only_the_newest_telemetry_is_kept_and_handed_on(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    hooks = Recording()
    store_batch(engine, [decoded("dijon", telemetry_msg("cam-1", 1, 2, ts=T0 + 100, cpu=0.9))], T0, hooks)
    store_batch(engine, [decoded("dijon", telemetry_msg("cam-1", 1, 1, ts=T0, cpu=0.1))], T0, hooks)
    with engine.connect() as conn:
        row = conn.execute(sa.select(telemetry)).mappings().one()
    assert row["ts_ms"] == T0 + 100 and row["metrics"]["cpu"] == 0.9
    assert [t.metrics["cpu"] for t in hooks.seen_telemetry] == [0.9]


def test_hooks_write_in_the_batch_transaction(engine: Engine) -> None:
    """A hook that fails rolls the whole batch back: no event without its reaction."""
    register(engine, ("cam-1", "dijon"))

    def failing(_conn: Connection, _items: Sequence[StoredEvent]) -> None:
        raise RuntimeError("rule engine down")

    hooks = Hooks(events=[failing])
    with pytest.raises(RuntimeError):
        store_batch(engine, [decoded("dijon", event_batch("cam-1", 1, 1, boot=0, ns=[0]))], T0, hooks)
    assert event_ids(engine) == []


def test_seeding_from_firmware_configs_is_idempotent(engine: Engine) -> None:
    first = seed_fleet(engine, ROOT / "firmware_configs", now_ms=T0)
    again = seed_fleet(engine, ROOT / "firmware_configs", now_ms=T0 + 1)
    assert first.errors == [] and first.created >= 5 and first.updated == 0
    assert (again.created, again.updated) == (0, first.created)
    row = _device(engine, "cam-darcy-01")
    assert (row["site"], row["district"], row["roles"], row["status"]) == ("dijon", "centre-ville", ["camera"],
                                                                           "unknown")
    assert len(row["seed_config_hash"]) == 64 and row["lat"] == 47.3225
    assert "light" in _device(engine, "light-darcy-01")["roles"]


def test_retention_deletes_old_raw_events_only(engine: Engine) -> None:
    register(engine, ("cam-1", "dijon"))
    day = 86_400_000
    store_batch(engine, [decoded("dijon", event_batch("cam-1", 1, 1, boot=0, ns=[0, 1], ts=T0 - 40 * day)),
                         decoded("dijon", event_batch("cam-1", 1, 2, boot=0, ns=[2], ts=T0 - day))], T0, Hooks())
    assert enforce_retention(engine, T0, days=30) >= 2
    assert event_ids(engine) == [("cam-1", 0, 2)]
