"""Lighting rows: inventory, group membership, calendars, commands, their topics and acks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.lighting.commands import AckRow, StoredCommand
from coordinator.lighting.inventory import Luminaire

from .schema import (
    devices,
    light_calendars,
    light_command_acks,
    light_command_topics,
    light_commands,
    light_group_members,
    light_issuers,
    light_luminaires,
)
from .upsert import upsert

# ------------------------------------------------------------------------------------------------ inventory


def replace_inventory(conn: Connection, device_id: str, luminaires: Sequence[Luminaire], now_ms: int) -> None:
    """Make ``device_id``'s luminaires and group memberships exactly ``luminaires`` (a box re-configured)."""
    conn.execute(light_group_members.delete().where(light_group_members.c.device_id == device_id))
    conn.execute(light_luminaires.delete().where(light_luminaires.c.device_id == device_id))
    if not luminaires:
        return
    conn.execute(light_luminaires.insert(), [
        {"device_id": lum.device_id, "lum_id": lum.lum_id, "site": lum.site, "rated_w": lum.rated_w,
         "lat": lum.lat, "lon": lum.lon, "updated_ms": now_ms} for lum in luminaires])
    members = [{"site": lum.site, "group_name": g, "device_id": lum.device_id, "lum_id": lum.lum_id}
               for lum in luminaires for g in dict.fromkeys(lum.groups)]
    if members:
        conn.execute(light_group_members.insert(), members)


@dataclass(frozen=True)
class LuminaireInfo:
    site: str
    rated_w: float
    groups: tuple[str, ...]


def luminaire_info(conn: Connection, device_ids: Iterable[str]) -> dict[tuple[str, str], LuminaireInfo]:
    """Site, rating and configured groups of every inventoried luminaire of ``device_ids``."""
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    lums = conn.execute(sa.select(light_luminaires).where(light_luminaires.c.device_id.in_(ids))).all()
    groups: dict[tuple[str, str], list[str]] = {}
    for m in conn.execute(sa.select(light_group_members).where(light_group_members.c.device_id.in_(ids))):
        groups.setdefault((m.device_id, m.lum_id), []).append(m.group_name)
    return {(r.device_id, r.lum_id): LuminaireInfo(r.site, r.rated_w, tuple(sorted(groups.get((r.device_id,
            r.lum_id), [])))) for r in lums}


def group_devices(conn: Connection, site: str, group: str) -> list[str]:
    """Boxes with at least one luminaire in ``group`` of ``site``."""
    q = (sa.select(light_group_members.c.device_id).distinct()
         .where(light_group_members.c.site == site, light_group_members.c.group_name == group)
         .order_by(light_group_members.c.device_id))
    return list(conn.execute(q).scalars())


def lit_devices(conn: Connection, site: str | None) -> dict[str, str]:
    """Every box with lights, of ``site`` or all: the inventory's and the registry's light devices (id -> site)."""
    q = sa.select(light_luminaires.c.device_id, light_luminaires.c.site).distinct()
    if site is not None:
        q = q.where(light_luminaires.c.site == site)
    found = {r.device_id: r.site for r in conn.execute(q)}
    reg = sa.select(devices.c.id, devices.c.site).where(sa.cast(devices.c.roles, sa.Text).like('%"light"%'))
    if site is not None:
        reg = reg.where(devices.c.site == site)
    for r in conn.execute(reg):
        found.setdefault(r.id, r.site)
    return found


def device_site(conn: Connection, device_id: str) -> str | None:
    """The commune of a box, from the registry or else the inventory."""
    site = conn.execute(sa.select(devices.c.site).where(devices.c.id == device_id)).scalar()
    if site is None:
        site = conn.execute(sa.select(light_luminaires.c.site).where(light_luminaires.c.device_id == device_id)
                            .limit(1)).scalar()
    return None if site is None else str(site)


# ------------------------------------------------------------------------------------------------ commands


def take_cseq(conn: Connection, issuer: str, now_ms: int) -> int:
    """The issuer's next command sequence, reserved in this transaction (the row lock orders concurrent callers)."""
    upsert(conn, light_issuers, [{"issuer": issuer, "last_cseq": 0}], ["issuer"])
    col = light_issuers.c.last_cseq
    conn.execute(light_issuers.update().where(light_issuers.c.issuer == issuer)
                 .values(last_cseq=sa.case((col + 1 > now_ms, col + 1), else_=now_ms)))
    return int(conn.execute(sa.select(col).where(light_issuers.c.issuer == issuer)).scalar_one())


def insert_command(conn: Connection, cmd: StoredCommand, topics: Sequence[str], targets: Iterable[str]) -> None:
    conn.execute(light_commands.insert().values(
        cmd_id=cmd.cmd_id, name=cmd.name, scope=cmd.scope, site=cmd.site, target=cmd.target, issuer=cmd.issuer,
        cseq=cmd.cseq, created_ms=cmd.created_ms, expires_ms=cmd.expires_ms, args=cmd.args,
        requested_by=cmd.requested_by))
    conn.execute(light_command_topics.insert(), [{"cmd_id": cmd.cmd_id, "topic": t, "attempts": 0} for t in topics])
    rows = [{"cmd_id": cmd.cmd_id, "device_id": d, "expected": True} for d in sorted(set(targets))]
    if rows:
        conn.execute(light_command_acks.insert(), rows)


