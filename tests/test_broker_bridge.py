"""District brokers bridged to the central broker: the generated topics and files, then two real Mosquittos.

The real-broker half runs the topology the scaling guide describes: the boxes of Dijon on a district broker with
its generated ACL, bridged through a cuttable link (:class:`tests.wan_link.WanLink`) to a central broker with its
generated ACL, where the coordinator's ingest worker stores into a real database. Every event a box emits is
counted in the database, through a cut link, a central broker restart and a district broker restart.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.engine import Engine

import vigie_wire as wire
from coordinator import cli
from coordinator.broker import TlsListener, free_port
from coordinator.broker.acl import AclError, render_acl
from coordinator.broker.bridge import (
    BridgeSettings,
    District,
    DistrictError,
    assign_boxes,
    bridge_user,
    district_topics,
    render_bridge,
)
from coordinator.ingest.config import IngestSettings
from coordinator.ingest.worker import IngestWorker
from coordinator.storage import make_engine
from edge_agent.link import Link, Outbox
from tests.db_helpers import DatabaseFactory
from tests.ingest_helpers import event_ids, register
from tests.mqtt_helpers import Mosquitto, Recorder, wait_until
from tests.tls_helpers import tls_material
from tests.wan_link import WanLink
from vigie_config import BoxConfig, load_config
from vigie_config.topics import group_topics, listen_topics

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "firmware_configs").glob("*.yaml"))
CENTRE = District("centre", ("dijon",))
BOURG = District("bourg", ("fontaine-les-dijon", "talant"))


@pytest.fixture(scope="module")
def fleet() -> dict[str, BoxConfig]:
    return {p.stem: load_config(p) for p in CONFIGS}


# -- the generated topics and files ------------------------------------------------------------------------------


def test_a_district_sends_up_what_its_boxes_publish_and_brings_down_what_they_read(
        fleet: dict[str, BoxConfig]) -> None:
    dijon = assign_boxes(fleet.values(), [CENTRE, BOURG])["centre"]
    topics = district_topics(dijon)
    assert set(topics.up) == {f"vigie/v1/dijon/{d}/{k}" for d in fleet if fleet[d].site == "dijon"
                              for k in ("birth", "death", "meta", "event", "telemetry", "ack")}
    assert "vigie/v1/dijon/light-liberte-01/cmd" in topics.down
    assert "vigie/v1/dijon/group/rue-liberte/cmd" in topics.down
    assert "vigie/v1/dijon/group/city/cmd" in topics.down
    assert "vigie/v1/STATE/+" in topics.down
    # light-liberte-01 hears cam-liberte-01 and cam-darcy-01, both on the same district broker: bridging their
    # events down as well would deliver each one twice.
    assert not set(topics.up) & set(topics.down)
    assert not [t for t in topics.down if t.endswith("/event")]
    assert len(topics.down) == len(set(topics.down))


def test_a_neighbour_camera_of_another_district_is_bridged_down(fleet: dict[str, BoxConfig]) -> None:
    light = fleet["light-fontaine-01"]
    assert light.lighting is not None
    presence = [{"device": "cam-darcy-01", "site": "dijon", "zone": "crossing", "groups": ["bourg"]}]
    raw = light.model_dump(mode="json", exclude_none=True)
    raw["lighting"]["presence"] = presence
    moved = BoxConfig.model_validate(raw)
    topics = district_topics([moved])
    assert "vigie/v1/dijon/cam-darcy-01/event" in topics.down
    assert "vigie/v1/dijon/cam-darcy-01/event" not in topics.up


def test_bridge_sections_one_connection_per_direction(fleet: dict[str, BoxConfig]) -> None:
    topics = district_topics([fleet["light-fontaine-01"]])
    text = render_bridge(BridgeSettings("bourg", "central.example:8883", "bridge-bourg", "s3cret-s3cret-s3cret",
                                        topics, cafile=Path("/etc/vigie-broker/central-ca.crt")))
    up, down = text.split("\nconnection ")[1:]
    assert up.startswith("district-bourg-up\n") and down.startswith("district-bourg-down\n")
    assert "bridge_protocol_version mqttv50\n" in up and "bridge_protocol_version mqttv311\n" in down
    for section in (up, down):
        for line in ("address central.example:8883", "remote_username bridge-bourg", "cleansession false",
                     "local_cleansession false", "bridge_attempt_unsubscribe false",
                     "bridge_cafile /etc/vigie-broker/central-ca.crt", "bridge_insecure false"):
            assert f"\n{line}\n" in section, (line, section)
    assert [ln for ln in up.splitlines() if ln.startswith("topic ")] == [f"topic {t} out 1" for t in topics.up]
    assert [ln for ln in down.splitlines() if ln.startswith("topic ")] == [f"topic {t} in 1" for t in topics.down]
    with pytest.raises(DistrictError, match="single words"):
        render_bridge(BridgeSettings("bourg", "central:8883", "bridge-bourg", "two words", topics))


def test_districts_that_share_a_commune_or_have_bad_names_are_refused(fleet: dict[str, BoxConfig]) -> None:
    with pytest.raises(DistrictError, match="'dijon' is in both districts 'centre' and 'autre'"):
        assign_boxes(fleet.values(), [CENTRE, District("autre", ("dijon",))])
    with pytest.raises(DistrictError, match="expected NAME=commune"):
        District.parse("centre")
    with pytest.raises(DistrictError, match="lowercase"):
        District.parse("Centre Ville=dijon")
    assert District.parse("bourg=fontaine-les-dijon, talant") == BOURG


@dataclass
class Run:
    returncode: int
    stderr: str


def _broker_config(tmp: Path, out: str, *extra: str) -> Run:
    """``vigie-coordinator broker-config`` in this process (the command's own parser and function)."""
    argv = ["broker-config", "--coordinator-user", "coordinator", "--data-dir", "/var/lib/vigie-broker",
            "--password-file", "/etc/vigie-broker/passwd", "--acl-file", "/etc/vigie-broker/acl",
            "--out", str(tmp / out), *extra, *map(str, CONFIGS)]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(argv)
    return Run(code, err.getvalue())


def test_broker_config_writes_the_central_and_district_brokers(tmp_path: Path, fleet: dict[str, BoxConfig]) -> None:
    secrets = tmp_path / "bridge-secrets"
    secrets.mkdir()
    (secrets / "centre").write_text("centre-bridge-password-0123\n")
    (secrets / "bourg").write_text("bourg-bridge-password-45678\n")
    proc = _broker_config(tmp_path, "ok", "--district", "centre=dijon", "--district", "bourg=fontaine-les-dijon",
                          "--central-address", "central.vigie.local:8883", "--bridge-password-dir", str(secrets),
                          "--bridge-cafile", "/etc/vigie-broker/central-ca.crt")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "ok"
    split = assign_boxes(fleet.values(), [CENTRE, District("bourg", ("fontaine-les-dijon",))])
    users = [bridge_user(f"bridge-{d}", d, district_topics(split[d]), len(split[d])) for d in ("centre", "bourg")]
    # The central ACL: the service users and one user per bridge; the districts' boxes are not on it any more.
    assert (out / "acl").read_text() == render_acl([], coordinator="coordinator", bridges=users)
    for d in ("centre", "bourg"):
        folder = out / "districts" / d
        assert (folder / "acl").read_text() == render_acl(split[d], coordinator=None)
        conf = (folder / "mosquitto.conf").read_text()
        assert f"remote_username bridge-{d}\n" in conf and "address central.vigie.local:8883\n" in conf
        assert stat.S_IMODE(os.stat(folder / "mosquitto.conf").st_mode) == 0o600, "it holds the bridge password"
    assert "remote_password centre-bridge-password-0123\n" in (out / "districts/centre/mosquitto.conf").read_text()
    assert "password" not in (out / "acl").read_text()

    (secrets / "bourg").write_text("short\n")
    proc = _broker_config(tmp_path, "ko", "--district", "centre=dijon", "--district", "bourg=fontaine-les-dijon",
                          "--central-address", "central:8883", "--bridge-password-dir", str(secrets))
    assert proc.returncode == 1
    assert "district bourg:" in proc.stderr and "under 16 characters" in proc.stderr
    assert not (tmp_path / "ko").exists(), "nothing is written when one district fails"
    proc = _broker_config(tmp_path, "ko", "--district", "centre=dijon")
    assert proc.returncode == 1 and "--central-address and --bridge-password-dir" in proc.stderr


def test_a_district_box_without_a_user_is_an_error(fleet: dict[str, BoxConfig]) -> None:
    cam = fleet["cam-darcy-01"]
    anon = cam.model_copy(update={"mqtt": cam.mqtt.model_copy(update={"username": None, "password_file": None})})
    with pytest.raises(AclError, match=r"mqtt\.username is not set"):
        district_topics([anon])


# -- on two real Mosquittos ------------------------------------------------------------------------------------------

#: The two boxes run in the test: a camera box and a light box listening to it, both on the Dijon district broker.
CAM, LIGHT = "cam-darcy-01", "light-liberte-01"


@dataclass
class City:
    central: Mosquitto
    district: Mosquitto
    wan: WanLink
    engine: Engine
    worker: IngestWorker
    links: dict[str, Link]
    commands: list[wire.Command]
    heard: list[tuple[int, int]]
    central_view: Recorder

    def emit(self, count: int, pause_every: int = 0) -> list[tuple[str, int, int]]:
        """``count`` detections from the camera box, durably queued; their ids."""
        ids = []
        cam = self.links[CAM]
        for i in range(count):
            boot, n = cam.emit(wire.Detection(cam=0, track=i, cls=0, conf=90, box=(1, 2, 3, 4)))
            ids.append((CAM, boot, n))
            if pause_every and i % pause_every == pause_every - 1:
                time.sleep(0.01)
        return ids

    def stored(self) -> list[tuple[str, int, int]]:
        return [i for i in event_ids(self.engine) if i[0] == CAM]


def _box_yaml(tmp: Path, device: str, port: int) -> Path:
    """The committed box config on the district broker, with a password file and a local outbox."""
    raw: dict[str, Any] = yaml.safe_load((REPO / "firmware_configs" / f"{device}.yaml").read_text(encoding="utf-8"))
    secret = tmp / f"{device}.secret"
    secret.write_text(f"{device}-pw\n")
    raw["mqtt"] = {"host": "127.0.0.1", "port": port, "username": device, "password_file": str(secret),
                   "reconnect_min_s": 0.05, "reconnect_max_s": 0.5, "keepalive_s": 5}
    raw["outbox"] = {"path": str(tmp / f"{device}-outbox.sqlite3")}
    raw["batch"] = {"window_ms": 20, "max_events": 200, "inflight": 20}
    for cam in raw.get("cameras", []):
        cam["model"] = str(REPO / "models" / Path(cam["model"]).name)
    if raw.get("lighting"):
        raw["lighting"]["state_file"] = str(tmp / f"{device}-lighting.json")
    path = tmp / f"{device}.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def _password_file(path: Path, users: list[str]) -> Path:
    path.write_text("".join(f"{u}:{u}-pw\n" for u in users))
    subprocess.run(["mosquitto_passwd", "-U", str(path)], check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, fleet: dict[str, BoxConfig]) -> Iterator[City]:
    tmp = tmp_path_factory.mktemp("bridged-city")
    dijon = assign_boxes(fleet.values(), [CENTRE])["centre"]
    topics = district_topics(dijon)

    (tmp / "central.acl").write_text(render_acl([], coordinator="coordinator", bridges=[
        bridge_user("bridge-centre", "centre", topics, len(dijon))]))
    central = Mosquitto(tmp / "central", allow_anonymous=False, acl_file=tmp / "central.acl",
                        password_file=_password_file(tmp / "central.passwd", ["coordinator", "bridge-centre"]))
    central.start()
    wan = WanLink(central.port)
    (tmp / "district.acl").write_text(render_acl(dijon, coordinator=None))
    bridge = BridgeSettings("centre", f"127.0.0.1:{wan.port}", "bridge-centre", "bridge-centre-pw", topics,
                            keepalive_s=5, restart_timeout_s=(1, 1))
    district = Mosquitto(tmp / "district", allow_anonymous=False, acl_file=tmp / "district.acl", bridges=(bridge,),
                         password_file=_password_file(tmp / "district.passwd", [b.device_id for b in dijon]))
    district.start()
    wait_until(lambda: wan.connections == 2, 15, "both bridge connections up")

    factory = DatabaseFactory("sqlite", tmp)
    url = factory.new_url()
    engine = make_engine(url)
    register(engine, (CAM, "dijon"), (LIGHT, "dijon"))
    worker = IngestWorker(IngestSettings(database_url=url, mqtt_port=central.port, mqtt_username="coordinator",
                                         mqtt_password="coordinator-pw", client_id="ingest-bridge-test",
                                         batch_ms=20), engine)
    worker.start()
    wait_until(worker.client.subscribed.is_set, 10, "ingest worker subscribed on the central broker")
    central_view = Recorder(central.port, "vigie/v1/dijon/#", username="coordinator", password="coordinator-pw")

    links, commands, heard = {}, [], []
    for device in (CAM, LIGHT):
        box = load_config(_box_yaml(tmp, device, district.port))
        link = Link(box, Outbox(box.outbox.path, box.outbox.max_events), config_hash="ab" * 32,
                    capabilities=("camera",) if box.cameras else ("light",),
                    groups=group_topics(box), listen=listen_topics(box))
        links[device] = link
    lock = threading.Lock()

    def on_command(cmd: wire.Command) -> tuple[str, str, dict[str, object]]:
        with lock:
            commands.append(cmd)
        return wire.AckResult.APPLIED, "", {}

    def on_heard(msg: wire.Message) -> None:
        if isinstance(msg, wire.EventBatch) and msg.header.dev == CAM:
            with lock:
                heard.extend((msg.boot, r.n) for r in msg.events)

    links[LIGHT].set_command_handler(on_command)
    links[LIGHT].set_listener(on_heard)
    for link in links.values():
        link.start()
        wait_until(link.connected.is_set, 10, "box connected to the district broker")
    c = City(central, district, wan, engine, worker, links, commands, heard, central_view)
    try:
        yield c
    finally:
        for link in links.values():
            link.stop()
        central_view.close()
        worker.stop()
        engine.dispose()
        district.stop()
        wan.close()
        central.stop()
        factory.close()


def _command(target: str, cmd_id: str, level: int) -> bytes:
    now = int(time.time() * 1000)
    return wire.encode(wire.Command(wire.Header(1, "coordinator", 0, 1, now), target, cmd_id, now, now + 60_000,
                                    "light.override", {"level": level}))


class Centre:
    """The coordinator's publishing side on the central broker, as its own MQTT user."""

    def __init__(self, port: int, user: str | None = "coordinator") -> None:
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=f"centre-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
        if user is not None:
            self.client.username_pw_set(user, f"{user}-pw")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    @classmethod
    def anonymous(cls, port: int) -> Centre:
        """A publisher without credentials, for brokers that let anyone in."""
        return cls(port, None)

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _all_stored(city: City, ids: list[tuple[str, int, int]], timeout: float, what: str) -> None:
    """Every id of ``ids`` is stored, once (the table's key): counted, not sampled."""
    wanted = set(ids)
    assert len(wanted) == len(ids)
    try:
        wait_until(lambda: wanted <= set(city.stored()), timeout, what, step=0.1)
    except AssertionError:
        missing = sorted(wanted - set(city.stored()))
        raise AssertionError(f"{what}: {len(missing)} of {len(ids)} events missing, first {missing[:5]}\n"
                             f"{city.district.log_text[-1500:]}") from None
    stored = city.stored()
    assert len(stored) == len(set(stored))


def test_events_cross_the_bridge_to_the_ingest_worker_with_their_properties(city: City) -> None:
    before = len(city.stored())
    ids = city.emit(300)
    _all_stored(city, ids, 20, "300 events stored through the bridge")
    assert len(city.stored()) == before + 300
    # The retained birth reached the central broker too, and the v5 bridge kept the contract's content type.
    births = [m for m in city.central_view.snapshot() if m.topic == f"vigie/v1/dijon/{CAM}/birth"]
    assert births and births[0].content_type == wire.CONTENT_TYPE
    events = [m for m in city.central_view.snapshot() if m.topic == f"vigie/v1/dijon/{CAM}/event"]
    assert events and {m.content_type for m in events} == {wire.CONTENT_TYPE}
    # The light box hears its neighbour camera on the district broker: each event once, not again from the centre.
    wait_until(lambda: {(b, n) for _, b, n in ids} <= set(city.heard), 10, "presence heard by the light box")
    assert len(city.heard) == len(set(city.heard))


def test_commands_and_group_commands_flow_down_and_acks_come_back_up(city: City) -> None:
    centre = Centre(city.central.port)
    try:
        centre.publish(f"vigie/v1/dijon/{LIGHT}/cmd", _command(LIGHT, "direct-1", 40))
        centre.publish("vigie/v1/dijon/group/rue-liberte/cmd", _command("rue-liberte", "group-1", 60))
        centre.publish("vigie/v1/dijon/light-darcy-01/cmd", _command("light-darcy-01", "not-mine", 10))
        wait_until(lambda: {"direct-1", "group-1"} <= {c.cmd_id for c in city.commands}, 10, "commands delivered")
        acks = lambda: {a.cmd_id for a in city.central_view.decoded(wire.Kind.ACK)}  # noqa: E731
        wait_until(lambda: {"direct-1", "group-1"} <= acks(), 10, "acks back on the central broker")
    finally:
        centre.close()
    assert "not-mine" not in {c.cmd_id for c in city.commands}


def test_a_cut_link_loses_no_event_and_delivers_the_commands_sent_meanwhile(city: City) -> None:
    before = len(city.stored())
    ids = city.emit(100)
    city.wan.cut()
    ids += city.emit(400, pause_every=50)  # the boxes go on: their district broker queues for the bridge
    centre = Centre(city.central.port)
    try:
        centre.publish(f"vigie/v1/dijon/{LIGHT}/cmd", _command(LIGHT, "during-cut", 30))
    finally:
        centre.close()
    assert city.links[CAM].wait_drained(10), "the district broker took every event while the link was down"
    time.sleep(0.5)
    assert "during-cut" not in {c.cmd_id for c in city.commands}
    city.wan.restore()
    wait_until(lambda: city.wan.connections == 2, 15, "both bridge connections back")
    ids += city.emit(100)
    _all_stored(city, ids, 30, "every event of the outage stored")
    assert len(city.stored()) == before + 600
    wait_until(lambda: "during-cut" in {c.cmd_id for c in city.commands}, 10,
               "the command published during the cut, queued on the central broker")


def test_a_central_broker_restart_loses_no_event(city: City) -> None:
    before = len(city.stored())
    ids = city.emit(100)
    city.central.stop()  # SIGTERM: it saves the sessions (the ingest worker's, the down bridge's) and queues
    ids += city.emit(300, pause_every=50)
    assert city.links[CAM].wait_drained(10)
    city.central.start()
    wait_until(lambda: city.wan.connections == 2, 15, "both bridge connections back")
    ids += city.emit(100)
    _all_stored(city, ids, 30, "every event around the central restart stored")
    assert len(city.stored()) == before + 500


def test_a_district_broker_restart_loses_no_event(city: City) -> None:
    before = len(city.stored())
    ids = city.emit(100)
    city.district.stop()  # the boxes keep their events in their outboxes until it is back
    ids += city.emit(300, pause_every=50)
    city.district.start()
    wait_until(lambda: all(link.connected.is_set() for link in city.links.values()), 15, "boxes reconnected")
    ids += city.emit(100)
    _all_stored(city, ids, 30, "every event around the district restart stored")
    assert len(city.stored()) == before + 500


def test_the_bridge_crosses_tls_and_refuses_a_central_broker_it_cannot_verify(
        tmp_path: Path, fleet: dict[str, BoxConfig]) -> None:
    ca, crt, key = tls_material(tmp_path)
    (tmp_path / "other").mkdir()
    other_ca, _, _ = tls_material(tmp_path / "other")
    cam = fleet[CAM]
    topics = district_topics([cam])
    tls_port = free_port()
    central = Mosquitto(tmp_path / "central", allow_anonymous=True, tls=TlsListener(tls_port, ca, crt, key),
                        password_file=_password_file(tmp_path / "central.passwd", ["bridge-centre"]))
    central.start()
    districts = []
    seen = Recorder(central.port, f"vigie/v1/dijon/{CAM}/event")
    try:
        for name, trusted in (("good", ca), ("bad", other_ca)):
            bridge = BridgeSettings("centre", f"127.0.0.1:{tls_port}", "bridge-centre", "bridge-centre-pw", topics,
                                    cafile=trusted, keepalive_s=5, restart_timeout_s=(1, 1))
            district = Mosquitto(tmp_path / name, allow_anonymous=True, bridges=(bridge,))
            district.start()
            districts.append(district)
        good, bad = districts
        publisher = Centre.anonymous(good.port)
        publisher.publish(f"vigie/v1/dijon/{CAM}/event", b"over-tls")
        publisher.close()
        wait_until(lambda: [m.payload for m in seen.snapshot()] == [b"over-tls"], 15, "the event over the TLS bridge")
        publisher = Centre.anonymous(bad.port)
        publisher.publish(f"vigie/v1/dijon/{CAM}/event", b"unverified")
        publisher.close()
        wait_until(lambda: "certificate verify failed" in bad.log_text.lower(), 15, "the bad bridge refused")
        time.sleep(0.5)
        assert [m.payload for m in seen.snapshot()] == [b"over-tls"]
    finally:
        seen.close()
        for d in districts:
            d.stop()
        central.stop()
