"""The measured state of the lights, per luminaire and per group, as the API serves it.

Reads go through :mod:`coordinator.storage.lighting_state`; the rules (what a reading means, medians,
which fault is active) are the pure functions of :mod:`.measured`. A group's summary answers the night
shift's questions in one row: which calendar is in force, whether someone overrides it and until when,
what level was commanded and what the luminaires measure, how many are at fault, the energy of the day
against the full-power reference, and the cabinets behind it for the drill-down.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from coordinator.analytics.buckets import local_day_start
from coordinator.storage import lighting as light_store
from coordinator.storage import lighting_state as store

from .commands import CITY, StoredCommand
from .measured import FRESH_MS, STATES, Reading, Spread, State, active_faults, classify, lum_table, spread

COMMUNE_PREFIX = "commune-"


class LuminaireState(NamedTuple):
    """A luminaire and what it measures now (a named tuple: a métropole has 35,000 of them)."""

    device_id: str
    lum_id: str
    site: str
    lat: float | None
    lon: float | None
    rated_w: float
    groups: tuple[str, ...]
    state: State
    level: float | None
    target: float | None
    power_w: float | None
    energy_wh: float | None
    faults: tuple[str, ...]
    telemetry_ms: int | None

    def as_json(self) -> dict[str, Any]:
        out = self._asdict()
        out["groups"], out["faults"] = list(self.groups), list(self.faults)
        return out


def _summary(lums: list[LuminaireState]) -> dict[str, Any]:
    """What a group or a cabinet adds up: counts per state, commanded and measured spreads, newest telemetry.

    Luminaires without data count in ``no_data`` but not in the levels: a silent node's last words are not now.
    """
    states = Counter(lum.state for lum in lums)
    live = [lum for lum in lums if lum.state != "no_data"]
    times = [lum.telemetry_ms for lum in lums if lum.telemetry_ms is not None]
    return {"luminaires": len(lums), "states": {s: states.get(s, 0) for s in STATES},
            "measured": _spread_json(spread(lum.level for lum in live)),
            "commanded": _spread_json(spread(lum.target for lum in live)),
            "faults": states.get("fault", 0), "telemetry_ms": max(times) if times else None}


def _spread_json(s: Spread) -> dict[str, Any]:
    return {"n": s.n, "median": s.median, "q1": s.q1, "q3": s.q3, "min": s.low, "max": s.high}


def _states(conn: Connection, rows: list[store.InventoryRow], now_ms: int) -> list[LuminaireState]:
    devices = {r.device_id for r in rows}
    tele = store.node_telemetry(conn, devices)
    faults = active_faults(store.fault_changes(conn, devices))
    tables = {d: lum_table(t.metrics) for d, t in tele.items()}
    out = []
    for r in rows:
        t = tele.get(r.device_id)
        reading: Reading | None = tables.get(r.device_id, {}).get(r.lum_id)
        fresh = t is not None and not t.stale and now_ms - t.ts_ms <= FRESH_MS
        lum_faults = tuple(faults.get((r.device_id, r.lum_id), ()))
        state = classify(reading, bool(lum_faults), fresh)
        out.append(LuminaireState(
            r.device_id, r.lum_id, r.site, r.lat, r.lon, r.rated_w, r.groups, state,
            None if reading is None else reading.level, None if reading is None else reading.target,
            None if reading is None else reading.power_w, None if reading is None else reading.energy_wh,
            lum_faults, None if t is None else t.ts_ms))
    return out


def luminaire_page(conn: Connection, site: str | None, device: str | None, group: str | None, limit: int,
                   offset: int, now_ms: int) -> tuple[int, list[LuminaireState]]:
    """One page of luminaires with their measured state, and how many match in all."""
    total = store.count_luminaires(conn, site, device, group)
    rows = store.luminaires(conn, site, device, group, limit, offset)
    return total, _states(conn, rows, now_ms)


def _override(commands: list[StoredCommand], site: str, group: str) -> dict[str, Any] | None:
    """The override a group holds now: the last unexpired one addressed to it, its commune or the city (last
    command wins, by sequence, as on the nodes); an empty one (null level) means back to the program."""
    targets = {(site, group), (site, COMMUNE_PREFIX + site), (CITY, "city")}
    mine = [c for c in commands if (c.site, c.target) in targets]
    if not mine or mine[-1].args.get("level") is None:
        return None
    c = mine[-1]
    return {"level": c.args.get("level"), "by": c.requested_by, "until_ms": c.expires_ms, "since_ms": c.created_ms,
            "cmd_id": c.cmd_id, "scope": c.scope}


def _calendar(calendars: dict[tuple[str, str], light_store.GroupCalendar], site: str,
              group: str) -> dict[str, Any]:
    """The calendar pushed to the group, else to its commune, else to the city; else the boxes' own."""
    for key, source in (((site, group), "group"), ((site, COMMUNE_PREFIX + site), "commune"), ((CITY, "city"), "city")):
        cal = calendars.get(key)
        if cal is not None and cal.calendar is not None:
            entries = [str(e.get("name") or (e.get("program") or {}).get("kind") or "")
                       for e in cal.calendar.get("entries", []) if isinstance(e, dict)]
            return {"source": source, "entries": entries, "updated_ms": cal.updated_ms, "updated_by": cal.updated_by}
    return {"source": "config", "entries": [], "updated_ms": None, "updated_by": None}


