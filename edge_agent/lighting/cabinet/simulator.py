"""The cabinet simulator: a street-lighting cabinet behind a real pymodbus TCP server on 127.0.0.1.

This is the hardware behind the cabinet's Modbus link in the tests, the benchmark and ``make demo`` (as the DALI
simulator is behind the ``dali`` driver), not a stand-in for the link. The server is pymodbus's own (the protocol
stack the product's client talks to); only the hardware behind it is modelled, in :class:`CabinetModel`: eight
contactors (coils 0-7) whose circuits draw their load on a phase of an Eastron SDM630 meter while they are on and
their breaker holds, the door and photocell contacts, and a breaker contact per circuit (discrete inputs 0, 1 and
8-15, as ``maps/cabinet-generic.yaml``). The controller answers as unit 1 and the meter as unit 2 behind one
gateway; any other unit id gets the gateway's exception 0x0B, as a Modbus TCP gateway answers for a device that is
not on its serial line.

Faults to inject: :attr:`CabinetModel.delay_s` (a device answering too late: a timeout), :attr:`CabinetModel.
fail` (an exception code for every request to a unit), :meth:`CabinetServer.stop` / :meth:`CabinetServer.start`
(a restart on the same port).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from functools import partial

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simutils import SimUtils

CONTROLLER_UNIT = 1
METER_UNIT = 2
CIRCUITS = 8
#: SDM630 input registers the model keeps (float32 pairs), by name, as in ``maps/sdm630.yaml``.
SDM630 = {
    "voltage_l1": 0x00, "voltage_l2": 0x02, "voltage_l3": 0x04,
    "current_l1": 0x06, "current_l2": 0x08, "current_l3": 0x0A,
    "power_l1": 0x0C, "power_l2": 0x0E, "power_l3": 0x10,
    "power_total": 0x34, "power_factor": 0x3E, "frequency": 0x46,
    "import_energy": 0x48, "export_energy": 0x4A, "total_energy": 0x156,
}  # fmt: skip


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS's pick), for a server started just after."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class CabinetModel:
    """The cabinet's physics: what the coils switch and what the meter then measures."""

    load_w: list[float] = field(default_factory=lambda: [400.0, 300.0, 250.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    phase: list[int] = field(default_factory=lambda: [1, 2, 3, 1, 2, 3, 1, 2])
    coils: list[bool] = field(default_factory=lambda: [False] * CIRCUITS)
    tripped: list[bool] = field(default_factory=lambda: [False] * CIRCUITS)
    door_open: bool = False
    dark: bool = False
    voltage: float = 230.0
    import_kwh: float = 1234.5
    delay_s: float = 0.0
    fail: dict[int, ExcCodes] = field(default_factory=dict)
    lies: dict[str, float] = field(default_factory=dict)  # meter values replaced by these (NaN...)
    requests: int = 0
    _t: float = field(default_factory=time.monotonic)

    def phase_power(self, phase: int) -> float:
        return sum(
            w for w, p, on, t in zip(self.load_w, self.phase, self.coils, self.tripped, strict=True)
            if p == phase and on and not t
        )

    def _integrate(self) -> float:
        """Count the energy drawn since the last call at the present load; returns the total power, W."""
        now = time.monotonic()
        total = sum(self.phase_power(p) for p in (1, 2, 3))
        self.import_kwh += total * (now - self._t) / 3.6e6
        self._t = now
        return total

    def set_loads(self, loads: dict[int, float]) -> None:
        """Set the load of circuits by output (W while on); the energy drawn so far counts at the old loads."""
        self._integrate()
        for output, watts in loads.items():
            if 0 <= output < CIRCUITS:
                self.load_w[output] = max(0.0, watts)

    def meter(self) -> dict[str, float]:
        """What the SDM630 reads now, by register name (see :data:`SDM630`)."""
        total = self._integrate()
        out = {"power_factor": 0.95, "frequency": 50.0, "power_total": total, "export_energy": 0.0}
        out |= {"import_energy": self.import_kwh, "total_energy": self.import_kwh}
        for p in (1, 2, 3):
            out[f"voltage_l{p}"] = self.voltage
            out[f"power_l{p}"] = self.phase_power(p)
            out[f"current_l{p}"] = self.phase_power(p) / self.voltage / 0.95
        return out | self.lies

    # -- the devices' actions: the server calls them before answering (values are set inline) -------
    async def controller(
        self, fc: int, start: int, address: int, count: int, regs: list[int], values: list[int] | list[bool] | None
    ) -> ExcCodes | None:
        self.requests += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if CONTROLLER_UNIT in self.fail:
            return self.fail[CONTROLLER_UNIT]
        if fc in (5, 15) and values is not None:
            for i, v in enumerate(values):
                if 0 <= address + i < CIRCUITS:
                    self.coils[address + i] = bool(v)
        if fc == 1:
            regs[0] = SimUtils.bitsToRegisters([*self.coils, *[False] * (16 - CIRCUITS)])[0]
        elif fc == 2:
            bits = [self.door_open, self.dark, *[False] * 6, *self.tripped]
            regs[0] = SimUtils.bitsToRegisters(bits)[0]
        return None

    async def meter_action(
        self, fc: int, start: int, address: int, count: int, regs: list[int], values: list[int] | list[bool] | None
    ) -> ExcCodes | None:
        self.requests += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if METER_UNIT in self.fail:
            return self.fail[METER_UNIT]
        if fc == 4:
            for name, value in self.meter().items():
                at = SDM630[name] - start
                regs[at : at + 2] = struct.unpack(">HH", struct.pack(">f", value))
        return None


async def _gateway_no_target(*_args: object) -> ExcCodes:
    return ExcCodes.GATEWAY_NO_RESPONSE


def devices(model: CabinetModel) -> list[SimDevice]:
    """The controller (unit 1), the meter (unit 2), and the gateway's answer for every other unit."""
    bits = partial(SimData, datatype=DataType.BITS)
    regs = partial(SimData, datatype=DataType.REGISTERS)
    controller = SimDevice(
        id=CONTROLLER_UNIT,
        simdata=([bits(0, values=[False] * 16)], [bits(0, values=[False] * 16)], [regs(0, values=[0])],
                 [regs(0, values=[0])]),
        action=model.controller,
    )
    meter = SimDevice(
        id=METER_UNIT,
        simdata=([bits(0, values=[False] * 16)], [bits(0, values=[False] * 16)], [regs(0, values=[0])],
                 [regs(a, values=[0, 0]) for a in sorted(SDM630.values())]),
        action=model.meter_action,
    )
    other = SimDevice(
        id=0,
        simdata=([bits(0, values=[False] * 16)], [bits(0, values=[False] * 16)], [regs(0, values=[0] * 0x200)],
                 [regs(0, values=[0] * 0x200)]),
        action=_gateway_no_target,
    )
    return [controller, meter, other]


class CabinetServer:
    """A pymodbus TCP server bound to 127.0.0.1 in its own thread and event loop; restartable on its port."""

    def __init__(self, model: CabinetModel | None = None, port: int | None = None) -> None:
        self.model = model or CabinetModel()
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusTcpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> CabinetServer:
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        async def serve() -> None:
            self._server = ModbusTcpServer(devices(self.model), address=("127.0.0.1", self.port))
            ready.set()
            await self._server.serve_forever()

        self._loop = loop
        self._thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True,
                                        name="modbus-cabinet")
        self._thread.start()
        ready.wait(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # listening once a plain connect succeeds
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"modbus server on 127.0.0.1:{self.port} did not start")

    def stop(self) -> None:
        if self._loop is None or self._server is None:
            return
        asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(10)  # type: ignore[no-untyped-call]
        assert self._thread is not None
        self._thread.join(10)
        self._loop.close()
        self._loop = self._server = self._thread = None

    def __enter__(self) -> CabinetServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
