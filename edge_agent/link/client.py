"""Build the paho-mqtt client of a box from its config: MQTT v5, credentials, TLS."""

from __future__ import annotations

import ssl
import typing

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import vigie_wire as wire
from vigie_config.errors import ConfigError
from vigie_config.link import MqttConfig


def read_secret(cfg: MqttConfig) -> str | None:
    """The broker password from its file (first line), so it never sits in the box config."""
    if cfg.password_file is None:
        return None
    try:
        return cfg.password_file.read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError) as exc:
        raise ConfigError(f"mqtt.password_file: cannot read {cfg.password_file}: {exc}") from exc


def build_client(client_id: str, cfg: MqttConfig, inflight: int = 20) -> mqtt.Client:
    """A v5 client with the callback API v2; no network activity yet."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
    )
    if cfg.username is not None:
        client.username_pw_set(cfg.username, read_secret(cfg))
    if cfg.tls is not None:
        try:
            client.tls_set(
                ca_certs=str(cfg.tls.ca_file),
                certfile=str(cfg.tls.cert_file) if cfg.tls.cert_file else None,
                keyfile=str(cfg.tls.key_file) if cfg.tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"mqtt.tls: {exc}") from exc
        client.tls_insecure_set(cfg.tls.insecure_hostname)
    # paho keeps the MQTT window; the link bounds what it hands over, so paho never refuses.
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    return client


class _PackedOnce(Properties):
    """Properties that never change, packed once: paho packs the properties of every publish, which costs more
    than the rest of the publish call for a one-event message (about 70 µs on the reference machine)."""

    def __init__(self, packet_type: int, content: str) -> None:
        super().__init__(packet_type)  # type: ignore[no-untyped-call]
        self.ContentType = content
        packed = super().pack()  # type: ignore[no-untyped-call]
        object.__setattr__(self, "packed", packed)  # Properties refuses other attribute names

    def pack(self) -> bytes:
        return typing.cast(bytes, self.__dict__["packed"])


def content_type(packet_type: int = PacketTypes.PUBLISH) -> Properties:
    """MQTT v5 properties of a publish (or, with ``PacketTypes.WILLMESSAGE``, of the will): the content type.

    Built once per kind of packet and reused: paho only reads them when it writes a packet.
    """
    return _PackedOnce(packet_type, wire.CONTENT_TYPE)
