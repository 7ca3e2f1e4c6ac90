"""The whole métropole as box configs: light cabinets, camera boxes and presence sensors, from a seed.

Pure and seeded, like the demo's district (:mod:`coordinator.demo.district`, whose street classes, calendar and
sensor boxes it reuses): the same seed gives the same city, so a benchmark run twice meets the same fleet.

* **Light cabinets** are shared out among the 23 communes in proportion to their population (largest remainder,
  one at least each: every commune lights its streets), 340 by default, 100 luminaires each: 34,000 light points,
  Dijon's count. A commune's cabinets stand in a disc around its centre whose area grows with their number (a
  cabinet serves about 0.2 km² of town); each feeds four streets leaving it roughly at right angles (a street
  grid), bending a little, its luminaires spaced by the street's class (25 m residential, 30 m collector, 35 m
  main road), with that class's LED rating.
* **Camera boxes** (115 by default) are shared out the same way but without a minimum (small villages have none),
  near the commune centre where traffic is; each has the zone and line of the recorded event mix
  (:mod:`.camera_replay`).
* **Presence sensors** equip a share of the streets (``sensor_share``); those streets run the demo's
  presence-adaptive calendar, the others Dijon's practice.
* **Lamp failures** (:func:`lamp_failures`) arrive at a yearly rate per luminaire, accelerated by a factor so that
  an hour's run shows some, each repaired after the (accelerated) repair delay.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from coordinator.data import Commune, commune, communes
from coordinator.demo.district import CLASSES, SensorBox, _calendar, offset

CABINETS = 340
CAMERAS = 115
LUMINAIRES_PER_CABINET = 100
STREETS_PER_CABINET = 4
#: Spacing of poles along a street of each class, metres.
SPACING_M: dict[str, float] = {"residential": 25.0, "collector": 30.0, "main": 35.0}
#: Town area one cabinet serves, m² (34,000 points over the métropole's built-up ~70 km²: ~0.2 km² per cabinet).
AREA_PER_CABINET_M2 = 200_000.0
#: Yearly failure rate of an LED luminaire (driver or light source), per luminaire: ~2 %/year in street lighting.
YEARLY_FAILURE_RATE = 0.02
#: Time to repair a failed luminaire, s (a maintenance contract's 72 h).
REPAIR_S = 72 * 3600.0
YEAR_S = 365 * 86_400.0


@dataclass(frozen=True)
class CameraBox:
    """A camera box that replays the recorded event mix on one street corner."""

    device_id: str
    site: str
    lat: float
    lon: float
    zone: str
    line: str


@dataclass(frozen=True)
class City:
    light_boxes: tuple[dict[str, Any], ...]
    cameras: tuple[CameraBox, ...]
    sensors: tuple[SensorBox, ...]

    @property
    def luminaire_count(self) -> int:
        return sum(len(b["lighting"]["luminaires"]) for b in self.light_boxes)

    @property
    def box_count(self) -> int:
        return len(self.light_boxes) + len(self.cameras) + len(self.sensors)


@cache
def populations() -> dict[str, int]:
    """Population of each commune, by slug (see ``coordinator/data/populations.csv``)."""
    text = resources.files("coordinator.data").joinpath("populations.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {r["slug"]: int(r["population"]) for r in rows}


def share(total: int, weights: Mapping[str, float], minimum: int = 0) -> dict[str, int]:
    """``total`` items shared out in proportion to ``weights`` (largest remainder), ``minimum`` each at least.

    Raises:
        ValueError: ``total`` cannot give everyone their minimum.
    """
    keys = sorted(weights)
    if total < minimum * len(keys):
        raise ValueError(f"{total} items cannot give {len(keys)} communes {minimum} each")
    out = {k: minimum for k in keys}
    left = total - minimum * len(keys)
    weight = sum(weights.values())
    if left == 0 or weight <= 0:
        return out
    exact = {k: left * weights[k] / weight for k in keys}
    for k in keys:
        out[k] += int(exact[k])
    rest = left - sum(int(v) for v in exact.values())
    # ties broken by name, so the result does not depend on dict order
    for k in sorted(keys, key=lambda k: (-(exact[k] - int(exact[k])), k))[:rest]:
        out[k] += 1
    return out


def _pick_class(rng: random.Random) -> tuple[str, int]:
    x, acc = rng.random(), 0.0
    for name, watts, frac in CLASSES:
        acc += frac
        if x < acc:
            return name, watts
    return CLASSES[-1][0], CLASSES[-1][1]


def commune_radius_m(cabinets: int) -> float:
    """Radius of the disc a commune's cabinets stand in (see the module docstring)."""
    return max(300.0, math.sqrt(cabinets * AREA_PER_CABINET_M2 / math.pi))


def _in_disc(rng: random.Random, radius: float) -> tuple[float, float]:
    r, a = radius * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    return r * math.cos(a), r * math.sin(a)


