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
    """One producer (the MQTT thread), one consumer (the worker); ``weight`` of an item for :meth:`take`'s budget."""

    def __init__(self, maxsize: int, weight: Callable[[T], int] = lambda _item: 1) -> None:
        self.maxsize = maxsize
        self._weight = weight
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

    def take(self, limit: int, budget: int | None = None) -> list[T]:
        """Up to ``limit`` items, oldest first, without waiting; with a ``budget``, only until the
        weight of the items taken reaches it (the item that reaches it is taken)."""
        items, weight, used = self._items, self._weight, 0
        out: list[T] = []
        while items and len(out) < limit and (budget is None or used < budget):
            item = items.popleft()
            if budget is not None:
                used += weight(item)
            out.append(item)
        return out

    def qsize(self) -> int:
        return len(self._items)
