"""The demo's simulated district in one process: light cabinets and presence sensors, each a real box.

Every box is an edge-agent :class:`~edge_agent.agent.Agent` with its own MQTT session, durable
outbox, birth and death — only the luminaires (simulated driver) and the sensors' observations
are simulated. Hosting them in one process keeps 36 boxes within a laptop's means. The light
cabinets may run on a shifted clock (``clock_offset``) so that a daytime demo shows the night.

The boxes are those of :mod:`vigie_config.metropole.district`, whose config files the demo wrote and seeded its
fleet from; ``vigie-coordinator demo`` starts this host as a child process (:mod:`.district_main`).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import vigie_wire as wire
from edge_agent.agent import Agent
from edge_agent.box_config import load_box_config as load_config
from edge_agent.lighting.drivers import LampFault, SimulatedDriver
from vigie_config.metropole.district import District, SensorBox, write_configs

from .presence import arrivals

log = logging.getLogger("vigie.demo.district")


class SensorSim:
    """Turns a sensor's presence trace into zone enter/leave and occupancy events on its link."""

    def __init__(self, sensor: SensorBox, agent: Agent, rng: random.Random,
                 clock: Callable[[], dt.datetime]) -> None:
        self.sensor, self.agent, self.rng, self.clock = sensor, agent, rng, clock
        self.next_track = 1
        self.present: dict[int, tuple[int, float, float]] = {}  # track -> (cls, start, end)

    def _occupancy(self) -> wire.Occupancy:
        counts: dict[int, int] = {}
        for cls, _s, _e in self.present.values():
            counts[cls] = counts.get(cls, 0) + 1
        return wire.Occupancy(0, self.sensor.zone, tuple((c, n) for c, n in sorted(counts.items())))

    def step(self, now_s: float, dt_s: float) -> None:
        events: list[wire.Event] = []
        for track, (cls, start, end) in list(self.present.items()):
            if end <= now_s:
                del self.present[track]
                events.append(wire.ZoneLeave(0, self.sensor.zone, track, cls, int((end - start) * 1000)))
        hour = self.clock().astimezone().hour
        for p in arrivals(self.rng, self.sensor.street_class, hour, now_s, dt_s):
            track, self.next_track = self.next_track, self.next_track + 1
            self.present[track] = (p.cls, p.start_s, p.start_s + p.duration_s)
            events.append(wire.ZoneEnter(0, self.sensor.zone, track, p.cls))
        if events:
            events.append(self._occupancy())
            self.agent.link.emit_many(events)


class FaultSim:
    """Now and then a lamp of the district fails; it is repaired a while later (a field team's visit).

    The failure is injected into the simulated gear, so the node detects it, reports a TALQ
    ``lampFailure`` event, and the coordinator's rules open an intervention — the real path.
    """

    def __init__(self, agents: list[Agent], rng: random.Random, every_s: float = 300.0,
                 repair_after_s: float = 900.0, first_after_s: float | None = None) -> None:
        self.gear = [a.light.driver for a in agents
                     if a.light is not None and isinstance(a.light.driver, SimulatedDriver)]
        self.rng, self.every_s, self.repair_after_s = rng, every_s, repair_after_s
        self.next_at = time.monotonic() + (rng.uniform(30, 90) if first_after_s is None else first_after_s)
        self.broken: list[tuple[float, SimulatedDriver, str]] = []

    def step(self, now: float) -> None:
        for item in [b for b in self.broken if b[0] <= now]:
            self.broken.remove(item)
            _due, gear, lum = item
            gear.clear(lum)
        if self.gear and now >= self.next_at:
            self.next_at = now + self.rng.expovariate(1 / self.every_s)
            gear = self.rng.choice(self.gear)
            lum = self.rng.choice(gear.luminaires())
            gear.inject(lum, LampFault.LAMP_FAILURE)
            self.broken.append((now + self.repair_after_s, gear, lum))
            log.info("demo: lamp %s fails", lum)


def run_district(district: District, root: Path, port: int, stop: threading.Event,
                 clock_offset: dt.timedelta = dt.timedelta(0), seed: int = 7,
                 on_ready: Callable[[int], None] | None = None, telemetry_s: int = 30,
                 first_fault_after_s: float | None = None) -> None:
    """Run every box of ``district`` until ``stop``; telemetry at each box's interval; the first lamp fails after
    ``first_fault_after_s`` (30 to 90 s at random by default)."""
    light_paths, sensor_paths = write_configs(district, root, port, telemetry_s)

    def light_clock() -> dt.datetime:
        return dt.datetime.now(dt.UTC) + clock_offset

    agents: list[Agent] = []
    sims: list[SensorSim] = []
    rng = random.Random(seed)
    for path in light_paths:
        agents.append(Agent(load_config(path), path, light_clock=light_clock))
    for path, sensor in zip(sensor_paths, district.sensors, strict=True):
        agent = Agent(load_config(path), path, presence=True)
        agents.append(agent)
        sims.append(SensorSim(sensor, agent, random.Random(rng.random()), light_clock))
    for agent in agents:
        agent.start()
    faults = FaultSim(agents, random.Random(seed + 1), first_after_s=first_fault_after_s)
    if on_ready:
        on_ready(len(agents))
    next_tel = {id(a): time.monotonic() + random.uniform(1, 5) for a in agents}
    last = time.monotonic()
    try:
        while not stop.wait(1.0):
            now = time.monotonic()
            for sim in sims:
                sim.step(time.time(), now - last)
            last = now
            faults.step(now)
            for agent in agents:
                if now >= next_tel[id(agent)]:
                    next_tel[id(agent)] = now + agent.config.telemetry_interval_s
                    agent.link.publish_telemetry(agent.metrics())
    finally:
        for agent in agents:
            agent.request_stop()
            agent.shutdown(drain_s=0.5)
