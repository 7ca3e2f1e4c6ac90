"""Settings of one ingest worker, read from the coordinator's Flask-style keys (``VIGIE_*``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IngestSettings:
    """What a worker needs; every field has a ``VIGIE_<KEY>`` variable (see ``settings.DEFAULTS``).

    ``client_id`` must be fixed per worker (``vigie-ingest-1``, ``-2``...): the broker keeps the
    worker's session (subscriptions and unacknowledged messages) under that id while it restarts.
    Workers sharing the load use the same ``share_group`` and different ids.
    """

    database_url: str
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_tls_ca: str | None = None
    keepalive_s: int = 30
    client_id: str = "vigie-ingest-1"
    share_group: str = "vigie-ingest"
    session_expiry_s: int = 7 * 24 * 3600
    #: A batch closes at this many messages, this many payload bytes (about 11,000 events of
    #: 250-event messages: a storage process decodes the next batch while this one commits), or
    #: this many ms after its first message.
    batch_messages: int = 500
    batch_bytes: int = 256 * 1024
    batch_ms: int = 50
    #: Unacknowledged messages the broker may send (MQTT v5 Receive Maximum): at least two
    #: batches, so the broker keeps sending while a batch commits.
    receive_maximum: int = 1000
    metrics_port: int | None = None
    #: Decode and store in a child process, so that receiving (paho, in Python) and storing do
    #: not take turns on one GIL: the service runs this way; in-process is for embedding and tests.
    storage_process: bool = False

    @classmethod
    def from_config(cls, c: Mapping[str, Any]) -> IngestSettings:
        port = c.get("INGEST_METRICS_PORT")
        return cls(
            database_url=str(c["DATABASE_URL"]),
            mqtt_host=str(c["MQTT_HOST"]),
            mqtt_port=int(c["MQTT_PORT"]),
            mqtt_username=c.get("MQTT_USERNAME"),
            mqtt_password=c.get("MQTT_PASSWORD"),
            mqtt_tls_ca=c.get("MQTT_TLS_CA"),
            keepalive_s=int(c.get("MQTT_KEEPALIVE_S", 30)),
            client_id=str(c["INGEST_CLIENT_ID"]),
            share_group=str(c["INGEST_SHARE_GROUP"]),
            session_expiry_s=int(c["INGEST_SESSION_EXPIRY_S"]),
            batch_messages=int(c["INGEST_BATCH_MESSAGES"]),
            batch_ms=int(c["INGEST_BATCH_MS"]),
            batch_bytes=int(c.get("INGEST_BATCH_BYTES", 256 * 1024)),
            receive_maximum=int(c["INGEST_RECEIVE_MAXIMUM"]),
            metrics_port=int(port) if port not in (None, "") else None,
            storage_process=_flag(c.get("INGEST_STORAGE_PROCESS", True)),
        )


def _flag(value: Any) -> bool:
    """A boolean setting from the environment (``1/0``, ``true/false``, ``yes/no``) or from Python."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r} (use 1/0, true/false, yes/no)")
