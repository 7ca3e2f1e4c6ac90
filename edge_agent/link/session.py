"""The MQTT link of a box: birth/death, ordered QoS 1 delivery from the outbox, commands.

Threads (named, so ``py-spy``/``top -H`` show who does what):

* ``vigie-link-io`` owns the socket and the send order: connects with exponential back-off
  and jitter (tenacity), publishes the birth on every CONNACK, reads the outbox in order
  (rows of producers in this process and in others, woken by a datagram: see :mod:`.outbox`),
  closes batches (``batch.window_ms``), hands at most ``batch.queued`` messages to paho
  (which keeps ``batch.inflight`` on the wire), deletes rows once acked. It runs paho as an
  external event loop (``loop_read``/``loop_write``/``loop_misc`` on its own ``poll``), so
  only this thread ever writes to the socket and no lock is contended on the hot path.
* ``vigie-link-cmd`` decodes commands and runs the command handler, then acknowledges.

paho callbacks only record facts and enqueue; every decision is taken in these threads.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from tenacity import Retrying, retry_if_exception_type, wait_exponential_jitter

import vigie_wire as wire
from vigie_config.box import BoxConfig

from ..errors import OutboxError
from .client import build_client, content_type
from .commands import CommandHandler, CommandInbox
from .feed import RowFeed
from .outbox import Outbox, wake_address
from .producer import pack_bodies

#: Every payload says it is MessagePack (MQTT v5 content type), the will too.
_PUBLISH = content_type()
_WILL = content_type(PacketTypes.WILLMESSAGE)

log = logging.getLogger("vigie.link")

FIRMWARE = "vigie-edge/0.1.0"
_CONNACK_TIMEOUT_S = 10.0
#: Acknowledged rows are deleted in groups: fewer transactions; a crash only causes re-sends.
_DELETE_EVERY = 512
_DELETE_AFTER_S = 0.05
#: Pending deletions at which the sender waits for the write lock rather than retrying later.
_DELETE_WAIT_AT = 20 * _DELETE_EVERY
#: Messages handed to paho per io-loop turn, at most (then the socket is serviced).
_MESSAGES_PER_TURN = 64



class ConnectRefusedError(ConnectionError):
    """The broker answered CONNACK with a failure (bad credentials, not authorised...)."""


@dataclass
class LinkStats:
    """Counters reported in telemetry under ``link.*``."""

    events_emitted: int = 0
    events_acked: int = 0
    messages_sent: int = 0
    connects: int = 0
    disconnects: int = 0
    refused: int = 0
    snapshots_sent: int = 0
    snapshots_dropped: int = 0
    last_error: str = ""
    by_reason: dict[str, int] = field(default_factory=dict)


class Link:
    """Reliable, ordered event delivery for one box (see module docstring).

    ``idle_wait_s``: how long the io thread sleeps with nothing to send before it looks at the outbox again (an
    append in this process, another process's wake datagram, or the broker's traffic wake it sooner). A process
    hosting hundreds of boxes (the city simulation) raises it, and the command thread's, to spare idle wake-ups.
    """

    idle_wait_s = 0.25

    def __init__(
        self,
        config: BoxConfig,
        outbox: Outbox,
        *,
        config_hash: str = "0" * 64,
        capabilities: Sequence[str] = (),
        groups: Sequence[str] = (),
        listen: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.stats = LinkStats()
        self._clock = clock
        self._caps = tuple(capabilities)
        self._groups = tuple(groups)
        self._listen = tuple(listen)
        self._config_hash = config_hash
        self._meta = meta
        self._dev = config.device_id
        self._topic = {k: wire.device_topic(config.site, self._dev, k) for k in wire.topics.DEVICE_KINDS}
        self._client = build_client(self._dev, config.mqtt, config.batch.inflight)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        # Registering a write callback tells paho an external loop writes: publish() from any
        # thread then only queues the packet and wakes us, instead of writing concurrently.
        self._client.on_socket_register_write = lambda *_: self._notify()

        self.boot = 0
        self._session_lock = threading.Lock()
        self._bd = 0
        self._seq = 0

        self._stop = threading.Event()
        # Producers wake the io thread's select() through this socket pair.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # Producers in other processes wake it through this datagram socket (bound at start).
        self._wake_ext: socket.socket | None = None
        self._io_sleeping = True
        self._seen_emits = 0  # the feed's append count at the last send step
        self._feed = RowFeed(outbox)
        self.connected = threading.Event()
        self._connack: tuple[bool, str] | None = None
        self._acks: queue.SimpleQueue[tuple[int, bool, str]] = queue.SimpleQueue()
        self._ack_lock = threading.Lock()
        self._inbox = CommandInbox(self.send_ack)
        self._inflight: dict[int, list[int]] = {}
        self._to_delete: list[int] = []
        self._deleted_at = time.monotonic()
        self._window_head = -1
        self._window_start = 0.0
        self._threads: list[threading.Thread] = []

    # -- public API --------------------------------------------------------------------
    def start(self) -> None:
        """Open a new boot, flag leftovers of past runs as historical, start the threads."""
        self.boot = self.outbox.next_boot()
        self._feed.start(self.boot)
        replay = self.outbox.mark_all_historical()
        if replay:
            log.info("%d events from a previous run will be replayed as historical", replay)
        self._wake_ext = _bind_wake(self.outbox.path)
        for name, target in (
            ("vigie-link-io", self._run_io),
            ("vigie-link-cmd", lambda: self._inbox.serve(self._stop)),
        ):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def set_listener(self, listener: Callable[[wire.Message], None]) -> None:
        """Receive the decoded messages of the ``listen`` subscriptions (in the command thread)."""
        self._inbox.listener = listener

    def set_idle_waits(self, io_s: float, commands_s: float) -> None:
        """Longer idle waits for the io and command threads (see the class docstring); the box answers as fast."""
        self.idle_wait_s = io_s
        self._inbox.poll_s = commands_s

    def set_command_handler(self, handler: CommandHandler) -> None:
        """Route decoded commands to ``handler``; its result is sent back as the ack."""
        self._inbox.handler = handler

    def emit(self, body: wire.Event, ts_ms: int | None = None) -> tuple[int, int]:
        """Durably queue one event; returns its id ``(boot, n)`` once it is on disk."""
        return self.emit_many([body], ts_ms)[0]

    def emit_many(self, bodies: Sequence[wire.Event], ts_ms: int | None = None) -> list[tuple[int, int]]:
        """Durably queue events in one transaction (cheaper for bursts)."""
        ts = int(self._clock() * 1000) if ts_ms is None else ts_ms
        rows = self._feed.append(ts, pack_bodies(bodies))
        self.stats.events_emitted += len(rows)
        self._notify()
        return [(r.boot, r.n) for r in rows]

    def publish_telemetry(self, metrics: dict[str, Any]) -> bool:
        """Send a telemetry map now (QoS 0, not stored: the next interval supersedes it)."""
        if not self.connected.is_set():
            return False
        with self._session_lock:
            msg = wire.Telemetry(self._header(), metrics)
        self._client.publish(self._topic[wire.Kind.TELEMETRY], wire.encode(msg), qos=0, properties=_PUBLISH)
        return True

    def publish_snapshot(self, cam: int, event_id: tuple[int, int], jpeg: bytes) -> bool:
        """Send a snapshot now (QoS 1). Never stored: while offline it is dropped and counted."""
        if not self.connected.is_set():
            self.stats.snapshots_dropped += 1
            return False
        boot, n = event_id
        with self._session_lock:
            msg = wire.Snapshot(self._header(), cam, boot, n, jpeg)
        self._client.publish(self._topic[wire.Kind.SNAPSHOT], wire.encode(msg), qos=1, properties=_PUBLISH)
        self.stats.snapshots_sent += 1
        return True

    def link_metrics(self) -> dict[str, Any]:
        """The link's own health, merged by the agent into its telemetry."""
        s = self.stats
        return {
            "link.connected": self.connected.is_set(),
            "link.bd": self._bd,
            "link.outbox_depth": len(self.outbox),
            "link.outbox_dropped": self.outbox.dropped_total,
            "link.outbox_rejected": self.outbox.rejected_total,
            "link.inflight": len(self._inflight),
            "link.events_emitted": self._appended(),
            "link.events_acked": s.events_acked,
            "link.messages_sent": s.messages_sent,
            "link.connects": s.connects,
            "link.disconnects": s.disconnects,
            "link.refused": s.refused,
            "link.commands": self._inbox.received,
            "link.commands_invalid": self._inbox.invalid,
            "link.commands_refused": self._inbox.rejects.by_kind(),
            "link.snapshots_sent": s.snapshots_sent,
            "link.snapshots_dropped": s.snapshots_dropped,
        }

    def _appended(self) -> int:
        """Events appended in this boot by every producer, in this process or another."""
        try:
            return self.outbox.appended(self.boot) if self.boot else 0
        except OutboxError:
            return self.stats.events_emitted

    def drained(self) -> bool:
        """True when every queued event, whoever appended it, has been acknowledged by the broker."""
        with self._ack_lock:
            if self._inflight:
                return False
            acked = list(self._to_delete)
        return self.outbox.holds_only(acked)

    def wait_drained(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.drained():
                return True
            time.sleep(0.01)
        return self.drained()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads; a connected link leaves with its will (the death) published."""
        self._stop.set()
        self._notify()
        self._inbox.wake()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()
        with self._ack_lock:
            self._flush_deletes(force=True)
        if self._wake_ext is not None:
            self._wake_ext.close()
            self._wake_ext = None

    # -- session state -----------------------------------------------------------------
    def _header(self) -> wire.Header:
        """Next header of the current session; caller holds ``_session_lock``."""
        h = wire.Header(wire.SCHEMA_VERSION, self._dev, self._bd, self._seq, int(self._clock() * 1000))
        self._seq += 1
        return h

    def _birth(self) -> wire.Birth:
        c = self.config
        return wire.Birth(self._header(), FIRMWARE, self._config_hash, self._caps, c.lat, c.lon)

    # -- paho callbacks: record and enqueue only -----------------------------------------
    def _on_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            self._connack = (False, str(rc))
            return
        with self._session_lock:
            self._seq = 0
            birth = self._birth()
            meta = wire.Meta(self._header(), self._config_hash, self._meta) if self._meta is not None else None
        client.publish(self._topic[wire.Kind.BIRTH], wire.encode(birth), qos=1, retain=True, properties=_PUBLISH)
        if meta is not None:  # right after the birth, retained: the site as the box's configuration describes it
            client.publish(self._topic[wire.Kind.META], wire.encode(meta), qos=1, retain=True, properties=_PUBLISH)
        subs = [(self._topic[wire.Kind.CMD], 1)]
        subs += [(wire.group_command_topic(self.config.site, g), 1) for g in self._groups]
        subs += [(topic, 1) for topic in self._listen]
        client.subscribe(subs)
        self._connack = (True, str(rc))

    def _on_disconnect(self, _c: mqtt.Client, _ud: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self.connected.clear()
        self.stats.last_error = str(rc)

    def _on_publish(self, _c: mqtt.Client, _ud: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        self._acks.put((mid, rc.is_failure, str(rc)))  # read by the io thread after this loop turn

    def _on_message(self, _c: mqtt.Client, _ud: Any, message: mqtt.MQTTMessage) -> None:
        self._inbox.put(message.topic, bytes(message.payload))

    # -- network thread ----------------------------------------------------------------
    def _notify(self) -> None:
        """Wake the io thread if it sleeps (never blocks: a full pipe already means 'awake')."""
        if not self._io_sleeping:
            return  # it is busy and will look at the outbox again before sleeping
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    def _run_io(self) -> None:
        cfg = self.config.mqtt
        while not self._stop.is_set():
            retrying = Retrying(
                retry=retry_if_exception_type((OSError, ConnectRefusedError)),
                wait=wait_exponential_jitter(
                    multiplier=cfg.reconnect_min_s, max=cfg.reconnect_max_s, jitter=cfg.reconnect_min_s
                ),
                sleep=self._sleep,
                stop=lambda _rs: self._stop.is_set(),
                before_sleep=self._log_retry,
                reraise=True,
            )
            try:
                retrying(self._connect)
            except (OSError, ConnectRefusedError):
                break  # only reached when stopping
            self._serve()
        self.connected.clear()

    def _sleep(self, seconds: float) -> None:
        """Back-off sleep that a stop request cuts short."""
        self._stop.wait(seconds)

    def _log_retry(self, rs: Any) -> None:
        exc = rs.outcome.exception() if rs.outcome else None
        self.stats.last_error = str(exc)
        level = logging.WARNING if rs.attempt_number in (1, 10) or rs.attempt_number % 100 == 0 else logging.DEBUG
        log.log(level, "broker %s:%d unreachable (attempt %d): %s; retrying in %.1fs",
                self.config.mqtt.host, self.config.mqtt.port, rs.attempt_number, exc,
                rs.next_action.sleep if rs.next_action else 0)

    def _connect(self) -> None:
        if self._stop.is_set():
            return
        cfg = self.config.mqtt
        with self._session_lock:
            self._bd = self.outbox.next_bdseq()
            death = wire.Death(wire.Header(wire.SCHEMA_VERSION, self._dev, self._bd, 0, int(self._clock() * 1000)))
        self._client.will_set(self._topic[wire.Kind.DEATH], wire.encode(death), qos=1, retain=True,
                             properties=_WILL)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = cfg.session_expiry_s
        self._connack = None
        self._client.connect(cfg.host, cfg.port, cfg.keepalive_s, clean_start=False, properties=props)
        deadline = time.monotonic() + _CONNACK_TIMEOUT_S
        while self._connack is None:
            rc = self._pump(0.1)
            if rc != mqtt.MQTT_ERR_SUCCESS and self._connack is None:
                raise ConnectionError(f"connection lost before CONNACK ({mqtt.error_string(rc)})")
            if time.monotonic() > deadline:
                raise TimeoutError("no CONNACK within 10 s")
        ok, reason = self._connack
        if not ok:
            self.stats.refused += 1
            self.stats.last_error = f"refused: {reason}"
            raise ConnectRefusedError(f"broker refused the connection: {reason}")
        self.stats.connects += 1
        log.info("connected to %s:%d as %s (bdSeq %d)", cfg.host, cfg.port, self._dev, self._bd)

    def _serve(self) -> None:
        # paho re-sent unacknowledged messages right after on_connect, during the CONNACK
        # handling in _connect; only now may newer ones go out, or per-device order breaks.
        self.connected.set()
        self._set_live(True)
        while not self._stop.is_set():
            wait = self._send_step()
            rc = self._pump(wait)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                break
        was_up = self.connected.is_set()
        self.connected.clear()
        self._set_live(False)
        if self._stop.is_set() and was_up:
            self._leave()
        else:
            self.stats.disconnects += 1
            log.warning("link to broker lost: %s", self.stats.last_error or "connection closed")

    def _set_live(self, live: bool) -> None:
        """Tell every producer, through the outbox, whether new events are live or historical."""
        try:
            self.outbox.set_live(self.boot, live)
        except OutboxError as exc:
            log.error("cannot record the link state in the outbox: %s", exc)

    def _leave(self) -> None:
        """Clean exit: DISCONNECT with reason 0x04 makes the broker publish our death."""
        deadline = time.monotonic() + 2.0
        while self._inflight and time.monotonic() < deadline:  # let pending PUBACKs land
            self._pump(0.05)
            self._drain_acks()
        with self._ack_lock:
            self._flush_deletes(force=True)
        self._client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=4))
        self._pump(0.1)

    def _pump(self, timeout: float) -> MQTTErrorCode:
        """One turn of paho's external event loop, waiting at most ``timeout`` seconds."""
        client = self._client
        sock = client.socket()
        if sock is None:
            return mqtt.MQTT_ERR_NO_CONN
        if client.want_write():
            rc = client.loop_write()  # usually completes at once; select only if it could not
            if rc != mqtt.MQTT_ERR_SUCCESS:
                return rc
        pending = sock.pending() if hasattr(sock, "pending") else 0  # TLS bytes already decrypted
        wlist = [sock] if client.want_write() else []
        if pending or timeout <= 0:
            timeout = 0.0
        else:
            # Announce the sleep, then look once more: an emit between the two is not missed.
            self._io_sleeping = True
            if self._has_work():
                timeout = 0.0
        wakers = [self._wake_r] if self._wake_ext is None else [self._wake_r, self._wake_ext]
        try:
            readable, writable = _wait([sock, *wakers], wlist, timeout)
        except (OSError, ValueError, TypeError):
            return mqtt.MQTT_ERR_CONN_LOST
        finally:
            self._io_sleeping = False
        for waker in wakers:
            if waker in readable:  # emptied before the next outbox read: a later append wakes us again
                with contextlib.suppress(OSError):
                    while waker.recv(4096):
                        pass
        if sock in readable or pending:
            rc = client.loop_read()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                return rc
        if sock in writable:
            rc = client.loop_write()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                return rc
        return client.loop_misc()

    def _has_work(self) -> bool:
        """Events were emitted since the last send step (checked just before sleeping)."""
        return self._feed.appends != self._seen_emits

    # -- sending -------------------------------------------------------------------------

    def _drain_acks(self) -> None:
        with self._ack_lock:
            self._drain_acks_locked()

    def _drain_acks_locked(self) -> None:
        done: list[int] = []
        while True:
            try:
                mid, failed, reason = self._acks.get_nowait()
            except queue.Empty:
                break
            ids = self._inflight.pop(mid, None)
            if ids is None:
                continue  # birth, telemetry or ack messages
            if failed:
                self.outbox.reject(ids, reason)
                self.stats.by_reason[reason] = self.stats.by_reason.get(reason, 0) + len(ids)
                log.error("broker refused %d events: %s (kept in the outbox's rejected table)", len(ids), reason)
            else:
                done.extend(ids)
        if done:
            self._to_delete.extend(done)
            self.stats.events_acked += len(done)
        self._flush_deletes(force=False)

    def _flush_deletes(self, force: bool) -> None:
        due = len(self._to_delete) >= _DELETE_EVERY or time.monotonic() - self._deleted_at > _DELETE_AFTER_S
        if self._to_delete and (force or due):
            # Never wait for another process's commit while messages could be going out; wait only
            # when idle, stopping, or when the pending deletions grow large.
            wait = force or len(self._to_delete) >= _DELETE_WAIT_AT
            if self.outbox.acknowledge(self._to_delete, wait=wait):
                self._to_delete = []
                self._deleted_at = time.monotonic()

    def _send_step(self) -> float:
        """Hand paho as many messages as allowed; returns how long the io loop may then wait.

        Several messages per turn let paho send the next queued one as soon as a PUBACK frees
        the window, inside the same read, instead of one select() round trip per message.
        """
        self._seen_emits = self._feed.appends
        self._drain_acks()
        for _ in range(_MESSAGES_PER_TURN):
            wait = self._send_one()
            if wait > 0:
                return wait
        return 0.0

    def _send_one(self) -> float:
        """Publish the next batch if one is due; returns 0, or how long until one may be."""
        if not self.connected.is_set() or len(self._inflight) >= self.config.batch.queued:
            return self.idle_wait_s
        batch = self.config.batch
        rows = self._feed.next_rows(batch.max_events)
        if not rows:
            with self._ack_lock:
                self._flush_deletes(force=True)
            return self.idle_wait_s
        if len(rows) < batch.max_events and batch.window_ms > 0:
            if rows[0].id != self._window_head:
                self._window_head, self._window_start = rows[0].id, time.monotonic()
            left = batch.window_ms / 1000 - (time.monotonic() - self._window_start)
            if left > 0:
                return left
        first = rows[0]
        rows = [r for r in _prefix(rows, lambda r: (r.boot, r.hist) == (first.boot, first.hist))]
        with self._session_lock:
            header = self._header()
        packed = [wire.PackedEvent(r.n, r.ts, r.items, r.blob) for r in rows]
        while True:
            try:
                payload = wire.encode_batch(header, first.boot, first.hist, packed)
                break
            except wire.WireError:  # too large for one message: halve it
                if len(packed) == 1:
                    self.outbox.reject([rows[0].id], "event larger than a message")
                    self._feed.cursor = rows[0].id
                    return 0
                packed = packed[: len(packed) // 2]
        rows = rows[: len(packed)]
        info = self._client.publish(self._topic[wire.Kind.EVENT], payload, qos=1, properties=_PUBLISH)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("publish refused by the client library: %s", mqtt.error_string(info.rc))
            return 0.1
        # NO_CONN: paho keeps QoS 1 messages and sends them on reconnect, in order.
        self._inflight[info.mid] = [r.id for r in rows]
        self._feed.cursor = rows[-1].id
        self.stats.messages_sent += 1
        return 0

    # -- command thread ----------------------------------------------------------------
    @property
    def commands_invalid(self) -> int:
        """Commands that could not be read (bad payload, full queue): counted, not acknowledged."""
        return self._inbox.invalid

    def send_ack(self, cmd: wire.Command, result: str, detail: str = "", applied: dict[str, Any] | None = None) -> None:
        """Acknowledge ``cmd`` with its outcome (QoS 1; queued by paho while offline)."""
        with self._session_lock:
            ack = wire.CommandAck(self._header(), cmd.cmd_id, result, detail[:512], applied or {})
        self._client.publish(self._topic[wire.Kind.ACK], wire.encode(ack), qos=1, properties=_PUBLISH)


def _wait(rlist: Sequence[Any], wlist: Sequence[Any], timeout: float) -> tuple[list[Any], list[Any]]:
    """``select()`` over ``poll()``: the same answer, for any descriptor number.

    ``select()`` refuses descriptors past ``FD_SETSIZE`` (1024), which a process reaches when it holds hundreds of
    links (the city simulation) or many files besides its link; ``poll()`` has no such bound.
    """
    poller = select.poll()
    by_fd: dict[int, Any] = {}
    for obj in rlist:
        by_fd[obj.fileno()] = obj
        poller.register(obj, select.POLLIN)
    for obj in wlist:
        fd = obj.fileno()
        by_fd[fd] = obj
        poller.register(obj, select.POLLOUT | (select.POLLIN if obj in rlist else 0))
    readable: list[Any] = []
    writable: list[Any] = []
    for fd, mask in poller.poll(max(0, int(timeout * 1000 + 0.999))):
        obj = by_fd[fd]
        if mask & select.POLLNVAL:
            raise OSError(f"descriptor {fd} is not open")
        if mask & (select.POLLIN | select.POLLHUP | select.POLLERR) and obj in rlist:
            readable.append(obj)  # a hung-up or failed socket reads as closed, as select() reports it
        if mask & (select.POLLOUT | select.POLLERR) and obj in wlist:
            writable.append(obj)
    return readable, writable


def _bind_wake(path: Path) -> socket.socket | None:
    """The datagram socket producers of other processes wake the io thread with, if available.

    A second link on the same outbox (a misconfiguration) cannot bind it; it then finds
    other processes' rows by its periodic look at the file only.
    """
    address = wake_address(path)
    if address is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        # A small buffer: a few pending datagrams already mean "awake"; writers then get EAGAIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.bind(address)
    except OSError as exc:
        log.warning("outbox wake socket unavailable (%s): other processes' events are polled", exc)
        sock.close()
        return None
    sock.setblocking(False)
    return sock


def _prefix(rows: Sequence[Any], same: Callable[[Any], bool]) -> list[Any]:
    out = []
    for r in rows:
        if not same(r):
            break
        out.append(r)
    return out
