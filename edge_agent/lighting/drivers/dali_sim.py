"""The DALI simulator: python-dali's fake bus and gear, with what a D4i street luminaire adds to them.

This is the hardware behind the ``dali`` driver in the demo and the tests (transport ``fake:N``), not a stand-in
for the driver: the driver talks to it through python-dali's own :class:`dali.tests.fakes.Bus`, frame by frame,
exactly as it talks to a USB interface. python-dali's :class:`~dali.tests.fakes.Gear` answers DAPC, QUERY ACTUAL
LEVEL, OFF, groups, device types and memory reads; :class:`SimGear` adds what it lacks:

* QUERY STATUS, QUERY LAMP FAILURE and QUERY CONTROL GEAR FAILURE, from injectable failures;
* the D4i memory banks 202 (active energy and power, DiiA Part 252), 205 and 206 (control gear and light source
  diagnostics, Part 253), whose contents follow the gear's level over the simulator's clock: energy integrates
  the LED power curve of :func:`~.spec.led_power_w`, operating and on times and start counters count;
* a gear that stops answering (``silent``) and, on :class:`SimBus`, an interface that is unplugged.

D4i gear report device types 6 (LED), 50, 51 and 52 (memory bank 1 extension, energy reporting, diagnostics),
as DiiA-certified D4i drivers do; ``d4i=False`` gear are plain DALI-2 LED gear without banks 202-206.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from dali.exceptions import CommunicationError
from dali.gear import general
from dali.memory import diagnostics, energy
from dali.tests import fakes

from vigie_config.drivers import Transport
from vigie_config.luminaire import led_power_w

from .dali_bus import FrameCounter, Sequence, counted
from .dali_curve import level_pct

#: Device types of a D4i LED driver: LED (6), memory bank 1 extension (50), energy (51), diagnostics (52).
D4I_DEVICE_TYPES = (6, 50, 51, 52)
LED_DEVICE_TYPE = 6
SUPPLY_DV = 2300  # 230.0 V, in the bank's 0.1 V
_TEMPERATURE_OFFSET = 60  # banks 205/206 store degrees Celsius + 60


class _Bank202(fakes.FakeMemoryBank):  # type: ignore[misc]
    bank = energy.BANK_202
    initial_contents = (0x0F, None, 0xFF, 0x01, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0, 0, 0, 0)  # 0.1 Wh, 0.1 W


class _Bank205(fakes.FakeMemoryBank):  # type: ignore[misc]
    bank = diagnostics.BANK_205
    initial_contents = (0x1C, None, 0xFF, 0x01, *([0] * 25))


class _Bank206(fakes.FakeMemoryBank):  # type: ignore[misc]
    bank = diagnostics.BANK_206
    initial_contents = (0x20, None, 0xFF, 0x01, *([0] * 29))


def _put(contents: list[int], at: int, value: int, size: int) -> None:
    contents[at : at + size] = list(max(0, value).to_bytes(size, "big"))


class SimGear(fakes.Gear):  # type: ignore[misc]
    """One simulated LED control gear at ``shortaddr``; see the module docstring.

    Args:
        shortaddr: Its short address, 0..63.
        rated_w: Power at 100 % light, W; standby power when dimmed off is ``standby_w``.
        d4i: Whether it has the D4i memory banks.
        groups: The DALI groups it answers to, as commissioned.
        clock: Seconds, monotonic; energy and times integrate over it.

    Attributes:
        lamp_failed: The light source is dead (QUERY STATUS bit 1, bank 206 failure): dark, standby power.
        gear_failed: The gear reports a failure of its own (QUERY STATUS bit 0).
        undervoltage: The supply is below range (bank 205): what a failing feeder looks like to D4i gear.
        silent: The gear no longer answers anything (cable cut, gear dead).
    """

    def __init__(self, shortaddr: int, rated_w: float = 60.0, standby_w: float = 0.5, *, d4i: bool = True,
                 groups: Iterable[int] = (), clock: Callable[[], float] = time.monotonic) -> None:
        banks = (fakes.FakeBank0, fakes.FakeBank1) + ((_Bank202, _Bank205, _Bank206) if d4i else ())
        types = list(D4I_DEVICE_TYPES if d4i else (LED_DEVICE_TYPE,))
        super().__init__(shortaddr, groups=set(groups), devicetypes=types, memory_banks=banks)
        self.rated_w = rated_w
        self.standby_w = standby_w
        self.d4i = d4i
        self.lamp_failed = False
        self.gear_failed = False
        self.undervoltage = False
        self.silent = False
        self.power_cycle_seen = True  # until the first arc power command after power-on, as real gear
        self.fade_code = 0  # FADE TIME last set (0: none)
        self.system_failure_level = 254  # where the gear goes when the line fails (the standard's default: full)
        self.energy_wh = 0.0
        self.operating_s = 0.0
        self.on_s = 0.0
        self.starts = 0
        self._clock = clock
        self._t = clock()

    def line_failure(self) -> None:
        """The DALI line lost its power (interface unplugged): the gear goes to its system failure level."""
        self.advance()
        if self.system_failure_level != 255:  # MASK: stay where it is
            self.level = self.system_failure_level

    def power_cycle(self) -> None:
        """The gear's supply went off and on: it comes back at its power-on level (100 %) and says so."""
        self.advance()
        self.level = self.level_max
        self.power_cycle_seen = True
        self.starts += 1

    def power_w(self) -> float:
        """The gear's input power now: standby when off or with a dead lamp, the LED curve otherwise."""
        if self.level == 0 or self.lamp_failed:
            return self.standby_w
        return led_power_w(level_pct(self.level), self.rated_w, self.standby_w, 0.2)

    def advance(self) -> None:
        """Integrate energy and times up to the clock's now (called before every frame the gear hears)."""
        now = self._clock()
        dt_s = max(0.0, now - self._t)
        self._t = now
        self.energy_wh += self.power_w() * dt_s / 3600.0
        self.operating_s += dt_s
        if self.level > 0 and not self.lamp_failed:
            self.on_s += dt_s

    def send(self, cmd: Any) -> int | None:
        if self.silent:
            return None
        self.advance()
        if self.valid_address(cmd):
            answer = self._extra(cmd)
            if answer is not NotImplemented:
                return None if answer is None else int(answer)
        was_on = self.level > 0
        if isinstance(cmd, general.ReadMemoryLocation):
            self._refresh_banks()
        result = super().send(cmd)
        if isinstance(cmd, general.SetFadeTime) and self.valid_address(cmd):
            self.fade_code = self.dtr0
        if isinstance(cmd, general.SetSystemFailureLevel) and self.valid_address(cmd):
            self.system_failure_level = self.dtr0
        if isinstance(cmd, general.DAPC | general.Off | general.RecallMaxLevel | general.RecallMinLevel
                      | general.GoToScene) and self.valid_address(cmd):
            self.power_cycle_seen = False
            if self.level > 0 and not was_on:
                self.starts += 1
        return None if result is None else int(result)

    def _extra(self, cmd: Any) -> Any:
        """Answers python-dali's fake gear does not give (``NotImplemented``: let it answer)."""
        if isinstance(cmd, general.QueryStatus):
            bits = [self.gear_failed, self.lamp_failed, self.level > 0 and not self.lamp_failed, False, False,
                    False, self.shortaddr is None, self.power_cycle_seen]
            return sum(1 << i for i, bit in enumerate(bits) if bit)
        if isinstance(cmd, general.QueryLampFailure):
            return 0xFF if self.lamp_failed else None
        if isinstance(cmd, general.QueryControlGearFailure):
            return 0xFF if self.gear_failed else None
        if isinstance(cmd, general.QuerySystemFailureLevel):
            return self.system_failure_level
        if isinstance(cmd, general.QueryFadeTimeFadeRate):
            return (self.fade_code << 4) | 7  # fade rate 7 (45 steps/s), the standard's default
        if isinstance(cmd, general.QueryLampPowerOn):
            return 0xFF if self.level > 0 and not self.lamp_failed else None
        return NotImplemented

    def _refresh_banks(self) -> None:
        if not self.d4i:
            return
        b202 = self.memory_banks[202].contents
        _put(b202, 0x05, round(self.energy_wh * 10), 6)
        _put(b202, 0x0C, round(self.power_w() * 10), 4)
        b205 = self.memory_banks[205].contents
        _put(b205, 0x04, int(self.operating_s), 4)
        _put(b205, 0x08, 1, 3)  # one power-up since manufacture
        _put(b205, 0x0B, SUPPLY_DV // 2 if self.undervoltage else SUPPLY_DV, 2)
        _put(b205, 0x0D, 50, 1)
        _put(b205, 0x0E, 95, 1)
        b205[0x0F] = int(self.gear_failed or self.undervoltage)
        b205[0x11] = int(self.undervoltage)
        b205[0x1B] = (45 if self.level > 0 else 20) + _TEMPERATURE_OFFSET
        b205[0x1C] = 100
        b206 = self.memory_banks[206].contents
        _put(b206, 0x07, self.starts, 3)
        _put(b206, 0x0E, int(self.on_s), 4)
        b206[0x16] = int(self.lamp_failed)
        b206[0x1A] = int(self.lamp_failed)  # an open LED string
        b206[0x20] = (55 if self.level > 0 and not self.lamp_failed else 20) + _TEMPERATURE_OFFSET


class SimBus(fakes.Bus):  # type: ignore[misc]
    """python-dali's fake bus with an interface that can be unplugged, behind the driver's :class:`DaliBus` face.

    Attributes:
        unplugged: While set, every transaction raises python-dali's ``CommunicationError``, as a USB
            interface that disappeared does.
        frames: Forward and backward frames seen.
    """

    def __init__(self, gear: list[SimGear]) -> None:
        super().__init__(gear)
        self.unplugged = False
        self.frames = FrameCounter()

    def send_seq(self, seq: Sequence) -> Any:
        if self.unplugged:
            seq.close()
            raise CommunicationError("the DALI interface is unplugged")
        return self.run_sequence(counted(seq, self.frames))

    def by_address(self, shortaddr: int) -> SimGear:
        """The gear at ``shortaddr`` (for tests and the demo to inject failures)."""
        gear: list[SimGear] = self.gear
        return next(g for g in gear if g.shortaddr == shortaddr)


class SimInterface:
    """A :class:`SimBus` seen as a :class:`~.dali_bus.DaliBus` (what ``fake:N`` opens).

    A closed interface stays closed; an unplugged bus makes ``open`` (the driver's retry) fail until plugged in.
    """

    def __init__(self, bus: SimBus) -> None:
        self.bus = bus
        self.closed = False

    def send(self, seq: Sequence) -> Any:
        from .errors import DriverBusError  # noqa: PLC0415 -- keeps this module importable on its own

        if self.closed:
            raise DriverBusError("the DALI interface is closed")
        try:
            return self.bus.send_seq(seq)
        except CommunicationError as exc:
            raise DriverBusError(f"DALI interface failed: {exc}") from exc

    def close(self) -> None:
        self.closed = True


#: The simulated buses of this process by transport (``fake:4?d4i=0``): reopening after a simulated unplug
#: finds the same gear, as reconnecting a USB interface finds the same street.
_BUSES: dict[str, SimBus] = {}


def simulated_bus(transport: Transport, clock: Callable[[], float] = time.monotonic) -> SimBus:
    """The process's simulated bus for ``transport`` (created at first use)."""
    key = f"{transport}?{sorted(transport.options.items())}"
    if key not in _BUSES:
        d4i = transport.options.get("d4i", "1") not in ("0", "false", "no")
        ratings = [float(w) for w in transport.options.get("rated_w", "60").split(",")]
        _BUSES[key] = SimBus([SimGear(a, ratings[min(a, len(ratings) - 1)], d4i=d4i, clock=clock)
                              for a in range(int(transport.path))])
    return _BUSES[key]


def open_simulator(transport: Transport) -> SimInterface:
    """Open the simulator ``fake:N`` names (see :func:`simulated_bus`).

    Raises:
        DriverBusError: Its bus is unplugged.
    """
    from .errors import DriverBusError  # noqa: PLC0415

    bus = simulated_bus(transport)
    if bus.unplugged:
        raise DriverBusError(f"cannot open {transport}: unplugged")
    return SimInterface(bus)


def forget_simulators() -> None:
    """Drop every simulated bus of the process (tests start from new gear)."""
    _BUSES.clear()
