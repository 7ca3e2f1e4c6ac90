"""The ingest worker's storage process, its inbox and its acknowledgements, with the real broker."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coordinator.ingest.config import IngestSettings
from coordinator.ingest.hooks import Hooks
from coordinator.ingest.inbox import Inbox
from coordinator.ingest.worker import IngestWorker
from coordinator.ingest_hooks import default_hooks
from coordinator.storage.schema import devices
from tests.ingest_helpers import birth, event_batch, event_ids, register
from tests.mqtt_helpers import Mosquitto, wait_until
from tests.test_ingest_worker import Publisher


def _settings(db_url: str, port: int, client_id: str = "vigie-ingest-sp") -> IngestSettings:
    return IngestSettings(database_url=db_url, mqtt_port=port, client_id=client_id, batch_ms=20,
                          storage_process=True)


def test_stored_batches_are_acknowledged_so_a_restart_gets_nothing_again(engine: Engine, db_url: str,
                                                                        broker: Mosquitto) -> None:
    """One PUBACK packet per batch reaches the broker: the next run of the session starts empty."""
    register(engine, ("cam-1", "dijon"))
    pub = Publisher(broker.port)
    w = IngestWorker(_settings(db_url, broker.port), engine, hooks_factory=default_hooks)
    assert w.client._queue_packet is not None  # the installed paho takes a batch's PUBACKs in one write
    w.start()
    try:
        wait_until(w.client.subscribed.is_set, 20, "worker subscribed")
        pub.message("dijon", birth("cam-1", 1))
        for k in range(40):
            pub.message("dijon", event_batch("cam-1", 1, k + 2, boot=0, ns=[2 * k, 2 * k + 1]))
        wait_until(lambda: w.metrics.value("vigie_ingest_events_stored_total") == 80, 20, "80 events stored")
        assert w.metrics.value("vigie_ingest_messages_total", kind="event") == 40
    finally:
        w.stop()
    with engine.connect() as conn:  # the default hooks ran in the child: the birth set the device online
        assert conn.execute(sa.select(devices.c.status).where(devices.c.id == "cam-1")).scalar_one() == "online"
    again = IngestWorker(_settings(db_url, broker.port), engine)
    again.start()
    try:
        wait_until(again.client.subscribed.is_set, 20, "worker subscribed again")
        pub.message("dijon", event_batch("cam-1", 1, 42, boot=0, ns=[80]))  # queued behind any redelivery
        wait_until(lambda: again.handled >= 1, 20, "the new message handled")
        time.sleep(0.2)
        assert again.handled == 1  # nothing of the first run came back
        assert again.metrics.value("vigie_ingest_duplicates_total", stream="event") == 0
    finally:
        again.stop()
        pub.close()
    assert len(event_ids(engine)) == 81


def test_a_dead_storage_process_stops_the_worker_and_its_messages_come_back(engine: Engine, db_url: str,
                                                                           broker: Mosquitto) -> None:
    register(engine, ("cam-1", "dijon"))
    pub = Publisher(broker.port)
    w = IngestWorker(_settings(db_url, broker.port), engine)
    w.start()
    try:
        wait_until(lambda: w.storage is not None and w.client.subscribed.is_set(), 20, "worker ready")
        assert w.storage is not None
        os.kill(w.storage.process.pid, signal.SIGKILL)
        for k in range(5):
            pub.message("dijon", event_batch("cam-1", 1, k + 1, boot=0, ns=[k]))
        wait_until(lambda: w.failed is not None, 20, "the worker noticed")
        assert "storage process exited" in (w.failed or "")
    finally:
        w.stop()
    assert event_ids(engine) == []
    after = IngestWorker(_settings(db_url, broker.port), engine)  # what the service manager restarts
    after.start()
    try:
        wait_until(lambda: len(event_ids(engine)) == 5, 20, "the unacknowledged messages stored")
    finally:
        after.stop()
        pub.close()


def test_a_storage_process_that_cannot_start_is_an_error_not_a_hang(broker: Mosquitto) -> None:
    w = IngestWorker(_settings("nosuchdialect://x", broker.port), sa.create_engine("sqlite://"))
    with pytest.raises(RuntimeError, match="storage process not ready"):
        w.prepare(timeout=30)


def test_hooks_of_a_storage_process_come_from_a_factory(engine: Engine, db_url: str, broker: Mosquitto) -> None:
    with pytest.raises(ValueError, match="hooks_factory"):
        IngestWorker(_settings(db_url, broker.port), engine, Hooks())


def test_the_inbox_keeps_order_and_refuses_only_droppable_items_when_full() -> None:
    box: Inbox[int] = Inbox(maxsize=3)
    assert [box.put(i, droppable=True) for i in range(4)] == [True, True, True, False]
    assert box.put(99)  # QoS 1: bounded by the broker's Receive Maximum, never refused
    assert box.qsize() == 4
    assert box.take(2) == [0, 1]
    assert box.take(10) == [2, 99]
    assert box.take(1) == []


def test_the_inbox_wakes_a_waiting_consumer_and_times_out_when_idle() -> None:
    box: Inbox[str] = Inbox(maxsize=10)
    t0 = time.monotonic()
    assert box.wait(0.05) is False
    assert time.monotonic() - t0 >= 0.04
    threading.Timer(0.05, box.put, args=("x",)).start()
    assert box.wait(5) is True
    assert box.take(5) == ["x"]


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("0", False), (True, True), (0, False),
                                                 ("no", False), ("yes", True)])
def test_storage_process_setting_from_the_environment(value: object, expected: bool) -> None:
    config = {"DATABASE_URL": "sqlite://", "MQTT_HOST": "h", "MQTT_PORT": 1, "INGEST_CLIENT_ID": "c",
              "INGEST_SHARE_GROUP": "g", "INGEST_SESSION_EXPIRY_S": 1, "INGEST_BATCH_MESSAGES": 1,
              "INGEST_BATCH_MS": 1, "INGEST_RECEIVE_MAXIMUM": 1, "INGEST_STORAGE_PROCESS": value}
    assert IngestSettings.from_config(config).storage_process is expected


def test_a_storage_process_setting_that_is_not_a_boolean_is_refused() -> None:
    config = {"DATABASE_URL": "sqlite://", "MQTT_HOST": "h", "MQTT_PORT": 1, "INGEST_CLIENT_ID": "c",
              "INGEST_SHARE_GROUP": "g", "INGEST_SESSION_EXPIRY_S": 1, "INGEST_BATCH_MESSAGES": 1,
              "INGEST_BATCH_MS": 1, "INGEST_RECEIVE_MAXIMUM": 1, "INGEST_STORAGE_PROCESS": "maybe"}
    with pytest.raises(ValueError, match="not a boolean: 'maybe'"):
        IngestSettings.from_config(config)


def test_a_failure_while_acknowledging_stops_the_worker_and_the_batch_comes_back_once(
        engine: Engine, db_url: str, broker: Mosquitto, monkeypatch: pytest.MonkeyPatch) -> None:
    register(engine, ("cam-1", "dijon"))
    pub = Publisher(broker.port)
    w = IngestWorker(_settings(db_url, broker.port), engine)

    def broken(*_: object) -> None:
        raise RuntimeError("metrics registry gone")

    monkeypatch.setattr(w, "_finish", broken)
    w.start()
    try:
        wait_until(w.client.subscribed.is_set, 20, "worker subscribed")
        pub.message("dijon", event_batch("cam-1", 1, 1, boot=0, ns=[0, 1]))
        wait_until(lambda: w.failed is not None, 20, "the worker stopped")
        assert "metrics registry gone" in (w.failed or "")
    finally:
        w.stop()
    after = IngestWorker(_settings(db_url, broker.port), engine)
    after.start()
    try:  # stored before the failure, never acknowledged: delivered again, stored once
        wait_until(lambda: after.metrics.value("vigie_ingest_duplicates_total", stream="event") == 2, 20,
                   "the redelivered batch seen as duplicates")
    finally:
        after.stop()
        pub.close()
    assert event_ids(engine) == [("cam-1", 0, 0), ("cam-1", 0, 1)]
