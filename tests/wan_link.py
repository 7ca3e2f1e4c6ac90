"""A TCP relay on the loopback standing for the wide-area link between a district broker and the centre.

A bridge's outage in the field is rarely a broker crash: it is the link between two sites going down while both
brokers keep running. :class:`WanLink` relays connections to a target port until :meth:`WanLink.cut` closes them
all and refuses new ones; :meth:`WanLink.restore` lets them through again.
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

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self._closed.set()
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
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._pairs = [p for p in self._pairs if src not in p]
        _close(src, dst)


def _close(*socks: socket.socket) -> None:
    for s in socks:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()
