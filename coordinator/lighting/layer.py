"""The map's luminaire layer (``GET /lighting/map``), kept between requests and redone only where something changed.

Built from scratch, the layer of a métropole reads 35,000 inventory rows with their groups, decodes every node's
telemetry table and every stored lamp fault, makes 35,000 objects and serialises them: seconds per request, for an
answer that mostly has not changed since the last one. Here the answer is kept in pieces, one per cabinet:

- the inventory's part (ids, positions), reloaded when the inventory's version (row count, newest update) moves;
- each cabinet's measured part (state, level, target, faults), redone when its telemetry's time or staleness, its
  freshness now, or its lamp faults' version (count, newest receipt and time) moves.

Those versions cost two small queries without a JSON column. The pieces are JSON fragments, so an answer is a
join of a few hundred strings; a digest of every version is the answer's ETag, and a client that sends it back
gets a 304. Each luminaire's state is exactly what :func:`coordinator.lighting.state.luminaire_layer` computes
(the tests hold the two to that).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from coordinator.storage import lighting_state as store

from .measured import FRESH_MS, STATES, active_faults, classify_level, lum_levels

_STATE_INDEX = {s: i for i, s in enumerate(STATES)}


def _fragment(values: list[Any]) -> str:
    """The items of a JSON array without its brackets, to be joined with other cabinets' items."""
    return json.dumps(values, separators=(",", ":"))[1:-1]


@dataclass(frozen=True)
class _Placed:
    """A cabinet's luminaires as the inventory places them."""

    site: str
    lums: tuple[str, ...]
    lum: str
    lat: str
    lon: str


#: What a cabinet's measured part depends on: telemetry (time, stale) or None, fresh now, lamp faults' version.
_Key = tuple[tuple[int, bool] | None, bool, tuple[int, int, int, int] | None]


@dataclass(frozen=True)
class Measured:
    """A cabinet's luminaires as measured, in its inventory order: as values (for the group summaries) and as
    JSON fragments (for the layer)."""

    key: _Key
    telemetry_ms: int | None
    lums: tuple[str, ...]
    states: tuple[int, ...]  # indices into STATES
    levels: tuple[float | None, ...]
    targets: tuple[float | None, ...]
    state: str
    level: str
    target: str
    faults: tuple[tuple[int, tuple[str, ...]], ...]  # (luminaire's index in the cabinet, its active faults)


@dataclass(frozen=True)
class Layer:
    """An answer: its ETag and its body but for ``as_of_ms``, which :meth:`body` puts in front."""

    etag: str
    rest: bytes

    def body(self, now_ms: int) -> bytes:
        return b'{"as_of_ms":' + str(now_ms).encode() + b"," + self.rest


