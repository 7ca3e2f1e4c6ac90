"""The exceptions of the luminaire drivers, raised at their boundary (``raise ... from exc``)."""

from __future__ import annotations

from ...errors import EdgeError


class DriverError(EdgeError):
    """A driver that cannot be built or an unknown luminaire id: a config or programming error, fix and restart."""


class DriverCommError(DriverError):
    """One luminaire's control gear does not answer (TALQ ``controlGearCommFailure``).

    Separate from :class:`DriverError` because the lighting loop must survive it: the gear keeps its last level
    on its own, so the loop reports the fault for that luminaire and carries on with the other 199.

    Attributes:
        lum_id: The luminaire whose gear did not answer.
    """

    def __init__(self, lum_id: str, detail: str = "no answer from the control gear") -> None:
        super().__init__(f"luminaire {lum_id!r}: {detail}")
        self.lum_id = lum_id


class DriverBusError(DriverError):
    """The interface to a whole line of gear is gone or mute (a USB adapter unplugged, a serial link down).

    Every luminaire on that line is then out of reach (each one a ``controlGearCommFailure``); the driver counts
    it and reopens the interface with back-off, the gear meanwhile keeping its last level on its own.
    """
