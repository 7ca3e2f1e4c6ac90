"""A cabinet's door opened on a real Modbus server becomes an event through a real broker and an intervention."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coordinator.ingest.config import IngestSettings
from coordinator.ingest.worker import IngestWorker
from coordinator.ingest_hooks import default_hooks
from coordinator.storage import interventions as interventions_store
from coordinator.storage.schema import events
from coordinator.storage.schema.interventions import interventions
from edge_agent.agent import Agent
from edge_agent.lighting.cabinet.simulator import CabinetServer
from tests.boxes import write_box
from tests.ingest_helpers import register
from tests.lighting_helpers import running_clock
from tests.mqtt_helpers import Mosquitto, wait_until
from tests.test_cabinet import NIGHT, lighting_section


def test_a_door_opened_at_the_cabinet_opens_a_cabinet_intervention(
    tmp_path: Path, db_url: str, engine: Engine, broker: Mosquitto
) -> None:
    register(engine, ("light-cab-01", "dijon"))
    with engine.begin() as conn:
        interventions_store.create_rule(conn, "Armoires", None, True, {
            "type": "light_fault", "faults": ["doorOpen", "breakerTrip"], "skill": "eclairage"}, "test",
            int(time.time() * 1000))
    settings = IngestSettings(database_url=db_url, mqtt_port=broker.port, client_id="ingest-cabinet", batch_ms=20)
    worker = IngestWorker(settings, engine, default_hooks())
    worker.start()
    with CabinetServer() as server:
        lighting = lighting_section(server.port, tmp_path) | {"decision_interval_s": 0.2}
        cfg, path = write_box(tmp_path, broker.port, "light-cab-01", lighting=lighting)
        agent = Agent(cfg, path, light_clock=running_clock(NIGHT))
        agent.start()
        try:
            wait_until(lambda: server.model.coils[:2] == [True, True], 20, "the circuits switched on at night")
            server.model.door_open = True
            wait_until(lambda: _count(engine, interventions.c.kind == "cabinet_fault") == 1, 30,
                       "a cabinet intervention opened")
            with engine.connect() as conn:
                row = conn.execute(sa.select(interventions)).one()
                stored = conn.execute(sa.select(events.c.body).where(events.c.type == "cabinet_fault")).scalars()
                # A Modbus poll missed on a busy machine raises and clears a controllerCommFailure: not this test's
                # subject (the controller's own tests cover it).
                door = [dict(b) for b in stored if b["fault"] != "controllerCommFailure"]
                assert door == [{"part": "cabinet", "fault": "doorOpen", "active": True}]
            assert (row.title, row.skill, row.device_id) == ("Cabinet of light-cab-01: doorOpen", "eclairage",
                                                             "light-cab-01")
            assert agent.metrics()["cabinet.door_open"] is True
            server.model.door_open = False  # the team closes the door: logged on the intervention, not resolved
            wait_until(lambda: _cleared_logged(engine, row.id), 30, "the door closing logged")
            with engine.connect() as conn:
                assert conn.execute(sa.select(interventions.c.state)).scalar_one() == "new"
        finally:
            agent.shutdown(drain_s=1)
            worker.stop()


def _cleared_logged(engine: Engine, iid: int) -> bool:
    with engine.connect() as conn:
        return any(entry.get("detail", {}).get("active") is False and entry.get("detail", {}).get("fault") == "doorOpen"
                   for entry in interventions_store.history(conn, iid))


def _count(engine: Engine, where: sa.ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(interventions).where(where)).scalar_one())
