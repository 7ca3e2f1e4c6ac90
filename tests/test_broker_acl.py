"""Per-device ACLs from the box configs: the generated text, and what a real Mosquitto then allows."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

import vigie_wire as wire
from coordinator.broker.acl import AclError, acl_users, box_user, render_acl
from tests.mqtt_helpers import Mosquitto, wait_until
from vigie_config import BoxConfig, load_config
from vigie_config.topics import group_topics, listen_topics

REPO = Path(__file__).resolve().parents[1]
NOT_AUTHORISED = 0x87


@pytest.fixture(scope="module")
def district() -> dict[str, BoxConfig]:
    return {p.stem: load_config(p) for p in sorted((REPO / "firmware_configs").glob("*.yaml"))}


# -- the generated text ---------------------------------------------------------------------------------


def test_camera_box_writes_only_its_own_topics_and_reads_its_commands_and_state(
    district: dict[str, BoxConfig],
) -> None:
    user = box_user(district["cam-darcy-01"])
    assert user.name == "cam-darcy-01"
    mine = "vigie/v1/dijon/cam-darcy-01"
    assert set(user.write) == {f"{mine}/{k}" for k in ("birth", "death", "meta", "event", "telemetry", "ack")}
    assert set(user.read) == {f"{mine}/cmd", "vigie/v1/STATE/+"}


def test_light_box_reads_its_groups_and_its_neighbours_presence(district: dict[str, BoxConfig]) -> None:
    user = box_user(district["light-liberte-01"])
    assert set(user.read) == {
        "vigie/v1/dijon/light-liberte-01/cmd",
        "vigie/v1/dijon/group/rue-liberte/cmd",
        "vigie/v1/dijon/group/place-rude/cmd",
        "vigie/v1/dijon/group/commune-dijon/cmd",
        "vigie/v1/dijon/group/city/cmd",
        "vigie/v1/dijon/cam-liberte-01/event",
        "vigie/v1/dijon/cam-darcy-01/event",
        "vigie/v1/STATE/+",
    }
    assert all(t.startswith("vigie/v1/dijon/light-liberte-01/") for t in user.write)


def test_pole_box_listening_to_its_own_camera_gets_readwrite_on_its_event_topic(
    district: dict[str, BoxConfig],
) -> None:
    text = render_acl([district["pole-liberation-01"]], coordinator="coordinator")
    block = text.split("user pole-liberation-01\n")[1]
    assert "topic readwrite vigie/v1/dijon/pole-liberation-01/event\n" in block
    assert "topic write vigie/v1/dijon/pole-liberation-01/event\n" not in block


def test_snapshot_topic_is_granted_only_when_snapshots_are_on(district: dict[str, BoxConfig]) -> None:
    cam = district["cam-darcy-01"]
    assert not any(t.endswith("/snapshot") for t in box_user(cam).write)
    on = cam.model_copy(update={"cameras": [cam.cameras[0].model_copy(
        update={"snapshots": cam.cameras[0].snapshots.model_copy(update={"enabled": True})})]})
    assert "vigie/v1/dijon/cam-darcy-01/snapshot" in box_user(on).write


def test_acl_grants_nothing_to_anonymous_and_one_block_per_user(district: dict[str, BoxConfig]) -> None:
    text = render_acl(district.values(), coordinator="coordinator", integrator="opendata")
    before_first_user = text.split("\nuser ")[0]
    assert not [ln for ln in before_first_user.splitlines() if ln.startswith(("topic", "pattern"))]
    users = [ln.split()[1] for ln in text.splitlines() if ln.startswith("user ")]
    assert users == ["coordinator", "opendata", *sorted(district, key=lambda d: (district[d].site, d))]
    assert "pattern" not in text
    for line in text.splitlines():
        assert not line or line.startswith(("#", "user ", "topic read ", "topic write ", "topic readwrite "))


def test_coordinator_reads_everything_and_writes_commands_state_and_team_topics() -> None:
    [user] = acl_users([], coordinator="centre")
    assert user.read == ("vigie/v1/#",)
    assert set(user.write) == {"vigie/v1/+/+/cmd", "vigie/v1/+/group/+/cmd", "vigie/v1/STATE/+",
                               "vigie/v1/+/team/+/dispatch"}


def test_box_acl_grants_exactly_what_the_agent_subscribes_to(district: dict[str, BoxConfig]) -> None:
    for box in district.values():
        wanted = {f"vigie/v1/{box.site}/{box.device_id}/cmd", *listen_topics(box),
                  *(f"vigie/v1/{box.site}/group/{g}/cmd" for g in group_topics(box))}
        assert wanted <= set(box_user(box).read), box.device_id


def test_integrator_is_read_only_and_never_sees_commands() -> None:
    _, user = acl_users([], coordinator="centre", integrator="opendata")
    assert user.write == ()
    contract = [t for t in user.read if t.startswith("vigie/v1/")]
    assert not any(t.endswith(("/cmd", "/ack", "/snapshot", "#")) for t in contract)
    assert [t for t in user.read if t not in contract] == ["vigie-json/v1/#"], "and the bridge's JSON copies"


def test_box_without_username_is_an_error(district: dict[str, BoxConfig]) -> None:
    anon = district["cam-darcy-01"].model_copy(update={"mqtt": district["cam-darcy-01"].mqtt.model_copy(
        update={"username": None, "password_file": None})})
    with pytest.raises(AclError, match=r"cam-darcy-01: mqtt.username is not set"):
        render_acl([anon], coordinator="coordinator")


def test_a_user_name_shared_by_two_principals_is_an_error(district: dict[str, BoxConfig]) -> None:
    with pytest.raises(AclError, match=r"'cam-darcy-01' is used by both coordinator .* and box dijon/cam-darcy-01"):
        render_acl([district["cam-darcy-01"]], coordinator="cam-darcy-01")
    twin = district["cam-liberte-01"].model_copy(update={"mqtt": district["cam-darcy-01"].mqtt})
    with pytest.raises(AclError, match="used by both box dijon/cam-darcy-01"):
        render_acl([district["cam-darcy-01"], twin], coordinator="coordinator")


def test_a_user_name_that_would_break_the_acl_file_is_an_error() -> None:
    with pytest.raises(AclError, match="not a plain"):
        render_acl([], coordinator="centre admin")


def test_broker_config_command_writes_both_files_and_refuses_a_broken_config(tmp_path: Path) -> None:
    configs = sorted((REPO / "firmware_configs").glob("*.yaml"))
    cmd = [sys.executable, "-m", "coordinator.cli", "broker-config", "--coordinator-user", "coordinator",
           "--data-dir", "/var/lib/vigie-broker", "--password-file", "/etc/vigie-broker/passwd",
           "--acl-file", "/etc/vigie-broker/acl", "--tls-port", "8883", "--cafile", "/etc/ca.crt",
           "--certfile", "/etc/b.crt", "--keyfile", "/etc/b.key"]
    proc = subprocess.run([*cmd, "--json-bridge-user", "jsonbridge", "--out", str(tmp_path / "ok"), *map(str, configs)],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    conf = (tmp_path / "ok" / "mosquitto.conf").read_text()
    assert "acl_file /etc/vigie-broker/acl\n" in conf and "listener 8883 0.0.0.0\n" in conf
    assert "allow_anonymous false\n" in conf and "password_file /etc/vigie-broker/passwd\n" in conf
    assert (tmp_path / "ok" / "acl").read_text() == render_acl(
        [load_config(p) for p in configs], coordinator="coordinator", json_bridge="jsonbridge")
    assert "user jsonbridge\n" in (tmp_path / "ok" / "acl").read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(configs[0].read_text().replace("site: dijon", "site: Dijon"))
    proc = subprocess.run([*cmd, "--out", str(tmp_path / "ko"), str(broken)],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert f"{broken}: site: String should match pattern" in proc.stderr
    assert not (tmp_path / "ko").exists()


# -- on a real Mosquitto -------------------------------------------------------------------------------------


class Peer:
    """A paho MQTT v5 client with blocking publish/subscribe that return the broker's reason codes."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._acks: dict[int, ReasonCode] = {}
        self._subacks: dict[int, list[ReasonCode]] = {}
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=f"{user}-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, password)
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        connected = threading.Event()
        self.client.on_connect = lambda *_: connected.set()
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        wait_until(connected.is_set, 10, f"{user} connected")

    def _on_message(self, _c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((m.topic, bytes(m.payload)))

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        with self._lock:
            self._acks[mid] = rc

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, rcs: list[ReasonCode], _p: Any) -> None:
        with self._lock:
            self._subacks[mid] = rcs

    def publish(self, topic: str, payload: bytes = b"x", retain: bool = False) -> int:
        """QoS 1 publish; the PUBACK's reason code (0 = accepted, 0x87 = not authorised)."""
        mid = self.client.publish(topic, payload, qos=1, retain=retain).mid
        wait_until(lambda: mid in self._acks, 10, f"PUBACK for {topic}")
        return int(self._acks[mid].value)

    def subscribe(self, *topics: str) -> list[int]:
        """SUBACK reason codes, one per filter (1 = granted QoS 1, 0x87 = not authorised)."""
        _, mid = self.client.subscribe([(t, 1) for t in topics])
        assert mid is not None
        wait_until(lambda: mid in self._subacks, 10, "SUBACK")
        return [int(rc.value) for rc in self._subacks[mid]]

    def received(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p in self.messages if t == topic]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture(scope="module")
