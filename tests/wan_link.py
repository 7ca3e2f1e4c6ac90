"""A TCP relay on the loopback standing for the wide-area link between a district broker and the centre.

A bridge's outage in the field is rarely a broker crash: it is the link between two sites going down while both
brokers keep running. :class:`WanLink` relays connections to a target port until :meth:`WanLink.cut` closes them
all and refuses new ones; :meth:`WanLink.restore` lets them through again.

A field uplink also drops in the middle of a request, or goes silent: :meth:`WanLink.cut_after` drops the connection
carrying a given byte from the clients (once), :meth:`WanLink.stall_after` holds whatever clients send past it, the
connections staying open, until :meth:`WanLink.restore`.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class WanLink:
    """Relays ``127.0.0.1:<port>`` to ``127.0.0.1:<target>``; cut and restored at will."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self._server.settimeout(0.1)
        self.port = int(self._server.getsockname()[1])
        self._up = threading.Event()
        self._up.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._budget: int | None = None  # bytes from clients still relayed before the limit acts
        self._stall = False  # what the limit does: stall (True) or cut once (False)
        self._flowing = threading.Condition(self._lock)
        #: Connections dropped by :meth:`cut_after`.
        self.cuts = 0
        #: Bytes relayed from clients to the target.
        self.sent = 0
        self._accepter = threading.Thread(target=self._accept, name="wan-link", daemon=True)
        self._accepter.start()

    @property
    def connections(self) -> int:
        """Connections relayed right now."""
        with self._lock:
            return len(self._pairs)

    def cut(self) -> None:
        """Drop every relayed connection and refuse new ones (they are accepted and closed at once)."""
        self._up.clear()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            _close(a, b)

    def cut_after(self, nbytes: int) -> None:
        """Once: drop the connection that carries client byte ``nbytes + 1`` from now, after relaying ``nbytes``;
        the client sees its request die mid-body. Later connections are relayed whole."""
        with self._lock:
            self._budget, self._stall = nbytes, False

    def stall_after(self, nbytes: int) -> None:
        """Relay ``nbytes`` more bytes from clients, then hold what they send (nothing is refused or closed: the
        uplink is silent) until :meth:`restore`; :meth:`cut` before it loses what was held."""
        with self._lock:
            self._budget, self._stall = nbytes, True

    @property
    def stalled(self) -> bool:
        """Whether a client's bytes are being held by :meth:`stall_after`."""
        with self._lock:
            return self._stall and self._budget == 0

    def restore(self) -> None:
        """Let connections in again, and lift a byte limit."""
        with self._lock:
            self._budget = None
            self._flowing.notify_all()
        self._up.set()

    def close(self) -> None:
        self._closed.set()
        self.restore()
        self.cut()
        self._accepter.join(2)
        self._server.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._up.is_set():
                _close(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
            for src, dst, from_client in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, from_client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while data := src.recv(65536):
                if from_client:
                    data = self._limit(data, dst)
                dst.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._pairs = [p for p in self._pairs if src not in p]
        _close(src, dst)


    def _limit(self, data: bytes, dst: socket.socket) -> bytes:
        """Apply the byte limit to ``data`` from a client: what may pass now (a stall waits here for the rest)."""
        with self._lock:
            while data:
                budget = self._budget
                if budget is None or len(data) <= budget:
                    if budget is not None:
                        self._budget = budget - len(data)
                    self.sent += len(data)
                    return data
                head, data = data[:budget], data[budget:]
                dst.sendall(head)
                self.sent += len(head)
                self._budget = 0
                if not self._stall:
                    self._budget = None
                    self.cuts += 1
                    raise ConnectionAbortedError("cut by cut_after()")
                self._flowing.wait_for(lambda: self._budget != 0 or self._closed.is_set())
                if self._closed.is_set() or not any(dst in pair for pair in self._pairs):
                    raise ConnectionAbortedError("closed, or cut while stalled: what it held is lost")
        return data


def _close(*socks: socket.socket) -> None:
    for s in socks:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()
