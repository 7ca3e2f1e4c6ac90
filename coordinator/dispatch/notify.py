"""The notification worker (``vigie-coordinator notify``): sends the outbox, applies field status.

* **Outbox**: every ``pending`` delivery whose time has come is sent. MQTT deliveries go to the
  team's dispatch topic at QoS 1 and count as sent once the broker's PUBACK arrives; a missing
  PUBACK is an attempt recorded as failed and retried later with exponential backoff.
  Webhook deliveries are POSTed with retries (tenacity); each attempt is recorded, and after
  the last one the delivery is marked ``failed``. Either way delivery is at least once.
* **Field status**: the worker subscribes to every team's status topic (persistent session,
  QoS 1). The paho callback only queues the bytes; the worker's own thread decodes them and
  applies each update as a transition by the team, which the domain allows only on an
  intervention assigned to that team. A refused update is answered with a ``refused``
  dispatch saying why.
* **The centre's liveness**: this worker owns the coordinator's retained ``STATE``
  (``vigie/v1/STATE/<COORDINATOR_ID>``). It registers ``online: false`` as its MQTT will, publishes
  ``online: true`` on every connection and ``online: false`` before a clean shutdown, so boxes
  and integrators see the centre go away however it goes. It is this worker's because it is the
  one coordinator process with exactly one long-lived session (ingest workers are several and
  share a subscription; web workers and jobs connect on demand), and it is the process that
  talks to the field: while it is down no dispatch leaves the centre.
"""

from __future__ import annotations

import itertools
import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.engine import Engine

import vigie_wire as wire
from coordinator.interventions.errors import InterventionError, UnknownIdError
from coordinator.interventions.lifecycle import Actor
from coordinator.mqtt_publisher import content_type
from coordinator.storage import interventions as store
from coordinator.storage import teams as team_store
from coordinator.storage.teams import Delivery

from .service import apply_transition, dispatch_payload
from .webhook import RetryPolicy, deliver

log = logging.getLogger("vigie.notify")

SESSION_EXPIRY_S = 24 * 3600
_PUBLISH = content_type()


@dataclass(frozen=True)
class NotifySettings:
    database_url: str
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    username: str | None = None
    password: str | None = None
    tls_ca: str | None = None
    client_id: str = "coordinator-notify"
    coordinator_id: str = "coordinator"
    mqtt_attempts: int = 10
    puback_timeout_s: float = 5.0
    webhook: RetryPolicy = field(default_factory=RetryPolicy)
    poll_s: float = 0.5

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> NotifySettings:
        return cls(database_url=str(config["DATABASE_URL"]), mqtt_host=str(config["MQTT_HOST"]),
                   mqtt_port=int(config["MQTT_PORT"]), username=config.get("MQTT_USERNAME"),
                   password=config.get("MQTT_PASSWORD"), tls_ca=config.get("MQTT_TLS_CA"),
                   client_id=str(config.get("NOTIFY_CLIENT_ID", "coordinator-notify")),
                   coordinator_id=str(config.get("COORDINATOR_ID", "coordinator")),
                   webhook=RetryPolicy(attempts=int(config.get("WEBHOOK_ATTEMPTS", 5)),
                                       backoff_s=float(config.get("WEBHOOK_BACKOFF_S", 1.0)),
                                       backoff_max_s=float(config.get("WEBHOOK_BACKOFF_MAX_S", 60.0))))


def _now_ms() -> int:
    return int(time.time() * 1000)