def acl_broker(tmp_path_factory: pytest.TempPathFactory, district: dict[str, BoxConfig]) -> Iterator[Mosquitto]:
    """A broker with the generated ACL and a hashed password file for every box and service user."""
    tmp = tmp_path_factory.mktemp("acl-broker")
    users = ["coordinator", "opendata", "jsonbridge", *district]
    plain = tmp / "passwd"
    plain.write_text("".join(f"{u}:{u}-pw\n" for u in users))
    subprocess.run(["mosquitto_passwd", "-U", str(plain)], check=True, capture_output=True)
    assert "-pw" not in plain.read_text(), "the password file holds hashes only"
    (tmp / "acl").write_text(render_acl(district.values(), coordinator="coordinator", integrator="opendata",
                                        json_bridge="jsonbridge"))
    broker = Mosquitto(tmp / "broker", allow_anonymous=False, password_file=plain, acl_file=tmp / "acl")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def peers(acl_broker: Mosquitto) -> Iterator[dict[str, Peer]]:
    made: dict[str, Peer] = {}

    class Factory(dict[str, Peer]):
        def __missing__(self, user: str) -> Peer:
            made[user] = Peer(acl_broker.port, user, f"{user}-pw")
            return made[user]

    yield Factory()
    for peer in made.values():
        peer.close()


