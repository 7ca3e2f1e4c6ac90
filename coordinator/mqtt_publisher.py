"""The coordinator's MQTT publisher: one paho client, connected on first use, QoS 1, waiting for the PUBACK.

The API stores a command before publishing it, so a broker that cannot be reached costs nothing but a delay: the
command stays pending and the periodic job publishes it again. Hence a publish never raises, it says whether the
broker took the message; and it never blocks a request for long (``timeout_s``).

paho's network loop runs in its own thread (``loop_start``); reconnecting after a drop is left to the next publish,
which also retries the connection: a web worker that publishes once an hour needs no permanent session.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

import vigie_wire as wire

log = logging.getLogger("vigie.publisher")


def content_type(packet_type: int = PacketTypes.PUBLISH) -> Properties:
    """MQTT v5 properties of a publish (or, with ``PacketTypes.WILLMESSAGE``, of a will): the content type.

    Every Vigie payload says it is MessagePack, so generic consumers need not know the topic layout.
    """
    props = Properties(packet_type)  # type: ignore[no-untyped-call]
    props.ContentType = wire.CONTENT_TYPE
    return props


_PUBLISH = content_type()


@dataclass(frozen=True)
class PublisherSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "coordinator-pub"
    username: str | None = None
    password: str | None = None
    tls_ca: str | None = None
    timeout_s: float = 3.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any], role: str = "pub") -> PublisherSettings:
        """From the app's ``MQTT_*`` keys; the client id is ``<COORDINATOR_ID>-<role>-<random>``.

        A random suffix because several processes publish (web workers, the job runner): two clients with one id
        would take turns disconnecting each other.
        """
        return cls(
            host=str(config.get("MQTT_HOST", "127.0.0.1")), port=int(config.get("MQTT_PORT", 1883)),
            client_id=f"{config.get('COORDINATOR_ID', 'coordinator')}-{role}-{secrets.token_hex(3)}",
            username=config.get("MQTT_USERNAME"), password=config.get("MQTT_PASSWORD"),
            tls_ca=config.get("MQTT_TLS_CA"), timeout_s=float(config.get("MQTT_PUBLISH_TIMEOUT_S", 3.0)),
        )


class Publisher:
    """Publishes payloads at QoS 1; thread-safe; see the module docstring."""

    def __init__(self, settings: PublisherSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._refused = ""
        self._reasons: dict[int, ReasonCode] = {}
        self._seq = itertools.count()

    def next_seq(self) -> int:
        """Message number for the header of the next command this publisher sends."""
        return next(self._seq)

    def publish(self, topic: str, payload: bytes) -> str | None:
        """Publish and wait for the broker's PUBACK; ``None`` on success, else why it failed (never raises)."""
        with self._lock:
            try:
                client = self._ensure_connected()
                info = client.publish(topic, payload, qos=1, properties=_PUBLISH)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    return f"publish refused: {mqtt.error_string(info.rc)}"
                info.wait_for_publish(self.settings.timeout_s)
                if not info.is_published():
                    return f"no PUBACK within {self.settings.timeout_s} s"
                rc = self._reasons.pop(info.mid, None)
                if rc is not None and rc.is_failure:
                    return f"broker refused: {rc}"
                return None
            except (OSError, RuntimeError, ValueError, ConnectionError) as exc:
                self._drop()
                return f"{type(exc).__name__}: {exc}"[:200]

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- internals -------------------------------------------------------------------------------
    def _ensure_connected(self) -> mqtt.Client:
        if self._client is not None and self._connected.is_set():
            return self._client
        self._drop()
        s = self.settings
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=s.client_id,
                             protocol=mqtt.MQTTv5)
        if s.username:
            client.username_pw_set(s.username, s.password)
        if s.tls_ca:
            client.tls_set(ca_certs=s.tls_ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._refused = ""
        self._client = client
        client.connect(s.host, s.port, keepalive=30)  # raises OSError when nothing listens
        client.loop_start()
        deadline = time.monotonic() + s.timeout_s
        while not self._connected.wait(0.02):
            if self._refused or time.monotonic() > deadline:
                raise ConnectionError(self._refused or f"no CONNACK from {s.host}:{s.port} within {s.timeout_s} s")
        return client

    def _drop(self) -> None:
        client, self._client = self._client, None
        self._connected.clear()
        if client is not None:
            try:
                client.disconnect()
            finally:
                client.loop_stop()

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            self._refused = f"connection refused: {rc}"
            return
        self._connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self._connected.clear()
        if rc.is_failure:
            log.info("publisher disconnected: %s", rc)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        self._reasons[mid] = rc
