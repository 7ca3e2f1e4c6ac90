"""The DALI interface of a box, opened from its transport URI with python-dali's own drivers, seen synchronously.

Transports (the ``transport`` of a ``driver: {kind: dali}`` section):

* ``hasseb:/dev/hidraw0`` and ``tridonic:/dev/hidraw0``: the Hasseb DALI Master and Tridonic DALI-USB HID
  interfaces (python-dali ``dali.driver.hid``); a glob (``hasseb:/dev/dali/hasseb-*``) takes the first match.
* ``luba232:/dev/ttyUSB0`` and ``scirs232:/dev/ttyUSB0``: Lunatone's RS232 LUBA and SCI interfaces
  (``dali.driver.serial``).
* ``fake:N`` (options ``?d4i=0``, ``?rated_w=60`` or one rating per address ``?rated_w=40,40,60``): **the
  simulator**, N D4i gear at short addresses 0..N-1 on python-dali's fake bus (:mod:`.dali_sim`): the hardware
  behind the driver, for the demo and the tests.

python-dali's hardware drivers are asyncio objects; the lighting loop is synchronous (see
:class:`~.base.LuminaireDriver`). :class:`LoopBus` runs one event loop in a named thread per interface and
hands it each transaction, waiting at most ``timeout_s``. Every transaction goes through :func:`counted`, so the
frames a driver puts on the bus are counted the same way on hardware and on the simulator.
"""

from __future__ import annotations

import asyncio
import glob as globmod
import logging
import os
import threading
from collections.abc import Callable, Generator
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

from dali.command import Command
from dali.exceptions import DALIError

from vigie_config.drivers import HID_SCHEMES, Transport
from vigie_config.drivers import parse_transport as _parse_transport

from .errors import DriverBusError, DriverError

log = logging.getLogger("vigie.lighting.dali")

#: A python-dali sequence: yields commands, is sent their responses, returns its result.
Sequence = Generator[Any, Any, Any]


def parse_transport(uri: str) -> Transport:
    """:func:`vigie_config.drivers.parse_transport`, its refusal as the driver's error.

    Raises:
        DriverError: Unknown scheme, no device path, or a ``fake`` count that is not 1..64.
    """
    try:
        return _parse_transport(uri)
    except ValueError as exc:
        raise DriverError(str(exc)) from exc


class DaliBus(Protocol):
    """One DALI line as the driver uses it: run a sequence (or one command) as a transaction, close.

    ``send`` raises :class:`~.errors.DriverBusError` when the interface is gone (unplugged, closed, timed out).
    """

    def send(self, seq: Sequence) -> Any: ...

    def close(self) -> None: ...


@dataclass
class FrameCounter:
    """Frames on one line: forward frames sent (a send-twice configuration command counts two), queries
    answered with a backward frame, and queries left unanswered (each costs the whole answer window)."""

    forward: int = 0
    answered: int = 0
    unanswered: int = 0


def single(cmd: Command) -> Sequence:
    """One command as a sequence returning its response, as python-dali's drivers wrap a bare command."""
    return (yield cmd)


def counted(seq: Sequence, frames: FrameCounter) -> Sequence:
    """``seq`` passed through unchanged, counting the forward frames it sends and the answers it gets."""
    response: Any = None
    while True:
        try:
            cmd = seq.send(response)
        except StopIteration as stop:
            return stop.value
        if isinstance(cmd, Command):
            frames.forward += 2 if getattr(cmd, "sendtwice", False) else 1
        response = yield cmd
        if response is not None:
            if getattr(response, "raw_value", None) is not None:
                frames.answered += 1
            else:
                frames.unanswered += 1


class LoopBus:
    """A python-dali asyncio driver behind a synchronous :class:`DaliBus`, on its own event-loop thread.

    Args:
        transport: A hardware transport (not ``fake``).
        timeout_s: Longest wait for a transaction (a query's backward frame takes ~25 ms; a sequence reading a
            memory bank, ~30 frames) and for the interface to come up.

    Raises:
        DriverBusError: The interface cannot be opened (absent, no permission) within ``timeout_s``.
    """

    def __init__(self, transport: Transport, timeout_s: float) -> None:
        self._timeout = timeout_s
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"vigie-dali-{transport.scheme}",
                                        daemon=True)
        self._thread.start()
        try:
            self._driver = self._call(self._open(transport))
        except BaseException:
            self.close()
            raise

    async def _open(self, transport: Transport) -> Any:
        if transport.scheme in HID_SCHEMES:
            from dali.driver import hid  # noqa: PLC0415 -- only a box with that interface needs it

            paths = globmod.glob(transport.path) if "*" in transport.path else [transport.path]
            if not paths or not os.path.exists(paths[0]):
                raise DriverBusError(f"cannot open {transport}: no such device (interface unplugged?)")
            if not os.access(paths[0], os.R_OK | os.W_OK):
                raise DriverBusError(f"cannot open {transport}: permission denied (udev rule or group of the user)")
            driver = getattr(hid, transport.scheme)(transport.path, glob="*" in transport.path)
            if not driver.connect():
                driver.disconnect()  # stops its own reconnect task: this class retries with back-off
                raise DriverBusError(f"cannot open {transport}")
            await driver.connected.wait()
            return driver
        from dali.driver.serial import drivers_map  # noqa: PLC0415 -- needs serialx, loaded only when used

        query = f"?{urlencode(transport.options)}" if transport.options else ""
        driver = drivers_map()[transport.scheme](f"{transport.scheme}:{transport.path}{query}")
        await driver.connect()
        return driver

    def _call(self, coro: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(self._timeout)
        except FutureTimeout as exc:
            future.cancel()
            raise DriverBusError(f"no answer from the DALI interface within {self._timeout} s") from exc
        except (DALIError, OSError) as exc:
            raise DriverBusError(f"DALI interface failed: {exc}") from exc

    def send(self, seq: Sequence) -> Any:
        if self._closed:
            seq.close()
            raise DriverBusError("the DALI interface is closed")
        connected = getattr(self._driver, "is_connected", None)
        event = getattr(self._driver, "connected", None)
        if connected is False or (isinstance(event, asyncio.Event) and not event.is_set()):
            raise DriverBusError("the DALI interface is disconnected")
        return self._call(self._driver.send(seq))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        driver = getattr(self, "_driver", None)
        if driver is not None and hasattr(driver, "disconnect"):  # HID drivers
            self._loop.call_soon_threadsafe(driver.disconnect)
        port = getattr(driver, "_transport", None)  # serial drivers have no close: release their port
        if port is not None and hasattr(port, "close"):
            self._loop.call_soon_threadsafe(port.close)
        try:  # transactions given up on (timed out) end here, not with a loop that stopped under them
            asyncio.run_coroutine_threadsafe(_cancel_pending(), self._loop).result(self._timeout)
        except (FutureTimeout, RuntimeError) as exc:
            log.debug("DALI interface tasks still pending at close: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()


async def _cancel_pending() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


#: Builds the simulator's bus for a ``fake:`` transport (set by :mod:`.dali_sim`, kept apart so that a box on
#: hardware never imports the fakes).
Opener = Callable[[Transport, float], DaliBus]


def open_bus(transport: Transport, timeout_s: float) -> DaliBus:
    """The interface ``transport`` names, open.

    Raises:
        DriverBusError: It cannot be opened now (the caller retries with back-off).
    """
    if transport.scheme == "fake":
        from .dali_sim import open_simulator  # noqa: PLC0415 -- the simulator only where configured

        return open_simulator(transport)
    return LoopBus(transport, timeout_s)
