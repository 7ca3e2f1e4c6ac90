"""The demo's Modbus cabinet: the cabinet simulator behind a DALI box, its meter fed by what the gear draw.

A committed box with a ``lighting.cabinet`` section polls a real Modbus TCP server in the demo (the product's
cabinet simulator, :mod:`edge_agent.lighting.cabinet.simulator`, on 127.0.0.1 at the port the demo wrote into
the box's config). The contactors of a DALI cabinet stay closed (the gear need their supply to be dimmed), so
they start closed here; a coil written by the box still switches its circuit.

Load model: the DALI simulator runs inside the box's own process, so the cabinet learns what the gear draw the
way the centre does, from the box's telemetry (``light.lum``: each luminaire's input power as its D4i gear report
it). A circuit draws the sum of its luminaires' reported power plus :data:`LINE_LOSS` of it for the cable run
and the cabinet's own wiring, on its phase; a luminaire whose gear did not answer counts as drawing nothing.
Between two telemetry messages the load holds, and the meter's energy integrates it (see
:meth:`~edge_agent.lighting.cabinet.simulator.CabinetModel.set_loads`). So the meter's ``cabinet.meter.*`` and
the gear's D4i energy are two measurements of one street, the cabinet's a few percent above the gear's.

Now and then the cabinet's door is opened (a technician's visit, a forced door) and closed a while later, as the
demo's lamps fail and are repaired: the box reports a ``doorOpen`` cabinet fault, the centre opens an intervention.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.lighting.cabinet.simulator import CIRCUITS, CabinetModel, CabinetServer
from vigie_wire import Kind, Telemetry, WireError, decode, device_topic

log = logging.getLogger("vigie.demo.cabinet")

#: Share of the luminaires' power lost in the cable run and the cabinet's wiring (a few percent on a street).
LINE_LOSS = 0.03


@dataclass(frozen=True)
class Circuit:
    """A circuit of the simulated cabinet: its contactor output, its phase, the luminaires it feeds."""

    output: int
    phase: int
    luminaires: tuple[str, ...]


def circuits_of(lighting: Mapping[str, Any]) -> list[Circuit]:
    """The circuits of a box config's ``lighting`` section (as read from YAML), metered phase 1 when unset."""
    cabinet = lighting.get("cabinet") or {}
    return [Circuit(int(c["output"]), int(c.get("phase") or 1), tuple(c.get("luminaires", [])))
            for c in cabinet.get("circuits", [])]


def cabinet_model(circuits: list[Circuit]) -> CabinetModel:
    """A cabinet with its circuits' contactors closed and no load yet (the first telemetry sets it)."""
    phase = [1, 2, 3, 1, 2, 3, 1, 2]
    coils = [False] * CIRCUITS
    for c in circuits:
        if 0 <= c.output < CIRCUITS:
            phase[c.output] = c.phase
            coils[c.output] = True
    return CabinetModel(load_w=[0.0] * CIRCUITS, phase=phase, coils=coils)


def circuit_loads(metrics: Mapping[str, Any], circuits: list[Circuit]) -> dict[int, float]:
    """Each circuit's load in W from a box's telemetry metrics (see the module docstring), by output.

    Returns an empty dict when the telemetry carries no luminaire table (a box whose node is not up yet), so the
    cabinet keeps its last load rather than dropping to nothing.
    """
    table = metrics.get("light.lum")
    if not isinstance(table, Mapping):
        return {}
    ids, powers = table.get("ids") or [], table.get("power_w") or []
    power = {lum: float(w) for lum, w in zip(ids, powers, strict=False) if isinstance(w, int | float)}
    return {c.output: round(sum(power.get(lum, 0.0) for lum in c.luminaires) * (1 + LINE_LOSS), 3)
            for c in circuits}