def test_box_publishes_its_own_topics_and_is_refused_elsewhere(peers: dict[str, Peer]) -> None:
    centre = peers["coordinator"]
    assert centre.subscribe("vigie/v1/#") == [1]
    cam = peers["cam-liberte-01"]
    assert cam.publish("vigie/v1/dijon/cam-liberte-01/event", b"mine") == 0
    for foreign in ("vigie/v1/dijon/cam-darcy-01/event",       # another box's events
                    "vigie/v1/talant/cam-liberte-01/event",    # itself, in another commune
                    "vigie/v1/dijon/light-darcy-01/cmd",       # a command to a light box
                    "vigie/v1/dijon/group/rue-liberte/cmd",    # a group command
                    "vigie/v1/STATE/centre"):                  # the coordinator's liveness
        assert cam.publish(foreign, b"forged") == NOT_AUTHORISED, foreign
    wait_until(lambda: centre.received("vigie/v1/dijon/cam-liberte-01/event") == [b"mine"], 10, "own event")
    time.sleep(0.2)
    assert not [t for t, p in centre.messages if p == b"forged"]


def test_light_box_receives_its_groups_and_neighbours_but_cannot_subscribe_elsewhere(
    peers: dict[str, Peer],
) -> None:
    light = peers["light-liberte-01"]
    granted = light.subscribe("vigie/v1/dijon/light-liberte-01/cmd", "vigie/v1/dijon/group/rue-liberte/cmd",
                              "vigie/v1/dijon/cam-liberte-01/event", "vigie/v1/STATE/+")
    assert granted == [1, 1, 1, 1]
    # Mosquitto's acl_file grants the subscription itself and filters each message by read access on delivery.
    light.subscribe("vigie/v1/dijon/light-darcy-01/cmd", "vigie/v1/dijon/cam-liberte-01/telemetry")
    centre, cam = peers["coordinator"], peers["cam-liberte-01"]
    assert centre.publish("vigie/v1/dijon/light-darcy-01/cmd", b"other-cabinet") == 0
    assert cam.publish("vigie/v1/dijon/cam-liberte-01/telemetry", b"health") == 0
    assert centre.publish("vigie/v1/dijon/group/rue-liberte/cmd", b"dim") == 0
    assert centre.publish("vigie/v1/STATE/centre", b"online", retain=True) == 0
    assert cam.publish("vigie/v1/dijon/cam-liberte-01/event", b"presence") == 0
    wait_until(lambda: light.received("vigie/v1/dijon/group/rue-liberte/cmd") == [b"dim"], 10, "group command")
    wait_until(lambda: light.received("vigie/v1/dijon/cam-liberte-01/event") == [b"presence"], 10, "presence")
    wait_until(lambda: light.received("vigie/v1/STATE/centre") == [b"online"], 10, "STATE")
    assert light.received("vigie/v1/dijon/light-darcy-01/cmd") == []
    assert light.received("vigie/v1/dijon/cam-liberte-01/telemetry") == []


