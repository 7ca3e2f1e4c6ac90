"""The demo's simulated district: light cabinets and presence sensors over several communes.

Pure and seeded: the same seed gives the same boxes, so re-running the demo finds the same
fleet in its database. Each light node is a real edge-agent box config (validated by the same
models as ``firmware_configs/``); its luminaires line streets that start at the cabinet, 30 m
apart, with the wattages of an LED retrofit (40 W residential, 80 W collector, 120 W main road).
About half the streets have a presence sensor — Dijon equips "some sectors" — and those streets
run a presence-adaptive calendar; the others run Dijon's practice (100 %, 70 % 22:00-05:00).

:func:`write_configs` writes them as box config files pointed at a broker: the demo seeds its fleet from them, and
the district's box host (:mod:`edge_agent.simulation.fleet_sim`, a child process of the demo) runs them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import commune, offset

#: Communes of the demo and how many light cabinets each gets (20 in all).
DEMO_COMMUNES: tuple[tuple[str, int], ...] = (
    ("dijon", 8), ("chenove", 2), ("talant", 2), ("fontaine-les-dijon", 2), ("quetigny", 2),
    ("longvic", 2), ("saint-apollinaire", 2),
)
LUMINAIRES_PER_NODE = 100
STREETS_PER_NODE = 2
SPACING_M = 30.0
#: (street class, rated W, share of streets)
CLASSES: tuple[tuple[str, int, float], ...] = (("residential", 40, 0.6), ("collector", 80, 0.3), ("main", 120, 0.1))


@dataclass(frozen=True)
class SensorBox:
    """A simulated presence sensor: publishes zone events for one street, like a camera box would."""

    device_id: str
    site: str
    lat: float
    lon: float
    zone: str
    street_class: str


@dataclass(frozen=True)
class District:
    light_boxes: tuple[dict[str, Any], ...]
    sensors: tuple[SensorBox, ...]

    @property
    def luminaire_count(self) -> int:
        return sum(len(b["lighting"]["luminaires"]) for b in self.light_boxes)


def _pick_class(rng: random.Random) -> tuple[str, int]:
    x, acc = rng.random(), 0.0
    for name, watts, share in CLASSES:
        acc += share
        if x < acc:
            return name, watts
    return CLASSES[-1][0], CLASSES[-1][1]


def _calendar(street_groups: dict[str, bool]) -> list[dict[str, Any]]:
    """Presence-adaptive program on sensor streets, Dijon's practice elsewhere (first match wins)."""
    sensed = sorted(g for g, has in street_groups.items() if has)
    entries: list[dict[str, Any]] = []
    if sensed:
        entries.append({
            "name": "presence", "groups": sensed,
            "program": {"kind": "sensor", "boost_level": 100, "hold_s": 90, "boost_ramp_s": 2,
                        "base": {"kind": "astro", "on_level": 30,
                                 "steps": [{"at": "22:00", "level": 20}, {"at": "05:00", "level": 30}]}},
        })
    entries.append({"name": "dijon", "program": {"kind": "astro", "steps": [{"at": "22:00", "level": 70},
                                                                            {"at": "05:00", "level": 100}]}})
    return entries


def generate(seed: int = 2026, communes: tuple[tuple[str, int], ...] = DEMO_COMMUNES) -> District:
    """Box configs (as dicts, without the ``mqtt``/``outbox`` sections the runner adds) and sensors."""
    rng = random.Random(seed)
    boxes: list[dict[str, Any]] = []
    sensors: list[SensorBox] = []
    for slug, count in communes:
        centre = commune(slug)
        for k in range(1, count + 1):
            node = f"light-{slug}-{k:02d}"
            sector = f"secteur-{k:02d}"
            # Cabinets within ~1.2 km of the commune centre (the CSV is good to ~1 km).
            lat, lon = offset(centre.lat, centre.lon, rng.uniform(-1200, 1200), rng.uniform(-900, 900))
            luminaires: list[dict[str, Any]] = []
            groups: dict[str, bool] = {}
            per_street = LUMINAIRES_PER_NODE // STREETS_PER_NODE
            for s in range(STREETS_PER_NODE):
                street_class, watts = _pick_class(rng)
                group = f"{sector}-{'ab'[s]}"
                has_sensor = rng.random() < 0.5
                groups[group] = has_sensor
                heading = rng.uniform(0, 2 * math.pi)
                for i in range(per_street):
                    d = (i + 1) * SPACING_M
                    llat, llon = offset(lat, lon, d * math.cos(heading), d * math.sin(heading))
                    luminaires.append({"id": f"{sector}-{'ab'[s]}-{i + 1:03d}", "rated_w": watts, "groups": [group],
                                       "lat": round(llat, 6), "lon": round(llon, 6)})
                if has_sensor:
                    mid = per_street * SPACING_M / 2
                    slat, slon = offset(lat, lon, mid * math.cos(heading), mid * math.sin(heading))
                    sensors.append(SensorBox(f"psn-{slug}-{k:02d}{'ab'[s]}", slug, round(slat, 6), round(slon, 6),
                                             "street", street_class))
            box: dict[str, Any] = {
                "device_id": node, "site": slug, "district": sector, "lat": round(lat, 6), "lon": round(lon, 6),
                "lighting": {
                    "driver": "simulated", "lat": round(lat, 6), "lon": round(lon, 6), "tz": "Europe/Paris",
                    "luminaires": luminaires, "calendar": _calendar(groups),
                    "presence": [{"device": sn.device_id, "zone": sn.zone, "groups": [f"{sector}-{sn.device_id[-1]}"]}
                                 for sn in sensors if sn.device_id.startswith(f"psn-{slug}-{k:02d}")],
                },
            }
            boxes.append(box)
    return District(tuple(boxes), tuple(sensors))


def write_configs(district: District, root: Path, port: int, telemetry_s: int = 30) -> tuple[list[Path], list[Path]]:
    """Box config files for every light cabinet and sensor, pointed at the demo broker; cabinets send telemetry every
    ``telemetry_s`` (sensors every minute, or as often as the cabinets when that is shorter)."""
    root.mkdir(parents=True, exist_ok=True)
    lights, sensors = [], []
    for box in district.light_boxes:
        raw: dict[str, Any] = {**box, "mqtt": {"host": "127.0.0.1", "port": port},
                               "outbox": {"path": str(root / f"{box['device_id']}-outbox.sqlite3")},
                               "telemetry_interval_s": telemetry_s}
        raw["lighting"] = {**box["lighting"], "state_file": str(root / f"{box['device_id']}-lighting.json")}
        path = root / f"{box['device_id']}.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        lights.append(path)
    for sn in district.sensors:
        raw = {"device_id": sn.device_id, "site": sn.site, "lat": sn.lat, "lon": sn.lon,
               "mqtt": {"host": "127.0.0.1", "port": port},
               "outbox": {"path": str(root / f"{sn.device_id}-outbox.sqlite3")},
               "telemetry_interval_s": min(60, telemetry_s)}
        path = root / f"{sn.device_id}.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        sensors.append(path)
    return lights, sensors
