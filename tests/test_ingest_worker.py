"""The ingest worker against a real Mosquitto and real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import vigie_wire as wire
from coordinator.ingest.config import IngestSettings
from coordinator.ingest.hooks import Hooks, StoredEvent
from coordinator.ingest.worker import IngestWorker
from coordinator.storage.schema import devices, event_streams, events
from edge_agent.link import Link, Outbox
from tests.boxes import write_box
from tests.ingest_helpers import birth, death, event_batch, event_ids, gaps, register, topic_of
from tests.mqtt_helpers import Mosquitto, wait_until

ROOT = Path(__file__).resolve().parents[1]


class Publisher:
    """A bare paho client publishing wire-encoded messages at QoS 1 and waiting for their PUBACKs."""

    def __init__(self, port: int, client_id: str = "test-publisher") -> None:
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(100)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, topic: str, payload: bytes, retain: bool = False) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=1, retain=retain)

    def message(self, site: str, msg: wire.Message, retain: bool = False) -> None:
        self.send(topic_of(site, msg), wire.encode(msg), retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _settings(db_url: str, port: int, client_id: str = "vigie-ingest-test", **kw: object) -> IngestSettings:
    return IngestSettings(database_url=db_url, mqtt_port=port, client_id=client_id, batch_ms=20,
                          **kw)  # type: ignore[arg-type]


@pytest.fixture(params=[False, True], ids=["in-process", "storage-process"])
def worker(request: pytest.FixtureRequest, engine: Engine, db_url: str, broker: Mosquitto) -> Iterator[IngestWorker]:
    """The worker both ways it runs: storing in its own process, or in a child (the service's way)."""
    w = IngestWorker(_settings(db_url, broker.port, storage_process=request.param), engine)
    w.start()
    wait_until(w.client.subscribed.is_set, 10, "worker subscribed")
    yield w
    w.stop()


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _status(engine: Engine, dev: str) -> tuple[str, int | None]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(devices.c.status, devices.c.bd_seq).where(devices.c.id == dev)).one()
    return row.status, row.bd_seq


def test_events_from_a_box_link_are_stored_exactly_once(worker: IngestWorker, engine: Engine, broker: Mosquitto,
                                                         tmp_path: Path) -> None:
    register(engine, ("cam-test-01", "dijon"))
    cfg, _ = write_box(tmp_path, broker.port, "cam-test-01")
    link = Link(cfg, Outbox(cfg.outbox.path, cfg.outbox.max_events), config_hash="ab" * 32, capabilities=("vision",))
    link.start()
    try:
        for i in range(300):
            link.emit(wire.Detection(cam=0, track=i, cls=0, conf=90, box=(1, 2, 3, 4)))
        assert link.wait_drained(20)
        wait_until(lambda: _count(engine, events) == 300, 20, "300 events stored")
        assert _status(engine, "cam-test-01") == ("online", link._bd)
    finally:
        link.stop()
    wait_until(lambda: _status(engine, "cam-test-01")[0] == "offline", 10, "death of the clean stop")
    assert event_ids(engine) == [("cam-test-01", link.boot, n) for n in range(300)]
    assert gaps(engine, "event") == []
    assert worker.metrics.value("vigie_ingest_events_stored_total") == 300
    assert worker.metrics.value("vigie_ingest_duplicates_total", stream="event") == 0


def test_a_replayed_batch_is_counted_as_duplicates_and_stored_once(worker: IngestWorker, engine: Engine,
                                                                    broker: Mosquitto) -> None:
    register(engine, ("cam-1", "dijon"))
    pub = Publisher(broker.port)
    try:
        batch = event_batch("cam-1", 1, 1, boot=3, ns=range(10))
        pub.message("dijon", batch)
        pub.message("dijon", batch)  # the box's client sending it again after a reconnect
        wait_until(lambda: worker.metrics.value("vigie_ingest_duplicates_total", stream="event") == 10, 10,
                   "duplicates counted")
    finally:
        pub.close()
    assert _count(engine, events) == 10
    assert worker.metrics.value("vigie_ingest_duplicates_total", stream="message") == 1
    with engine.connect() as conn:
        row = conn.execute(sa.select(event_streams)).mappings().one()
    assert (row["events"], row["duplicates"], row["missing"]) == (10, 10, 0)


def test_holes_in_event_numbers_are_recorded(worker: IngestWorker, engine: Engine, broker: Mosquitto) -> None:
    register(engine, ("cam-1", "dijon"))
    pub = Publisher(broker.port)
    try:
        pub.message("dijon", event_batch("cam-1", 1, 1, boot=0, ns=range(5)))
        pub.message("dijon", event_batch("cam-1", 1, 3, boot=0, ns=range(10, 13)))
        wait_until(lambda: _count(engine, events) == 8, 10, "8 events")
    finally:
        pub.close()
    assert gaps(engine, "event") == [("cam-1", 0, 5, 9)]
    assert gaps(engine, "message") == [("cam-1", 1, 0, 0), ("cam-1", 1, 2, 2)]  # no birth seen, seq 2 skipped
    assert worker.metrics.value("vigie_ingest_missing_total", stream="event") == 5