def test_a_wildcard_subscription_delivers_only_what_the_acl_lets_the_box_read(peers: dict[str, Peer]) -> None:
    light = peers["light-darcy-01"]
    light.subscribe("vigie/v1/dijon/#")
    centre = peers["coordinator"]
    assert centre.publish("vigie/v1/dijon/light-liberte-01/cmd", b"not-yours") == 0
    assert centre.publish("vigie/v1/dijon/light-darcy-01/cmd", b"yours") == 0
    wait_until(lambda: light.received("vigie/v1/dijon/light-darcy-01/cmd") == [b"yours"], 10, "own command")
    time.sleep(0.2)
    assert light.received("vigie/v1/dijon/light-liberte-01/cmd") == []


def test_ingest_workers_share_a_subscription_as_the_coordinator_user(peers: dict[str, Peer]) -> None:
    worker = peers["coordinator"]
    assert worker.subscribe("$share/ingest/vigie/v1/+/+/event") == [1]
    assert peers["light-fontaine-01"].publish("vigie/v1/fontaine-les-dijon/light-fontaine-01/event", b"f") == 0
    wait_until(lambda: worker.received("vigie/v1/fontaine-les-dijon/light-fontaine-01/event") == [b"f"], 10,
               "shared subscription")
    assert worker.publish("vigie/v1/dijon/cam-darcy-01/birth", b"forged") == NOT_AUTHORISED


def test_integrator_reads_events_but_cannot_publish_or_read_commands(peers: dict[str, Peer]) -> None:
    viewer = peers["opendata"]
    viewer.subscribe("vigie/v1/#")
    assert viewer.publish("vigie/v1/dijon/light-darcy-01/cmd", b"x") == NOT_AUTHORISED
    assert viewer.publish("vigie/v1/dijon/team/voirie/dispatch", b"x") == NOT_AUTHORISED
    assert peers["coordinator"].publish("vigie/v1/dijon/light-darcy-01/cmd", b"order") == 0
    assert peers["cam-darcy-01"].publish("vigie/v1/dijon/cam-darcy-01/event", b"seen") == 0
    wait_until(lambda: viewer.received("vigie/v1/dijon/cam-darcy-01/event") == [b"seen"], 10, "event")
    assert viewer.received("vigie/v1/dijon/light-darcy-01/cmd") == [], "commands are not for integrators"


