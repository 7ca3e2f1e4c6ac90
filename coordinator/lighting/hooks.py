"""Ingest hooks of lighting: the nodes' answers to lighting commands, and the current state of their lamp faults,
recorded in the ingest transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from coordinator.ingest.hooks import StoredAck, StoredEvent
from coordinator.storage import lighting as store
from coordinator.storage.lighting_state import LampFaultReport, record_lamp_faults

#: Events the lamp fault state is kept from.
FAULT_EVENT_TYPES = frozenset({"lamp_fault"})


def on_acks(conn: Connection, items: Sequence[StoredAck]) -> None:
    """Record which device answered what to a lighting command (acks to other commands pass by)."""
    store.record_acks(conn, [store.Ack(a.cmd_id, a.device_id, a.result, a.detail, dict(a.applied), a.ts_ms)
                             for a in items])


def on_fault_events(conn: Connection, items: Sequence[StoredEvent]) -> None:
    """Keep each luminaire fault's latest state (``lamp_faults``): it outlives the raw events' retention.

    Registered before the interventions' hook, which reads that state when a fault clears."""
    reports = []
    for e in items:
        lum, fault = e.body.get("lum"), e.body.get("fault")
        if e.type == "lamp_fault" and isinstance(lum, str) and isinstance(fault, str):
            reports.append(LampFaultReport(e.device_id, lum, fault, bool(e.body.get("active")), e.ts_ms, e.boot,
                                           e.n))
    record_lamp_faults(conn, reports)