def _cabinet(rng: random.Random, c: Commune, k: int, radius: float, per_cabinet: int,
             sensor_share: float) -> tuple[dict[str, Any], list[SensorBox]]:
    node, sector = f"light-{c.slug}-{k:03d}", f"secteur-{k:03d}"
    east, north = _in_disc(rng, radius)
    lat, lon = offset(c.lat, c.lon, east, north)
    luminaires: list[dict[str, Any]] = []
    groups: dict[str, bool] = {}
    sensors: list[SensorBox] = []
    base = rng.uniform(0, math.pi / 2)
    sizes = [per_cabinet // STREETS_PER_CABINET + (s < per_cabinet % STREETS_PER_CABINET)
             for s in range(STREETS_PER_CABINET)]
    for s, size in enumerate(sizes):
        letter = "abcd"[s]
        street_class, watts = _pick_class(rng)
        group = f"{sector}-{letter}"
        has_sensor = rng.random() < sensor_share
        groups[group] = has_sensor
        heading = base + s * math.pi / 2 + rng.uniform(-0.17, 0.17)
        bend = rng.uniform(-0.03, 0.03)  # radians per pole: streets curve a little
        x, y, spacing = 0.0, 0.0, SPACING_M[street_class]
        points: list[tuple[float, float]] = []
        for i in range(size):
            step = spacing if i else 15.0  # the first pole 15 m from the cabinet
            x, y = x + step * math.cos(heading), y + step * math.sin(heading)
            heading += bend
            points.append((x, y))
            llat, llon = offset(lat, lon, x, y)
            luminaires.append({"id": f"{sector}-{letter}-{i + 1:03d}", "rated_w": watts, "groups": [group],
                               "lat": round(llat, 6), "lon": round(llon, 6)})
        if has_sensor and points:
            mx, my = points[len(points) // 2]
            slat, slon = offset(lat, lon, mx, my)
            sensors.append(SensorBox(f"psn-{c.slug}-{k:03d}{letter}", c.slug, round(slat, 6), round(slon, 6),
                                     "street", street_class))
    box: dict[str, Any] = {
        "device_id": node, "site": c.slug, "district": sector, "lat": round(lat, 6), "lon": round(lon, 6),
        "lighting": {
            "driver": "simulated", "lat": round(lat, 6), "lon": round(lon, 6), "tz": "Europe/Paris",
            "luminaires": luminaires, "calendar": _calendar(groups),
            "presence": [{"device": sn.device_id, "zone": sn.zone, "groups": [f"{sector}-{sn.device_id[-1]}"]}
                         for sn in sensors],
        },
    }
    return box, sensors


def generate_city(seed: int = 2026, cabinets: int = CABINETS, cameras: int = CAMERAS,
                  luminaires_per_cabinet: int = LUMINAIRES_PER_CABINET, sensor_share: float = 0.1,
                  sites: Sequence[str] | None = None, zone: str = "crossing", line: str = "street") -> City:
    """The city's box configs (as dicts, without the ``mqtt``/``outbox`` sections the runner adds).

    ``sites`` restricts the city to some communes (a small city for tests); the counts are then shared among them.
    """
    chosen = [commune(s) for s in sites] if sites is not None else list(communes())
    pops = populations()
    weights = {c.slug: float(pops[c.slug]) for c in chosen}
    cab_share = share(cabinets, weights, minimum=1)
    cam_share = share(cameras, weights, minimum=0)
    rng = random.Random(seed)
    boxes: list[dict[str, Any]] = []
    sensors: list[SensorBox] = []
    cams: list[CameraBox] = []
    for c in chosen:  # a commune's boxes depend on the seed and on the communes before it only
        radius = commune_radius_m(cab_share[c.slug])
        for k in range(1, cab_share[c.slug] + 1):
            box, sn = _cabinet(rng, c, k, radius, luminaires_per_cabinet, sensor_share)
            boxes.append(box)
            sensors.extend(sn)
        for k in range(1, cam_share[c.slug] + 1):
            east, north = _in_disc(rng, radius / 2)
            lat, lon = offset(c.lat, c.lon, east, north)
            cams.append(CameraBox(f"cam-{c.slug}-{k:03d}", c.slug, round(lat, 6), round(lon, 6), zone, line))
    return City(tuple(boxes), tuple(cams), tuple(sensors))


@dataclass(frozen=True)
class LampFailure:
    """A luminaire that fails at ``at_s`` (seconds from the start of the run) and is repaired at ``repair_s``."""

    at_s: float
    device_id: str
    lum_id: str
    repair_s: float


def lamp_failures(city: City, seed: int, duration_s: float, acceleration: float = 100.0,
                  yearly_rate: float = YEARLY_FAILURE_RATE, repair_s: float = REPAIR_S) -> list[LampFailure]:
    """Failures in ``[0, duration_s)`` of run time: a Poisson process at ``yearly_rate`` per luminaire and year,
    time running ``acceleration`` times faster than real (so a year's failures show in a year / acceleration)."""
    lums = [(b["device_id"], lum["id"]) for b in city.light_boxes for lum in b["lighting"]["luminaires"]]
    if not lums or acceleration <= 0 or yearly_rate <= 0:
        return []
    rate = len(lums) * yearly_rate * acceleration / YEAR_S  # per second of run time
    rng = random.Random(seed)
    out: list[LampFailure] = []
    t = rng.expovariate(rate)
    while t < duration_s:
        dev, lum = rng.choice(lums)
        out.append(LampFailure(t, dev, lum, t + repair_s / acceleration))
        t += rng.expovariate(rate)
    return out
