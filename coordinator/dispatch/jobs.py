"""Where interventions come from without a human: the ingest hook and the timer jobs.

The hook runs inside the ingest transaction (no network I/O): it evaluates the event rules on
the newly stored events and writes interventions. The jobs (``coordinator.periodic.JOBS``)
cover what no event triggers: SLA escalation, boxes gone silent, vehicles that stay put while
their camera says nothing more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from sqlalchemy.engine import Connection, Engine

from coordinator.ingest.hooks import StoredEvent
from coordinator.interventions.lifecycle import Actor, AuditEntry, State
from coordinator.interventions.rules import evaluate, offline_candidates
from coordinator.interventions.sla import escalation_level, missed
from coordinator.storage import interventions as store

from .service import apply_transition, notify, open_candidates

#: Rule types evaluated on events, and the event types they read.
EVENT_RULES = ("crowd", "loitering", "stopped_vehicle", "light_fault")
EVENT_TYPES = frozenset({"occupancy", "loitering", "zone_enter", "zone_leave", "track_end", "lamp_fault",
                         "cabinet_fault"})


def _now_ms() -> int:
    return int(time.time() * 1000)


def run_event_rules(conn: Connection, items: Sequence[StoredEvent], now_ms: int) -> list[tuple[int, bool]]:
    """Evaluate the enabled event rules on ``items``; returns the interventions opened or merged into."""
    relevant = [e for e in items if e.type in EVENT_TYPES]
    if not relevant:
        return []
    out: list[tuple[int, bool]] = []
    rules = store.enabled_rules(conn, EVENT_RULES)
    if rules:
        before = store.load_states(conn, [r.id for r in rules])
        candidates, after = evaluate(rules, before, relevant, now_ms)
        store.save_states(conn, before, after, now_ms)
        out = open_candidates(conn, candidates, now_ms)
    for e in relevant:
        if e.type == "lamp_fault" and e.body.get("active") is False:
            _note_cleared(conn, e, now_ms)
        elif e.type == "cabinet_fault" and e.body.get("active") is False:
            _note_cabinet_cleared(conn, e, now_ms)
    return out


def _note_cabinet_cleared(conn: Connection, e: StoredEvent, now_ms: int) -> None:
    """A cabinet fault cleared (door closed, breaker reset): logged on its open intervention as evidence for
    the team; resolving it stays a person's decision (a closed door says nothing of what was found inside)."""
    part, fault = str(e.body.get("part")), str(e.body.get("fault"))
    actor = Actor("device", e.device_id)
    for row in store.open_with_key(conn, "cabinet_fault", f"{e.device_id}/cabinet:{part}/{fault}"):
        store.add_log(conn, row.id, AuditEntry(now_ms, str(actor), "telemetry", row.state, row.state, None,
                                               {"part": part, "fault": fault, "active": False, "ts_ms": e.ts_ms}))


def _note_cleared(conn: Connection, e: StoredEvent, now_ms: int) -> None:
    """A fault cleared: log it on the luminaire's open light-fault interventions; resolve those whose
    team is on site when the luminaire is now healthy (the repair is what cleared it)."""
    lum = str(e.body.get("lum"))
    healthy = store.luminaire_healthy(conn, e.device_id, lum)
    actor = Actor("device", e.device_id)
    for row in store.light_faults_open(conn, e.device_id, lum):
        store.add_log(conn, row.id, AuditEntry(now_ms, str(actor), "telemetry", row.state, row.state,
                                               None, {"lum": lum, "fault": e.body.get("fault"), "active": False,
                                                      "healthy": healthy, "ts_ms": e.ts_ms}))
        if healthy and row.state == State.ON_SITE.value:
            apply_transition(conn, row.id, State.RESOLVED.value, actor, "the luminaire reports every fault cleared",
                             now_ms)


def make_event_hook(clock: Callable[[], int] = _now_ms) -> Callable[[Connection, Sequence[StoredEvent]], None]:
    def interventions_on_events(conn: Connection, items: Sequence[StoredEvent]) -> None:
        run_event_rules(conn, items, clock())

    return interventions_on_events


def rules_tick_job(engine: Engine, now_ms: int) -> int:
    """Time-based rule checks with no new event (a vehicle that stays put in a no-stopping zone)."""
    with engine.begin() as conn:
        rules = store.enabled_rules(conn, ["stopped_vehicle"])
        if not rules:
            return 0
        before = store.load_states(conn, [r.id for r in rules])
        candidates, after = evaluate(rules, before, [], now_ms)
        store.save_states(conn, before, after, now_ms)
        return len(open_candidates(conn, candidates, now_ms))


def offline_job(engine: Engine, now_ms: int) -> int:
    """Open one intervention per box silent beyond an offline rule's threshold (none while one is open)."""
    with engine.begin() as conn:
        rules = store.enabled_rules(conn, ["device_offline"])
        if not rules:
            return 0
        already = store.open_keys(conn, "device_offline")
        fresh, seen = [], set(already)
        for c in offline_candidates(rules, store.device_views(conn), now_ms):
            if c.key not in seen:
                seen.add(str(c.key))
                fresh.append(c)
        return len(open_candidates(conn, fresh, now_ms))


def sla_job(engine: Engine, now_ms: int) -> int:
    """Raise the escalation level of interventions past an SLA deadline, log it and tell the team."""
    done = 0
    with engine.begin() as conn:
        for row in store.open_rows(conn):
            iv = row.domain()
            level = escalation_level(iv, now_ms)
            if level <= row.escalation:
                continue
            late = missed(iv, now_ms)
            entry = AuditEntry(now_ms, "system", "escalate", row.state, row.state, f"{late[-1]} deadline missed",
                               {"level": level, "missed": late})
            if store.save(conn, row, replace(iv, escalation=level), entry, now_ms):
                done += 1
                saved = store.get(conn, row.id)
                if saved is not None and saved.team_id:
                    notify(conn, saved, saved.team_id, "escalate", now_ms, f"escalation level {level}")
    return done
