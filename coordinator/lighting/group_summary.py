"""The lighting page's group summaries (``GET /lighting/groups``) from the cabinets the map's layer keeps measured.

:func:`coordinator.lighting.state.group_states` says what a summary is and computes it from scratch: for a
métropole (142 groups, 350 cabinets, 35,000 luminaires) that is every node's telemetry table decoded and every
luminaire classified on each request, most of the lighting page's first render. Here the luminaires' states come
from :class:`~coordinator.lighting.layer.LuminaireLayerCache`, which redoes a cabinet only when its telemetry,
freshness or lamp faults move; each cabinet's part of a group (state counts, sorted levels) is kept until its
cabinet moves; the group memberships are kept until the inventory moves. What changes often and is small
(overrides, calendars, energy of the day) is read on every request. The tests hold the two functions equal.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from coordinator.analytics.buckets import local_day_start
from coordinator.storage import lighting as light_store
from coordinator.storage import lighting_state as store

from .layer import LuminaireLayerCache, Measured
from .measured import STATES, spread_of_sorted
from .state import COMMUNE_PREFIX, _calendar, _override, _spread_json

_NO_DATA = STATES.index("no_data")
_FAULT = STATES.index("fault")


class _Part(NamedTuple):
    """Some luminaires of one cabinet, added up: counts per state, sorted measured and commanded levels of those
    with data (a silent node's last words are not now), and their summary on their own (the cabinet's row)."""

    counts: tuple[int, ...]
    levels: list[float]
    targets: list[float]
    alone: dict[str, Any]


def _part(m: Measured | None, lum_ids: tuple[str, ...]) -> _Part:
    counts = [0] * len(STATES)
    levels: list[float] = []
    targets: list[float] = []
    index = {} if m is None else {lum: i for i, lum in enumerate(m.lums)}
    for lum in lum_ids:
        i = index.get(lum)
        if m is None or i is None:  # not measured (the inventory moved between two reads): no data
            counts[_NO_DATA] += 1
            continue
        s = m.states[i]
        counts[s] += 1
        if s != _NO_DATA:
            if (level := m.levels[i]) is not None:
                levels.append(level)
            if (target := m.targets[i]) is not None:
                targets.append(target)
    levels.sort()
    targets.sort()
    return _Part(tuple(counts), levels, targets, _figures(counts, levels, targets))


def _figures(counts: list[int], levels: list[float], targets: list[float]) -> dict[str, Any]:
    return {"luminaires": sum(counts), "states": dict(zip(STATES, counts, strict=True)),
            "measured": _spread_json(spread_of_sorted(levels)), "commanded": _spread_json(spread_of_sorted(targets)),
            "faults": counts[_FAULT]}


def _summary(parts: list[_Part], telemetry_ms: int | None) -> dict[str, Any]:
    if len(parts) == 1:
        return {**parts[0].alone, "telemetry_ms": telemetry_ms}
    counts = [sum(p.counts[k] for p in parts) for k in range(len(STATES))]
    # Sorted runs merged by one sort (Timsort finds the runs): no per-value Python work.
    levels = sorted(itertools.chain.from_iterable(p.levels for p in parts))
    targets = sorted(itertools.chain.from_iterable(p.targets for p in parts))
    return {**_figures(counts, levels, targets), "telemetry_ms": telemetry_ms}


class GroupSummaryCache:
    """One per app, beside the layer cache it reads from; behind a lock (threaded servers)."""

    def __init__(self, cabinets: LuminaireLayerCache) -> None:
        self._cabinets = cabinets
        self._lock = threading.Lock()
        self._members: dict[str | None, tuple[Any, list[tuple[str, str, str, tuple[str, ...]]]]] = {}
        self._parts: dict[tuple[str, tuple[str, ...]], tuple[Any, _Part]] = {}

    def group_states(self, conn: Connection, site: str | None, now_ms: int) -> list[dict[str, Any]]:
        """What :func:`coordinator.lighting.state.group_states` returns, from the kept pieces."""
        measured = self._cabinets.cabinets(conn, site, now_ms)
        with self._lock:
            version = store.inventory_version(conn)
            known = self._members.get(site)
            if known is None or known[0] != version:
                known = self._members[site] = (version, store.group_cabinets(conn, site))
            rows = known[1]
            members: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {}
            for s, g, device, lum_ids in rows:
                per_cabinet = members.setdefault((s, g), {})
                per_cabinet[device] = per_cabinet.get(device, ()) + lum_ids
            parts: dict[tuple[str, tuple[str, ...]], _Part] = {}
            for cabinets in members.values():
                for device, lum_ids in cabinets.items():
                    m = measured.get(device)
                    key = None if m is None else m.key
                    kept = self._parts.get((device, lum_ids))
                    if kept is None or kept[0] != key:
                        kept = self._parts[(device, lum_ids)] = (key, _part(m, lum_ids))
                    parts[(device, lum_ids)] = kept[1]
        energy = store.energy_since(conn, site, local_day_start(now_ms))
        commands = store.overrides_in_force(conn, site, now_ms)
        calendars = {(c.site, c.group): c for c in light_store.list_calendars(conn, site)}

        def telemetry(device: str) -> int | None:
            m = measured.get(device)
            return None if m is None else m.telemetry_ms

        out = []
        for (s, g) in sorted(members, key=lambda k: (k[0], not k[1].startswith(COMMUNE_PREFIX), k[1])):
            used, ref = energy.get((s, g), (0.0, 0.0))
            cabinets = members[(s, g)]
            order = sorted(cabinets)
            times = [t for d in order if (t := telemetry(d)) is not None]
            out.append({
                "site": s, "group": g,
                **_summary([parts[(d, cabinets[d])] for d in order], max(times) if times else None),
                "override": _override(commands, s, g),
                "calendar": _calendar(calendars, s, g),
                "energy_today": {"energy_wh": round(used, 1), "reference_wh": round(ref, 1)},
                "cabinets": [{"device_id": d, **_summary([parts[(d, cabinets[d])]], telemetry(d))} for d in order],
            })
        return out
