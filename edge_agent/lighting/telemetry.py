"""What a light node reports: a compact per-luminaire table, totals, and fault changes under their TALQ names.

Size matters: a cabinet has up to 200 luminaires and a box reports every minute over a cellular link. Rows of
``{"id": ..., "level": ...}`` would repeat every key 200 times; columns (``{"ids": [...], "level": [...]}``)
name each once, and rounding keeps MessagePack on its one- to five-byte integers instead of nine-byte floats.
The result is about 6 kB for 200 luminaires.

Faults are not a column but a list of changes, ``[lum_id, fault, active]``: the centre opens an intervention when
a fault appears and closes it (after checking) when it clears, so it needs each edge once, not the same active
fault every minute.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .drivers import LampFault, LuminaireReading

#: Fault changes held between two telemetry messages; beyond, the node reports net changes (see FaultTracker).
MAX_PENDING_CHANGES = 2048
#: Fault changes per telemetry message (the rest wait for the next one): bounds the message at ~6 kB more.
MAX_CHANGES_PER_MESSAGE = 256

FaultChange = list[Any]  # [lum_id, TALQ fault name, active]: a list, as MessagePack gives it back


class FaultTracker:
    """Active faults per luminaire, and the changes the centre has not been told yet.

    Each change is queued when observed, so a fault that appears and clears between two messages is still
    reported (both edges). If the queue overflows (a flapping supply on 200 luminaires), it is replaced by the
    net difference between what the centre was last told and what is active now: fewer edges, the same truth.
    """

    def __init__(self, max_pending: int = MAX_PENDING_CHANGES) -> None:
        self._active: dict[str, frozenset[LampFault]] = {}
        self._told: dict[str, frozenset[LampFault]] = {}  # what the reported changes add up to
        self._pending: deque[tuple[str, LampFault, bool]] = deque()
        self._max_pending = max_pending
        self._resync = False
        self.overflows = 0

    def active(self, lum_id: str) -> frozenset[LampFault]:
        """The faults of ``lum_id`` as last observed."""
        return self._active.get(lum_id, frozenset())

    def faulty(self) -> int:
        """How many luminaires have at least one active fault."""
        return sum(1 for faults in self._active.values() if faults)

    def observe(self, lum_id: str, faults: Iterable[LampFault]) -> None:
        """Record the faults of ``lum_id`` now; queues an edge for each one that appeared or cleared."""
        now = frozenset(faults)
        before = self._active.get(lum_id, frozenset())
        if now == before:
            return
        self._active[lum_id] = now
        if self._resync:
            return
        edges = [(lum_id, f, True) for f in sorted(now - before)] + [(lum_id, f, False) for f in sorted(before - now)]
        if len(self._pending) + len(edges) > self._max_pending:
            self._pending.clear()
            self._resync = True
            self.overflows += 1
            return
        self._pending.extend(edges)

    def drain(self, limit: int = MAX_CHANGES_PER_MESSAGE) -> list[FaultChange]:
        """Up to ``limit`` changes not reported yet, oldest first, as ``[lum_id, fault, active]``."""
        if self._resync:
            self._resync = False
            for lum_id in sorted(set(self._active) | set(self._told)):
                now, told = self._active.get(lum_id, frozenset()), self._told.get(lum_id, frozenset())
                self._pending.extend((lum_id, f, True) for f in sorted(now - told))
                self._pending.extend((lum_id, f, False) for f in sorted(told - now))
        out: list[FaultChange] = []
        while self._pending and len(out) < limit:
            lum_id, fault, active = self._pending.popleft()
            told = self._told.get(lum_id, frozenset())
            self._told[lum_id] = told | {fault} if active else told - {fault}
            out.append([lum_id, fault.value, active])
        return out


def compact(value: float, digits: int) -> int | float:
    """``value`` rounded to ``digits`` decimals, as an int when it is whole (MessagePack: 1-5 bytes, not 9)."""
    rounded = round(value, digits)
    return int(rounded) if rounded == int(rounded) else rounded


def luminaire_table(
    ids: Sequence[str],
    readings: Mapping[str, LuminaireReading],
    fresh: frozenset[str] | set[str],
    commanded: Mapping[str, float],
) -> dict[str, list[Any]]:
    """The per-luminaire columns: ``ids``, ``level`` and ``power_w`` (``None`` when the gear did not answer at
    the last step), ``target`` (last level the node commanded), and the last known meters ``energy_wh``,
    ``hours`` and ``switch_ons`` (``None`` before the first answer).
    """
    table: dict[str, list[Any]] = {
        k: [] for k in ("ids", "level", "target", "power_w", "energy_wh", "hours", "switch_ons")
    }
    for lum_id in ids:
        r = readings.get(lum_id)
        now = r if lum_id in fresh else None
        target = commanded.get(lum_id)
        table["ids"].append(lum_id)
        table["level"].append(None if now is None else compact(now.level_pct, 1))
        table["target"].append(None if target is None else compact(target, 1))
        table["power_w"].append(None if now is None else compact(now.power_w, 1))
        table["energy_wh"].append(None if r is None else compact(r.energy_wh, 0))
        table["hours"].append(None if r is None else compact(r.operating_hours, 2))
        table["switch_ons"].append(None if r is None else r.switch_ons)
    return table
