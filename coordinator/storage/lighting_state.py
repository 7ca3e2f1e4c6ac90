"""Reads behind the measured lighting state: inventory pages, node telemetry, fault changes, energy, overrides.

Rows only; :mod:`coordinator.lighting.measured` turns them into states and summaries, and
:mod:`coordinator.lighting.state` puts the two together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.lighting.commands import OVERRIDE_COMMAND, StoredCommand

from .schema import energy_hourly, lamp_faults, light_commands, light_group_members, light_luminaires, telemetry
from .upsert import dialect_insert


class InventoryRow(NamedTuple):
    """A luminaire of the inventory with its configured groups (the commune group is implicit)."""

    device_id: str
    lum_id: str
    site: str
    rated_w: float
    lat: float | None
    lon: float | None
    groups: tuple[str, ...]


@dataclass(frozen=True)
class NodeTelemetry:
    ts_ms: int
    stale: bool
    metrics: dict[str, Any]


def _scope(q: sa.Select[Any], site: str | None, device: str | None, group: str | None) -> sa.Select[Any]:
    c = light_luminaires.c
    if site is not None:
        q = q.where(c.site == site)
    if device is not None:
        q = q.where(c.device_id == device)
    if group is not None and not group.startswith("commune-"):
        m = light_group_members.c
        q = q.where(sa.exists().where(m.device_id == c.device_id, m.lum_id == c.lum_id, m.group_name == group))
    elif group is not None:
        q = q.where(c.site == group[len("commune-"):])
    return q


def count_luminaires(conn: Connection, site: str | None, device: str | None, group: str | None) -> int:
    q = _scope(sa.select(sa.func.count()).select_from(light_luminaires), site, device, group)
    return int(conn.execute(q).scalar_one())


def luminaires(conn: Connection, site: str | None, device: str | None, group: str | None, limit: int | None = None,
               offset: int = 0) -> list[InventoryRow]:
    """Luminaires in (site, device, luminaire) order, with their groups; ``limit`` None: all of them."""
    c = light_luminaires.c
    q = _scope(sa.select(c.device_id, c.lum_id, c.site, c.rated_w, c.lat, c.lon), site, device, group)
    q = q.order_by(c.site, c.device_id, c.lum_id).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    rows = conn.execute(q).all()
    groups = _groups(conn, {r.device_id for r in rows}, site)
    return [InventoryRow(r.device_id, r.lum_id, r.site, float(r.rated_w), r.lat, r.lon,
                         tuple(groups.get((r.device_id, r.lum_id), ()))) for r in rows]


#: Joins luminaire ids in :func:`group_cabinets`; ids are config identifiers (``[a-z0-9_-]``), never spaced.
ID_SEPARATOR = " "


def group_cabinets(conn: Connection, site: str | None) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """``(site, group, cabinet, luminaire ids)`` for every group of the scope, the commune-wide ones included.

    The database groups the inventory and its memberships per cabinet, so a métropole's 35,000 luminaires and
    their group rows arrive as a few hundred rows instead of tens of thousands of Python objects: building
    those objects, not the arithmetic, was what made the group summary slow. A luminaire belongs to the groups
    of its inventory commune (as in :func:`luminaires`).
    """
    c, m = light_luminaires.c, light_group_members.c
    ids = sa.func.aggregate_strings(c.lum_id, ID_SEPARATOR)
    commune = sa.select(c.site, sa.literal("commune-") + c.site, c.device_id, ids).group_by(c.site, c.device_id)
    joined = light_luminaires.join(light_group_members, sa.and_(m.device_id == c.device_id, m.lum_id == c.lum_id))
    configured = (sa.select(c.site, m.group_name, c.device_id, ids).select_from(joined)
                  .group_by(c.site, m.group_name, c.device_id))
    if site is not None:
        # Members by their own commune too: SQLite then walks their primary key instead of every cabinet's rows.
        commune, configured = commune.where(c.site == site), configured.where(c.site == site, m.site == site)
    out = []
    for q in (commune, configured):
        out += [(r[0], r[1], r[2], tuple(r[3].split(ID_SEPARATOR))) for r in conn.execute(q)]
    return out


def _groups(conn: Connection, device_ids: Iterable[str], site: str | None) -> dict[tuple[str, str], list[str]]:
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    m = light_group_members.c
    q = sa.select(m.device_id, m.lum_id, m.group_name).order_by(m.group_name)
    # The whole métropole's members in one query rather than a 35,000-item IN list.
    q = q.where(m.site == site) if site is not None and len(ids) > 500 else q.where(m.device_id.in_(ids))
    out: dict[tuple[str, str], list[str]] = {}
    for r in conn.execute(q):
        out.setdefault((r.device_id, r.lum_id), []).append(r.group_name)
    return out


def node_telemetry(conn: Connection, device_ids: Iterable[str]) -> dict[str, NodeTelemetry]:
    """The latest telemetry of each node (the ingest keeps one row per device)."""
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    c = telemetry.c
    q = sa.select(c.device_id, c.ts_ms, c.stale, c.metrics).where(c.device_id.in_(ids))
    return {r.device_id: NodeTelemetry(int(r.ts_ms), bool(r.stale), dict(r.metrics or {})) for r in conn.execute(q)}


class LampFaultReport(NamedTuple):
    """One ``lamp_fault`` event: the luminaire, the fault, whether it is active, and the event's order."""

    device_id: str
    lum_id: str
    fault: str
    active: bool
    ts_ms: int
    boot: int
    n: int


