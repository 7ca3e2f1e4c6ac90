"""Energy per light group per hour, and what full power would have cost, from the nodes' meter readings.

A light node reports, for each luminaire, cumulative counters: active energy (``energy_wh``) and operating hours
(``hours``, time lit). Counters are turned into deltas against the previous reading of the same luminaire:

* the **first reading** of a luminaire is only a baseline (nothing is known of what came before);
* a reading **not newer** than the last one (a redelivery, a late message) is ignored;
* a counter that **went down** was reset (the gear was replaced, or its meter restarted with the node): the new
  value is what was used since the reset, so it is the delta;
* a delta covering several hours (the box was unreachable) is **spread over them in proportion to time**.

The full-power reference of a luminaire is its rated power times the time it was lit (the operating-hours delta):
what it would have used without dimming, switched on and off at the same times. Savings = 1 - energy / reference,
over luminaires whose rating is known (those of the inventory). Energy drawn on standby (when off) is in the
energy and not in the reference, so savings are if anything understated.

Each luminaire's energy goes to every configured group it is in, and to ``commune-<site>`` (every luminaire of the
commune): group totals overlap, the commune's is the sum without double counting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from vigie_config.groups import commune_group

HOUR_MS = 3_600_000
#: Longest delta spread hour by hour (a month); older silence goes to its last hour.
MAX_SPREAD_HOURS = 24 * 31


class Reading(NamedTuple):
    """One luminaire's counters at ``ts_ms``."""

    device_id: str
    lum_id: str
    ts_ms: int
    energy_wh: float
    hours: float


class Delta(NamedTuple):
    start_ms: int
    end_ms: int
    energy_wh: float
    lit_h: float


class EnergyKey(NamedTuple):
    site: str
    group: str
    hour_ms: int


@dataclass
class EnergySum:
    energy_wh: float = 0.0
    rated_energy_wh: float = 0.0
    reference_wh: float = 0.0
    lit_h: float = 0.0


@dataclass(frozen=True)
class Rating:
    """What the inventory knows of a luminaire."""

    rated_w: float
    groups: tuple[str, ...]


def readings(device_id: str, ts_ms: int, metrics: Mapping[str, Any]) -> list[Reading]:
    """The luminaires' counters in a light node's telemetry (``light.lum`` columns); none for other boxes.

    A luminaire whose gear never answered has ``None`` counters and no reading.
    """
    table = metrics.get("light.lum")
    if not isinstance(table, Mapping):
        return []
    ids, energy, hours = table.get("ids") or [], table.get("energy_wh") or [], table.get("hours") or []
    out = []
    for lum, e, h in zip(ids, energy, hours, strict=False):
        if isinstance(lum, str) and isinstance(e, int | float) and isinstance(h, int | float):
            out.append(Reading(device_id, lum, ts_ms, float(e), float(h)))
    return out


def delta(previous: Reading | None, current: Reading) -> Delta | None:
    """What was used between two readings of one luminaire (see the module docstring for the rules)."""
    if previous is None or current.ts_ms <= previous.ts_ms:
        return None
    energy = current.energy_wh - previous.energy_wh
    lit = current.hours - previous.hours
    if energy < 0 or lit < 0:
        energy, lit = current.energy_wh, current.hours
    return Delta(previous.ts_ms, current.ts_ms, energy, lit)


def spread(start_ms: int, end_ms: int) -> list[tuple[int, float]]:
    """(hour start, share of the span) for each hour ``[start_ms, end_ms)`` touches; shares add up to 1."""
    first, last = start_ms // HOUR_MS * HOUR_MS, (end_ms - 1) // HOUR_MS * HOUR_MS
    if end_ms <= start_ms or first == last:
        return [(last, 1.0)]
    if (last - first) // HOUR_MS >= MAX_SPREAD_HOURS:
        return [(last, 1.0)]
    span = end_ms - start_ms
    out = []
    hour = first
    while hour <= last:
        part = min(end_ms, hour + HOUR_MS) - max(start_ms, hour)
        out.append((hour, part / span))
        hour += HOUR_MS
    return out


def attribute(
    deltas: Iterable[tuple[str, str, str, Delta]], ratings: Mapping[tuple[str, str], Rating]
) -> dict[EnergyKey, EnergySum]:
    """Sum ``(site, device_id, lum_id, delta)`` per (site, group, hour); ``ratings`` is the inventory."""
    out: dict[EnergyKey, EnergySum] = {}
    for site, device_id, lum_id, d in deltas:
        rating = ratings.get((device_id, lum_id))
        groups = dict.fromkeys((*(rating.groups if rating else ()), commune_group(site)))
        for hour, share in spread(d.start_ms, d.end_ms):
            energy, lit = d.energy_wh * share, d.lit_h * share
            for group in groups:
                s = out.setdefault(EnergyKey(site, group, hour), EnergySum())
                s.energy_wh += energy
                s.lit_h += lit
                if rating is not None:
                    s.rated_energy_wh += energy
                    s.reference_wh += rating.rated_w * lit
    return out


def savings_pct(rated_energy_wh: float, reference_wh: float) -> float | None:
    """1 - energy / full-power reference, in percent; ``None`` with no reference (nothing lit, or no rating)."""
    if reference_wh <= 0:
        return None
    return round(100.0 * (1.0 - rated_energy_wh / reference_wh), 2)