def group_states(conn: Connection, site: str | None, now_ms: int) -> list[dict[str, Any]]:
    """Every group of the commune (or of the métropole), the commune-wide group first, with its cabinets."""
    rows = store.luminaires(conn, site, None, None)
    lums = _states(conn, rows, now_ms)
    # (site, group) -> cabinet -> its luminaires in the group; the group's own list is their union.
    members: dict[tuple[str, str], dict[str, list[LuminaireState]]] = {}
    for lum in lums:
        for g in (COMMUNE_PREFIX + lum.site, *lum.groups):
            per_cabinet = members.get((lum.site, g))
            if per_cabinet is None:
                per_cabinet = members[(lum.site, g)] = {}
            per_cabinet.setdefault(lum.device_id, []).append(lum)
    energy = store.energy_since(conn, site, local_day_start(now_ms))
    commands = store.overrides_in_force(conn, site, now_ms)
    calendars = {(c.site, c.group): c for c in light_store.list_calendars(conn, site)}
    out = []
    for (s, g) in sorted(members, key=lambda k: (k[0], not k[1].startswith(COMMUNE_PREFIX), k[1])):
        used, ref = energy.get((s, g), (0.0, 0.0))
        cabinets = members[(s, g)]
        out.append({
            "site": s, "group": g, **_summary([lum for d in sorted(cabinets) for lum in cabinets[d]]),
            "override": _override(commands, s, g),
            "calendar": _calendar(calendars, s, g),
            "energy_today": {"energy_wh": round(used, 1), "reference_wh": round(ref, 1)},
            "cabinets": [{"device_id": d, **_summary(cabinets[d])} for d in sorted(cabinets)],
        })
    return out


def luminaire_layer(conn: Connection, site: str | None, now_ms: int) -> dict[str, Any]:
    """Every luminaire of the scope for the map, by columns: each device, commune and state name is written
    once and referred to by its index, so 35,000 luminaires travel in one compact response."""
    lums = _states(conn, store.luminaires(conn, site, None, None), now_ms)
    devices: dict[str, int] = {}
    sites: dict[str, int] = {}
    telemetry: list[int | None] = []
    state_index = {s: i for i, s in enumerate(STATES)}
    cols: dict[str, list[Any]] = {k: [] for k in ("device", "site", "lum", "lat", "lon", "state", "level", "target")}
    faults: dict[str, list[str]] = {}
    for i, lum in enumerate(lums):
        if lum.device_id not in devices:
            devices[lum.device_id] = len(devices)
            telemetry.append(lum.telemetry_ms)
        cols["device"].append(devices[lum.device_id])
        cols["site"].append(sites.setdefault(lum.site, len(sites)))
        cols["lum"].append(lum.lum_id)
        cols["lat"].append(None if lum.lat is None else round(lum.lat, 6))
        cols["lon"].append(None if lum.lon is None else round(lum.lon, 6))
        cols["state"].append(state_index[lum.state])
        cols["level"].append(lum.level)
        cols["target"].append(lum.target)
        if lum.faults:
            faults[str(i)] = list(lum.faults)
    return {"as_of_ms": now_ms, "count": len(lums), "states": list(STATES), "devices": list(devices),
            "sites": list(sites), "telemetry_ms": telemetry, **cols, "faults": faults}