def latest_reports(reports: Iterable[LampFaultReport]) -> list[LampFaultReport]:
    """The latest report of each (device, luminaire, fault), by (event time, boot, number)."""
    out: dict[tuple[str, str, str], LampFaultReport] = {}
    for r in reports:
        key = (r.device_id, r.lum_id, r.fault)
        if key not in out or (r.ts_ms, r.boot, r.n) > (out[key].ts_ms, out[key].boot, out[key].n):
            out[key] = r
    return [out[k] for k in sorted(out)]


def record_lamp_faults(conn: Connection, reports: Iterable[LampFaultReport]) -> None:
    """Keep the current state of each fault: a report replaces the stored one only if it is later, so a late or
    replayed event never brings back a state that a newer one changed (workers may store them in any order)."""
    rows = [r._asdict() for r in latest_reports(reports)]
    if not rows:
        return
    t = lamp_faults.c
    stmt = dialect_insert(conn, lamp_faults)
    ex = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["device_id", "lum_id", "fault"],
        set_={"active": ex.active, "ts_ms": ex.ts_ms, "boot": ex.boot, "n": ex.n},
        where=sa.tuple_(ex.ts_ms, ex.boot, ex.n) > sa.tuple_(t.ts_ms, t.boot, t.n))
    conn.execute(stmt, rows)


def fault_changes(conn: Connection, device_ids: Iterable[str]) -> list[tuple[str, str, str, bool]]:
    """``(device, lum, fault, active)``: the current state of each fault reported by these nodes, in time order.

    Read from ``lamp_faults`` (kept at ingest), not from the raw events: those leave with the retention.
    """
    ids = sorted(set(device_ids))
    if not ids:
        return []
    c = lamp_faults.c
    q = (sa.select(c.device_id, c.lum_id, c.fault, c.active).where(c.device_id.in_(ids))
         .order_by(c.ts_ms, c.device_id, c.boot, c.n))
    return [(r.device_id, r.lum_id, r.fault, bool(r.active)) for r in conn.execute(q)]


def energy_since(conn: Connection, site: str | None, start_ms: int) -> dict[tuple[str, str], tuple[float, float]]:
    """(energy, full-power reference) in Wh per (site, group) from ``start_ms`` on."""
    c = energy_hourly.c
    q = (sa.select(c.site, c.group_name, sa.func.sum(c.energy_wh), sa.func.sum(c.reference_wh))
         .where(c.hour_ms >= start_ms).group_by(c.site, c.group_name))
    if site is not None:
        q = q.where(c.site == site)
    return {(r[0], r[1]): (float(r[2] or 0.0), float(r[3] or 0.0)) for r in conn.execute(q)}