class Notifier:
    """One MQTT session for dispatches and status updates; call :meth:`run` in a named thread."""

    def __init__(self, s: NotifySettings, engine: Engine, clock: Callable[[], int] = _now_ms) -> None:
        self.settings = s
        self.engine = engine
        self.clock = clock
        self.inbox: queue.Queue[tuple[str, bytes]] = queue.Queue(maxsize=1000)
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.counts = {"mqtt_sent": 0, "mqtt_failed": 0, "webhook_sent": 0, "webhook_failed": 0,
                       "status_applied": 0, "status_refused": 0, "status_invalid": 0, "status_dropped": 0}
        self._bd = int(time.time()) & 0xFFFFFFFF  # increases across restarts, as a bdSeq must
        self._seqs = itertools.count(1)  # seq 0 is the will's, as for a box's death
        self.state_topic = wire.state_topic(s.coordinator_id)
        c = self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=s.client_id,
                                      protocol=mqtt.MQTTv5)
        if s.username:
            c.username_pw_set(s.username, s.password)
        if s.tls_ca:
            c.tls_set(ca_certs=s.tls_ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.reconnect_delay_set(1, 5)
        c.on_connect = self._on_connect
        c.on_disconnect = lambda *_: self.connected.clear()
        c.on_subscribe = lambda *_: self.subscribed.set()
        c.on_message = self._on_message

    # -- MQTT callbacks: they only set flags and queue bytes ----------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if getattr(rc, "is_failure", False):
            log.warning("broker refused the connection: %s", rc)
            return
        self.connected.set()
        client.publish(self.state_topic, self._state(True, next(self._seqs)), qos=1, retain=True, properties=_PUBLISH)
        client.subscribe(wire.subscription(wire.Kind.STATUS), qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, m: mqtt.MQTTMessage) -> None:
        try:
            self.inbox.put_nowait((m.topic, bytes(m.payload)))
        except queue.Full:
            self.counts["status_dropped"] += 1

    def _state(self, online: bool, seq: int) -> bytes:
        header = wire.Header(1, self.settings.coordinator_id, self._bd, seq, self.clock())
        return wire.encode(wire.State(header, online))

    def start(self) -> None:
        self.client.will_set(self.state_topic, self._state(False, 0), qos=1, retain=True,
                             properties=content_type(PacketTypes.WILLMESSAGE))
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30, clean_start=False,
                                  properties=props)
        self.client.loop_start()

    def close(self) -> None:
        """Say the centre is offline (retained), then leave; the will covers every other way out."""
        if self.connected.is_set():
            info = self.client.publish(self.state_topic, self._state(False, next(self._seqs)), qos=1, retain=True,
                                       properties=_PUBLISH)
            info.wait_for_publish(self.settings.puback_timeout_s)
        self.client.disconnect()
        self.client.loop_stop()

    def run(self, stop: threading.Event) -> None:
        self.start()
        try:
            while not stop.is_set():
                busy = self.step()
                if not busy:
                    stop.wait(self.settings.poll_s)
        finally:
            self.close()

    def step(self) -> int:
        """Apply the queued status updates, then send what is due; returns how much was done."""
        done = 0
        while True:
            try:
                topic, payload = self.inbox.get_nowait()
            except queue.Empty:
                break
            self.handle_status(topic, payload)
            done += 1
        return done + self.send_due()

    # -- outbox -------------------------------------------------------------------------------------
    def send_due(self, limit: int = 100) -> int:
        now = self.clock()
        with self.engine.connect() as conn:
            due = team_store.due(conn, now, limit)
        for d in due:
            if d.channel == "mqtt":
                self._send_mqtt(d)
            else:
                self._send_webhook(d)
        return len(due)

    def _dispatch(self, d: Delivery) -> tuple[str, bytes]:
        p = d.payload
        with self.engine.connect() as conn:
            team = team_store.get_team(conn, d.team_id)
        commune = team.commune if team is not None else "unknown"
        header = wire.Header(1, self.settings.coordinator_id, self._bd, next(self._seqs), self.clock())
        msg = wire.Dispatch(header, d.team_id, int(p["intervention"]), p["action"], p["state"], p["priority"],
                            p["kind"], str(p["title"])[:200], str(p.get("note") or "")[:512], p.get("lat"),
                            p.get("lon"))
        return wire.team_topic(commune, d.team_id, wire.Kind.DISPATCH), wire.encode(msg)

    def _send_mqtt(self, d: Delivery) -> None:
        error = None
        try:
            topic, payload = self._dispatch(d)
            if not self.connected.is_set():
                raise RuntimeError("not connected to the broker")
            info = self.client.publish(topic, payload, qos=1, properties=_PUBLISH)
            info.wait_for_publish(self.settings.puback_timeout_s)
            if not info.is_published():
                raise RuntimeError(f"no PUBACK within {self.settings.puback_timeout_s} s")
        except (RuntimeError, ValueError, wire.WireError) as exc:
            error = str(exc)
        now = self.clock()
        with self.engine.begin() as conn:
            team_store.record_attempt(conn, d.id, now, error is None, None, error)
            if error is None:
                team_store.finish(conn, d.id, "sent", now)
            elif d.attempts + 1 >= self.settings.mqtt_attempts:
                team_store.finish(conn, d.id, "failed", now)
            else:
                backoff = min(60_000, 500 * 2 ** d.attempts)
                team_store.postpone(conn, d.id, now + backoff)
        self.counts["mqtt_sent" if error is None else "mqtt_failed"] += 1
        if error:
            log.warning("dispatch %d to %s not delivered: %s", d.id, d.team_id, error)

    def _send_webhook(self, d: Delivery) -> None:
        with self.engine.connect() as conn:
            team = team_store.get_team(conn, d.team_id)
        if team is None or not team.webhook_url:
            with self.engine.begin() as conn:
                team_store.record_attempt(conn, d.id, self.clock(), False, None, "the team has no webhook any more")
                team_store.finish(conn, d.id, "failed", self.clock())
            return

        def record(ok: bool, status: int | None, error: str | None) -> None:
            with self.engine.begin() as conn:
                team_store.record_attempt(conn, d.id, self.clock(), ok, status, error)

        ok = deliver(team.webhook_url, d.payload, team.webhook_secret, d.id, self.settings.webhook, record)
        with self.engine.begin() as conn:
            team_store.finish(conn, d.id, "sent" if ok else "failed", self.clock())
        self.counts["webhook_sent" if ok else "webhook_failed"] += 1
        if not ok:
            log.warning("webhook %d to %s failed after %d attempts", d.id, team.webhook_url,
                        self.settings.webhook.attempts)

    # -- field status -------------------------------------------------------------------------------
    def handle_status(self, topic: str, payload: bytes) -> bool:
        """Apply one status update; True when applied. Never raises on bad input."""
        try:
            msg = wire.decode(topic, payload)
        except wire.WireError as exc:
            self.counts["status_invalid"] += 1
            log.warning("status on %s refused: %s", topic[:200], exc)
            return False
        if not isinstance(msg, wire.TeamStatus):
            self.counts["status_invalid"] += 1
            return False
        t = wire.parse_topic(topic)
        team_id = msg.header.dev
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                team = team_store.get_team(conn, team_id)
                if team is None or team.commune != t.site:
                    raise UnknownIdError(f"no team {team_id!r} in {t.site!r}")
                apply_transition(conn, msg.intervention, msg.state, Actor("team", team_id), msg.reason or None, now)
        except InterventionError as exc:
            self.counts["status_refused"] += 1
            log.info("status of team %s on intervention %d refused: %s", team_id, msg.intervention, exc)
            self._refuse(team_id, msg.intervention, str(exc), now)
            return False
        self.counts["status_applied"] += 1
        return True

    def _refuse(self, team_id: str, iid: int, why: str, now: int) -> None:
        """Tell the team why its update was not applied (through the outbox, like any dispatch)."""
        with self.engine.begin() as conn:
            team = team_store.get_team(conn, team_id)
            row = store.get(conn, iid)
            if team is None or row is None:
                return  # an unknown team or intervention: nobody to tell, or nothing to say
            payload = dispatch_payload(row, team_id, "refused", now, why)
            if row.team_id != team_id:
                payload.update(title="status update refused", lat=None, lon=None)  # not theirs: say nothing more
            team_store.enqueue(conn, team, iid, payload, now)