def test_bad_and_unauthorised_messages_are_counted_and_the_worker_goes_on(
        worker: IngestWorker, engine: Engine, broker: Mosquitto) -> None:
    register(engine, ("cam-1", "dijon"))
    pub = Publisher(broker.port)
    good = event_batch("cam-1", 1, 1, boot=0, ns=[0, 1])
    try:
        pub.send(topic_of("dijon", good), b"\xc1 not msgpack").wait_for_publish(5)
        pub.send(topic_of("dijon", good), wire.encode(good)[:-3]).wait_for_publish(5)  # truncated
        pub.send(wire.device_topic("dijon", "cam-2", wire.Kind.EVENT), wire.encode(good)).wait_for_publish(5)
        pub.message("dijon", event_batch("cam-x", 1, 1, boot=0, ns=[0]))  # not in the registry
        pub.message("talant", good)  # registered under dijon
        pub.message("dijon", good)
        wait_until(lambda: _count(engine, events) == 2, 10, "the valid batch stored")
    finally:
        pub.close()
    m = worker.metrics
    assert m.value("vigie_ingest_rejects_total", reason="msgpack") == 2  # garbage, truncated
    assert m.value("vigie_ingest_rejects_total", reason="mismatch") == 1
    assert m.value("vigie_ingest_rejects_total", reason="unknown_device") == 1
    assert m.value("vigie_ingest_rejects_total", reason="wrong_site") == 1
    assert m.value("vigie_ingest_messages_total", kind="invalid") == 3
    assert event_ids(engine) == [("cam-1", 0, 0), ("cam-1", 0, 1)]  # nothing of the refused ones


def test_rejects_are_logged_once_per_reason(worker: IngestWorker, engine: Engine, broker: Mosquitto,
                                             caplog: pytest.LogCaptureFixture) -> None:
    register(engine, ("cam-1", "dijon"))
    pub = Publisher(broker.port)
    try:
        for _ in range(5):
            pub.send(wire.device_topic("dijon", "cam-1", wire.Kind.EVENT), b"\xc1").wait_for_publish(5)
        wait_until(lambda: worker.metrics.value("vigie_ingest_rejects_total", reason="msgpack") == 5, 10, "5 rejects")
    finally:
        pub.close()
    assert sum("rejected (msgpack)" in r.getMessage() for r in caplog.records) == 1


def test_death_of_the_current_session_marks_the_device_and_an_older_one_is_ignored(
        worker: IngestWorker, engine: Engine, broker: Mosquitto) -> None:
    register(engine, ("cam-1", "dijon"))
    pub = Publisher(broker.port)
    try:
        pub.message("dijon", birth("cam-1", 7), retain=True)
        pub.message("dijon", event_batch("cam-1", 7, 1, boot=2, ns=[0, 1]))
        wait_until(lambda: _count(engine, events) == 2, 10, "events of session 7")
        pub.message("dijon", death("cam-1", 6), retain=True)  # the will of an older connection
        wait_until(lambda: worker.metrics.value("vigie_ingest_ignored_total", what="stale_death") == 1, 10,
                   "stale death ignored")
        assert _status(engine, "cam-1") == ("online", 7)
        pub.message("dijon", death("cam-1", 7), retain=True)
        wait_until(lambda: _status(engine, "cam-1")[0] == "offline", 10, "offline")
    finally:
        pub.close()
    with engine.connect() as conn:
        assert set(conn.execute(sa.select(events.c.stale)).scalars()) == {True}


def test_retained_birth_seen_again_on_resubscribe_is_not_a_new_session(engine: Engine, db_url: str,
                                                                       broker: Mosquitto) -> None:
    register(engine, ("cam-1", "dijon"))
    pub = Publisher(broker.port)
    pub.message("dijon", birth("cam-1", 2), retain=True)
    pub.close()
    changes: list[str] = []
    hooks = Hooks(devices=[lambda _c, items: changes.extend(c.status for c in items)])
    for run in range(2):  # a second worker (new session id) gets the retained birth again
        w = IngestWorker(_settings(db_url, broker.port, client_id=f"vigie-ingest-{run}"), engine, hooks)
        w.start()
        wait_until(lambda w=w: w.handled >= 1, 10, "retained birth handled")  # type: ignore[misc]
        w.stop()
    assert changes == ["online"]
    assert _status(engine, "cam-1") == ("online", 2)


