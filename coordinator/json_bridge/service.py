"""The bridge's MQTT session: read the contract's topics, republish each message as keyed JSON, then acknowledge.

* **Persistent session** (fixed client id, ``clean_start=False``, a session expiry) with QoS 1 subscriptions:
  while the bridge is down the broker queues what it has not seen, as it does for an ingest worker.
* **Acknowledged after republishing**: paho sends no PUBACK by itself (``manual_ack``); a received message is
  acknowledged once the broker has acknowledged its JSON copy, and acknowledgements leave in arrival order (MQTT
  5 §4.6). A bridge killed in between has acknowledged nothing: the broker sends the message again, so a JSON
  reader may see a copy twice (``dev``, ``bd``, ``seq`` and events' ``n`` tell), never miss one.
* The paho callback only enqueues; the named worker thread decodes and publishes. A message that does not
  decode is counted by reason in :attr:`Bridge.rejects` (and logged without flooding), acknowledged, and
  dropped: the JSON side only ever carries what the contract accepts.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

import vigie_wire as wire
from vigie_wire.rejects import RejectLog

from .keyed import CONTENT_TYPE, subscriptions, to_json

log = logging.getLogger("vigie.bridge")


@dataclass(frozen=True)
class BridgeSettings:
    """Where the bridge connects and as whom; its client id is fixed so that its session survives restarts."""

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    username: str | None = None
    password: str | None = None
    tls_ca: str | None = None
    client_id: str = "vigie-bridge"
    session_expiry_s: int = 7 * 24 * 3600
    receive_maximum: int = 1000
    keepalive_s: int = 30

    @classmethod
    def from_config(cls, c: dict[str, Any]) -> BridgeSettings:
        """From the coordinator's settings (``VIGIE_*``): the broker's, the bridge's own ``BRIDGE_*`` account."""
        return cls(
            mqtt_host=str(c["MQTT_HOST"]), mqtt_port=int(c["MQTT_PORT"]),
            username=c.get("BRIDGE_MQTT_USERNAME"), password=c.get("BRIDGE_MQTT_PASSWORD"),
            tls_ca=c.get("MQTT_TLS_CA"), client_id=str(c.get("BRIDGE_CLIENT_ID", "vigie-bridge")),
            session_expiry_s=int(c.get("BRIDGE_SESSION_EXPIRY_S", 7 * 24 * 3600)),
            receive_maximum=int(c.get("BRIDGE_RECEIVE_MAXIMUM", 1000)),
            keepalive_s=int(c.get("MQTT_KEEPALIVE_S", 30)),
        )


@dataclass
class _Pending:
    """A received message: its id and QoS, and whether its JSON copy is done (acknowledged, or nothing to send)."""

    mid: int
    qos: int
    done: bool = False


class Bridge:
    """One bridge process's session; :meth:`start`, then :meth:`stop`.

    Every paho callback only puts a record on the worker's queue; the worker alone keeps the arrival order and the
    map of JSON copies in flight, and alone calls paho (publish, ack). No lock is shared with paho's own, which
    paho holds while it runs a callback.
    """

    def __init__(self, settings: BridgeSettings) -> None:
        self.settings = settings
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.rejects = RejectLog(log, "bridged messages")
        #: JSON copies the broker acknowledged.
        self.published = 0
        self._inbox: queue.Queue[tuple[Any, ...] | None] = queue.Queue()
        self._net_generation = 0  # paho's thread: connections so far
        self._generation = 0  # the worker's: the connection its state is about
        self._order: deque[_Pending] = deque()
        self._by_out_mid: dict[int, _Pending] = {}
        self._props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        self._props.ContentType = CONTENT_TYPE
        c = self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                      client_id=settings.client_id, protocol=mqtt.MQTTv5, manual_ack=True)
        if settings.username:
            c.username_pw_set(settings.username, settings.password)
        if settings.tls_ca:
            c.tls_set(ca_certs=settings.tls_ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.reconnect_delay_set(1, 5)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_subscribe = lambda *_: self.subscribed.set()
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        self._worker = threading.Thread(target=self._run, name="vigie-bridge", daemon=True)

    def start(self) -> None:
        s = self.settings
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = s.session_expiry_s
        props.ReceiveMaximum = max(1, min(s.receive_maximum, 65535))
        self.client.max_inflight_messages_set(max(20, min(s.receive_maximum, 65535)))
        self._worker.start()
        self.client.connect_async(s.mqtt_host, s.mqtt_port, s.keepalive_s, clean_start=False, properties=props)
        self.client.loop_start()

    def stop(self, drain_s: float = 2.0) -> None:
        """Leave once the copies in flight are acknowledged (at most ``drain_s``): what is left is sent again."""
        deadline = time.monotonic() + drain_s
        while (self._order or not self._inbox.empty()) and self.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._inbox.put(None)
        self._worker.join(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho thread: enqueue only --------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _ud: Any, flags: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the bridge's connection: %s", rc)
            return
        self._net_generation += 1
        self._inbox.put(("connect", self._net_generation))
        opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe([(f, opts) for f in subscriptions()])
        log.info("bridge connected as %s (session %s)", self.settings.client_id,
                 "resumed" if flags.session_present else "new")
        self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _ud: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self.connected.clear()
        log.warning("bridge disconnected from the broker: %s", rc)

    def _on_message(self, _c: mqtt.Client, _ud: Any, m: mqtt.MQTTMessage) -> None:
        payload = m.payload if isinstance(m.payload, bytes) else bytes(m.payload)
        self._inbox.put(("message", m.topic, payload, bool(m.retain), m.mid, m.qos, self._net_generation))

    def _on_publish(self, _c: mqtt.Client, _ud: Any, mid: int, _rc: ReasonCode, _p: Any) -> None:
        self._inbox.put(("puback", mid))

    # -- worker thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while (item := self._inbox.get()) is not None:
            if item[0] == "connect":
                # Messages of an earlier connection are sent again by the broker: they are acknowledged then.
                self._generation = item[1]
                self._order.clear()
                self._by_out_mid.clear()
            elif item[0] == "puback":
                pending = self._by_out_mid.pop(item[1], None)
                if pending is not None:
                    pending.done = True
                    self.published += 1
                    self._ack_ready()
            else:
                _, topic, payload, retain, mid, qos, generation = item
                if generation != self._generation:
                    continue  # received on a closed connection: the broker sends it again
                pending = _Pending(mid, qos)
                self._order.append(pending)
                out = self._convert(topic, payload, retain)
                if out is None:
                    pending.done = True
                    self._ack_ready()
                    continue
                info = self.client.publish(out[0], out[1], qos=1, retain=out[2], properties=self._props)
                if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):  # queued while offline: sent later
                    log.error("bridge publish refused by the client: %s", mqtt.error_string(info.rc))
                self._by_out_mid[info.mid] = pending

    def _convert(self, topic: str, payload: bytes, retain: bool) -> tuple[str, bytes, bool] | None:
        try:
            return to_json(topic, wire.decode(topic, payload), retain)
        except wire.WireError as exc:
            self.rejects.note(exc.reason, f"{topic}: {exc}")
            return None

    def _ack_ready(self) -> None:
        """Acknowledge the done prefix of the arrival order (MQTT wants PUBACKs in arrival order)."""
        while self._order and self._order[0].done:
            done = self._order.popleft()
            if done.qos > 0:
                self.client.ack(done.mid, done.qos)
