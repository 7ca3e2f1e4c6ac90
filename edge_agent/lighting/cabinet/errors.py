"""The exceptions of the cabinet: a bad register map, and a Modbus exchange that failed (with its likely cause)."""

from __future__ import annotations

from enum import StrEnum

from ...errors import EdgeError


class CabinetError(EdgeError):
    """Base of the cabinet's errors."""


class Failure(StrEnum):
    """Why an exchange with a Modbus device failed, in the words of the probe's causes and the counters."""

    UNREACHABLE = "unreachable"  # no TCP connection: cabling, address, power
    REFUSED = "refused"  # the host answers but nothing listens on the port
    TIMEOUT = "timeout"  # connected, no answer in time
    DISCONNECTED = "disconnected"  # the connection dropped during the exchange (device or gateway restart)
    WRONG_UNIT = "wrong_unit"  # no device at that unit id (gateway exceptions 0x0A/0x0B)
    EXCEPTION = "exception"  # the device refused the request (illegal address, device failure...)
    BAD_ANSWER = "bad_answer"  # an answer that does not fit the request

    @property
    def transient(self) -> bool:
        """Worth one quick retry within the same poll (a stale socket after a restart, a lost frame)."""
        return self in (Failure.TIMEOUT, Failure.DISCONNECTED)


class ModbusCommError(CabinetError):
    """One exchange with a cabinet device failed.

    Attributes:
        device: ``host:port/unit``.
        failure: The likely cause.
    """

    def __init__(self, device: str, failure: Failure, detail: str) -> None:
        super().__init__(f"modbus {device}: {failure.value}: {detail}")
        self.device = device
        self.failure = failure
        self.detail = detail
