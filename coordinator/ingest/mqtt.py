"""The ingest worker's MQTT client: persistent v5 session, shared subscriptions, manual acks.

* **Persistent session** (``clean_start=False``, a session expiry, a fixed client id): while a
  worker restarts, the broker queues its share of the messages and keeps the ones it sent
  but never saw acknowledged; it sends them all again when the worker is back.
* **Shared subscriptions** (``$share/<group>/vigie/v1/+/+/<kind>``): workers of one group split
  the messages between them. Retained births and deaths reach a new subscription only, thanks
  to ``retainHandling=1``, and are idempotent anyway.
* **Manual acknowledgement** (``manual_ack=True``): paho sends no PUBACK by itself; the worker
  calls :meth:`IngestClient.ack` after its batch committed. A worker killed mid-batch has
  acknowledged nothing of it, so the broker redelivers it. ``Receive Maximum`` bounds what
  the broker sends unacknowledged, hence the memory the queue can take.

The paho callback only puts bytes in the worker's inbox (QoS 0 telemetry that finds it full
is dropped and counted: the next interval supersedes it; QoS 1 messages cannot overflow it
since the broker stops at Receive Maximum).
"""

from __future__ import annotations

import logging
import ssl
import struct
import threading
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

import vigie_wire as wire

from .config import IngestSettings
from .decode import INGESTED, Inbound
from .inbox import Inbox

log = logging.getLogger("vigie.ingest.mqtt")
_PUBACK = struct.Struct("!BBH")


def subscriptions(group: str) -> list[str]:
    """Shared subscription filters of an ingest group, one per ingested kind."""
    return [f"$share/{group}/{wire.subscription(kind)}" for kind in INGESTED]


class IngestClient:
    """paho in its own network thread; the worker reads :attr:`inbox` and calls :meth:`ack`."""

    def __init__(self, s: IngestSettings, inbox: Inbox[Inbound], on_overflow: Callable[[], None]) -> None:
        self.settings = s
        self.inbox = inbox
        self._on_overflow = on_overflow
        self.generation = 0
        self._gen_lock = threading.Lock()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        c = self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=s.client_id,
                                      protocol=mqtt.MQTTv5, manual_ack=True)
        if s.mqtt_username:
            c.username_pw_set(s.mqtt_username, s.mqtt_password)
        if s.mqtt_tls_ca:
            c.tls_set(ca_certs=s.mqtt_tls_ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.reconnect_delay_set(1, 5)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_subscribe = lambda *_: self.subscribed.set()
        c.on_message = self._on_message
        self._queue_packet: Callable[[int, bytes, int, int], Any] | None = getattr(c, "_packet_queue", None)
        if self._queue_packet is None:
            log.warning("this paho-mqtt has no packet queue to batch PUBACKs in: one ack() per message")

    def start(self) -> None:
        s = self.settings
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = s.session_expiry_s
        props.ReceiveMaximum = max(1, min(s.receive_maximum, 65535))
        self.client.connect_async(s.mqtt_host, s.mqtt_port, s.keepalive_s, clean_start=False, properties=props)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho thread: record and enqueue only ------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _ud: Any, flags: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the connection: %s", rc)
            return
        with self._gen_lock:
            # Acks of messages received on an earlier connection are not sent on this one: the
            # broker sends those messages again, and they are acknowledged then.
            self.generation += 1
        opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe([(f, opts) for f in subscriptions(self.settings.share_group)])
        log.info("connected as %s (session %s)", self.settings.client_id,
                 "resumed" if flags.session_present else "new")
        self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _ud: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self.connected.clear()
        log.warning("disconnected from the broker: %s", rc)

    def _on_message(self, _c: mqtt.Client, _ud: Any, m: mqtt.MQTTMessage) -> None:
        payload = m.payload if isinstance(m.payload, bytes) else bytes(m.payload)
        item = Inbound(m.topic, payload, m.mid, m.qos, bool(m.retain), self.generation)
        if not self.inbox.put(item, droppable=m.qos == 0):
            self._on_overflow()

    # -- worker thread ------------------------------------------------------------------------
    def ack(self, items: Sequence[Inbound]) -> int:
        """PUBACK ``items`` (in arrival order, as MQTT requires) that came on the current connection.

        A batch's PUBACKs go out as one write: paho's ``ack()`` queues one packet per message,
        each waking the network thread and costing it a ``send``, which took as much of the
        receiving process's time as a fifth of the messages' own reception. The bytes are the
        ones ``ack()`` would queue (MQTT 5 §3.4.2.1: success and no properties, remaining length
        2), handed to paho's own packet queue, so they are written by its network thread in order
        with everything else. Should a paho release drop that queue, ``ack()`` is used instead.
        """
        with self._gen_lock:
            gen = self.generation
            mids = [it.mid for it in items if it.qos == 1 and it.generation == gen]
            if not mids:
                return 0
            if self._queue_packet is not None:
                self._queue_packet(PUBACK, b"".join([_PUBACK.pack(PUBACK, 2, mid) for mid in mids]), 0, 0)
            else:
                for mid in mids:
                    self.client.ack(mid, 1)
        return len(mids)
