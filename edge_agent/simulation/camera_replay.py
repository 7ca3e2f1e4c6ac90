"""A camera box's events without its camera: the recorded mix of the real chain, replayed at the hour's rate.

:mod:`.record_mix` ran the real chain (NanoDet, tracker, zones and line) once over the committed footage and
stored how many events of each type it emits per minute (``edge_agent/simulation/camera_mix.json``). That footage is a
busy crossing; a simulated camera emits its mix scaled by the hour's share of the day's traffic relative to the
busiest hour (the demo's weekday profile, :data:`.presence.HOURLY_PCT`), times a ``factor`` (10
for a festival's burst). Counts are Poisson per step, so a minute's mix matches the recording on average; the
events carry the fields the chain fills (tracks numbered per camera, classes drawn from the recorded share, a
zone's occupancy sent at each entry and leave,
as the chain sends it on every change). Pure: :class:`CameraReplay` only returns events.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from functools import cache
from importlib import resources

import vigie_wire as wire

from .presence import HOURLY_PCT

#: Event types the replay produces from the recorded per-minute rates (``counts`` follow their own interval).
TYPES = ("detection", "zone_enter", "zone_leave", "occupancy", "line_crossing", "track_end")


@dataclass(frozen=True)
class Mix:
    """What the real chain emits per minute on the footage, by event type, and the classes it saw."""

    per_minute: dict[str, float]
    count_interval_s: int
    class_share: tuple[tuple[int, float], ...]


@cache
def load_mix() -> Mix:
    raw = json.loads(resources.files(__package__).joinpath("camera_mix.json").read_text(encoding="utf-8"))
    return Mix({k: float(v) for k, v in raw["per_minute"].items()}, int(raw["count_interval_s"]),
               tuple((int(c), float(s)) for c, s in raw["class_share"].items()))


def hour_factor(hour: int) -> float:
    """The hour's traffic relative to the busiest hour's (1.0 at the evening peak)."""
    return HOURLY_PCT[hour % 24] / max(HOURLY_PCT)


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's product for small means, a rounded normal beyond 30)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class CameraReplay:
    """The event stream of one simulated camera (camera index 0 of its box)."""

    def __init__(self, zone: str, line: str, rng: random.Random, mix: Mix | None = None) -> None:
        self.zone, self.line, self.rng = zone, line, rng
        self.mix = mix or load_mix()
        self.next_track = 1
        self.inside: dict[int, int] = {}  # class -> objects now in the zone
        self.counted: dict[tuple[str, int], list[int]] = {}  # (target, cls) -> [inbound, outbound]
        self.since_counts = 0.0

    def _cls(self) -> int:
        x, acc = self.rng.random(), 0.0
        for cls, frac in self.mix.class_share:
            acc += frac
            if x < acc:
                return cls
        return self.mix.class_share[-1][0] if self.mix.class_share else 0

    def _track(self) -> int:
        track, self.next_track = self.next_track, self.next_track + 1
        return track

    def step(self, dt_s: float, hour: int, factor: float = 1.0) -> list[wire.Event]:
        """The events of the next ``dt_s`` seconds at local ``hour``."""
        rng, scale = self.rng, hour_factor(hour) * factor * dt_s / 60
        rate = self.mix.per_minute
        out: list[wire.Event] = []
        for _ in range(poisson(rng, rate.get("detection", 0) * scale)):
            w, h = rng.randint(20, 120), rng.randint(60, 300)
            out.append(wire.Detection(0, self._track(), self._cls(), rng.randint(35, 90),
                                      (rng.randint(0, 1000 - w), rng.randint(0, 1000 - h), w, h)))
        for _ in range(poisson(rng, rate.get("zone_enter", 0) * scale)):
            cls = self._cls()
            self.inside[cls] = self.inside.get(cls, 0) + 1
            self._count(self.zone, cls, True)
            out += [wire.ZoneEnter(0, self.zone, self._track(), cls), self._occupancy()]
        for _ in range(poisson(rng, rate.get("zone_leave", 0) * scale)):
            present = sorted(c for c, n in self.inside.items() if n > 0)
            if not present:
                break
            cls = rng.choice(present)
            self.inside[cls] -= 1
            out += [wire.ZoneLeave(0, self.zone, max(1, self.next_track - 1), cls, rng.randint(2_000, 60_000)),
                    self._occupancy()]
        for _ in range(poisson(rng, rate.get("line_crossing", 0) * scale)):
            cls, inbound = self._cls(), rng.random() < 0.5
            self._count(self.line, cls, inbound)
            out.append(wire.LineCrossing(0, self.line, self._track(), cls, inbound))
        for _ in range(poisson(rng, rate.get("track_end", 0) * scale)):
            out.append(wire.TrackEnd(0, max(1, self.next_track - 1), self._cls(), rng.randint(1_000, 30_000)))
        self.since_counts += dt_s
        if self.since_counts >= self.mix.count_interval_s:
            self.since_counts -= self.mix.count_interval_s
            rows = tuple(wire.CountRow(t, c, io[0], io[1]) for (t, c), io in sorted(self.counted.items()))
            out.append(wire.IntervalCounts(0, self.mix.count_interval_s, rows))
            self.counted.clear()
        return out

    def _occupancy(self) -> wire.Occupancy:
        """The zone's occupancy now: the chain sends one at every change (an entry, a leave)."""
        return wire.Occupancy(0, self.zone, tuple((c, n) for c, n in sorted(self.inside.items()) if n > 0))

    def _count(self, target: str, cls: int, inbound: bool) -> None:
        row = self.counted.setdefault((target, cls), [0, 0])
        row[0 if inbound else 1] += 1
