"""``driver: contactor``: luminaires that cannot be dimmed one by one, switched per circuit by the cabinet.

Many streets still hang on a cabinet whose only control is a contactor per circuit. The calendar decides each
luminaire's level as for any node; this driver turns those levels into contactor states: a circuit is on while
any of its luminaires is commanded above ``threshold_pct``, off otherwise, written through the cabinet's Modbus
controller (:meth:`~edge_agent.lighting.cabinet.cabinet.Cabinet.switch`). A ramp cannot be followed: the
contactor switches when the command arrives.

Readings come from the cabinet's last poll, so reading costs no bus traffic: a luminaire is at 100 % while its
circuit's coil reads on and its breaker has not tripped, at 0 % otherwise; its power is its share (by rated
power) of its phase's measured power when the circuit has a metered phase, its nameplate power otherwise; energy
is that power integrated between ticks. A tripped breaker under a commanded circuit is ``supplyLoss``; a
controller that does not answer makes every read and switch a :class:`~.errors.DriverCommError`
(``controlGearCommFailure``), and the node keeps retrying its decision (the fail-safe level at night) at every
step until the controller answers again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vigie_config.luminaire import LuminaireSpec

from .base import LampFault, LuminaireReading
from .errors import DriverCommError, DriverError

if TYPE_CHECKING:
    from vigie_config.cabinet import CircuitConfig
    from vigie_config.drivers import ContactorDriverConfig

    from ..cabinet.cabinet import Cabinet


class ContactorDriver:
    """See the module docstring; the cabinet is the light role's, polled by it.

    Raises:
        DriverError: A luminaire on no circuit, or a cabinet without controller.
    """

    def __init__(self, config: ContactorDriverConfig, specs: Sequence[LuminaireSpec], cabinet: Cabinet) -> None:
        if cabinet.controller is None:
            raise DriverError("the contactor driver needs lighting.cabinet.controller")
        self.config = config
        self._cabinet = cabinet
        self._specs = {s.id: s for s in specs}
        self._ids = [s.id for s in specs]
        self._circuit: dict[str, CircuitConfig] = {}
        for circuit in cabinet.config.circuits:
            for lum in circuit.luminaires:
                self._circuit[lum] = circuit
        if missing := [i for i in self._ids if i not in self._circuit]:
            raise DriverError(f"contactor driver: luminaire(s) on no cabinet circuit: {', '.join(missing)}")
        self._target: dict[str, float] = {}
        self._wanted: dict[str, bool] = {}  # circuit id -> state last written
        self._energy = dict.fromkeys(self._ids, 0.0)
        self._on_s = dict.fromkeys(self._ids, 0.0)
        self._switch_ons = dict.fromkeys(self._ids, 0)
        self._was_on = dict.fromkeys(self._ids, False)
        self._last: dt.datetime | None = None

    def luminaires(self) -> list[str]:
        return list(self._ids)

    def set_level(self, lum_id: str, level_pct: float, ramp_s: float = 0.0) -> None:
        circuit = self._circuit_of(lum_id)
        if not 0.0 <= level_pct <= 100.0 or ramp_s < 0.0:
            raise ValueError(f"level {level_pct} outside [0, 100] or negative ramp {ramp_s}")
        self._target[lum_id] = level_pct
        want = any(self._target.get(lum, 0.0) > self.config.threshold_pct for lum in circuit.luminaires)
        if self._wanted.get(circuit.id) == want and self._cabinet.circuit_on(circuit) == want:
            return
        from ..cabinet.errors import ModbusCommError  # noqa: PLC0415 - the cabinet package imports the config

        try:
            self._cabinet.switch(circuit, want)
        except ModbusCommError as exc:
            self._wanted.pop(circuit.id, None)
            raise DriverCommError(lum_id, f"circuit {circuit.id}: {exc}") from exc
        self._wanted[circuit.id] = want

    def read(self, lum_id: str) -> LuminaireReading:
        circuit = self._circuit_of(lum_id)
        on = self._cabinet.circuit_on(circuit)
        if on is None:
            raise DriverCommError(lum_id, f"circuit {circuit.id}: {self._cabinet.controller_error()}")
        return self._reading(lum_id, circuit, on)

    def tick(self, now: dt.datetime) -> None:
        """Integrate each luminaire's energy and lit time since the previous tick at the power the cabinet reports."""
        if now.utcoffset() is None:
            raise ValueError(f"the driver clock needs aware datetimes, got naive {now.isoformat()}")
        if self._last is not None and now <= self._last:
            return
        span_s = 0.0 if self._last is None else (now - self._last).total_seconds()
        self._last = now
        for lum in self._ids:
            circuit = self._circuit[lum]
            on = self._cabinet.circuit_on(circuit)
            if on is None:
                continue  # unknown: nothing integrated rather than a guess
            reading = self._reading(lum, circuit, on)
            self._energy[lum] += reading.power_w * span_s / 3600.0
            lit = reading.level_pct > 0.0
            if lit:
                self._on_s[lum] += span_s
            if lit and not self._was_on[lum]:
                self._switch_ons[lum] += 1
            self._was_on[lum] = lit

    # ------------------------------------------------------------------------------------------ internals

    def _circuit_of(self, lum_id: str) -> CircuitConfig:
        try:
            return self._circuit[lum_id]
        except KeyError:
            raise DriverError(f"unknown luminaire {lum_id!r}") from None

    def _reading(self, lum_id: str, circuit: CircuitConfig, on: bool) -> LuminaireReading:
        tripped = bool(self._cabinet.breaker_tripped(circuit))
        lit = on and not tripped
        faults = frozenset({LampFault.SUPPLY_LOSS}) if tripped and (on or self._wanted.get(circuit.id)) else frozenset()
        return LuminaireReading(
            lum_id=lum_id,
            level_pct=100.0 if lit else 0.0,
            target_pct=100.0 if self._wanted.get(circuit.id, on) else 0.0,
            fading=False,
            power_w=self._power_w(lum_id, circuit, lit),
            energy_wh=self._energy[lum_id],
            operating_hours=self._on_s[lum_id] / 3600.0,
            switch_ons=self._switch_ons[lum_id],
            faults=faults,
        )

    def _power_w(self, lum_id: str, circuit: CircuitConfig, lit: bool) -> float:
        """The luminaire's share of its phase's measured power, by rated power among the lit luminaires of that
        phase; its nameplate when the circuit is not metered apart."""
        if not lit:
            return 0.0
        spec = self._specs[lum_id]
        measured = None if circuit.phase is None else self._cabinet.phase_power_w(circuit.phase)
        if measured is None:
            return spec.power_w(100.0)
        rated = sum(
            self._specs[lum].rated_w
            for c in self._cabinet.config.circuits
            if c.phase == circuit.phase and self._cabinet.circuit_on(c) and not self._cabinet.breaker_tripped(c)
            for lum in c.luminaires
            if lum in self._specs
        )
        return max(0.0, measured) * spec.rated_w / rated if rated > 0 else 0.0
