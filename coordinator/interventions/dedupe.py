"""Merging duplicates: one intervention per incident, however many cameras or citizens report it.

A candidate merges into an open intervention of the same kind when it is about the same place
(the same dedupe key, i.e. the same zone, luminaire or device, or within ``radius_m`` metres)
and the intervention was last reported less than ``window_s`` seconds before the candidate.
The merge counts the report and keeps the more urgent priority.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .geo import haversine_m
from .rules import Candidate


@dataclass(frozen=True)
class OpenIntervention:
    """What dedupe needs of an intervention that is still open."""

    id: int
    kind: str
    key: str | None
    lat: float | None
    lon: float | None
    last_ms: int


def same_place(c: Candidate, o: OpenIntervention) -> bool:
    if c.key is not None and c.key == o.key:
        return True
    if None in (c.lat, c.lon, o.lat, o.lon):
        return False
    return haversine_m(c.lat, c.lon, o.lat, o.lon) <= c.radius_m  # type: ignore[arg-type]


def find_duplicate(c: Candidate, open_ones: Sequence[OpenIntervention]) -> OpenIntervention | None:
    """The open intervention ``c`` should merge into: the most recently reported match, if any."""
    matches = [o for o in open_ones
               if o.kind == c.kind and c.ts_ms - o.last_ms <= c.window_s * 1000 and same_place(c, o)]
    return max(matches, key=lambda o: (o.last_ms, o.id), default=None)
