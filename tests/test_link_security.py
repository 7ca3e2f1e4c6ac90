"""The link with broker authentication, per-device ACLs and TLS, on a real Mosquitto."""

from __future__ import annotations

import subprocess
from pathlib import Path

import vigie_wire as wire
from coordinator.broker import TlsListener, free_port
from edge_agent.link import Link, Outbox
from tests.boxes import write_box
from tests.mqtt_helpers import Mosquitto, Recorder, wait_until
from tests.tls_helpers import tls_material


def _passwords(path: Path, users: dict[str, str]) -> Path:
    for i, (user, password) in enumerate(users.items()):
        args = ["mosquitto_passwd", "-b", str(path), user, password]
        if i == 0:
            args.insert(1, "-c")
        subprocess.run(args, check=True, capture_output=True)
    return path


def _secret(tmp: Path, name: str, value: str) -> Path:
    p = tmp / f"{name}.secret"
    p.write_text(value + "\n")
    p.chmod(0o600)
    return p


ACL = """\
user ops
topic read vigie/v1/#

user cam-auth-01
topic write vigie/v1/dijon/cam-auth-01/birth
topic write vigie/v1/dijon/cam-auth-01/death
topic write vigie/v1/dijon/cam-auth-01/telemetry
topic write vigie/v1/dijon/cam-auth-01/ack
topic read vigie/v1/dijon/cam-auth-01/cmd
"""


def _secured_broker(tmp: Path, acl: str = ACL) -> Mosquitto:
    pw = _passwords(tmp / "passwd", {"ops": "ops-secret", "cam-auth-01": "s3cret-cam"})
    (tmp / "acl").write_text(acl)
    b = Mosquitto(tmp / "broker", allow_anonymous=False, password_file=pw, acl_file=tmp / "acl")
    b.start()
    return b


def _link(tmp: Path, port: int, password: str, **sections: object) -> Link:
    cfg, _ = write_box(tmp, port, "cam-auth-01",
                       mqtt={"username": "cam-auth-01", "password_file": str(_secret(tmp, "cam", password))},
                       **sections)
    link = Link(cfg, Outbox(cfg.outbox.path))
    link.start()
    return link


def test_wrong_password_is_refused_and_retried_with_a_clear_error(tmp_path: Path) -> None:
    broker = _secured_broker(tmp_path)
    link = _link(tmp_path, broker.port, "wrong")
    try:
        wait_until(lambda: link.stats.refused >= 2, 10, "refusals")
        assert not link.connected.is_set()
        assert "refused" in link.stats.last_error and "authori" in link.stats.last_error.lower()
    finally:
        link.stop()
        broker.stop()


def test_publish_outside_the_acl_is_refused_and_kept_as_rejected(tmp_path: Path) -> None:
    broker = _secured_broker(tmp_path)  # this ACL forgets the box's event topic
    rec = Recorder(broker.port, username="ops", password="ops-secret")
    link = _link(tmp_path, broker.port, "s3cret-cam")
    try:
        wait_until(lambda: rec.decoded(wire.Kind.BIRTH), 10, "birth with good credentials")
        link.emit(wire.Detection(0, 1, 0, 90, (1, 2, 3, 4)))
        wait_until(lambda: link.outbox.rejected_total == 1, 10, "event refused by the broker")
        assert len(link.outbox) == 0
        assert rec.decoded(wire.Kind.EVENT) == []
    finally:
        link.stop()
        rec.close()
        broker.stop()


def test_link_over_tls_verifies_the_broker_certificate(tmp_path: Path) -> None:
    ca, crt, key = tls_material(tmp_path)
    tls_port = free_port()
    broker = Mosquitto(tmp_path / "broker", tls=TlsListener(port=tls_port, ca_file=ca, cert_file=crt, key_file=key))
    broker.start()
    rec = Recorder(broker.port)
    link = None
    try:
        cfg, _ = write_box(tmp_path, tls_port, "cam-tls-01", mqtt={"tls": {"ca_file": str(ca)}})
        link = Link(cfg, Outbox(cfg.outbox.path))
        link.start()
        wait_until(lambda: rec.decoded(wire.Kind.BIRTH), 15, "birth over TLS")
        link.emit(wire.Detection(0, 7, 0, 90, (1, 2, 3, 4)))
        wait_until(lambda: rec.event_ids() == [("cam-tls-01", link.boot, 0)], 10, "event over TLS")
        link.stop()
        # A box that trusts another authority must not connect.
        (tmp_path / "other").mkdir()
        other_ca, _, _ = tls_material(tmp_path / "other")
        bad, _ = write_box(tmp_path, tls_port, "cam-tls-02", mqtt={"tls": {"ca_file": str(other_ca)}})
        link = Link(bad, Outbox(bad.outbox.path))
        link.start()
        wait_until(lambda: "CERTIFICATE_VERIFY_FAILED" in link.stats.last_error, 10, "certificate rejected")
        assert not link.connected.is_set()
    finally:
        if link:
            link.stop()
        rec.close()
        broker.stop()