class DoorSim:
    """The cabinet's door opened now and then and closed a while later (a visit, a forced door).

    Args:
        model: The cabinet whose door contact it moves.
        rng: Its randomness (seeded by the caller, so a run can be replayed).
        every_s: Mean time between two openings, seconds (exponential).
        open_for_s: How long the door stays open, seconds.
        first_s: Range of the first opening after start, seconds (soon, so a short demo shows one).
    """

    def __init__(self, model: CabinetModel, rng: random.Random, every_s: float = 600.0, open_for_s: float = 180.0,
                 first_s: tuple[float, float] = (45.0, 120.0), now: float | None = None) -> None:
        self.model, self.rng, self.every_s, self.open_for_s = model, rng, every_s, open_for_s
        now = time.monotonic() if now is None else now
        self.next_at = now + rng.uniform(*first_s)
        self.close_at: float | None = None

    def step(self, now: float) -> None:
        """Open or close the door if its time has come."""
        if self.close_at is not None and now >= self.close_at:
            self.model.door_open, self.close_at = False, None
            log.info("demo: cabinet door closed")
        if self.close_at is None and now >= self.next_at:
            self.model.door_open, self.close_at = True, now + self.open_for_s
            self.next_at = now + self.open_for_s + self.rng.expovariate(1 / self.every_s)
            log.info("demo: cabinet door opened")


class TelemetryFeed:
    """Follows a box's telemetry on the broker and sets the cabinet's circuit loads from it.

    paho's callback only queues the payload; :meth:`apply` decodes and applies them from the caller's loop.
    """

    def __init__(self, model: CabinetModel, circuits: list[Circuit], site: str, device: str, port: int,
                 host: str = "127.0.0.1") -> None:
        self.model, self.circuits = model, circuits
        self.topic = device_topic(site, device, Kind.TELEMETRY)
        self.messages = 0
        self.bad = 0
        self._queue: queue.Queue[tuple[str, bytes]] = queue.Queue(maxsize=64)
        self._client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                   client_id=f"demo-cabinet-{device}", protocol=mqtt.MQTTv5)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._host, self._port = host, port

    def start(self) -> None:
        self._client.connect_async(self._host, self._port)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, *_args: object) -> None:
        client.subscribe(self.topic, qos=0)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            self._queue.put_nowait((msg.topic, bytes(msg.payload)))
        except queue.Full:  # a cabinet needs only the latest load: older ones may go
            self.bad += 1

    def apply(self) -> None:
        """Decode the queued telemetry and set the loads; a bad payload is counted and skipped."""
        while True:
            try:
                topic, payload = self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                msg = decode(topic, payload)
            except WireError as exc:
                self.bad += 1
                log.warning("demo cabinet: telemetry not decoded: %s", exc)
                continue
            if isinstance(msg, Telemetry) and (loads := circuit_loads(msg.metrics, self.circuits)):
                self.messages += 1
                self.model.set_loads(loads)


class DemoCabinet:
    """The simulated cabinet of one (demo-rewritten) box config: its Modbus server, telemetry feed and door.

    Args:
        config: The box's config as the demo rewrote it (``lighting.cabinet.port`` is where it listens).
        mqtt_port: The broker's port on 127.0.0.1, where the box publishes its telemetry.
        seed: Seed of the door's randomness.
    """

    def __init__(self, config: Path, mqtt_port: int, seed: int = 11) -> None:
        raw: dict[str, Any] = yaml.safe_load(config.read_text(encoding="utf-8"))
        lighting = raw["lighting"]
        self.circuits = circuits_of(lighting)
        self.model = cabinet_model(self.circuits)
        self.server = CabinetServer(self.model, port=int(lighting["cabinet"]["port"]))
        self.feed = TelemetryFeed(self.model, self.circuits, raw["site"], raw["device_id"], mqtt_port)
        self.door = DoorSim(self.model, random.Random(seed))

    def start(self) -> DemoCabinet:
        self.server.start()
        self.feed.start()
        return self

    def step(self, now: float) -> None:
        """Apply the telemetry received and move the door; call it every second or so."""
        self.feed.apply()
        self.door.step(now)

    def stop(self) -> None:
        self.feed.stop()
        self.server.stop()


def run_cabinet(config: Path, mqtt_port: int, stop: threading.Event, seed: int = 11,
                on_ready: Callable[[int], None] | None = None) -> None:
    """Serve the cabinet of the (demo-rewritten) box ``config`` until ``stop``."""
    cabinet = DemoCabinet(config, mqtt_port, seed).start()
    try:
        if on_ready is not None:
            on_ready(cabinet.server.port)
        while not stop.wait(0.5):
            cabinet.step(time.monotonic())
    finally:
        cabinet.stop()