class LuminaireLayerCache:
    """One per app (and so per process): the pieces of the last answers, behind a lock (threaded servers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inventory: tuple[int, int, int] | None = None
        self._placed: dict[str, _Placed] = {}  # in (site, device) order
        self._by_site: dict[str, list[str]] = {}
        self._faults: dict[str, tuple[tuple[int, int, int, int] | None, dict[str, list[str]]]] = {}
        self._measured: dict[str, Measured] = {}
        self._answers: dict[str | None, Layer] = {}

    def layer(self, conn: Connection, site: str | None, now_ms: int) -> Layer:
        """The layer of ``site`` (None: every commune) as of ``now_ms``."""
        with self._lock:
            devices, keys = self._refresh(conn, site, now_ms)
            digest = hashlib.blake2b(repr((self._inventory, site, [keys[d] for d in devices])).encode(),
                                     digest_size=12).hexdigest()
            known = self._answers.get(site)
            if known is None or known.etag != digest:
                known = self._answers[site] = Layer(digest, self._assemble(devices))
            return known

    def cabinets(self, conn: Connection, site: str | None, now_ms: int) -> dict[str, Measured]:
        """Every cabinet of ``site`` (None: every commune) as measured at ``now_ms``, by device id."""
        with self._lock:
            devices, _ = self._refresh(conn, site, now_ms)
            return {d: self._measured[d] for d in devices}

    def _refresh(self, conn: Connection, site: str | None, now_ms: int) -> tuple[list[str], dict[str, _Key]]:
        """The scope's cabinets, each measured part brought up to date (redone only where its key moved)."""
        version = store.inventory_version(conn)
        if version != self._inventory:
            self._load_inventory(conn)
            self._inventory = version
        devices = list(self._placed) if site is None else self._by_site.get(site, [])
        heads = store.telemetry_heads(conn, devices)
        fault_versions = store.fault_versions(conn, devices)
        keys: dict[str, _Key] = {}
        for d in devices:
            head = heads.get(d)
            fresh = head is not None and not head[1] and now_ms - head[0] <= FRESH_MS
            keys[d] = (head, fresh, fault_versions.get(d))
        changed = [d for d in devices if (m := self._measured.get(d)) is None or m.key != keys[d]]
        if changed:
            self._measure(conn, changed, keys)
        return devices, keys

    def _load_inventory(self, conn: Connection) -> None:
        by_device: dict[str, list[store.PlacedLuminaire]] = {}
        for row in store.placed_luminaires(conn):
            by_device.setdefault(row.device_id, []).append(row)
        self._placed = {}
        self._by_site = {}
        for device, rows in by_device.items():
            site = rows[0].site  # a cabinet's luminaires are in its commune (the inventory is per box)
            self._placed[device] = _Placed(
                site, tuple(r.lum_id for r in rows), _fragment([r.lum_id for r in rows]),
                _fragment([None if r.lat is None else round(r.lat, 6) for r in rows]),
                _fragment([None if r.lon is None else round(r.lon, 6) for r in rows]))
            self._by_site.setdefault(site, []).append(device)
        self._measured.clear()
        self._faults.clear()
        self._answers.clear()

    def _measure(self, conn: Connection, changed: list[str], keys: dict[str, _Key]) -> None:
        tele = store.node_telemetry(conn, [d for d in changed if keys[d][0] is not None])
        stale_faults = [d for d in changed if (f := self._faults.get(d)) is None or f[0] != keys[d][2]]
        if stale_faults:
            found = active_faults(store.fault_changes(conn, [d for d in stale_faults if keys[d][2] is not None]))
            per_device: dict[str, dict[str, list[str]]] = {d: {} for d in stale_faults}
            for (device, lum), names in found.items():
                if names and device in per_device:
                    per_device[device][lum] = names
            for d in stale_faults:
                self._faults[d] = (keys[d][2], per_device[d])
        for d in changed:
            placed = self._placed[d]
            head, fresh, _ = keys[d]
            t = tele.get(d)
            table = lum_levels(None if t is None else t.metrics)
            faults = self._faults[d][1]
            states, levels, targets = [], [], []
            lum_faults = []
            for i, lum in enumerate(placed.lums):
                level, target = table.get(lum, (None, None))
                names = faults.get(lum, [])
                states.append(_STATE_INDEX[classify_level(level, bool(names), fresh)])
                levels.append(level)
                targets.append(target)
                if names:
                    lum_faults.append((i, tuple(names)))
            self._measured[d] = Measured(keys[d], None if head is None else head[0], placed.lums, tuple(states),
                                         tuple(levels), tuple(targets), _fragment(states), _fragment(levels),
                                         _fragment(targets), tuple(lum_faults))

    def _assemble(self, devices: list[str]) -> bytes:
        sites: dict[str, int] = {}
        device_col, site_col, faults = [], [], {}
        offset = 0
        for i, d in enumerate(devices):
            cabinet = self._placed[d]
            n = len(cabinet.lums)
            device_col.append(",".join([str(i)] * n))
            site_col.append(",".join([str(sites.setdefault(cabinet.site, len(sites)))] * n))
            for k, names in self._measured[d].faults:
                faults[str(offset + k)] = list(names)
            offset += n

        def column(parts: list[str]) -> str:
            return "[" + ",".join(p for p in parts if p) + "]"

        measured = [self._measured[d] for d in devices]
        placed = [self._placed[d] for d in devices]
        text = (f'"count":{offset},"states":{json.dumps(list(STATES))},"devices":{json.dumps(devices)},'
                f'"sites":{json.dumps(list(sites))},'
                f'"telemetry_ms":{json.dumps([m.telemetry_ms for m in measured])},'
                f'"device":{column(device_col)},"site":{column(site_col)},'
                f'"lum":{column([p.lum for p in placed])},"lat":{column([p.lat for p in placed])},'
                f'"lon":{column([p.lon for p in placed])},"state":{column([m.state for m in measured])},'
                f'"level":{column([m.level for m in measured])},"target":{column([m.target for m in measured])},'
                f'"faults":{json.dumps(faults, separators=(",", ":"))}}}')
        return text.encode()
