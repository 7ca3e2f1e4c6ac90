"""A street-lighting cabinet on Modbus TCP: its controller's contacts and contactors, its meter, its faults.

The light role polls the cabinet every ``poll_interval_s`` from its own loop (:meth:`Cabinet.poll`), whatever
drives the luminaires; the ``contactor`` driver switches circuits through :meth:`Cabinet.switch`. Each device
(controller, meter) is read whole or not at all, and on its own: a dead meter does not blind the door contact.
A device that fails is retried at once for transient failures (see :class:`~.link.ModbusLink`), then at growing
intervals (:func:`retry_delay`) up to ``backoff_max_s``, so a cabinet unplugged for a week costs one attempt
every few minutes, not a blocked lighting loop every second.

Fault changes (door opened or closed, a breaker tripped or reset, a device that stops or starts answering) are
queued once each for :meth:`Cabinet.drain_faults`: the role sends them as ``cabinet_fault`` events through the
durable outbox, as it does for luminaire faults.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Any

from vigie_config.cabinet import CabinetConfig, CircuitConfig, ModbusDeviceConfig
from vigie_config.register_maps import RegisterMap

from .errors import Failure, ModbusCommError
from .link import ModbusLink
from .registers import Value

log = logging.getLogger("vigie.cabinet")

#: Cabinet fault names on the wire (``cabinet_fault`` events), TALQ-style camelCase.
DOOR_OPEN = "doorOpen"
BREAKER_TRIP = "breakerTrip"
CONTROLLER_COMM_FAILURE = "controllerCommFailure"
METER_COMM_FAILURE = "meterCommFailure"
#: The ``part`` of a fault that concerns the whole cabinet rather than one circuit.
CABINET = "cabinet"

#: A cabinet fault change: (part, fault name, active).
CabinetFaultChange = tuple[str, str, bool]


def retry_delay(failures: int, interval_s: float, cap_s: float) -> float:
    """Seconds before the next attempt after ``failures`` consecutive failed polls: the poll interval, doubled
    at each further failure, at most ``cap_s`` (and never below the interval)."""
    if failures <= 1:
        return interval_s
    return max(interval_s, min(cap_s, interval_s * 2.0 ** min(failures - 1, 32)))


@dataclass
class _Device:
    """One polled device: its map, its link, what it last said, and its failure streak."""

    role: str
    config: ModbusDeviceConfig
    regmap: RegisterMap
    link: ModbusLink
    values: dict[str, Value] | None = None
    read_at: dt.datetime | None = None
    failures: int = 0
    next_at: dt.datetime | None = None
    polls: int = 0
    errors: int = 0
    last_error: str = ""

    @property
    def label(self) -> str:
        return f"{self.role} {self.link.host}:{self.link.port}/{self.config.unit}"


@dataclass
class CabinetStats:
    polls: int = 0
    switch_errors: int = 0
    switches: int = 0
    fault_changes: list[CabinetFaultChange] = field(default_factory=list)


class Cabinet:
    """A cabinet's controller and meter (either may be absent); see the module docstring.

    Args:
        config: The ``lighting.cabinet`` section.
        links: Links by (host, port), for tests and the probe; missing ones are opened from the config.
    """

    def __init__(self, config: CabinetConfig, links: dict[tuple[str, int], ModbusLink] | None = None) -> None:
        self.config = config
        self.stats = CabinetStats()
        self._links = dict(links or {})
        self.controller = self._device("controller", config.controller)
        self.meter = self._device("meter", config.meter)
        self._active: dict[tuple[str, str], bool] = {}
        # the lighting loop polls and switches, the agent's telemetry thread reads: one at a time
        self._lock = threading.RLock()

    def _device(self, role: str, cfg: ModbusDeviceConfig | None) -> _Device | None:
        if cfg is None:
            return None
        key = (cfg.host or self.config.host, cfg.port or self.config.port)
        if key not in self._links:
            self._links[key] = ModbusLink(*key, timeout_s=self.config.timeout_s)
        return _Device(role, cfg, cfg.register_map(), self._links[key])

    def close(self) -> None:
        for link in self._links.values():
            link.close()

    @property
    def devices(self) -> list[_Device]:
        return [d for d in (self.controller, self.meter) if d is not None]

    # ------------------------------------------------------------------------------------------ polling

    def poll(self, now: dt.datetime, *, force: bool = False) -> bool:
        """Read each device that is due (or every one with ``force``); never raises. True if any was read."""
        with self._lock:
            return self._poll(now, force)

    def _poll(self, now: dt.datetime, force: bool) -> bool:
        read = False
        for dev in self.devices:
            if not force and dev.next_at is not None and now < dev.next_at:
                continue
            dev.polls += 1
            try:
                dev.values = dev.link.read_map(dev.regmap, dev.config.unit)
            except ModbusCommError as exc:
                dev.errors += 1
                dev.failures += 1
                dev.last_error = str(exc)
                delay = retry_delay(dev.failures, self.config.poll_interval_s, self.config.backoff_max_s)
                dev.next_at = now + dt.timedelta(seconds=delay)
            else:
                dev.read_at, dev.failures, read = now, 0, True
                dev.next_at = now + dt.timedelta(seconds=self.config.poll_interval_s)
        self.stats.polls += 1
        self._observe()
        return read

    def _observe(self) -> None:
        """Queue the fault changes the last poll revealed (a device that did not answer keeps its known faults)."""
        faults: dict[tuple[str, str], bool] = {}
        if self.controller is not None:
            faults[(CABINET, CONTROLLER_COMM_FAILURE)] = self.controller.failures > 0
            if self.controller.values is not None and self.controller.failures == 0:
                if (door := self.door_open()) is not None:
                    faults[(CABINET, DOOR_OPEN)] = door
                for circuit in self.config.circuits:
                    if (tripped := self.breaker_tripped(circuit)) is not None:
                        faults[(circuit.id, BREAKER_TRIP)] = tripped
        if self.meter is not None:
            faults[(CABINET, METER_COMM_FAILURE)] = self.meter.failures > 0
        for key, active in faults.items():
            if self._active.get(key, False) != active:
                self._active[key] = active
                self.stats.fault_changes.append((key[0], key[1], active))

    def drain_faults(self) -> list[CabinetFaultChange]:
        """Fault changes not yet handed out, oldest first, once each."""
        with self._lock:
            out, self.stats.fault_changes = self.stats.fault_changes, []
            return out

    # ------------------------------------------------------------------------------------------ what it says

    def answering(self, dev: _Device | None) -> bool:
        return dev is not None and dev.values is not None and dev.failures == 0

    def _value(self, dev: _Device | None, name: str) -> Value | None:
        return dev.values.get(name) if dev is not None and dev.values is not None and dev.failures == 0 else None

    def controller_error(self) -> str:
        """Why the controller's state is unknown (its last error, or that it was never read)."""
        dev = self.controller
        if dev is None:
            return "no controller"
        return dev.last_error if dev.failures else "controller not read yet"

    def door_open(self) -> bool | None:
        v = self._value(self.controller, "door_open")
        return None if v is None else bool(v)

    def dark(self) -> bool | None:
        """The photocell: True when it sees night."""
        v = self._value(self.controller, "photocell")
        return None if v is None else bool(v)

    def circuit_on(self, circuit: CircuitConfig) -> bool | None:
        """The contactor's coil as last read (or written)."""
        v = self._value(self.controller, f"circuit.{circuit.output}")
        return None if v is None else bool(v)

    def breaker_tripped(self, circuit: CircuitConfig) -> bool | None:
        """The circuit's breaker contact; a map with one ``breaker_trip`` has one for the whole cabinet."""
        v = self._value(self.controller, f"breaker_trip.{circuit.output}")
        if v is None:
            v = self._value(self.controller, "breaker_trip")
        return None if v is None else bool(v)

    def phase_power_w(self, phase: int) -> float | None:
        """A phase's active power, W; ``None`` when unknown, including a meter answering NaN or infinity (an
        SDM630 does for a value it cannot measure), which would otherwise poison every energy counter."""
        v = self._value(self.meter, f"power_l{phase}")
        return float(v) if v is not None and math.isfinite(v) else None

    # ------------------------------------------------------------------------------------------ switching

    def switch(self, circuit: CircuitConfig, on: bool) -> None:
        """Set the circuit's contactor; the new state is what :meth:`circuit_on` says until the next poll.

        A controller that failed its last poll or write is not written to until a poll finds it answering: with
        200 luminaires on 8 circuits, a dead controller must cost nothing per step, not 200 timeouts.

        Raises:
            ModbusCommError: No controller answered (counted; the caller retries at its next step).
        """
        dev = self.controller
        if dev is None:
            raise ValueError("this cabinet has no controller to switch circuits with")
        with self._lock:
            self._switch(dev, circuit, on)

    def _switch(self, dev: _Device, circuit: CircuitConfig, on: bool) -> None:
        if dev.failures:  # no write until a poll finds it answering again: its back-off paces the attempts
            self.stats.switch_errors += 1
            raise ModbusCommError(f"{dev.link.host}:{dev.link.port}/{dev.config.unit}", Failure.DISCONNECTED,
                                  f"controller not answering since its last poll ({dev.last_error})")
        try:
            dev.link.write_coil(dev.config.unit, self._coil_address(circuit), on)
        except ModbusCommError as exc:
            self.stats.switch_errors += 1
            dev.failures, dev.errors, dev.last_error = dev.failures + 1, dev.errors + 1, str(exc)
            raise
        self.stats.switches += 1
        if dev.values is not None:
            dev.values[f"circuit.{circuit.output}"] = on

    def _coil_address(self, circuit: CircuitConfig) -> int:
        assert self.controller is not None
        point = self.controller.regmap.point("circuit")
        assert point is not None  # checked by the config
        return point.address + circuit.output

    # ------------------------------------------------------------------------------------------ telemetry

    def telemetry(self) -> dict[str, Any]:
        """The ``cabinet.*`` metrics: contacts, circuits, the meter's values (rounded), and the error counters."""
        with self._lock:
            return self._telemetry()

    def _telemetry(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cabinet.polls": self.stats.polls, "cabinet.switch_errors": self.stats.switch_errors}
        for dev in self.devices:
            prefix = f"cabinet.{dev.role}"
            out[f"{prefix}.ok"] = self.answering(dev)
            out[f"{prefix}.errors"] = dev.errors
            out[f"{prefix}.last_error"] = dev.last_error[:200]
            out[f"{prefix}.failures"] = dict(dev.link.errors)
        if self.controller is not None:
            out["cabinet.door_open"] = self.door_open()
            out["cabinet.dark"] = self.dark()
            out["cabinet.circuits"] = {
                "ids": [c.id for c in self.config.circuits],
                "on": [self.circuit_on(c) for c in self.config.circuits],
                "tripped": [self.breaker_tripped(c) for c in self.config.circuits],
            }
        if self.meter is not None and self.answering(self.meter):
            assert self.meter.values is not None
            for name, value in self.meter.values.items():  # NaN and infinity are not JSON: nil, as unknown
                if isinstance(value, float):
                    out[f"cabinet.meter.{name}"] = round(value, 3) if math.isfinite(value) else None
                else:
                    out[f"cabinet.meter.{name}"] = value
        return out
