"""What the lights are doing, measured: luminaire readings from node telemetry, their state, and group summaries.

A light node reports its luminaires in the ``light.lum`` column table of its telemetry (see the AsyncAPI
document): what each gear measured at the last step (``level``, ``power_w``), what the node commanded
(``target``), and the meters. Commands say what was asked; this module says what happened, so the operator
sees a group at 70 % because its luminaires report 70 %, not because a command said so.

Everything here is pure: readings in, states and summaries out. A malformed table (columns of unequal length,
values of the wrong type) yields readings with the unusable values left out, never an exception, because a box
with a bug must not blank the lighting page of the whole métropole.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

State = Literal["on", "dimmed", "off", "fault", "no_data"]
STATES: tuple[State, ...] = ("on", "dimmed", "off", "fault", "no_data")
#: Levels at or above this are "on" (full output); gear reports 99.6 % for a commanded 100 % now and then.
FULL_PCT = 99.5
#: Telemetry older than this says nothing about now (a node sends every minute by default).
FRESH_MS = 5 * 60_000


class Reading(NamedTuple):
    """One luminaire's line of the ``light.lum`` table; None where the node had no value (or sent a bad one).

    A named tuple rather than a dataclass: a métropole's page reads 35,000 of them per request.
    """

    level: float | None = None
    target: float | None = None
    power_w: float | None = None
    energy_wh: float | None = None
    hours: float | None = None
    switch_ons: float | None = None


@dataclass(frozen=True)
class Spread:
    """Median and spread of measured levels: quartiles (first, third) and extremes, over ``n`` luminaires."""

    n: int
    median: float | None
    q1: float | None
    q3: float | None
    low: float | None
    high: float | None


def _number(value: Any) -> float | None:
    kind = type(value)  # exact types: a bool is an int subclass and is not a level
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return float(value)
    return None


def _column(table: Mapping[str, Any], name: str, length: int) -> list[float | None]:
    col = table.get(name)
    if not isinstance(col, list) or len(col) != length:
        return [None] * length
    return [_number(v) for v in col]


def lum_table(metrics: Mapping[str, Any] | None) -> dict[str, Reading]:
    """The luminaires of a node's telemetry metrics, by id (empty when there is no usable table)."""
    table = (metrics or {}).get("light.lum")
    if not isinstance(table, Mapping):
        return {}
    ids = table.get("ids")
    if not isinstance(ids, list):
        return {}
    n = len(ids)
    cols = {name: _column(table, name, n) for name in ("level", "target", "power_w", "energy_wh", "hours",
                                                        "switch_ons")}
    rows = zip(ids, cols["level"], cols["target"], cols["power_w"], cols["energy_wh"], cols["hours"],
               cols["switch_ons"], strict=True)
    return {lum: Reading(*values) for lum, *values in rows if isinstance(lum, str)}


def lum_levels(metrics: Mapping[str, Any] | None) -> dict[str, tuple[float | None, float | None]]:
    """``(level, target)`` of each luminaire of a node's telemetry, read as :func:`lum_table` reads them.

    The group summary needs these two columns only; skipping the four meters is a third of the work.
    """
    table = (metrics or {}).get("light.lum")
    if not isinstance(table, Mapping):
        return {}
    ids = table.get("ids")
    if not isinstance(ids, list):
        return {}
    n = len(ids)
    rows = zip(ids, _column(table, "level", n), _column(table, "target", n), strict=True)
    return {lum: (level, target) for lum, level, target in rows if isinstance(lum, str)}


def classify(reading: Reading | None, faulty: bool, fresh: bool) -> State:
    """A luminaire's state on the map and in the lists.

    An active fault wins (the operator must see it whatever the level); then no data when the node is silent,
    its telemetry stale, or the gear did not answer; then the measured level.
    """
    return classify_level(None if reading is None else reading.level, faulty, fresh)


def classify_level(level: float | None, faulty: bool, fresh: bool) -> State:
    """:func:`classify` from the measured level alone (None: no reading, or the gear did not answer)."""
    if faulty:
        return "fault"
    if level is None or not fresh:
        return "no_data"
    if level <= 0.0:
        return "off"
    return "on" if level >= FULL_PCT else "dimmed"


def spread(levels: Iterable[float | None]) -> Spread:
    """Median, quartiles and extremes of the measured levels, ignoring luminaires without a level."""
    return spread_of_sorted(sorted(v for v in levels if v is not None))


def spread_of_sorted(values: Sequence[float]) -> Spread:
    """:func:`spread` of levels already sorted, none missing (a group's, merged from its cabinets' sorted ones)."""
    if not values:
        return Spread(0, None, None, None, None, None)
    if len(values) == 1:
        q1 = q3 = values[0]
    else:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Spread(len(values), round(statistics.median(values), 1), round(q1, 1), round(q3, 1), values[0],
                  values[-1])


def active_faults(changes: Sequence[tuple[str, str, str, bool]]) -> dict[tuple[str, str], list[str]]:
    """Faults active now per (device, luminaire), from ``lamp_fault`` changes in time order.

    Each change is ``(device, lum, fault, active)``; the last change of a fault wins, as on the wire.
    """
    latest: dict[tuple[str, str, str], bool] = {}
    for device, lum, fault, active in changes:
        latest[(device, lum, fault)] = active
    out: dict[tuple[str, str], list[str]] = {}
    for (device, lum, fault), active in sorted(latest.items()):
        if active:
            out.setdefault((device, lum), []).append(fault)
    return out
