"""The whole métropole as box configs: light cabinets, camera boxes and presence sensors, from a seed.

Pure and seeded, like the demo's district (:mod:`.district`, whose street classes, calendar and sensor boxes it
reuses): the same seed gives the same city, so a benchmark run twice meets the same fleet.

* **Light cabinets** are shared out among the 23 communes in proportion to their population (largest remainder,
  one at least each: every commune lights its streets), 340 by default, 100 luminaires each: 34,000 light points,
  Dijon's count. A commune's cabinets stand in a disc around its centre whose area grows with their number (a
  cabinet serves about 0.2 km² of town); each feeds four streets leaving it roughly at right angles (a street
  grid), bending a little, its luminaires spaced by the street's class (25 m residential, 30 m collector, 35 m
  main road), with that class's LED rating.
* **Camera boxes** (115 by default) are shared out the same way but without a minimum (small villages have none),
  near the commune centre where traffic is; each has the zone and line of the recorded event mix
  (:mod:`edge_agent.simulation.camera_replay`).
* **Presence sensors** equip a share of the streets (``sensor_share``); those streets run the demo's
  presence-adaptive calendar, the others Dijon's practice.
* **Lamp failures** (:func:`lamp_failures`) arrive at a yearly rate per luminaire, accelerated by a factor so that
  an hour's run shows some, each repaired after the (accelerated) repair delay.

:func:`write_city_configs` writes the boxes as config files pointed at a broker: ``simulate city`` seeds the
coordinator's fleet from them, and its box hosts (:mod:`edge_agent.simulation.city_host`, child processes) run
them. :func:`add_city_arguments` is the city's shape on a command line, the same for the runner and its hosts.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import Commune, commune, communes, offset, populations
from .district import CLASSES, SensorBox, _calendar

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
ROOT = Path(__file__).resolve().parents[2]
#: What a camera box's config names as its camera (the replayed boxes never open it, but say what they are).
FOOTAGE = ROOT / "tests" / "data" / "vtest_excerpt.avi"
MODEL = ROOT / "models" / "nanodet-g-416.manifest.json"


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


@dataclass(frozen=True)
class Timing:
    """The simulated boxes' intervals (the field's defaults unless a run asks otherwise)."""

    light_telemetry_s: float = 60.0
    other_telemetry_s: float = 60.0
    decision_interval_s: float = 1.0
    batch_window_ms: int = 100


def _base(device: str, site: str, lat: float, lon: float, root: Path, port: int, telemetry_s: float,
          window_ms: int) -> dict[str, Any]:
    return {"device_id": device, "site": site, "lat": lat, "lon": lon, "mqtt": {"host": "127.0.0.1", "port": port},
            "outbox": {"path": str(root / f"{device}-outbox.sqlite3")}, "telemetry_interval_s": telemetry_s,
            "batch": {"window_ms": window_ms}}


def write_city_configs(city: City, root: Path, port: int, timing: Timing = Timing()) -> dict[str, Path]:
    """A box config file per box of ``city`` pointed at the broker on 127.0.0.1:``port``; returns them by device."""
    root.mkdir(parents=True, exist_ok=True)
    raws: list[dict[str, Any]] = []
    for box in city.light_boxes:
        raw = {**box, **_base(box["device_id"], box["site"], box["lat"], box["lon"], root, port,
                              timing.light_telemetry_s, timing.batch_window_ms)}
        raw["lighting"] = {**box["lighting"], "state_file": str(root / f"{box['device_id']}-lighting.json"),
                           "decision_interval_s": timing.decision_interval_s}
        raws.append(raw)
    for cam in city.cameras:
        raw = _base(cam.device_id, cam.site, cam.lat, cam.lon, root, port, timing.other_telemetry_s,
                    timing.batch_window_ms)
        # The camera a real box would read: its events are replayed instead (see the module docstring), but the
        # box says what it is (a camera box, its zone and line) as a real one does.
        raw["cameras"] = [{"name": "street", "source": str(FOOTAGE), "model": str(MODEL),
                           "zones": [{"id": cam.zone, "polygon": [[0.15, 0.45], [0.75, 0.45], [0.75, 1.0],
                                                                  [0.15, 1.0]]}],
                           "lines": [{"id": cam.line, "a": [0.5, 0.3], "b": [0.5, 1.0]}]}]
        raws.append(raw)
    for sn in city.sensors:
        raws.append(_base(sn.device_id, sn.site, sn.lat, sn.lon, root, port, timing.other_telemetry_s,
                          timing.batch_window_ms))
    out: dict[str, Path] = {}
    for raw in raws:
        path = root / f"{raw['device_id']}.yaml"
        text = yaml.safe_dump(raw, sort_keys=False)
        if not path.exists() or path.read_text(encoding="utf-8") != text:  # keep the config hash across runs
            path.write_text(text, encoding="utf-8")
        out[raw["device_id"]] = path
    return out


def add_city_arguments(p: argparse.ArgumentParser) -> None:
    """The city's shape and its field's behaviour: the same for the runner and each of its hosts."""
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--cabinets", type=int, default=CABINETS)
    p.add_argument("--cameras", type=int, default=CAMERAS)
    p.add_argument("--luminaires", type=int, default=LUMINAIRES_PER_CABINET, help="luminaires per cabinet")
    p.add_argument("--sensor-share", type=float, default=0.1, help="share of streets with a presence sensor")
    p.add_argument("--communes", default="", help="comma-separated slugs (default: the 23 communes)")
    p.add_argument("--fault-acceleration", type=float, default=100.0,
                   help="lamp failures arrive this many times faster than their yearly rate")
    p.add_argument("--burst-cameras", type=int, default=20)
    p.add_argument("--burst-factor", type=float, default=10.0)
    p.add_argument("--burst-at-s", type=float, default=-1.0,
                   help="burst start, s after the boxes start (default: only when SIGHUP starts it)")
    p.add_argument("--burst-s", type=float, default=0.0, help="burst length, s (0: no burst)")
    p.add_argument("--offline-share", type=float, default=0.05, help="cabinets SIGUSR1 takes offline")


#: The options of :func:`add_city_arguments`, as ``argparse`` names them: what a runner passes on to its hosts.
CITY_OPTIONS = ("seed", "cabinets", "cameras", "luminaires", "sensor_share", "communes", "fault_acceleration",
                "burst_cameras", "burst_factor", "burst_at_s", "burst_s", "offline_share")


def city_argv(args: argparse.Namespace) -> list[str]:
    """The command-line options that give a host the same city as ``args`` (see :func:`add_city_arguments`)."""
    return [x for k in CITY_OPTIONS for x in (f"--{k.replace('_', '-')}", str(getattr(args, k)))]


def city_from(args: argparse.Namespace) -> City:
    sites = [s for s in args.communes.split(",") if s] or None
    return generate_city(args.seed, args.cabinets, args.cameras, args.luminaires, args.sensor_share, sites)