def _command(row: Any) -> StoredCommand:
    return StoredCommand(row.cmd_id, row.name, row.scope, row.site, row.target, row.issuer, row.cseq, row.created_ms,
                         row.expires_ms, dict(row.args), row.requested_by)


def get_command(conn: Connection, cmd_id: str) -> StoredCommand | None:
    row = conn.execute(sa.select(light_commands).where(light_commands.c.cmd_id == cmd_id)).first()
    return None if row is None else _command(row)


def list_commands(conn: Connection, site: str | None, limit: int) -> list[StoredCommand]:
    """Newest first; ``site`` also shows city-wide commands (they concern every commune)."""
    q = sa.select(light_commands).order_by(light_commands.c.created_ms.desc(), light_commands.c.cmd_id).limit(limit)
    if site is not None:
        q = q.where(light_commands.c.site.in_([site, "*"]))
    return [_command(r) for r in conn.execute(q)]


@dataclass(frozen=True)
class TopicState:
    topic: str
    published_ms: int | None
    attempts: int
    last_error: str | None


def command_topics(conn: Connection, cmd_id: str) -> list[TopicState]:
    q = sa.select(light_command_topics).where(light_command_topics.c.cmd_id == cmd_id).order_by("topic")
    return [TopicState(r.topic, r.published_ms, r.attempts, r.last_error) for r in conn.execute(q)]


def command_acks(conn: Connection, cmd_id: str) -> list[AckRow]:
    q = sa.select(light_command_acks).where(light_command_acks.c.cmd_id == cmd_id).order_by("device_id")
    return [AckRow(r.device_id, r.expected, r.result, r.detail, r.applied, r.ack_ms) for r in conn.execute(q)]


def unpublished(conn: Connection, now_ms: int, cmd_ids: Sequence[str] | None = None) -> list[tuple[StoredCommand, str]]:
    """(command, topic) still to publish, oldest first, skipping expired commands (a node would refuse them)."""
    q = (sa.select(light_commands, light_command_topics.c.topic)
         .join(light_command_topics, light_command_topics.c.cmd_id == light_commands.c.cmd_id)
         .where(light_command_topics.c.published_ms.is_(None), light_commands.c.expires_ms > now_ms)
         .order_by(light_commands.c.cseq, light_command_topics.c.topic))
    if cmd_ids is not None:
        q = q.where(light_commands.c.cmd_id.in_(list(cmd_ids)))
    return [(_command(r), r.topic) for r in conn.execute(q)]


def mark_publish(conn: Connection, cmd_id: str, topic: str, now_ms: int, error: str | None) -> None:
    """Record one publication attempt: acknowledged by the broker (``error`` None) or not."""
    t = light_command_topics
    values: dict[str, Any] = {"attempts": t.c.attempts + 1, "last_error": None if error is None else error[:200]}
    if error is None:
        values["published_ms"] = now_ms
    conn.execute(t.update().where(t.c.cmd_id == cmd_id, t.c.topic == topic).values(**values))


@dataclass(frozen=True)
class Ack:
    cmd_id: str
    device_id: str
    result: str
    detail: str
    applied: dict[str, Any]
    ts_ms: int


def record_acks(conn: Connection, acks: Sequence[Ack]) -> int:
    """Store the answers to lighting commands (acks to other commands are ignored); returns how many were stored.

    A first answer is kept; a later ``duplicate`` (the node saw a redelivery) does not hide an earlier ``applied``.
    Only an empty row or a ``duplicate`` is overwritten.
    """
    ids = sorted({a.cmd_id for a in acks})
    known = set(conn.execute(sa.select(light_commands.c.cmd_id).where(light_commands.c.cmd_id.in_(ids))).scalars())
    stored = 0
    t = light_command_acks
    for a in acks:
        if a.cmd_id not in known:
            continue
        upsert(conn, t, [{"cmd_id": a.cmd_id, "device_id": a.device_id, "expected": False}], ["cmd_id", "device_id"])
        done = conn.execute(
            t.update()
            .where(t.c.cmd_id == a.cmd_id, t.c.device_id == a.device_id,
                   sa.or_(t.c.result.is_(None), t.c.result == "duplicate"))
            .values(result=a.result, detail=a.detail[:512], applied=a.applied, ack_ms=a.ts_ms))
        stored += done.rowcount
    return stored


# ------------------------------------------------------------------------------------------------ calendars


@dataclass(frozen=True)
class GroupCalendar:
    site: str
    group: str
    calendar: dict[str, Any] | None
    updated_ms: int
    updated_by: str
    cmd_id: str


def save_calendar(conn: Connection, cal: GroupCalendar) -> None:
    upsert(conn, light_calendars, [{
        "site": cal.site, "group_name": cal.group, "calendar": cal.calendar, "updated_ms": cal.updated_ms,
        "updated_by": cal.updated_by, "cmd_id": cal.cmd_id}], ["site", "group_name"],
        replace=["calendar", "updated_ms", "updated_by", "cmd_id"])


def list_calendars(conn: Connection, site: str | None) -> list[GroupCalendar]:
    q = sa.select(light_calendars).order_by(light_calendars.c.site, light_calendars.c.group_name)
    if site is not None:
        q = q.where(light_calendars.c.site.in_([site, "*"]))
    return [GroupCalendar(r.site, r.group_name, r.calendar, r.updated_ms, r.updated_by, r.cmd_id)
            for r in conn.execute(q)]
