"""Team notifications for real: dispatches and status updates through Mosquitto, webhooks against a
local HTTP server that fails the first attempts."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy.engine import Engine

import vigie_wire as wire
from coordinator.dispatch.notify import Notifier, NotifySettings
from coordinator.dispatch.service import apply_transition
from coordinator.dispatch.webhook import RetryPolicy
from coordinator.interventions.lifecycle import Actor
from coordinator.storage import interventions as store
from coordinator.storage import teams as team_store
from coordinator.storage.interventions import NewIntervention
from coordinator.storage.teams import TeamRow
from tests.mqtt_helpers import Mosquitto, Recorder, wait_until

OP = Actor("user", "operateur")
SECRET = "cle-de-signature-des-webhooks"


def now_ms() -> int:
    return int(time.time() * 1000)


def add_team(engine: Engine, team_id: str, webhook: str | None = None) -> None:
    with engine.begin() as conn:
        team_store.save_team(conn, TeamRow(team_id, team_id, "dijon", ["police"], 47.32, 5.04, True, webhook,
                                           SECRET if webhook else None), now_ms(), create=True)


def assigned_intervention(engine: Engine, team_id: str) -> int:
    with engine.begin() as conn:
        iid = store.insert(conn, NewIntervention(kind="crowd", priority="high", source="operator", title="Foule",
                                                 created_by="user:operateur", ts_ms=now_ms(), commune="dijon",
                                                 lat=47.3224, lon=5.0355), now_ms())
        apply_transition(conn, iid, "assigned", OP, None, now_ms(), team=team_id)
    return iid


def notifier(engine: Engine, port: int, policy: RetryPolicy | None = None) -> Notifier:
    s = NotifySettings(database_url=str(engine.url), mqtt_port=port, client_id=f"notify-{port}",
                       coordinator_id="coord-01", webhook=policy or RetryPolicy(attempts=4, backoff_s=0.05))
    return Notifier(s, engine)


@pytest.fixture
def running(engine: Engine, broker: Mosquitto) -> Iterator[Notifier]:
    n = notifier(engine, broker.port)
    stop = threading.Event()
    thread = threading.Thread(target=n.run, args=(stop,), name="vigie-notify", daemon=True)
    thread.start()
    wait_until(n.subscribed.is_set, 10, "notifier subscription")
    yield n
    stop.set()
    thread.join(10)


def test_assignment_reaches_the_team_topic_and_field_status_comes_back(engine: Engine, broker: Mosquitto,
                                                                       running: Notifier) -> None:
    add_team(engine, "pm-centre")
    add_team(engine, "pm-nord")
    team_app = Recorder(broker.port, wire.team_topic("dijon", "pm-centre", wire.Kind.DISPATCH))
    iid = assigned_intervention(engine, "pm-centre")
    wait_until(lambda: len(team_app.decoded()) == 1, 10, "the dispatch")
    d = team_app.decoded()[0]
    assert isinstance(d, wire.Dispatch)
    assert (d.team, d.intervention, d.action, d.state, d.category, d.header.dev) == (
        "pm-centre", iid, "assign", "assigned", "crowd", "coord-01")

    def deliveries() -> list[tuple[str, str, int]]:
        with engine.connect() as conn:
            return [(x["channel"], x["status"], x["attempts"]) for x in team_store.list_deliveries(conn, iid)]

    wait_until(lambda: deliveries() == [("mqtt", "sent", 1)], 10, "the delivery marked sent after its PUBACK")

    field = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="field-app",
                        protocol=mqtt.MQTTv5)
    field.connect("127.0.0.1", broker.port)
    field.loop_start()

    def report(team: str, state: str, reason: str = "") -> None:
        msg = wire.TeamStatus(wire.Header(1, team, 1, 1, now_ms()), iid, state, reason)
        field.publish(wire.team_topic("dijon", team, wire.Kind.STATUS), wire.encode(msg), qos=1).wait_for_publish(5)

    report("pm-centre", "en_route")
    wait_until(lambda: running.counts["status_applied"] == 1, 10, "the status update applied")
    with engine.connect() as conn:
        row = store.get(conn, iid)
        assert row is not None and row.state == "en_route"
        assert store.history(conn, iid)[-1]["actor"] == "team:pm-centre"

    report("pm-nord", "on_site")  # not its intervention
    nord_app = Recorder(broker.port, wire.team_topic("dijon", "pm-nord", wire.Kind.DISPATCH))
    wait_until(lambda: len(nord_app.decoded()) == 1, 10, "the refusal")
    refusal = nord_app.decoded()[0]
    assert (refusal.action, refusal.title) == ("refused", "status update refused") and "not assigned" in refusal.note
    with engine.connect() as conn:
        row = store.get(conn, iid)
        assert row is not None and row.state == "en_route"

    field.publish(wire.team_topic("dijon", "pm-centre", wire.Kind.STATUS), b"\x93garbage", qos=1).wait_for_publish(5)
    wait_until(lambda: running.counts["status_invalid"] == 1, 10, "the bad payload counted")
    field.loop_stop()
    field.disconnect()
    team_app.close()
    nord_app.close()


class Hook(BaseHTTPRequestHandler):
    fail_first = 0
    calls: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls.append((dict(self.headers), body))
        status = 503 if len(type(self).calls) <= type(self).fail_first else 204
        self.send_response(status)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def hook_server() -> Iterator[tuple[str, type[Hook]]]:
    handler = type("TestHook", (Hook,), {"calls": [], "fail_first": 2})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="test-webhook", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/vigie", handler
    server.shutdown()
    server.server_close()


def test_webhook_is_retried_with_backoff_signed_and_every_attempt_recorded(
        engine: Engine, hook_server: tuple[str, type[Hook]]) -> None:
    url, handler = hook_server
    add_team(engine, "astreinte", webhook=url)
    iid = assigned_intervention(engine, "astreinte")
    n = notifier(engine, 1)  # no broker on port 1: the MQTT delivery fails and is retried later
    n.send_due()
    assert len(handler.calls) == 3  # two 503s, then a 204
    headers, body = handler.calls[-1]
    assert headers["X-Vigie-Signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    payload = json.loads(body)
    assert (payload["action"], payload["intervention"], payload["team"]) == ("assign", iid, "astreinte")
    with engine.connect() as conn:
        by_channel = {d["channel"]: d for d in team_store.list_deliveries(conn, iid)}
        webhook_attempts = team_store.attempts(conn, by_channel["webhook"]["id"])
    assert (by_channel["webhook"]["status"], by_channel["webhook"]["attempts"]) == ("sent", 3)
    assert [(a["ok"], a["http_status"]) for a in webhook_attempts] == [(False, 503), (False, 503), (True, 204)]
    assert (by_channel["mqtt"]["status"], by_channel["mqtt"]["attempts"]) == ("pending", 1)  # postponed


def test_webhook_gives_up_after_the_last_attempt(engine: Engine, hook_server: tuple[str, type[Hook]]) -> None:
    url, handler = hook_server
    handler.fail_first = 100
    add_team(engine, "astreinte", webhook=url)
    iid = assigned_intervention(engine, "astreinte")
    notifier(engine, 1, RetryPolicy(attempts=3, backoff_s=0.01)).send_due()
    assert len(handler.calls) == 3
    with engine.connect() as conn:
        hook = next(d for d in team_store.list_deliveries(conn, iid) if d["channel"] == "webhook")
    assert (hook["status"], hook["attempts"], hook["last_error"]) == ("failed", 3, "HTTP 503")
