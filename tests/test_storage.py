"""Migrations build the declared schema on both databases, and the engines behave as configured."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coordinator.cli import main as cli
from coordinator.storage import current_revision, head_revision, make_engine, normalise_url, schema_drift, upgrade
from coordinator.storage.schema import devices, events, lamp_faults


def test_migrations_reach_head_and_match_the_declared_tables(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    assert schema_drift(engine) == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_migration_0006_adds_the_session_bound_and_goes_back_with_the_devices_kept(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(devices.insert(), {"id": "cam-1", "site": "dijon", "roles": ["camera"], "caps": [],
                                        "status": "online", "created_ms": 1, "updated_ms": 1,
                                        "session_events_from_ms": 5})
    url = engine.url.render_as_string(hide_password=False)
    assert cli(["db", "--database-url", url, "downgrade", "0005"]) == 0
    with engine.connect() as conn:
        assert "session_events_from_ms" not in {c["name"] for c in sa.inspect(conn).get_columns("devices")}
        assert conn.execute(sa.text("SELECT status FROM devices WHERE id = 'cam-1'")).scalar_one() == "online"
    upgrade(engine)
    assert schema_drift(engine) == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(devices.c.session_events_from_ms)).scalar_one() is None, \
            "a session from before the step: its bound is not known"


def test_migration_0007_keeps_the_latest_state_of_each_lamp_fault_from_the_events_kept(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    assert cli(["db", "--database-url", url, "downgrade", "0006"]) == 0
    with engine.begin() as conn:
        for n, (ts, lum, active) in enumerate(((30, "l1", True), (10, "l1", False), (20, "l2", True),
                                               (40, "l2", False))):
            conn.execute(events.insert(), {"device_id": "light-1", "boot": 1, "n": n, "site": "dijon", "ts_ms": ts,
                                           "received_ms": 50 - ts, "type": "lamp_fault", "historical": False,
                                           "stale": False, "body": {"lum": lum, "fault": "lampFailure",
                                                                    "active": active}})
    upgrade(engine)
    assert schema_drift(engine) == []
    with engine.connect() as conn:
        assert sorted(conn.execute(sa.select(lamp_faults.c.lum_id, lamp_faults.c.active, lamp_faults.c.ts_ms))) == [
            ("l1", True, 30), ("l2", False, 40)], "by event time, not by arrival"
    assert cli(["db", "--database-url", url, "downgrade", "0006"]) == 0
    with engine.connect() as conn:
        assert "lamp_faults" not in sa.inspect(conn).get_table_names()
    upgrade(engine)


def test_event_primary_key_is_the_wire_event_id(engine: Engine) -> None:
    row = {"device_id": "cam-1", "boot": 3, "n": 7, "site": "dijon", "ts_ms": 1, "received_ms": 2,
           "type": "detection", "historical": False, "stale": False, "body": {"cls": 0}}
    with engine.begin() as conn:
        conn.execute(events.insert(), row)
    try:
        with engine.begin() as conn:
            conn.execute(events.insert(), row)
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("a second insert of the same event id must violate the key")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 1


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    e = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with e.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    e.dispose()


def test_plain_postgresql_urls_use_psycopg_3() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x") == "sqlite:///x"
