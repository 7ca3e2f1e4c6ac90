"""Config sections of the MQTT link: broker, credentials, TLS, outbox and batching."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsConfig(_Section):
    """TLS towards the broker. ``ca_file`` pins the authority; client cert/key are optional."""

    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None
    #: Only for lab set-ups: skips host-name verification (the chain is still checked).
    insecure_hostname: bool = False

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class MqttConfig(_Section):
    """How the box reaches the broker. The password is read from a file, never inlined."""

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password_file: Path | None = None
    tls: TlsConfig | None = None
    keepalive_s: int = Field(30, ge=5, le=3600)
    #: How long the broker keeps this box's session (queued commands) while it is away.
    session_expiry_s: int = Field(3600, ge=0, le=7 * 24 * 3600)
    #: Reconnect back-off: exponential with jitter between these bounds.
    reconnect_min_s: float = Field(0.5, gt=0, le=60)
    reconnect_max_s: float = Field(30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _auth(self) -> MqttConfig:
        if self.password_file is not None and self.username is None:
            raise ValueError("password_file needs a username")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self


class OutboxConfig(_Section):
    """The durable queue every event passes through (see :mod:`edge_agent.link.outbox`)."""

    path: Path = Path("/var/lib/vigie/outbox.sqlite3")
    max_events: int = Field(1_000_000, ge=1, le=100_000_000)
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"


class BatchConfig(_Section):
    """How events are grouped into messages, and how many messages may be unacknowledged.

    ``inflight`` is the MQTT window: messages on the wire awaiting PUBACK. ``queued`` bounds
    the messages handed to the MQTT client (window included), so that memory stays bounded
    and the outbox, not RAM, holds the backlog.
    """

    window_ms: int = Field(100, ge=0, le=10_000)
    max_events: int = Field(500, ge=1, le=1000)
    inflight: int = Field(20, ge=1, le=1000)
    queued: int = Field(200, ge=1, le=10_000)
