"""Interventions, their audit log and rules in the database.

Functions take a connection (the caller owns the transaction) and return domain values or
plain rows; the application services in ``coordinator.dispatch`` combine them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.interventions.dedupe import OpenIntervention
from coordinator.interventions.lifecycle import OPEN_STATES, AuditEntry, Intervention, State
from coordinator.interventions.rules import DeviceView, Rule, RuleSpec

from .schema.events import telemetry
from .schema.fleet import devices
from .schema.interventions import intervention_log, interventions, rule_state, rules
from .schema.lighting import lamp_faults

_OPEN = [s.value for s in OPEN_STATES]


@dataclass(frozen=True)
class InterventionRow:
    """One intervention as stored (every column)."""

    id: int
    kind: str
    state: str
    priority: str
    source: str
    title: str
    description: str | None
    commune: str | None
    lat: float | None
    lon: float | None
    device_id: str | None
    target: str | None
    dedupe_key: str | None
    skill: str | None
    rule_id: int | None
    service_code: str | None
    team_id: str | None
    reports: int
    escalation: int
    detail: dict[str, Any]
    first_ms: int
    last_ms: int
    sla_start_ms: int
    acknowledged_ms: int | None
    on_site_ms: int | None
    resolved_ms: int | None
    closed_ms: int | None
    created_ms: int
    updated_ms: int
    created_by: str
    version: int

    def domain(self) -> Intervention:
        return Intervention(id=self.id, kind=self.kind, state=State(self.state), priority=self.priority,
                            team=self.team_id, sla_start_ms=self.sla_start_ms, acknowledged_ms=self.acknowledged_ms,
                            on_site_ms=self.on_site_ms, resolved_ms=self.resolved_ms, closed_ms=self.closed_ms,
                            escalation=self.escalation)


_ROW_FIELDS = [f.name for f in fields(InterventionRow)]


def _row(r: Any) -> InterventionRow:
    return InterventionRow(**{name: getattr(r, name) for name in _ROW_FIELDS})


@dataclass(frozen=True)
class NewIntervention:
    kind: str
    priority: str
    source: str
    title: str
    created_by: str
    ts_ms: int
    description: str | None = None
    commune: str | None = None
    lat: float | None = None
    lon: float | None = None
    device_id: str | None = None
    target: str | None = None
    dedupe_key: str | None = None
    skill: str | None = None
    rule_id: int | None = None
    service_code: str | None = None
    detail: dict[str, Any] | None = None


def insert(conn: Connection, new: NewIntervention, now_ms: int) -> int:
    """Store a new intervention in state ``new`` with its ``created`` log entry; returns its id."""
    values = {f.name: getattr(new, f.name) for f in fields(NewIntervention) if f.name != "ts_ms"}
    values["detail"] = new.detail or {}
    result = conn.execute(interventions.insert().values(
        **values, state=State.NEW.value, reports=1, escalation=0, first_ms=new.ts_ms, last_ms=new.ts_ms,
        sla_start_ms=now_ms, created_ms=now_ms, updated_ms=now_ms, version=1))
    iid = int(result.inserted_primary_key[0])  # type: ignore[index]
    add_log(conn, iid, AuditEntry(now_ms, new.created_by, "create", None, State.NEW.value, None,
                                  {"source": new.source, "priority": new.priority}))
    return iid


def add_log(conn: Connection, iid: int, entry: AuditEntry) -> None:
    conn.execute(intervention_log.insert().values(
        intervention_id=iid, ts_ms=entry.ts_ms, actor=entry.actor[:160], action=entry.action,
        from_state=entry.from_state, to_state=entry.to_state, reason=entry.reason, detail=entry.detail))


def get(conn: Connection, iid: int, *, for_update: bool = False) -> InterventionRow | None:
    q = sa.select(interventions).where(interventions.c.id == iid)
    if for_update:
        q = q.with_for_update()
    r = conn.execute(q).first()
    return None if r is None else _row(r)


@dataclass(frozen=True)
class Filter:
    states: Sequence[str] = ()
    kind: str | None = None
    priority: str | None = None
    commune: str | None = None
    team: str | None = None
    escalated: bool | None = None
    before_id: int | None = None
    limit: int = 100


def search(conn: Connection, f: Filter) -> list[InterventionRow]:
    """Newest first; ``before_id`` pages backwards (keyset, stable under inserts)."""
    c = interventions.c
    q = sa.select(interventions)
    if f.states:
        q = q.where(c.state.in_(list(f.states)))
    for column, value in ((c.kind, f.kind), (c.priority, f.priority), (c.commune, f.commune), (c.team_id, f.team)):
        if value is not None:
            q = q.where(column == value)
    if f.escalated is not None:
        q = q.where(c.escalation > 0 if f.escalated else c.escalation == 0)
    if f.before_id is not None:
        q = q.where(c.id < f.before_id)
    return [_row(r) for r in conn.execute(q.order_by(c.id.desc()).limit(f.limit))]


def history(conn: Connection, iid: int) -> list[dict[str, Any]]:
    q = sa.select(intervention_log).where(intervention_log.c.intervention_id == iid).order_by(intervention_log.c.id)
    return [{"ts_ms": r.ts_ms, "actor": r.actor, "action": r.action, "from_state": r.from_state,
             "to_state": r.to_state, "reason": r.reason, "detail": r.detail or {}} for r in conn.execute(q)]


def save(conn: Connection, row: InterventionRow, new: Intervention, entry: AuditEntry, now_ms: int) -> bool:
    """Store ``new`` over ``row`` if nobody changed it meanwhile (same version), with its log entry."""
    result = conn.execute(interventions.update().where(
        interventions.c.id == row.id, interventions.c.version == row.version).values(
        state=new.state.value, team_id=new.team, priority=new.priority, sla_start_ms=new.sla_start_ms,
        acknowledged_ms=new.acknowledged_ms, on_site_ms=new.on_site_ms, resolved_ms=new.resolved_ms,
        closed_ms=new.closed_ms, escalation=new.escalation, updated_ms=now_ms, version=row.version + 1))
    if result.rowcount != 1:
        return False
    add_log(conn, row.id, entry)
    return True


def merge(conn: Connection, target: int, ts_ms: int, priority: str, entry: AuditEntry, now_ms: int) -> None:
    """Count one more report of an open intervention (a duplicate merged into it)."""
    c = interventions.c
    conn.execute(interventions.update().where(c.id == target).values(
        reports=c.reports + 1, last_ms=sa.func.greatest(c.last_ms, ts_ms) if conn.dialect.name != "sqlite"
        else sa.func.max(c.last_ms, ts_ms), priority=priority, updated_ms=now_ms, version=c.version + 1))
    add_log(conn, target, entry)


def open_for_dedupe(conn: Connection, kind: str) -> list[OpenIntervention]:
    c = interventions.c
    q = sa.select(c.id, c.kind, c.dedupe_key, c.lat, c.lon, c.last_ms).where(c.kind == kind, c.state.in_(_OPEN))
    return [OpenIntervention(r.id, r.kind, r.dedupe_key, r.lat, r.lon, r.last_ms) for r in conn.execute(q)]


def open_keys(conn: Connection, kind: str) -> set[str]:
    c = interventions.c
    q = sa.select(c.dedupe_key).where(c.kind == kind, c.state.in_(_OPEN), c.dedupe_key.is_not(None))
    return {str(k) for k in conn.execute(q).scalars()}


def open_rows(conn: Connection) -> list[InterventionRow]:
    """Interventions whose SLA clock still runs (not resolved nor closed)."""
    q = sa.select(interventions).where(interventions.c.state.in_(_OPEN)).order_by(interventions.c.id)
    return [_row(r) for r in conn.execute(q)]


def light_faults_open(conn: Connection, device_id: str, lum: str) -> list[InterventionRow]:
    c = interventions.c
    q = sa.select(interventions).where(c.kind == "light_fault", c.device_id == device_id, c.target == lum,
                                       c.state.in_(_OPEN))
    return [_row(r) for r in conn.execute(q)]


def open_with_key(conn: Connection, kind: str, key: str) -> list[InterventionRow]:
    """Open interventions of ``kind`` raised under the dedupe ``key`` (a cabinet fault's ``dev/cabinet:part/fault``)."""
    c = interventions.c
    q = sa.select(interventions).where(c.kind == kind, c.dedupe_key == key, c.state.in_(_OPEN))
    return [_row(r) for r in conn.execute(q)]


def luminaire_healthy(conn: Connection, device_id: str, lum: str) -> bool:
    """True when every fault ever reported for the luminaire was last reported cleared.

    The evidence is the light node's own ``lamp_fault`` events (``active: false`` when a TALQ
    fault clears), which travel through the node's durable outbox and name the luminaire and
    the fault; faults are not in telemetry (QoS 0, latest value only). Their latest state per fault
    is kept at ingest in ``lamp_faults`` (raw events leave with the retention). No clearing event at
    all means no evidence: not healthy. The latest telemetry may still veto (see below).
    """
    f = lamp_faults.c
    rows = conn.execute(sa.select(f.active, f.ts_ms).where(f.device_id == device_id, f.lum_id == lum)).all()
    if not rows or any(r.active for r in rows):
        return False
    cleared_ms = max(int(r.ts_ms) for r in rows)
    return not _telemetry_says_silent(conn, device_id, lum, cleared_ms)


def _telemetry_says_silent(conn: Connection, device_id: str, lum: str, since_ms: int) -> bool:
    """The node's latest telemetry, if newer than the clearing event, vetoes a luminaire whose gear
    did not answer (nil ``level`` in the ``light.lum`` table): a veto, never a proof of health."""
    q = sa.select(telemetry.c.ts_ms, telemetry.c.metrics).where(telemetry.c.device_id == device_id)
    r = conn.execute(q).first()
    if r is None or r.ts_ms < since_ms:
        return False
    table = (r.metrics or {}).get("light.lum")
    if not isinstance(table, dict) or lum not in (table.get("ids") or []):
        return False
    levels = table.get("level") or []
    i = list(table["ids"]).index(lum)
    return i < len(levels) and levels[i] is None


def positions(conn: Connection, device_ids: Sequence[str]) -> dict[str, tuple[float | None, float | None]]:
    if not device_ids:
        return {}
    q = sa.select(devices.c.id, devices.c.lat, devices.c.lon).where(devices.c.id.in_(sorted(set(device_ids))))
    return {r.id: (r.lat, r.lon) for r in conn.execute(q)}


def device_views(conn: Connection) -> list[DeviceView]:
    d = devices.c
    q = sa.select(d.id, d.site, d.status, d.last_seen_ms, d.status_since_ms, d.roles)
    return [DeviceView(r.id, r.site, r.status, r.last_seen_ms, r.status_since_ms, tuple(r.roles or ()))
            for r in conn.execute(q)]


# -- rules ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleRow:
    id: int
    name: str
    type: str
    commune: str | None
    enabled: bool
    config: dict[str, Any]
    updated_ms: int
    updated_by: str

    def domain(self) -> Rule:
        spec = RuleSpec.model_validate({"config": self.config})
        return Rule(self.id, self.name, self.commune, self.enabled, spec.config)


def _rule(r: Any) -> RuleRow:
    return RuleRow(r.id, r.name, r.type, r.commune, r.enabled, r.config, r.updated_ms, r.updated_by)


def create_rule(conn: Connection, name: str, commune: str | None, enabled: bool, config: dict[str, Any],
                by: str, now_ms: int) -> int:
    result = conn.execute(rules.insert().values(name=name, type=config["type"], commune=commune, enabled=enabled,
                                                config=config, created_ms=now_ms, updated_ms=now_ms, updated_by=by))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def update_rule(conn: Connection, rule_id: int, name: str, commune: str | None, enabled: bool,
                config: dict[str, Any], by: str, now_ms: int) -> None:
    """Replace a rule; a changed configuration forgets the rule's state (it may mean other zones)."""
    old = get_rule(conn, rule_id)
    conn.execute(rules.update().where(rules.c.id == rule_id).values(
        name=name, type=config["type"], commune=commune, enabled=enabled, config=config, updated_ms=now_ms,
        updated_by=by))
    if old is not None and old.config != config:
        conn.execute(rule_state.delete().where(rule_state.c.rule_id == rule_id))


def get_rule(conn: Connection, rule_id: int) -> RuleRow | None:
    r = conn.execute(sa.select(rules).where(rules.c.id == rule_id)).first()
    return None if r is None else _rule(r)


def list_rules(conn: Connection, commune: str | None = None) -> list[RuleRow]:
    q = sa.select(rules).order_by(rules.c.id)
    if commune is not None:
        q = q.where(rules.c.commune == commune)
    return [_rule(r) for r in conn.execute(q)]


def enabled_rules(conn: Connection, types: Sequence[str]) -> list[Rule]:
    q = sa.select(rules).where(rules.c.enabled.is_(True), rules.c.type.in_(list(types))).order_by(rules.c.id)
    return [_rule(r).domain() for r in conn.execute(q)]


def load_states(conn: Connection, rule_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each rule's state, locked until the transaction ends (ingest workers and the timer job share it)."""
    if not rule_ids:
        return {}
    q = sa.select(rule_state).where(rule_state.c.rule_id.in_(list(rule_ids))).with_for_update()
    return {int(r.rule_id): dict(r.state) for r in conn.execute(q)}


def save_states(conn: Connection, before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]],
                now_ms: int) -> None:
    for rule_id, state in after.items():
        if rule_id not in before:
            if state:
                conn.execute(rule_state.insert().values(rule_id=rule_id, state=state, updated_ms=now_ms))
        elif state != before[rule_id]:
            conn.execute(rule_state.update().where(rule_state.c.rule_id == rule_id).values(
                state=state, updated_ms=now_ms))
