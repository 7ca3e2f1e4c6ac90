"""The Ansible roles and playbooks: lint, syntax, and a real apply of ``broker`` + ``edge_agent`` on this machine.

PID 1 is not systemd here, so the roles are applied with ``vigie_service_manager: none`` and
``connection: local`` into a throwaway prefix, as the current user; the test then starts Mosquitto and the
agent with exactly the command lines of the generated units' ``ExecStart`` and checks what the deployment
promises: the agent's birth reaches the broker with its generated credentials over TLS, a publish outside
its ACL is refused, the watchdog pings arrive, the health check sees the birth, and a failed upgrade rolls
the box back.
"""

from __future__ import annotations

import getpass
import grp
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import sysconfig
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
from paho.mqtt.reasoncodes import ReasonCode

import vigie_wire as wire
from coordinator.broker import free_port
from tests.mqtt_helpers import Recorder, wait_until

REPO = Path(__file__).resolve().parents[1]
ANSIBLE = REPO / "ansible"
BIN = Path(sys.executable).parent
PLAYBOOKS = sorted(ANSIBLE.glob("*.yml"))
BOX = "light-liberte-01"
OTHER_BOX = "cam-darcy-01"
NOT_AUTHORISED = 0x87


def run(*args: str | Path, cwd: Path = ANSIBLE, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False, env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                                            "ANSIBLE_ROLES_PATH": str(ANSIBLE / "roles"),
                                            "ANSIBLE_PIPELINING": "1", **env})


# -- lint and syntax -------------------------------------------------------------------------------------


def test_ansible_lint_passes_with_the_production_profile() -> None:
    proc = run(BIN / "ansible-lint", "--offline", "--profile", "production")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=[p.name for p in PLAYBOOKS])
