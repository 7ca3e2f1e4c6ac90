"""The link's port for producers that run in another process than the link (the camera role).

Such a producer never talks to the broker. It appends its events to the outbox file through
an :class:`~.outbox.OutboxWriter`, under the boot the link opened, and the link's sender
picks them up (woken by a datagram, see :mod:`.outbox`). Events are durable when
:meth:`OutboxSink.emit_many` returns, exactly as with :meth:`.Link.emit_many`, and get their
``(boot, n)`` from the same numbering. Snapshots are not stored: they go to the link process
through whatever ``snapshots`` callable the caller gives (a queue, for the camera process).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import vigie_wire as wire

from .outbox import NewEvent, OutboxWriter

#: A packed event body larger than this is refused at once (a message holds at most 64 KiB).
MAX_EVENT_BYTES = 16 * 1024

SnapshotSender = Callable[[int, tuple[int, int], bytes], bool]


def pack_bodies(bodies: Sequence[wire.Event]) -> list[tuple[int, bytes]]:
    """Pack event bodies for the outbox; a body too large for any message raises ``ValueError``."""
    packed = [wire.pack_event(b) for b in bodies]
    for _items, blob in packed:
        if len(blob) > MAX_EVENT_BYTES:
            raise ValueError(f"event body of {len(blob)} bytes exceeds {MAX_EVENT_BYTES}")
    return packed


class OutboxSink:
    """An :class:`~edge_agent.ports.EventSink` writing straight into the outbox file."""

    def __init__(
        self,
        writer: OutboxWriter,
        boot: int,
        snapshots: SnapshotSender | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.writer = writer
        self.boot = boot
        self.emitted = 0
        self._snapshots = snapshots
        self._clock = clock

    def emit_many(self, bodies: Sequence[wire.Event], ts_ms: int | None = None) -> list[tuple[int, int]]:
        """Durably queue events in one transaction; raises ``StaleBootError`` once the link restarted."""
        ts = int(self._clock() * 1000) if ts_ms is None else ts_ms
        rows = self.writer.append(self.boot, [NewEvent(ts, items, blob) for items, blob in pack_bodies(bodies)])
        self.emitted += len(rows)
        return [(r.boot, r.n) for r in rows]

    def publish_snapshot(self, cam: int, event_id: tuple[int, int], jpeg: bytes) -> bool:
        """Hand a snapshot to the link process (never stored); False when there is no way to."""
        return self._snapshots(cam, event_id, jpeg) if self._snapshots is not None else False
