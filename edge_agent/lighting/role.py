"""The light role of a box: the node's decision loop, its inputs from the link, its outputs.

A named thread (``vigie-lighting``) steps the node every ``decision_interval_s`` — sooner when a
neighbour camera reports presence — and sends fault changes as ``lamp_fault`` events through
the durable outbox. Commands (``light.*``) and what the box listens to (neighbour cameras'
events, the coordinator's STATE) arrive from the link's command thread. None of it needs the
coordinator: with the centre or the broker gone, the calendar keeps running. A box with a Modbus
cabinet (``lighting.cabinet``) polls it from a second thread (``vigie-cabinet``), so a cabinet that
times out never holds the luminaires' decisions; its fault changes leave as ``cabinet_fault`` events.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

import vigie_wire as wire
from vigie_config.box import BoxConfig
from vigie_config.groups import with_implicit_groups

from ..link.commands import AckTuple
from ..ports import EventSink
from .cabinet.cabinet import Cabinet
from .drivers import build_driver
from .node import LightNode, handle_command

log = logging.getLogger("vigie.lighting")
#: How often the cabinet thread looks whether a device is due (their intervals are whole seconds or more).
_CABINET_WAKE_S = 0.5


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LightRole:
    """Runs one :class:`LightNode` for the box; everything time-related reads ``clock``."""

    def __init__(self, box: BoxConfig, sink: EventSink, clock: Callable[[], dt.datetime] = _utc_now) -> None:
        if box.lighting is None:
            raise ValueError("the box config has no lighting section")
        self.box = box
        self.config = with_implicit_groups(box.lighting, box.site)
        self._sink = sink
        self._clock = clock
        self.cabinet = Cabinet(self.config.cabinet) if self.config.cabinet is not None else None
        if self.cabinet is not None and self.config.driver.kind == "contactor":
            self.cabinet.poll(clock())  # the contactor driver starts from the coils as they are
        self.driver = build_driver(self.config.driver, self.config.specs(), cabinet=self.cabinet)
        self.node = LightNode.restore(self.config, self.driver, clock)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vigie-lighting", daemon=True)
        # the cabinet in its own thread: a cabinet that times out must not hold the luminaires' decisions
        self._cabinet_thread = threading.Thread(target=self._run_cabinet, name="vigie-cabinet", daemon=True)

    # -- what the link delivers ---------------------------------------------------------------------
    def handle_command(self, cmd: wire.Command) -> AckTuple:
        """Apply a ``light.*`` command; the result becomes the ack."""
        return handle_command(self.node, cmd, device_id=self.box.device_id, now=self._clock())

    def on_message(self, msg: wire.Message) -> None:
        """Presence from a neighbour camera, or a coordinator's liveness.

        A ``zone_enter`` is a detection; an ``occupancy`` with counts is one that lasts while the zone stays
        occupied, and one without counts is the zone reported empty, the one report a camera gives and a PIR
        cannot (it may end the boost early, see :class:`~.calendar.SensorProgram`). A ``zone_leave`` says nothing
        about the zone as a whole (others may still be in it): the ``occupancy`` that follows it does.
        """
        if isinstance(msg, wire.State):
            self.node.coordinator_offline(not msg.online)
            return
        if not isinstance(msg, wire.EventBatch) or msg.historical:
            return  # a replay of old presence must not light the street now
        woke = False
        for rec in msg.events:
            at = dt.datetime.fromtimestamp(rec.ts / 1000, dt.UTC)
            body = rec.body
            if isinstance(body, wire.ZoneEnter):
                woke |= bool(self.node.presence(msg.header.dev, body.zone, at, cam=body.cam))
            elif isinstance(body, wire.Occupancy):
                woke |= bool(self.node.occupancy(msg.header.dev, body.zone, bool(body.counts), at, cam=body.cam))
        if woke:
            self._wake.set()  # decide now, not at the next tick

    # -- the loop -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        if self.cabinet is not None:
            self._cabinet_thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        if self.cabinet is not None:
            self._cabinet_thread.join(timeout)
            self.cabinet.close()
        close = getattr(self.driver, "close", None)  # a driver holding an interface (DALI) releases it
        if callable(close):
            close()

    def step(self) -> None:
        """One decision round, then the fault changes it revealed go out as events."""
        self.node.step(self._clock())
        faults = self.node.drain_faults()
        if faults:
            events = [wire.LampFault(lum, name, bool(active)) for lum, name, active in faults]
            self._sink.emit_many(events)

    def poll_cabinet(self) -> None:
        """Read the cabinet's devices that are due, then its fault changes go out as events."""
        if self.cabinet is None:
            return
        self.cabinet.poll(self._clock())
        changes = self.cabinet.drain_faults()
        if changes:
            self._sink.emit_many([wire.CabinetFault(part, name, active) for part, name, active in changes])

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # the node never raises by design; this is the last net
                log.exception("lighting step failed")
            self._wake.wait(self.config.decision_interval_s)
            self._wake.clear()

    def _run_cabinet(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_cabinet()
            except Exception:  # the cabinet never raises by design; this is the last net
                log.exception("cabinet poll failed")
            self._stop.wait(_CABINET_WAKE_S)  # each device is read when due (see Cabinet.poll)

    def health(self) -> dict[str, Any]:
        """The node's ``light.*`` telemetry and the cabinet's ``cabinet.*`` (fault changes travel as events)."""
        out = self.node.telemetry(self._clock())
        if self.cabinet is not None:
            out.update(self.cabinet.telemetry())
        return out