def _ingest_cmd(db_url: str, port: int) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "VIGIE_DATABASE_URL": db_url, "VIGIE_MQTT_PORT": str(port),
           "VIGIE_INGEST_CLIENT_ID": "vigie-ingest-killed", "VIGIE_INGEST_BATCH_MS": "20"}
    return [sys.executable, "-m", "coordinator.cli", "ingest"], env


def _publish_stream(port: int, devices_: Sequence[str], per_device: int, stop: threading.Event,
                    sent: list[int]) -> None:
    """Many boxes sending one small batch per message, in order, as fast as the broker takes them."""
    pub = Publisher(port, "flow-publisher")
    try:
        for k in range(per_device):
            if stop.is_set():
                return
            for dev in devices_:
                pub.send(wire.device_topic("dijon", dev, wire.Kind.EVENT),
                         wire.encode(event_batch(dev, 1, k + 1, boot=0, ns=[2 * k, 2 * k + 1])))
            sent[0] = k + 1
            if k % 50 == 0:
                time.sleep(0.01)
        pub.client.publish("flow/done", b"", qos=1).wait_for_publish(30)
    finally:
        pub.close()


@pytest.mark.slow
def test_a_worker_killed_mid_flow_loses_no_event(engine: Engine, db_url: str, broker: Mosquitto,
                                                tmp_path: Path) -> None:
    devs = [f"cam-{i}" for i in range(4)]
    register(engine, *((d, "dijon") for d in devs))
    cmd, env = _ingest_cmd(db_url, broker.port)
    log = open(tmp_path / "ingest.log", "wb")  # noqa: SIM115 - closed at the end of the test
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=log)
    stop, sent = threading.Event(), [0]
    per_device = 1500
    flow = threading.Thread(target=_publish_stream, args=(broker.port, devs, per_device, stop, sent))
    try:
        pub = Publisher(broker.port)
        pub.message("dijon", birth("cam-0", 1), retain=True)
        pub.close()
        wait_until(lambda: _status(engine, "cam-0")[0] == "online", 30, "worker up (retained birth handled)")
        flow.start()
        wait_until(lambda: _count(engine, events) > 2000, 60, "events flowing")
        proc.send_signal(signal.SIGKILL)  # mid-batch: some of it stored, none of it acknowledged
        proc.wait(10)
        stored_at_kill = _count(engine, events)
        time.sleep(0.5)  # the flow goes on; the broker queues for the worker's session
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=log)
        flow.join(120)
        total = len(devs) * per_device * 2
        wait_until(lambda: _count(engine, events) == total, 120, f"all {total} events stored")
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        log.close()
    assert 0 < stored_at_kill < total
    with engine.connect() as conn:
        rows = conn.execute(sa.select(event_streams.c.last_n, event_streams.c.events, event_streams.c.missing)).all()
    assert sorted(rows) == [(2 * per_device - 1, 2 * per_device, 0)] * len(devs)
    assert gaps(engine, "event") == []


def test_two_workers_share_the_load_without_storing_twice(engine: Engine, db_url: str, broker: Mosquitto) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers share the load on PostgreSQL")
    devs = [f"cam-{i}" for i in range(6)]
    register(engine, *((d, "dijon") for d in devs))
    stored: list[StoredEvent] = []
    lock = threading.Lock()

    def keep(_c: object, items: Sequence[StoredEvent]) -> None:
        with lock:
            stored.extend(items)

    workers = [IngestWorker(_settings(db_url, broker.port, client_id=f"vigie-ingest-{i}"), engine,
                            Hooks(events=[keep])) for i in (1, 2)]  # type: ignore[list-item]
    for w in workers:
        w.start()
        wait_until(w.client.subscribed.is_set, 10, "worker subscribed")
    pub = Publisher(broker.port)
    try:
        per_device = 200
        for k in range(per_device):
            for dev in devs:
                msg = event_batch(dev, 1, k + 1, boot=0, ns=[3 * k, 3 * k + 1, 3 * k + 2])
                pub.send(topic_of("dijon", msg), wire.encode(msg))
                if k % 20 == 0:  # a box resending a batch after a reconnect: it may reach the other worker
                    pub.send(topic_of("dijon", msg), wire.encode(msg))
        total = len(devs) * per_device * 3
        wait_until(lambda: _count(engine, events) == total, 60, f"{total} events")
        sent = len(devs) * (per_device + len(range(0, per_device, 20)))
        wait_until(lambda: sum(w.handled for w in workers) == sent, 30, "every message handled")
    finally:
        pub.close()
        for w in workers:
            w.stop()
    assert all(w.handled > 0 for w in workers), [w.handled for w in workers]
    assert len(stored) == total and len({(e.device_id, e.boot, e.n) for e in stored}) == total
    assert sum(w.metrics.value("vigie_ingest_events_stored_total") for w in workers) == total
    assert gaps(engine, "event") == []
    with engine.connect() as conn:
        assert set(conn.execute(sa.select(event_streams.c.missing)).scalars()) == {0}
