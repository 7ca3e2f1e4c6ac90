"""A presence trace for the demo's sensor boxes: passers-by arrive, walk or drive the street, leave.

Arrivals are Poisson with a rate per street class and local hour (a typical French urban
weekday profile, the same shape as the lighting benchmark's), so the street lights of the demo
react as they would on a real evening. Pure: :func:`arrivals` and :func:`Passage` values only;
the runner turns them into wire events at the right times.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: Share of daily traffic per local hour, % (evening peak 17-18 h, minimum 03-04 h).
HOURLY_PCT: tuple[float, ...] = (1.0, 0.6, 0.5, 0.4, 0.5, 1.2, 3.5, 6.5, 7.5, 5.8, 5.2, 5.6,
                                 6.2, 5.9, 5.6, 6.1, 7.2, 8.2, 7.8, 5.6, 3.6, 2.6, 2.0, 1.5)
#: Passages per day by street class (all modes, both directions).
DAILY: dict[str, int] = {"residential": 300, "collector": 2500, "main": 10000}
#: (COCO class id, share, crossing time range in s) by street class: people walk, vehicles pass.
MODES: dict[str, tuple[tuple[int, float, tuple[float, float]], ...]] = {
    "residential": ((0, 0.7, (60, 150)), (1, 0.1, (20, 40)), (2, 0.2, (10, 25))),
    "collector": ((0, 0.4, (60, 150)), (1, 0.1, (20, 40)), (2, 0.5, (8, 20))),
    "main": ((0, 0.2, (60, 150)), (1, 0.05, (20, 40)), (2, 0.7, (6, 15)), (5, 0.05, (8, 20))),
}


@dataclass(frozen=True)
class Passage:
    cls: int
    start_s: float
    duration_s: float


def rate_per_s(street_class: str, hour: int) -> float:
    return DAILY[street_class] * HOURLY_PCT[hour % 24] / 100 / 3600


def arrivals(rng: random.Random, street_class: str, hour: int, t0: float, dt_s: float) -> list[Passage]:
    """Passages starting in ``[t0, t0 + dt_s)``; ``t0`` in seconds on the caller's clock."""
    out: list[Passage] = []
    lam = rate_per_s(street_class, hour)
    t = t0 + rng.expovariate(lam) if lam > 0 else t0 + dt_s
    while t < t0 + dt_s:
        x, acc = rng.random(), 0.0
        for cls, share, (lo, hi) in MODES[street_class]:
            acc += share
            if x < acc:
                out.append(Passage(cls, t, rng.uniform(lo, hi)))
                break
        t += rng.expovariate(lam)
    return out
