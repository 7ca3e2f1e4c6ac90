"""Field teams, the notification outbox (deliveries and their attempts) and citizen report quotas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.interventions.assignment import TeamView
from coordinator.interventions.lifecycle import ACTIVE_STATES

from .schema.interventions import deliveries, delivery_attempts, interventions, report_quota, teams


@dataclass(frozen=True)
class TeamRow:
    id: str
    name: str
    commune: str
    skills: list[str]
    lat: float | None
    lon: float | None
    active: bool
    webhook_url: str | None
    webhook_secret: str | None
    load: int = 0

    def view(self) -> TeamView:
        return TeamView(self.id, self.name, tuple(self.skills), self.commune, self.lat, self.lon, self.load,
                        self.active)


def _loads(conn: Connection, team_ids: Sequence[str] | None = None) -> dict[str, int]:
    c = interventions.c
    q = (sa.select(c.team_id, sa.func.count()).where(c.state.in_([s.value for s in ACTIVE_STATES]),
                                                     c.team_id.is_not(None)).group_by(c.team_id))
    if team_ids is not None:
        q = q.where(c.team_id.in_(list(team_ids)))
    return {str(t): int(n) for t, n in conn.execute(q)}


def _team(r: Any, load: int) -> TeamRow:
    return TeamRow(r.id, r.name, r.commune, list(r.skills or []), r.lat, r.lon, r.active, r.webhook_url,
                   r.webhook_secret, load)


def get_team(conn: Connection, team_id: str) -> TeamRow | None:
    r = conn.execute(sa.select(teams).where(teams.c.id == team_id)).first()
    return None if r is None else _team(r, _loads(conn, [team_id]).get(team_id, 0))


def list_teams(conn: Connection, commune: str | None = None) -> list[TeamRow]:
    q = sa.select(teams).order_by(teams.c.id)
    if commune is not None:
        q = q.where(teams.c.commune == commune)
    loads = _loads(conn)
    return [_team(r, loads.get(r.id, 0)) for r in conn.execute(q)]


def save_team(conn: Connection, team: TeamRow, now_ms: int, *, create: bool) -> None:
    values = {"name": team.name, "commune": team.commune, "skills": list(team.skills), "lat": team.lat,
              "lon": team.lon, "active": team.active, "webhook_url": team.webhook_url,
              "webhook_secret": team.webhook_secret, "updated_ms": now_ms}
    if create:
        conn.execute(teams.insert().values(id=team.id, created_ms=now_ms, **values))
    else:
        conn.execute(teams.update().where(teams.c.id == team.id).values(**values))


def delete_team(conn: Connection, team_id: str) -> None:
    conn.execute(teams.delete().where(teams.c.id == team_id))


def ever_assigned(conn: Connection, team_id: str) -> bool:
    q = sa.select(interventions.c.id).where(interventions.c.team_id == team_id).limit(1)
    return conn.execute(q).first() is not None


# -- outbox -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Delivery:
    id: int
    intervention_id: int | None
    team_id: str
    channel: str
    payload: dict[str, Any]
    attempts: int


def enqueue(conn: Connection, team: TeamRow, intervention_id: int | None, payload: dict[str, Any],
            now_ms: int) -> list[int]:
    """One delivery per channel of the team: always its MQTT topic, and its webhook if it has one."""
    channels = ["mqtt"] + (["webhook"] if team.webhook_url else [])
    ids = []
    for channel in channels:
        result = conn.execute(deliveries.insert().values(
            intervention_id=intervention_id, team_id=team.id, channel=channel, payload=payload, status="pending",
            attempts=0, next_ms=now_ms, created_ms=now_ms))
        ids.append(int(result.inserted_primary_key[0]))  # type: ignore[index]
    return ids


def due(conn: Connection, now_ms: int, limit: int = 100, channel: str | None = None) -> list[Delivery]:
    d = deliveries.c
    q = sa.select(deliveries).where(d.status == "pending", d.next_ms <= now_ms)
    if channel is not None:
        q = q.where(d.channel == channel)
    rows = conn.execute(q.order_by(d.id).limit(limit))
    return [Delivery(r.id, r.intervention_id, r.team_id, r.channel, r.payload, r.attempts) for r in rows]


def record_attempt(conn: Connection, delivery_id: int, now_ms: int, ok: bool, http_status: int | None,
                   error: str | None) -> None:
    conn.execute(delivery_attempts.insert().values(delivery_id=delivery_id, ts_ms=now_ms, ok=ok,
                                                   http_status=http_status, error=error))
    conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(
        attempts=deliveries.c.attempts + 1, last_error=None if ok else error))


def finish(conn: Connection, delivery_id: int, status: str, now_ms: int) -> None:
    conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(status=status, done_ms=now_ms))


def postpone(conn: Connection, delivery_id: int, next_ms: int) -> None:
    conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(next_ms=next_ms))


def list_deliveries(conn: Connection, intervention_id: int) -> list[dict[str, Any]]:
    q = sa.select(deliveries).where(deliveries.c.intervention_id == intervention_id).order_by(deliveries.c.id)
    return [{"id": r.id, "team": r.team_id, "channel": r.channel, "status": r.status, "attempts": r.attempts,
             "action": (r.payload or {}).get("action"), "last_error": r.last_error} for r in conn.execute(q)]


def attempts(conn: Connection, delivery_id: int) -> list[dict[str, Any]]:
    q = sa.select(delivery_attempts).where(delivery_attempts.c.delivery_id == delivery_id).order_by(
        delivery_attempts.c.id)
    return [{"ts_ms": r.ts_ms, "ok": r.ok, "http_status": r.http_status, "error": r.error} for r in conn.execute(q)]


# -- citizen report quota ---------------------------------------------------------------------
def take_quota(conn: Connection, client: str, limit: int, window_ms: int, now_ms: int) -> bool:
    """Count one report of ``client``; False when it already sent ``limit`` in the current window."""
    row = conn.execute(sa.select(report_quota).where(report_quota.c.client == client).with_for_update()).first()
    if row is None:
        conn.execute(report_quota.insert().values(client=client, window_start_ms=now_ms, count=1))
        return limit >= 1
    if now_ms - row.window_start_ms >= window_ms:
        conn.execute(report_quota.update().where(report_quota.c.client == client).values(
            window_start_ms=now_ms, count=1))
        return limit >= 1
    used = int(row._mapping["count"])  # ``row.count`` is the tuple method
    if used >= limit:
        return False
    conn.execute(report_quota.update().where(report_quota.c.client == client).values(count=used + 1))
    return True