def test_playbook_syntax_check(playbook: Path) -> None:
    proc = run(BIN / "ansible-playbook", "--syntax-check", "-i", "inventories/demo/hosts.yml", playbook.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_site_and_upgrade_playbooks_exist_and_upgrade_is_a_rolling_batch_with_a_failure_budget() -> None:
    assert {p.name for p in PLAYBOOKS} >= {"site.yml", "upgrade.yml"}
    [play] = yaml.safe_load((ANSIBLE / "upgrade.yml").read_text())
    assert "serial" in play and "max_fail_percentage" in play
    assert "default([1, '10%', '25%'])" in play["serial"], "one box alone first, then growing batches"
    assert "default(10)" in play["max_fail_percentage"]
    tasks = yaml.safe_load((ANSIBLE / "roles/edge_agent/tasks/upgrade.yml").read_text())
    block = next(t for t in tasks if "block" in t)
    assert any("health.yml" in str(t) for t in block["block"])
    assert any(t["name"] == "Point the box back at the previous release" for t in block["rescue"])


def test_demo_inventory_has_one_group_per_commune_matching_the_configs() -> None:
    inventory = yaml.safe_load((ANSIBLE / "inventories/demo/hosts.yml").read_text())
    communes = inventory["all"]["children"]["edge_agents"]["children"]
    configs = {p.stem: yaml.safe_load(p.read_text()) for p in (REPO / "firmware_configs").glob("*.yaml")}
    assert {h for c in communes.values() for h in c["hosts"]} == set(configs)
    for group, content in communes.items():
        commune = yaml.safe_load((ANSIBLE / f"inventories/demo/group_vars/{group}.yml").read_text())["vigie_commune"]
        assert {configs[h]["site"] for h in content["hosts"]} == {commune}


# -- a real apply ------------------------------------------------------------------------------------------


def _tls(tmp: Path) -> tuple[Path, Path, Path]:
    ca_key, ca, key, csr, crt = (tmp / n for n in ("ca.key", "ca.crt", "broker.key", "broker.csr", "broker.crt"))
    ssl = ["openssl"]
    subprocess.run([*ssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
                    "-days", "2", "-subj", "/CN=Vigie test CA"], check=True, capture_output=True)
    subprocess.run([*ssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", "/CN=localhost"], check=True, capture_output=True)
    (tmp / "san.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    subprocess.run([*ssl, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
                    "-days", "2", "-extfile", tmp / "san.cnf"], check=True, capture_output=True)
    return ca, crt, key


@dataclass
class Deployment:
    """A prefix the roles were applied to, and what is needed to use it."""

    tmp: Path
    prefix: Path
    inventory: Path
    playbook: Path
    plain_port: int
    tls_port: int
    ca: Path
    coordinator_password: str
    first_apply: subprocess.CompletedProcess[str]

    def playbook_run(self, playbook: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return run(BIN / "ansible-playbook", "-i", self.inventory, playbook, *extra, cwd=self.tmp)

    def unit(self, name: str) -> dict[str, list[str]]:
        """The ``key=value`` lines of a generated unit, keys mapped to every value they have."""
        out: dict[str, list[str]] = {}
        for line in (self.prefix / "etc/systemd/system" / name).read_text().splitlines():
            if "=" in line and not line.startswith(("#", "[")):
                key, value = line.split("=", 1)
                out.setdefault(key, []).append(value)
        return out


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    tmp = tmp_path_factory.mktemp("ansible")
    prefix = tmp / "root"
    wheel = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "dist", REPO],
                           capture_output=True, text=True, timeout=300, check=False)
    assert wheel.returncode == 0, wheel.stderr
    shutil.rmtree(REPO / "build", ignore_errors=True)  # pip's in-tree build folder
    ca, crt, key = _tls(tmp)
    plain_port, tls_port = free_port(), free_port()
    user = getpass.getuser()
    passwords = {name: secrets.token_urlsafe(24) for name in ("coordinator", BOX, OTHER_BOX)}
    inventory = {"all": {
        "vars": {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "vigie_become": False,
            "vigie_prefix": str(prefix),
            "vigie_service_manager": "none",
            "vigie_manage_user": False,
            "vigie_manage_packages": False,
            "vigie_user": user,
            "vigie_group": grp.getgrgid(os.getgid()).gr_name,
            "vigie_broker_user": user,
            "vigie_repo_dir": str(REPO),
            "vigie_wheel_src": str(next((tmp / "dist").glob("vigie-*.whl"))),
            "vigie_python": os.path.realpath(sys.executable),
            # The box image provides the heavy dependencies; here, the development environment does.
            "vigie_extra_site_packages": [sysconfig.get_path("purelib")],
            "vigie_mqtt_broker_host": "localhost",
            "vigie_mqtt_tls_port": tls_port,
            "vigie_broker_port": plain_port,
            "vigie_broker_tls_bind": "127.0.0.1",
            "vigie_tls_ca_src": str(ca),
            "vigie_broker_tls_cert_src": str(crt),
            "vigie_broker_tls_key_src": str(key),
            "vigie_mqtt_coordinator_password": passwords["coordinator"],
            "vigie_controller_python": sys.executable,
            "vigie_health_timeout_s": 5,
        },
        "children": {
            "broker": {"hosts": {"broker-test": {}}},
            "edge_agents": {"children": {"dijon": {
                "vars": {"vigie_commune": "dijon"},
                "hosts": {BOX: {"vigie_mqtt_password": passwords[BOX]},
                          OTHER_BOX: {"vigie_mqtt_password": passwords[OTHER_BOX]}},
            }}},
        },
    }}
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    playbook = tmp / "apply.yml"
    playbook.write_text(yaml.safe_dump([
        {"name": "Broker", "hosts": "broker", "gather_facts": False, "roles": ["broker"]},
        {"name": "One box", "hosts": BOX, "gather_facts": False, "roles": ["edge_agent"]},
    ], sort_keys=False))
    first = run(BIN / "ansible-playbook", "-i", tmp / "inventory.yml", playbook, cwd=tmp)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    return Deployment(tmp, prefix, tmp / "inventory.yml", playbook, plain_port, tls_port, ca,
                      passwords["coordinator"], first)


def test_apply_writes_hashed_passwords_acl_config_and_credentials(deployment: Deployment) -> None:
    etc = deployment.prefix / "etc"
    passwd = (etc / "vigie-broker/passwd").read_text()
    assert sorted(line.split(":")[0] for line in passwd.splitlines()) == sorted(["coordinator", BOX, OTHER_BOX])
    assert all(line.split(":", 1)[1].startswith("$7$") for line in passwd.splitlines()), "hashed (PBKDF2-SHA512)"
    assert deployment.coordinator_password not in passwd
    assert not (etc / "vigie-broker/passwd.new").exists()
    acl = (etc / "vigie-broker/acl").read_text()
    assert f"user {BOX}\n" in acl and f"user {OTHER_BOX}\n" in acl
    assert f"topic write vigie/v1/dijon/{BOX}/birth\n" in acl
    secret = etc / "vigie/mqtt.secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    box = yaml.safe_load((etc / "vigie/box.yaml").read_text())
    assert box["device_id"] == BOX
    assert box["mqtt"]["port"] == deployment.tls_port and box["mqtt"]["username"] == BOX
    assert box["mqtt"]["tls"]["ca_file"] == str(etc / "vigie/ca.crt")
    assert box["lighting"]["state_file"] == str(deployment.prefix / "var/lib/vigie/lighting-state.json")
    assert box["lighting"]["presence"] == yaml.safe_load(
        (REPO / "firmware_configs" / f"{BOX}.yaml").read_text())["lighting"]["presence"]
    assert (deployment.prefix / "opt/vigie/current").resolve() == deployment.prefix / "opt/vigie/releases/0.1.0"
    conf = (etc / "vigie-broker/mosquitto.conf").read_text()
    assert "allow_anonymous false\n" in conf and f"listener {deployment.tls_port} 127.0.0.1\n" in conf


def test_generated_units_pass_systemd_analyze_verify(deployment: Deployment) -> None:
    units = deployment.prefix / "etc/systemd/system"
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", units / "vigie-broker.service",
                           units / "vigie-edge.service"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    edge = deployment.unit("vigie-edge.service")
    assert edge["Type"] == ["notify"] and edge["Restart"] == ["always"] and edge["WatchdogSec"] == ["60"]
    assert edge["StandardOutput"] == ["journal"] and edge["SyslogIdentifier"] == ["vigie-edge"]
    assert (deployment.prefix / "etc/systemd/journald.conf.d/vigie.conf").read_text().count("Storage=persistent")


class _Notify:
    """A stand-in for systemd's notify socket: records what the agent sends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.states: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="notify-socket", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self.states.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@dataclass
class Running:
    deployment: Deployment
    recorder: Recorder
    notify: _Notify
    agent: subprocess.Popen[bytes]
    started_at: float


@pytest.fixture(scope="module")
def running(deployment: Deployment) -> Iterator[Running]:
    """Mosquitto and the agent, started with their units' own ExecStart lines."""
    broker_cmd = shlex.split(deployment.unit("vigie-broker.service")["ExecStart"][0])
    edge = deployment.unit("vigie-edge.service")
    broker = subprocess.Popen(broker_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    procs: list[subprocess.Popen[bytes]] = [broker]
    notify = _Notify(deployment.tmp / "notify.sock")
    recorder: Recorder | None = None
    try:
        for port in (deployment.plain_port, deployment.tls_port):
            wait_until(lambda p=port: _listening(p), 10, f"broker on {port}")  # type: ignore[misc]
        recorder = Recorder(deployment.plain_port, username="coordinator", password=deployment.coordinator_password)
        pre = subprocess.run(shlex.split(edge["ExecStartPre"][0]), capture_output=True, text=True, timeout=60,
                             check=False)
        assert pre.returncode == 0, pre.stderr
        started_at = time.time()
        agent = subprocess.Popen(shlex.split(edge["ExecStart"][0]), stdout=subprocess.DEVNULL,
                                 stderr=open(deployment.tmp / "agent.log", "wb"),  # noqa: SIM115
                                 env={**os.environ, "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000",
                                      "PYTHONUNBUFFERED": "1"})
        procs.append(agent)
        yield Running(deployment, recorder, notify, agent, started_at)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if recorder is not None:
            recorder.close()
        notify.close()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def test_agent_birth_reaches_the_broker_with_its_generated_credentials(running: Running) -> None:
    def births() -> list[Any]:
        return [b for b in running.recorder.decoded(wire.Kind.BIRTH) if b.header.dev == BOX]

    wait_until(lambda: bool(births()), 30, f"birth of {BOX}")
    birth = births()[-1]
    assert "light" in birth.caps
    assert birth.header.ts >= int(running.started_at * 1000) - 1000
    log = (running.deployment.tmp / "agent.log").read_text(errors="replace")
    assert running.agent.poll() is None, log[-2000:]


def test_agent_tells_systemd_it_is_ready_and_pings_the_watchdog(running: Running) -> None:
    wait_until(lambda: "READY=1" in running.notify.states, 30, "READY=1")
    wait_until(lambda: running.notify.states.count("WATCHDOG=1") >= 2, 10, "two watchdog pings")


def test_publish_outside_the_box_acl_is_refused_and_not_delivered(running: Running) -> None:
    dep = running.deployment
    password = (dep.prefix / "etc/vigie/mqtt.secret").read_text().strip()
    acks: dict[int, ReasonCode] = {}
    connected = threading.Event()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{BOX}-forger",
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(BOX, password)
    client.tls_set(ca_certs=str(dep.prefix / "etc/vigie/ca.crt"))
    client.on_connect = lambda *_: connected.set()
    client.on_publish = lambda _c, _u, mid, rc, _p: acks.__setitem__(mid, rc)
    client.connect("localhost", dep.tls_port, keepalive=10)
    client.loop_start()
    try:
        wait_until(connected.is_set, 10, "box credentials accepted over TLS")
        forged = client.publish(f"vigie/v1/dijon/{OTHER_BOX}/event", b"forged", qos=1).mid
        own = client.publish(f"vigie/v1/dijon/{BOX}/ack", b"mine", qos=1).mid
        wait_until(lambda: forged in acks and own in acks, 10, "PUBACKs")
        assert acks[forged].value == NOT_AUTHORISED
        assert acks[own].value == 0
        wait_until(lambda: any(m.payload == b"mine" for m in running.recorder.snapshot()), 10, "own ack delivered")
        assert not [m for m in running.recorder.snapshot() if m.payload == b"forged"]
    finally:
        client.loop_stop()
        client.disconnect()


def test_role_health_check_sees_the_birth_of_the_started_agent(running: Running) -> None:
    dep = running.deployment
    wait_until(lambda: any(b.header.dev == BOX for b in running.recorder.decoded(wire.Kind.BIRTH)), 30, "birth")
    ok = dep.playbook_run(dep.playbook, "--tags", "health", "-e", f"vigie_edge_started_at={running.started_at - 5}")
    assert ok.returncode == 0, ok.stdout[-4000:]
    assert "Wait for the agent's birth on the broker" in ok.stdout
    assert "ok=" in ok.stdout and "failed=0" in ok.stdout


def test_failed_upgrade_rolls_the_box_back_to_the_previous_release(running: Running) -> None:
    dep = running.deployment
    releases = dep.prefix / "opt/vigie/releases"
    proc = dep.playbook_run(ANSIBLE / "upgrade.yml", "-e", f"vigie_upgrade_hosts={BOX}", "-e", "vigie_version=0.1.1",
                            "-e", f"vigie_edge_started_at={time.time() + 3600}")
    assert proc.returncode != 0
    assert f"{BOX}: release 0.1.1 failed" in proc.stdout and f"rolled back to {releases}/0.1.0" in proc.stdout, (
        proc.stdout[-4000:])
    # The health check failed for the right reason: the only birth on the broker predates the (new) start.
    assert "is older than its start" in proc.stdout
    assert (releases / "0.1.1/bin/vigie-edge").exists(), "the new release was installed before the check"
    assert (dep.prefix / "opt/vigie/current").resolve() == releases / "0.1.0"
