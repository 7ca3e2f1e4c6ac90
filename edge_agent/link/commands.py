"""Messages received by a box: commands (decoded, handled, acknowledged) and what its roles listen to.

Decoding and the role's handler run in their own named thread (``vigie-link-cmd``), never in
paho's callback: a slow handler (a DALI bus at 1200 baud) must not stall the network loop.
Every command that can be read gets an ack; one that cannot be decoded has no id to
acknowledge, so it is counted and logged instead. A box may receive a flood of them (a broken
or hostile publisher): each is counted in telemetry, but the box's journal gets one record per
kind per minute (:class:`vigie_wire.rejects.RejectLog`, as the coordinator's ingest does).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import vigie_wire as wire
from vigie_wire.rejects import RejectLog

log = logging.getLogger("vigie.link")

#: Kinds of refused command messages besides the decoder's reasons (``WireError.reason``).
QUEUE_FULL = "queue_full"
HANDLER_FAILED = "handler_failed"
LISTENER_FAILED = "listener_failed"

#: What a command handler returns: result code, detail text, what was applied.
AckTuple = tuple[str, str, dict[str, Any]]
CommandHandler = Callable[[wire.Command], AckTuple]
AckSender = Callable[[wire.Command, str, str, dict[str, Any]], None]


class CommandInbox:
    """A bounded queue of raw command messages and the thread that serves it.

    ``poll_s``: the longest the thread waits for a message before it logs the counted refusals (see
    :class:`~.session.Link` for why a host of many boxes raises it).
    """

    poll_s = 0.2

    def __init__(self, send_ack: AckSender, maxsize: int = 1000) -> None:
        self.handler: CommandHandler | None = None
        #: Receives decoded messages of the extra subscriptions (neighbours' events, STATE).
        self.listener: Callable[[wire.Message], None] | None = None
        self.received = 0
        #: Refused messages by kind: the decoder's reasons, :data:`QUEUE_FULL`, and handler or listener failures.
        self.rejects = RejectLog(log, "message refused")
        self._send_ack = send_ack
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=maxsize)

    @property
    def invalid(self) -> int:
        """Command messages that could not be read: undecodable, or dropped with the queue full."""
        counts = self.rejects.by_kind()
        return sum(counts.values()) - counts.get(HANDLER_FAILED, 0) - counts.get(LISTENER_FAILED, 0)

    def put(self, topic: str, payload: bytes) -> None:
        """Called from paho's callback: enqueue only. A full queue drops and counts."""
        try:
            self._queue.put_nowait((topic, payload))
        except queue.Full:
            self.rejects.note(QUEUE_FULL, f"dropped a command on {topic}")

    def serve(self, stop: threading.Event) -> None:
        """Thread body: handle commands until ``stop`` is set (and :meth:`wake` called); a quiet moment logs what
        was only counted."""
        while not stop.is_set():
            try:
                item = self._queue.get(timeout=self.poll_s)
            except queue.Empty:
                self.rejects.flush()
                continue
            if item is not None:
                self.handle(*item)

    def wake(self) -> None:
        """Make :meth:`serve` look at its stop event now rather than at the end of its wait."""
        with contextlib.suppress(queue.Full):  # a full queue wakes it anyway
            self._queue.put_nowait(None)

    def handle(self, topic: str, payload: bytes) -> None:
        """Decode one command, run the handler, acknowledge with its result."""
        self.received += 1
        try:
            cmd = wire.decode(topic, payload)
        except wire.WireError as exc:
            self.rejects.note(exc.reason, f"on {topic}: {exc}")
            return  # no id to acknowledge
        if not isinstance(cmd, wire.Command):
            if self.listener is not None:  # a subscribed topic of another kind (neighbours, STATE)
                try:
                    self.listener(cmd)
                except Exception as exc:  # a role's bug must not stop command handling
                    self.rejects.note(LISTENER_FAILED, f"listener failed on {topic}", exc_info=exc)
            return
        if self.handler is None:
            result: AckTuple = (wire.AckResult.UNSUPPORTED, "this box runs no command handler", {})
        else:
            try:
                result = self.handler(cmd)
            except Exception as exc:  # a handler bug must not kill the link
                self.rejects.note(HANDLER_FAILED, f"command handler failed on {cmd.cmd_id}", exc_info=exc)
                result = (wire.AckResult.FAILED, f"{type(exc).__name__}: {exc}"[:512], {})
        self._send_ack(cmd, *result)
