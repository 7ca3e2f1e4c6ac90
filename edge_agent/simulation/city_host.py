"""Many city boxes in one process, each a real edge-agent box: its own MQTT session, outbox, birth and death.

Like the demo's district (:mod:`.fleet_sim`), every box is an :class:`~edge_agent.agent.Agent`
built from a box config file; only the field is simulated: the luminaires (the simulated driver, whose lamps fail
on the city's schedule), the presence sensors' passers-by (the demo's :class:`SensorSim`) and the cameras' events
(:class:`~.camera_replay.CameraReplay`, instead of the camera process a real box runs). One loop per process
steps them once a second; the boxes' own threads do the rest as on the field. The light clocks are real (commands
carry real expiry times); the traffic may follow another hour of the day (``traffic_offset``: an evening's rate
whenever the benchmark runs).

A host takes a slice of the city (``index`` of ``count`` hosts), so a city spreads over processes (and cores).
``set_offline`` stops a share of its light cabinets as a power cut at their cabinets would, and brings them back
as new boots on the same persistent MQTT sessions: what the broker held for them meanwhile (a city-wide override)
reaches them on reconnection.

The city and its config files come from :mod:`vigie_config.metropole.city` (``simulate city`` wrote them and
seeded its fleet from them, then started this host as a child process: :mod:`.city_host_main`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge_agent.agent import Agent
from edge_agent.lighting.drivers import LampFault, SimulatedDriver
from vigie_config import BoxConfig, load_config
from vigie_config.metropole.city import City, LampFailure, lamp_failures

from .camera_replay import CameraReplay
from .fleet_sim import SensorSim

log = logging.getLogger("vigie.sim.city")
PARIS = ZoneInfo("Europe/Paris")

#: Idle wait of a hosted box's link threads, s (a field box: 0.25 and 0.2).
IDLE_WAIT_S = 2.0


@dataclass(frozen=True)
class Burst:
    """A festival: ``factor`` times the events on the first ``cameras`` cameras for ``duration_s`` from ``at_s``."""

    cameras: int = 20
    factor: float = 10.0
    at_s: float = 0.0
    duration_s: float = 0.0

    def factor_at(self, index: int, t_s: float) -> float:
        return self.factor if index < self.cameras and self.at_s <= t_s < self.at_s + self.duration_s else 1.0


class HostedBox(Agent):
    """A box whose camera is replayed: the link and light role start as on the field, no camera process does.

    Its link's threads wait longer when idle (:meth:`~edge_agent.link.session.Link.set_idle_waits`): a box is woken
    by what it must do (an event to send, a command, the broker's traffic), so only the idle look-ups are spared.
    """

    def __init__(self, *args: Any, idle_wait_s: float = IDLE_WAIT_S, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.link.set_idle_waits(idle_wait_s, idle_wait_s)

    def start(self) -> None:
        self.link.start()
        if self.light is not None:
            self.light.start()

    def metrics(self) -> dict[str, Any]:
        out = self.link.link_metrics()
        if self.light is not None:
            out.update(self.light.health())
        return out

    def shutdown(self, drain_s: float = 2.0) -> None:
        if self.light is not None:
            self.light.stop()
        self.link.wait_drained(drain_s)
        self.link.stop()
        self.outbox.close()


def _slice(items: list[Any], index: int, count: int) -> list[Any]:
    return items[index::count]


class CityHost:
    """The slice ``index`` of ``count`` of the city's boxes, run in this process (see the module docstring)."""

    def __init__(self, city: City, configs: dict[str, Path], *, index: int = 0, count: int = 1, seed: int = 7,
                 traffic_offset: dt.timedelta = dt.timedelta(0), fault_acceleration: float = 100.0,
                 burst: Burst | None = None, duration_s: float = 7 * 86_400.0) -> None:
        self.city, self.configs, self.offset = city, configs, traffic_offset
        self.burst = burst or Burst()
        self.started = time.monotonic()
        self.lights = _slice([b["device_id"] for b in city.light_boxes], index, count)
        self.cameras = _slice(list(enumerate(city.cameras)), index, count)
        self.sensors = _slice(list(city.sensors), index, count)
        rng = random.Random(seed * 1000 + index)
        self.rng = rng
        mine = set(self.lights)
        self.failures: list[LampFailure] = [f for f in lamp_failures(city, seed, duration_s, fault_acceleration)
                                            if f.device_id in mine]
        self.repairs: list[LampFailure] = []
        self.agents: dict[str, Agent] = {}
        self.replays: dict[str, tuple[int, CameraReplay]] = {}
        self.sims: list[SensorSim] = []
        self.offline: set[str] = set()
        self.faults_injected = 0
        self._lock = threading.Lock()

    def traffic_clock(self) -> dt.datetime:
        """The time whose hour the cameras' and sensors' traffic follows (``traffic_offset`` from now)."""
        return dt.datetime.now(dt.UTC) + self.offset

    def _agent(self, device: str) -> Agent:
        path = self.configs[device]
        cfg: BoxConfig = load_config(path)
        return HostedBox(cfg, path, presence=not cfg.cameras and cfg.lighting is None)

    def start(self) -> int:
        """Build and start every box of the slice; returns how many."""
        for device in self.lights:
            self.agents[device] = self._agent(device)
        for i, cam in self.cameras:
            self.agents[cam.device_id] = self._agent(cam.device_id)
            self.replays[cam.device_id] = (i, CameraReplay(cam.zone, cam.line, random.Random(self.rng.random())))
        for sn in self.sensors:
            agent = self._agent(sn.device_id)
            self.agents[sn.device_id] = agent
            self.sims.append(SensorSim(sn, agent, random.Random(self.rng.random()), self.traffic_clock))
        for agent in self.agents.values():
            agent.start()
        self.started = time.monotonic()
        return len(self.agents)

    def start_burst(self) -> None:
        """Start the burst now (for its configured length)."""
        self.burst = dataclasses.replace(self.burst, at_s=time.monotonic() - self.started)

    def set_offline(self, share: float) -> list[str]:
        """Stop ``share`` of this host's light cabinets (chosen by the seed), or bring them all back with 0."""
        with self._lock:
            if share <= 0:
                back = sorted(self.offline)
                for device in back:
                    agent = self._agent(device)
                    self.agents[device] = agent
                    agent.start()
                self.offline.clear()
                return back
            n = max(1, round(len(self.lights) * share))
            chosen = sorted(random.Random(len(self.lights)).sample(self.lights, n))
            leaving = [d for d in chosen if d not in self.offline]
            _shutdown([self.agents[d] for d in leaving], drain_s=0.2)
            self.offline.update(leaving)
            return chosen

    def step(self, now: float, dt_s: float) -> None:
        """One second of the field: cameras' and sensors' events, lamp failures and repairs."""
        t_s = now - self.started
        hour = self.traffic_clock().astimezone(PARIS).hour
        for device, (i, replay) in self.replays.items():
            events = replay.step(dt_s, hour, self.burst.factor_at(i, t_s))
            if events:
                self.agents[device].link.emit_many(events)
        for sim in self.sims:
            sim.step(time.time(), dt_s)
        with self._lock:
            while self.failures and self.failures[0].at_s <= t_s:
                f = self.failures.pop(0)
                if self._driver(f.device_id) is not None:
                    self._driver(f.device_id).inject(f.lum_id, LampFault.LAMP_FAILURE)  # type: ignore[union-attr]
                    self.faults_injected += 1
                    self.repairs.append(f)
            for f in [r for r in self.repairs if r.repair_s <= t_s]:
                self.repairs.remove(f)
                driver = self._driver(f.device_id)
                if driver is not None:
                    driver.clear(f.lum_id)

    def _driver(self, device: str) -> SimulatedDriver | None:
        agent = self.agents.get(device)
        if device in self.offline or agent is None or agent.light is None:
            return None
        driver = agent.light.driver
        return driver if isinstance(driver, SimulatedDriver) else None

    def run(self, stop: threading.Event, on_tick: Callable[[CityHost], None] | None = None) -> None:
        """Step every second and publish each box's telemetry at its interval, until ``stop``."""
        rng = random.Random(3)
        next_tel = {d: time.monotonic() + rng.uniform(1, a.config.telemetry_interval_s)
                    for d, a in self.agents.items()}
        last = time.monotonic()
        while not stop.wait(max(0.0, 1.0 - (time.monotonic() - last))):
            now = time.monotonic()
            self.step(now, now - last)
            last = now
            with self._lock:
                for device, agent in self.agents.items():
                    if device not in self.offline and now >= next_tel[device]:
                        next_tel[device] = now + agent.config.telemetry_interval_s
                        agent.link.publish_telemetry(agent.metrics())
            if on_tick is not None:
                on_tick(self)

    def stop(self) -> None:
        _shutdown([a for d, a in self.agents.items() if d not in self.offline], drain_s=0.5)


def _shutdown(agents: list[Agent], drain_s: float) -> None:
    """Stop boxes side by side: each waits a moment for its last acknowledgements, hundreds need not queue."""
    for agent in agents:
        agent.request_stop()
    with ThreadPoolExecutor(max_workers=32, thread_name_prefix="vigie-sim-stop") as pool:
        list(pool.map(lambda a: a.shutdown(drain_s=drain_s), agents))
