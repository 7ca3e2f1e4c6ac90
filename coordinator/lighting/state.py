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
from .measured import (
    FRESH_MS,
    STATES,
    Reading,
    Spread,
    State,
    active_faults,
    classify,
    classify_level,
    lum_levels,
    lum_table,
    spread,
)

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


def _spread_json(s: Spread) -> dict[str, Any]:
    return {"n": s.n, "median": s.median, "q1": s.q1, "q3": s.q3, "min": s.low, "max": s.high}


def states(conn: Connection, rows: list[store.InventoryRow], now_ms: int) -> list[LuminaireState]:
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
    return total, states(conn, rows, now_ms)


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


#: A luminaire as the group summary sees it: state, measured level, commanded level.
_Entry = tuple[State, float | None, float | None]


def _cabinet_entries(tele: store.NodeTelemetry | None, lum_ids: tuple[str, ...],
                     faults: dict[tuple[str, str], list[str]], device: str, now_ms: int) -> list[_Entry]:
    """The entries of a cabinet's luminaires, classified exactly as :func:`states` classifies them."""
    fresh = tele is not None and not tele.stale and now_ms - tele.ts_ms <= FRESH_MS
    table = lum_levels(None if tele is None else tele.metrics)
    out: list[_Entry] = []
    for lum in lum_ids:
        level, target = table.get(lum, (None, None))
        out.append((classify_level(level, (device, lum) in faults, fresh), level, target))
    return out


def _summary(entries: list[_Entry], telemetry_ms: int | None) -> dict[str, Any]:
    """What a group or a cabinet adds up: counts per state, commanded and measured spreads, newest telemetry.

    Luminaires without data count in ``no_data`` but not in the levels: a silent node's last words are not now.
    """
    states = Counter(e[0] for e in entries)
    live = [e for e in entries if e[0] != "no_data"]
    return {"luminaires": len(entries), "states": {s: states.get(s, 0) for s in STATES},
            "measured": _spread_json(spread(e[1] for e in live)),
            "commanded": _spread_json(spread(e[2] for e in live)),
            "faults": states.get("fault", 0), "telemetry_ms": telemetry_ms}


def group_states(conn: Connection, site: str | None, now_ms: int) -> list[dict[str, Any]]:
    """Every group of the commune (or of the métropole), the commune-wide group first, with its cabinets.

    Works per cabinet, not per luminaire: the database hands over each group's cabinets with their luminaire
    ids, each node's telemetry table is read once (level and target only), and a luminaire is a plain tuple.
    Each luminaire's state is the one :func:`states` gives the list and the map, at a fraction of the cost.
    The API serves :class:`~coordinator.lighting.group_summary.GroupSummaryCache`, which keeps the pieces between
    requests; this plain computation is what it is held equal to.
    """
    rows = store.group_cabinets(conn, site)
    devices = {device for _, _, device, _ in rows}
    tele = store.node_telemetry(conn, devices)
    faults = {key: lum for key, lum in active_faults(store.fault_changes(conn, devices)).items() if lum}
    entries: dict[str, dict[str, _Entry]] = {}  # cabinet -> luminaire -> entry, each computed once
    members: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {}
    for s, g, device, lum_ids in rows:
        known = entries.setdefault(device, {})
        missing = tuple(lum for lum in lum_ids if lum not in known)
        if missing:
            known.update(zip(missing, _cabinet_entries(tele.get(device), missing, faults, device, now_ms), strict=True))
        per_cabinet = members.setdefault((s, g), {})
        per_cabinet[device] = per_cabinet.get(device, ()) + lum_ids
    # A cabinet wholly in a sector group sums up as in its commune group: each distinct summary is made once.
    summaries: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}

    def cabinet(device: str, lum_ids: tuple[str, ...]) -> dict[str, Any]:
        summary = summaries.get((device, lum_ids))
        if summary is None:
            known = entries[device]
            summary = summaries[(device, lum_ids)] = _summary([known[lum] for lum in lum_ids],
                                                                    _ts(tele.get(device)))
        return {"device_id": device, **summary}

    energy = store.energy_since(conn, site, local_day_start(now_ms))
    commands = store.overrides_in_force(conn, site, now_ms)
    calendars = {(c.site, c.group): c for c in light_store.list_calendars(conn, site)}
    out = []
    for (s, g) in sorted(members, key=lambda k: (k[0], not k[1].startswith(COMMUNE_PREFIX), k[1])):
        used, ref = energy.get((s, g), (0.0, 0.0))
        cabinets = members[(s, g)]
        times = [t.ts_ms for d in cabinets if (t := tele.get(d)) is not None]
        out.append({
            "site": s, "group": g,
            **_summary([entries[d][lum] for d in sorted(cabinets) for lum in cabinets[d]],
                             max(times) if times else None),
            "override": _override(commands, s, g),
            "calendar": _calendar(calendars, s, g),
            "energy_today": {"energy_wh": round(used, 1), "reference_wh": round(ref, 1)},
            "cabinets": [cabinet(d, cabinets[d]) for d in sorted(cabinets)],
        })
    return out


def _ts(tele: store.NodeTelemetry | None) -> int | None:
    return None if tele is None else tele.ts_ms


def luminaire_layer(conn: Connection, site: str | None, now_ms: int) -> dict[str, Any]:
    """Every luminaire of the scope for the map, by columns: each device, commune and state name is written
    once and referred to by its index, so 35,000 luminaires travel in one compact response.

    The API serves :class:`~coordinator.lighting.layer.LuminaireLayerCache`, which keeps the layer per cabinet
    between requests; this plain computation is what it is held equal to.
    """
    lums = states(conn, store.luminaires(conn, site, None, None), now_ms)
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
