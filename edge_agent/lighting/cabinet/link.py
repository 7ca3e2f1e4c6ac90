"""The Modbus TCP connection of a cabinet: pymodbus's synchronous client, with its failures named and counted.

One :class:`ModbusLink` per cabinet (host and port), shared by the controller and the meter (two unit ids
behind one gateway, or one each when they have their own TCP interface: then two links). Every failure becomes
a :class:`~.errors.ModbusCommError` with its :class:`~.errors.Failure`, counted in :attr:`ModbusLink.errors`;
transient ones (a timeout, a socket dropped by a restart) are retried at once with a short exponential back-off
(tenacity), after a reconnect. Longer outages are the caller's to pace (see :class:`~.cabinet.Cabinet`).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import Counter
from collections.abc import Callable
from functools import partial
from struct import error as struct_error
from typing import TypeVar

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from vigie_config.errors import RegisterMapError
from vigie_config.register_maps import RegisterMap, Table

from .errors import Failure, ModbusCommError
from .registers import Read, Value, decode, plan_reads

log = logging.getLogger("vigie.cabinet")
_T = TypeVar("_T")

#: Exception codes a Modbus TCP gateway answers for a unit id with no device behind it.
_GATEWAY_CODES = {0x0A: "gateway path unavailable", 0x0B: "gateway target device failed to respond"}
_EXCEPTION_NAMES = {
    0x01: "illegal function",
    0x02: "illegal data address",
    0x03: "illegal data value",
    0x04: "device failure",
    0x05: "acknowledge",
    0x06: "device busy",
}


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, ModbusCommError) and exc.failure.transient


class ModbusLink:
    """A Modbus TCP client for one host, synchronous: the lighting loop calls it from its own thread.

    Args:
        host: Address of the controller, meter or gateway.
        port: TCP port (502).
        timeout_s: How long one request waits for its answer.
        attempts: Tries per request when the failure is transient (1: no retry).
    """

    def __init__(self, host: str, port: int = 502, *, timeout_s: float = 1.0, attempts: int = 2) -> None:
        self.host, self.port = host, port
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.requests = 0
        self.errors: Counter[str] = Counter()
        self.last_error = ""
        self._client = ModbusTcpClient(host, port=port, timeout=timeout_s, retries=0, reconnect_delay=0)
        # the lighting loop polls while the link's command thread may switch a circuit: one exchange at a time
        self._lock = threading.RLock()
        self._plans: dict[int, tuple[RegisterMap, list[Read]]] = {}
        self._retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=0.05, max=0.5),
            retry=retry_if_exception(_transient),
            reraise=True,
        )

    def close(self) -> None:
        with self._lock:
            self._client.close()  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------------------------------------ requests

    def read_map(self, regmap: RegisterMap, unit: int) -> dict[str, Value]:
        """Every point of ``regmap`` from device ``unit``, in as few requests as :func:`plan_reads` allows.

        Raises:
            ModbusCommError: A request failed after its retries; nothing is returned partially, since a meter
                read half before and half after a power change would not add up.
        """
        values: dict[str, Value] = {}
        plan = self._plans.get(id(regmap))
        if plan is None or plan[0] is not regmap:  # maps are immutable: planned once per map
            plan = self._plans[id(regmap)] = (regmap, plan_reads(regmap.points))
        for read in plan[1]:
            raw = self._call(unit, read.table.value, partial(self._read, read, unit))
            try:
                values.update(decode(read, raw, regmap.word_order))
            except RegisterMapError as exc:
                raise self._fail(unit, Failure.BAD_ANSWER, str(exc)) from exc
        return values

    def write_coil(self, unit: int, address: int, value: bool) -> None:
        """Set one coil (a contactor) and check that the device echoed it.

        Raises:
            ModbusCommError: The write failed after its retries, or was not echoed.
        """

        def write() -> list[bool]:
            pdu = self._client.write_coil(address, value, device_id=unit)
            return list(self._answer(pdu, unit, "write coil").bits[:1])

        echoed = self._call(unit, "write coil", write)
        if echoed and bool(echoed[0]) != value:
            raise self._fail(unit, Failure.BAD_ANSWER, f"coil {address} echoed {echoed[0]}, written {value}")

    # ------------------------------------------------------------------------------------------ internals

    def _read(self, read: Read, unit: int) -> list[int] | list[bool]:
        fn = {
            Table.COIL: self._client.read_coils,
            Table.DISCRETE_INPUT: self._client.read_discrete_inputs,
            Table.INPUT_REGISTER: self._client.read_input_registers,
            Table.HOLDING_REGISTER: self._client.read_holding_registers,
        }[read.table]
        pdu = self._answer(fn(read.address, count=read.count, device_id=unit), unit, read.table.value)
        return list(pdu.bits) if read.table.bits else list(pdu.registers)

    def _call(self, unit: int, what: str, fn: Callable[[], _T]) -> _T:
        """``fn`` with the transient failures retried (tenacity), each attempt counted."""
        with self._lock:  # the one Retrying is reused under the lock
            for attempt in self._retrying:
                with attempt:
                    return self._once(unit, what, fn)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _once(self, unit: int, what: str, fn: Callable[[], _T]) -> _T:
        self.requests += 1
        if not self._client.connected and not self._client.connect():  # type: ignore[no-untyped-call]
            self._client.close()  # type: ignore[no-untyped-call]
            raise self._fail(unit, self._connect_failure(), f"cannot connect for {what}")
        try:
            return fn()
        except ModbusCommError:
            raise
        except ModbusIOException as exc:
            self._client.close()  # type: ignore[no-untyped-call]  # a late answer would be taken for the next request's
            raise self._fail(unit, Failure.TIMEOUT, f"no answer to {what} within {self.timeout_s} s") from exc
        except ConnectionException as exc:
            self._client.close()  # type: ignore[no-untyped-call]
            raise self._fail(unit, Failure.DISCONNECTED, f"connection lost during {what}") from exc
        except (ModbusException, OSError, ValueError, TypeError, struct_error) as exc:
            self._client.close()  # type: ignore[no-untyped-call]
            raise self._fail(unit, Failure.BAD_ANSWER, f"{what}: {exc}") from exc

    def _answer(self, pdu: ModbusPDU, unit: int, what: str) -> ModbusPDU:
        if isinstance(pdu, ExceptionResponse) or pdu.isError():
            code = int(getattr(pdu, "exception_code", 0))
            if code in _GATEWAY_CODES:
                raise self._fail(unit, Failure.WRONG_UNIT, f"{what}: exception {code:#04x} ({_GATEWAY_CODES[code]})")
            name = _EXCEPTION_NAMES.get(code, "unknown exception")
            raise self._fail(unit, Failure.EXCEPTION, f"{what}: exception {code:#04x} ({name})")
        if pdu.dev_id != unit:
            raise self._fail(unit, Failure.BAD_ANSWER, f"{what}: answer from unit {pdu.dev_id}")
        return pdu

    def _connect_failure(self) -> Failure:
        """Refused (something answered with a reset) or unreachable (nothing answered), from one plain connect."""
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout_s):
                return Failure.DISCONNECTED  # it accepts now: a race with a restart
        except ConnectionRefusedError:
            return Failure.REFUSED
        except OSError:
            return Failure.UNREACHABLE

    def _fail(self, unit: int, failure: Failure, detail: str) -> ModbusCommError:
        self.errors[failure.value] += 1
        err = ModbusCommError(f"{self.host}:{self.port}/{unit}", failure, detail)
        if str(err) != self.last_error:  # logged when the cause changes, not at every poll
            log.warning("%s", err)
        self.last_error = str(err)
        return err