def test_the_bridge_reads_the_contract_and_writes_only_its_json_namespace(peers: dict[str, Peer]) -> None:
    bridge, viewer = peers["jsonbridge"], peers["opendata"]
    bridge.subscribe("vigie/v1/#")
    viewer.subscribe("vigie-json/v1/#")
    assert peers["cam-darcy-01"].publish("vigie/v1/dijon/cam-darcy-01/event", b"seen") == 0
    assert peers["coordinator"].publish("vigie/v1/dijon/light-darcy-01/cmd", b"order") == 0
    wait_until(lambda: bridge.received("vigie/v1/dijon/cam-darcy-01/event") == [b"seen"], 10, "event")
    assert bridge.publish("vigie-json/v1/dijon/cam-darcy-01/event", b"{}") == 0
    wait_until(lambda: viewer.received("vigie-json/v1/dijon/cam-darcy-01/event") == [b"{}"], 10, "json copy")
    assert bridge.publish("vigie/v1/dijon/cam-darcy-01/event", b"forged") == NOT_AUTHORISED
    assert bridge.publish("vigie/v1/dijon/light-darcy-01/cmd", b"order") == NOT_AUTHORISED
    assert bridge.received("vigie/v1/dijon/light-darcy-01/cmd") == [], "commands are not bridged"
    assert viewer.publish("vigie-json/v1/dijon/cam-darcy-01/event", b"{}") == NOT_AUTHORISED


def test_broker_config_grants_the_bridge_user_only_when_asked() -> None:
    _, _, user = acl_users([], coordinator="centre", integrator="opendata", json_bridge="jsonbridge")
    assert user.read == ("vigie/v1/+/+/birth", "vigie/v1/+/+/death", "vigie/v1/+/+/meta", "vigie/v1/+/+/event",
                         "vigie/v1/+/+/telemetry")
    assert user.write == ("vigie-json/v1/#",)
    assert [u.name for u in acl_users([], coordinator="centre")] == ["centre"]


def test_the_bridge_command_runs_under_its_own_account_and_integrators_read_its_json(
    peers: dict[str, Peer], acl_broker: Mosquitto, tmp_path: Path
) -> None:
    """``vigie-coordinator bridge`` as deployed: its own user and password file, behind the generated ACL."""
    secret = tmp_path / "bridge.pw"
    secret.write_text("jsonbridge-pw\n")
    viewer = peers["opendata"]
    assert viewer.subscribe("vigie-json/v1/#") == [1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "coordinator.cli", "bridge", "--host", "127.0.0.1", "--port", str(acl_broker.port),
         "--username", "jsonbridge", "--password-file", str(secret), "--client-id", f"bridge-{time.monotonic_ns()}"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        batch = wire.EventBatch(wire.Header(1, "cam-darcy-01", 7, 1, 1_790_000_000_000), 3, False,
                                (wire.EventRecord(41, 1_790_000_000_000, wire.ZoneEnter(0, "crossing", 9, 0)),))
        topic = "vigie/v1/dijon/cam-darcy-01/event"

        def copied() -> bool:  # the bridge may not be subscribed yet: the box publishes again until it is
            if viewer.received("vigie-json/v1/dijon/cam-darcy-01/event"):
                return True
            assert peers["cam-darcy-01"].publish(topic, wire.encode(batch)) in (0, 0x10)  # 0x10: nobody reads yet
            return False

        wait_until(copied, 30, "the JSON copy", step=0.5)
        body = json.loads(viewer.received("vigie-json/v1/dijon/cam-darcy-01/event")[0])
        assert (body["dev"], body["boot"], body["events"][0]["n"], body["events"][0]["type"]) == (
            "cam-darcy-01", 3, 41, "zone_enter")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
    assert "bridge connected as" in out and "not authorised" not in out.lower(), out
