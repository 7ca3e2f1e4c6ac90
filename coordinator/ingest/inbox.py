"""The hand-off between the MQTT network thread and the ingest worker.

``queue.Queue`` takes a lock and notifies a condition on every put and get: at tens of
thousands of messages per second that cost as much GIL time as decoding them. Here the
network thread appends to a deque (atomic under the GIL) and sets an event only when the
worker may be waiting; the worker takes everything available in one call.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    """One producer (the MQTT thread), one consumer (the worker)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._ready = threading.Event()

    def put(self, item: T, droppable: bool = False) -> bool:
        """Append ``item``; a ``droppable`` one (QoS 0) is refused when the inbox is full.

        QoS 1 messages are always taken: the broker never sends more than Receive Maximum of
        them unacknowledged, which bounds the inbox.
        """
        if droppable and len(self._items) >= self.maxsize:
            return False
        self._items.append(item)
        if not self._ready.is_set():
            self._ready.set()
        return True

    def wait(self, timeout: float) -> bool:
        """Wait until an item is available (``True``) or ``timeout`` seconds passed."""
        if self._items:
            return True
        self._ready.clear()
        if self._items:  # appended between the check and the clear: its set() may have been skipped
            return True
        return self._ready.wait(timeout) or bool(self._items)

    def take(self, limit: int, budget: int | None = None, weight: Callable[[T], int] | None = None) -> list[T]:
        """Up to ``limit`` items, oldest first, without waiting; with a ``budget``, only until the
        ``weight`` of the items taken reaches it (the item that reaches it is taken)."""
        items, out = self._items, []
        pop = items.popleft
        if budget is None or weight is None:
            for _ in range(min(limit, len(items))):
                out.append(pop())
            return out
        used = 0
        while items and len(out) < limit and used < budget:
            item = pop()
            used += weight(item)
            out.append(item)
        return out

    def qsize(self) -> int:
        return len(self._items)
