"""Config sections of the MQTT link: broker, credentials, TLS, outbox and batching."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsConfig(_Section):
    """TLS towards the broker. ``ca_file`` pins the authority; client cert/key are optional."""

    ca_file: Path = Field(description="PEM file of the certificate authority that signed the broker's certificate.")
    cert_file: Path | None = Field(
        None, description="PEM client certificate, for brokers that authenticate boxes by certificate."
    )
    key_file: Path | None = Field(None, description="PEM private key of ``cert_file``; the two go together.")
    insecure_hostname: bool = Field(
        False, description="Lab set-ups only: skip host-name verification (the chain is still checked)."
    )

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class MqttConfig(_Section):
    """How the box reaches the broker. The password is read from a file, never inlined."""

    host: str = Field("127.0.0.1", description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 for TLS by convention).")
    username: str | None = Field(
        None, description="MQTT user name; the broker's ACL grants this user the box's own topics only."
    )
    password_file: Path | None = Field(
        None, description="File holding the MQTT password (first line); never inline a password. Needs username."
    )
    tls: TlsConfig | None = Field(None, description="TLS towards the broker; absent: plain TCP (lab only).")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive: how fast a dead link is noticed.")
    session_expiry_s: int = Field(
        3600, ge=0, le=7 * 24 * 3600,
        description="How long the broker keeps this box's session (queued commands) while it is away.",
    )
    reconnect_min_s: float = Field(0.5, gt=0, le=60, description="Shortest reconnect delay (exponential back-off).")
    reconnect_max_s: float = Field(
        30.0, gt=0, le=3600, description="Longest reconnect delay; at least reconnect_min_s."
    )

    @model_validator(mode="after")
    def _auth(self) -> MqttConfig:
        if self.password_file is not None and self.username is None:
            raise ValueError("password_file needs a username")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self


class OutboxConfig(_Section):
    """The durable queue every event passes through (see :mod:`edge_agent.link.outbox`)."""

    path: Path = Field(
        Path("/var/lib/vigie/outbox.sqlite3"), description="SQLite file of the outbox (WAL); give an absolute path."
    )
    max_events: int = Field(
        1_000_000, ge=1, le=100_000_000,
        description="Bound of the outbox; beyond it the oldest events are dropped and counted in telemetry.",
    )
    synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL", description="SQLite durability: FULL also survives a power cut, at some write cost."
    )


class BatchConfig(_Section):
    """How events are grouped into messages, and how many messages may be unacknowledged.

    ``inflight`` is the MQTT window: messages on the wire awaiting PUBACK. ``queued`` bounds
    the messages handed to the MQTT client (window included), so that memory stays bounded
    and the outbox, not RAM, holds the backlog.
    """

    window_ms: int = Field(100, ge=0, le=10_000, description="A batch closes this many milliseconds after it opens.")
    max_events: int = Field(500, ge=1, le=1000, description="A batch closes when it holds this many events.")
    inflight: int = Field(20, ge=1, le=1000, description="MQTT window: messages on the wire awaiting PUBACK.")
    queued: int = Field(
        200, ge=1, le=10_000, description="Messages handed to the MQTT client at once (window included)."
    )
