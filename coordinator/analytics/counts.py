"""Counts per target x class x minute, and peak occupancy per zone x class x minute, from camera events.

Which events count. A camera box reports the same traffic three ways: live ``zone_enter`` and ``line_crossing``
events (for the feed and the lights), and ``counts`` events (IntervalCounts) that aggregate them over its counting
interval (60 s by default). Adding them up would count every pedestrian twice, so:

* **counts come from ``counts`` events only** -- zone entries (``inbound``) and line crossings in each direction
  (``inbound`` is the line's configured direction, ``outbound`` the other). They are complete (the box counts
  every track, even those whose live event was rate-limited), compact, and travel through the durable outbox like
  every event. A row goes to the minute containing the end of its interval: with the default 60 s interval, the
  minute it covers; with a longer one, its last minute (the interval is the resolution).
* **``zone_enter`` / ``line_crossing`` are not counted**: they duplicate the above.
* **occupancy comes from ``occupancy`` events**: the box sends the number of objects of each class in a zone when
  it changes; the minute keeps the highest value reported during it. A minute without a change has no row (the
  value of the last row still holds).

Everything is additive (counts) or a maximum (occupancy), so the order in which batches arrive does not matter, and
because ingest hands each event over only once, nothing is counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

MINUTE_MS = 60_000


class CountKey(NamedTuple):
    site: str
    device_id: str
    cam: int
    target: str
    cls: int
    minute_ms: int


class OccupancyKey(NamedTuple):
    site: str
    device_id: str
    cam: int
    zone: str
    cls: int
    minute_ms: int


@dataclass
class Aggregates:
    """What one batch of events adds: (inbound, outbound) per count key, peak per occupancy key."""

    counts: dict[CountKey, tuple[int, int]] = field(default_factory=dict)
    occupancy: dict[OccupancyKey, int] = field(default_factory=dict)


class CameraEvent(NamedTuple):
    """The part of a stored event these aggregates read (ingest's ``StoredEvent`` fits)."""

    site: str
    device_id: str
    ts_ms: int
    type: str
    body: Mapping[str, Any]


def minute_of(ts_ms: int) -> int:
    return ts_ms // MINUTE_MS * MINUTE_MS


def _row(row: Any) -> tuple[str, int, int, int]:
    """A CountRow by name (ingest's JSON) or in wire order ``[target, cls, inbound, outbound]``."""
    if isinstance(row, Mapping):
        return str(row["target"]), int(row["cls"]), int(row["inbound"]), int(row["outbound"])
    target, cls, inbound, outbound = row
    return str(target), int(cls), int(inbound), int(outbound)


def aggregate(events: Iterable[CameraEvent]) -> Aggregates:
    """Fold ``counts`` and ``occupancy`` events into aggregate rows; other types are ignored (see module doc)."""
    out = Aggregates()
    for ev in events:
        if ev.type == "counts":
            minute = minute_of(max(0, ev.ts_ms - 1))  # the interval ends at ts: its last instant is before it
            cam = int(ev.body.get("cam", 0))
            for raw in ev.body.get("rows", ()):
                target, cls, inbound, outbound = _row(raw)
                if inbound or outbound:
                    key = CountKey(ev.site, ev.device_id, cam, target, cls, minute)
                    i, o = out.counts.get(key, (0, 0))
                    out.counts[key] = (i + inbound, o + outbound)
        elif ev.type == "occupancy":
            minute = minute_of(ev.ts_ms)
            cam, zone = int(ev.body.get("cam", 0)), str(ev.body["zone"])
            for cls, n in ev.body.get("counts", ()):
                occ = OccupancyKey(ev.site, ev.device_id, cam, zone, int(cls), minute)
                out.occupancy[occ] = max(out.occupancy.get(occ, 0), int(n))
    return out
