"""Application services of interventions: each function runs inside the caller's transaction.

The API, the ingest hook, the timer jobs and the field-status consumer all go through these
functions, so a transition is checked, stored, logged and notified the same way whoever asks.
Notifications are rows in the ``deliveries`` outbox, never network I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Connection

from coordinator.interventions.dedupe import find_duplicate
from coordinator.interventions.errors import InvalidRequestError, StaleVersionError, UnknownIdError
from coordinator.interventions.lifecycle import LIGHT_FAULT, Actor, AuditEntry, State, transition
from coordinator.interventions.rules import Candidate
from coordinator.interventions.sla import higher
from coordinator.storage import interventions as store
from coordinator.storage import teams as team_store
from coordinator.storage.interventions import InterventionRow, NewIntervention


def open_candidates(conn: Connection, candidates: Sequence[Candidate], now_ms: int) -> list[tuple[int, bool]]:
    """Open each candidate as an intervention, or merge it into an open duplicate: ``(id, merged)``."""
    where = store.positions(conn, [c.device_id for c in candidates if c.device_id and c.lat is None])
    out = []
    for raw in candidates:
        c = raw
        if c.lat is None and c.device_id in where:
            lat, lon = where[c.device_id]
            c = replace(c, lat=lat, lon=lon)
        actor = f"rule:{c.rule_id}" if c.rule_id is not None else "system"
        dup = find_duplicate(c, store.open_for_dedupe(conn, c.kind))
        if dup is not None:
            row = store.get(conn, dup.id)
            assert row is not None
            entry = AuditEntry(now_ms, actor, "merge", row.state, row.state, None,
                               {"title": c.title, "ts_ms": c.ts_ms, "priority": c.priority, **c.detail})
            store.merge(conn, dup.id, c.ts_ms, higher(row.priority, c.priority), entry, now_ms)
            out.append((dup.id, True))
            continue
        iid = store.insert(conn, NewIntervention(
            kind=c.kind, priority=c.priority, source="rule", title=c.title[:200], created_by=actor, ts_ms=c.ts_ms,
            commune=c.commune, lat=c.lat, lon=c.lon, device_id=c.device_id, target=c.target, dedupe_key=c.key,
            skill=c.skill, rule_id=c.rule_id, detail=dict(c.detail)), now_ms)
        out.append((iid, False))
    return out


def dispatch_payload(row: InterventionRow, team: str, action: str, now_ms: int, note: str = "") -> dict[str, Any]:
    """What a team is told, over MQTT (as a ``Dispatch`` message) and by webhook (as JSON)."""
    return {"action": action, "intervention": row.id, "team": team, "state": row.state, "priority": row.priority,
            "kind": row.kind, "title": row.title, "commune": row.commune, "lat": row.lat, "lon": row.lon,
            "note": note[:512], "ts_ms": now_ms}


def notify(conn: Connection, row: InterventionRow, team_id: str, action: str, now_ms: int, note: str = "") -> None:
    team = team_store.get_team(conn, team_id)
    if team is not None:
        team_store.enqueue(conn, team, row.id, dispatch_payload(row, team_id, action, now_ms, note), now_ms)


def apply_transition(conn: Connection, iid: int, to: str, actor: Actor, reason: str | None, now_ms: int,
                     team: str | None = None) -> InterventionRow:
    """Check, store, log and notify one move of intervention ``iid``; raises the domain's errors."""
    row = store.get(conn, iid, for_update=True)
    if row is None:
        raise UnknownIdError(f"intervention {iid} not found")
    if team is not None:
        team_row = team_store.get_team(conn, team)
        if team_row is None:
            raise UnknownIdError(f"team {team!r} not found")
        if not team_row.active:
            raise InvalidRequestError(f"team {team!r} is not active")
    verified = None
    if row.kind == LIGHT_FAULT and to == State.RESOLVED.value:
        verified = bool(row.device_id and row.target and store.luminaire_healthy(conn, row.device_id, row.target))
    new, entry = transition(row.domain(), to, actor, reason, now_ms, team=team, verified_healthy=verified)
    if not store.save(conn, row, new, entry, now_ms):
        raise StaleVersionError(f"intervention {iid} was changed meanwhile; reload and retry")
    saved = store.get(conn, iid)
    assert saved is not None
    note = reason or ""
    if new.team != row.team_id:
        if row.team_id:
            notify(conn, saved, row.team_id, "withdraw", now_ms, note)
        if new.team:
            notify(conn, saved, new.team, "assign", now_ms, note)
    elif new.team and actor.kind != "team":
        notify(conn, saved, new.team, "update", now_ms, note)
    return saved


def comment(conn: Connection, iid: int, actor: Actor, text: str, now_ms: int) -> None:
    row = store.get(conn, iid)
    if row is None:
        raise UnknownIdError(f"intervention {iid} not found")
    store.add_log(conn, iid, AuditEntry(now_ms, str(actor), "comment", row.state, row.state, text, {}))


#: Citizen reports of the same service within this radius and window are one incident.
REPORT_RADIUS_M = 30.0
REPORT_WINDOW_S = 24 * 3600


def open_citizen_report(conn: Connection, code: str, skill: str, priority: str, title: str, lat: float, lon: float,
                        commune: str, description: str | None, address: str | None,
                        now_ms: int) -> tuple[int, bool]:
    """Open an intervention for an Open311 report, or count it on an open one nearby: ``(id, merged)``."""
    c = Candidate(kind=code, priority=priority, skill=skill, commune=commune, ts_ms=now_ms, title=title, key=None,
                  window_s=REPORT_WINDOW_S, radius_m=REPORT_RADIUS_M, lat=lat, lon=lon)
    dup = find_duplicate(c, store.open_for_dedupe(conn, code))
    if dup is not None:
        row = store.get(conn, dup.id)
        assert row is not None
        store.merge(conn, dup.id, now_ms, row.priority, AuditEntry(
            now_ms, "citizen", "merge", row.state, row.state, None,
            {"service_code": code, "lat": lat, "lon": lon, "description": description, "address": address}), now_ms)
        return dup.id, True
    detail: dict[str, Any] = {"address": address} if address else {}
    iid = store.insert(conn, NewIntervention(
        kind=code, priority=priority, source="citizen", title=title, created_by="citizen", ts_ms=now_ms,
        description=description, commune=commune, lat=lat, lon=lon, skill=skill, service_code=code,
        detail=detail), now_ms)
    return iid, False