def overrides_in_force(conn: Connection, site: str | None, now_ms: int) -> list[StoredCommand]:
    """Unexpired override commands to groups, communes and the city, oldest first (the last one wins)."""
    c = light_commands.c
    q = (sa.select(light_commands).where(c.name == OVERRIDE_COMMAND, c.scope != "device", c.expires_ms > now_ms)
         .order_by(c.cseq, c.created_ms))
    if site is not None:
        q = q.where(c.site.in_([site, "*"]))
    return [StoredCommand(r.cmd_id, r.name, r.scope, r.site, r.target, r.issuer, r.cseq, r.created_ms, r.expires_ms,
                          dict(r.args), r.requested_by) for r in conn.execute(q)]


def lit_sites(conn: Connection, site: str | None) -> list[str]:
    q = sa.select(light_luminaires.c.site).distinct().order_by(light_luminaires.c.site)
    if site is not None:
        q = q.where(light_luminaires.c.site == site)
    return [r[0] for r in conn.execute(q)]


def group_names(conn: Connection, sites: Sequence[str]) -> list[tuple[str, str]]:
    m = light_group_members.c
    q = sa.select(m.site, m.group_name).distinct().where(m.site.in_(list(sites))).order_by(m.site, m.group_name)
    return [(r[0], r[1]) for r in conn.execute(q)]


# --- the map's luminaire layer: what changed since the last answer, without reading the big columns ----------


class PlacedLuminaire(NamedTuple):
    device_id: str
    lum_id: str
    site: str
    lat: float | None
    lon: float | None


def inventory_version(conn: Connection) -> tuple[int, int, int]:
    """``(luminaires, newest update, group memberships)`` of the inventory: replacing a box's luminaires (which
    rewrites its memberships too) changes at least one of them."""
    c = light_luminaires.c
    row = conn.execute(sa.select(sa.func.count(), sa.func.max(c.updated_ms))).one()
    members = conn.execute(sa.select(sa.func.count()).select_from(light_group_members)).scalar_one()
    return int(row[0]), int(row[1] or 0), int(members)


def placed_luminaires(conn: Connection) -> list[PlacedLuminaire]:
    """Every luminaire of the inventory with its position, in (site, device, luminaire) order (no groups)."""
    c = light_luminaires.c
    q = sa.select(c.device_id, c.lum_id, c.site, c.lat, c.lon).order_by(c.site, c.device_id, c.lum_id)
    return [PlacedLuminaire(*r) for r in conn.execute(q)]


def telemetry_heads(conn: Connection, device_ids: Iterable[str]) -> dict[str, tuple[int, bool]]:
    """``(ts_ms, stale)`` of each node's latest telemetry, without its metrics (the costly JSON column)."""
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    c = telemetry.c
    q = sa.select(c.device_id, c.ts_ms, c.stale).where(c.device_id.in_(ids))
    return {r.device_id: (int(r.ts_ms), bool(r.stale)) for r in conn.execute(q)}


def fault_versions(conn: Connection, device_ids: Iterable[str]) -> dict[str, tuple[int, int, int, int]]:
    """Per node, ``(rows, sum of times, sum of boots, sum of sequence numbers)`` of its kept fault states.

    A report replaces a state only with a later ``(ts_ms, boot, n)``, so every insert or replacement changes one of
    the four: a node whose tuple is the same has the same active faults, and its rows need not be read again.
    """
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    c = lamp_faults.c
    q = (sa.select(c.device_id, sa.func.count(), sa.func.sum(c.ts_ms), sa.func.sum(c.boot), sa.func.sum(c.n))
         .where(c.device_id.in_(ids)).group_by(c.device_id))
    return {r[0]: (int(r[1]), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0)) for r in conn.execute(q)}
