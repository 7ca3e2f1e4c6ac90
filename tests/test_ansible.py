"""The Ansible roles and playbooks: lint, syntax, and a real apply of ``site.yml`` on this machine.

PID 1 is not systemd here, so the three roles are applied once per run with ``vigie_service_manager: none``
and ``connection: local`` into throwaway prefixes (one per host: the broker and the box share one, the
coordinator has its own), as the current user, against the local PostgreSQL (a database and a login role
made for the run, dropped at the end). The test then starts Mosquitto, the coordinator's web app, ingest,
jobs and notification workers, and the agent with exactly the command lines of the generated units'
``ExecStart`` (and their ``EnvironmentFile``), and checks what the deployment promises: the agent's birth
reaches the broker with its generated credentials over TLS and lands in the coordinator's database through
both ingest workers, a publish outside its ACL is refused, the watchdog pings arrive, the API answers, the
health check sees the birth, and a failed upgrade rolls the box back. Meanwhile ``site.yml`` is applied to a
central broker host and a district broker host bridged to it (prefixes of their own), and a box's event sent to
the district broker reaches the central one.
"""

from __future__ import annotations

import getpass
import grp
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

import vigie_wire as wire
from coordinator.broker import free_port
from coordinator.evidence import load_private_key
from coordinator.storage import make_engine
from tests.db_helpers import drop_pg_database_and_role, pg_admin_env
from tests.mqtt_helpers import Recorder, wait_until

REPO = Path(__file__).resolve().parents[1]
ANSIBLE = REPO / "ansible"
BIN = Path(sys.executable).parent
PLAYBOOKS = sorted(ANSIBLE.glob("*.yml"))
BOX = "light-liberte-01"
OTHER_BOX = "cam-darcy-01"
BROKER_HOST = "broker-test"
COORDINATOR_HOST = "coordinator-test"
INGEST_WORKERS = 2
NOT_AUTHORISED = 0x87


def run(*args: str | Path, cwd: Path = ANSIBLE, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False, env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                                            "ANSIBLE_ROLES_PATH": str(ANSIBLE / "roles"),
                                            "ANSIBLE_PIPELINING": "1", **env})


# -- lint and syntax -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lint() -> Iterator[subprocess.Popen[str]]:
    """ansible-lint, run once and started early: it works while the roles are being applied."""
    proc = subprocess.Popen([BIN / "ansible-lint", "--offline", "--profile", "production"], cwd=ANSIBLE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "ANSIBLE_NOCOLOR": "1", "NO_COLOR": "1"})
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def test_ansible_lint_passes_with_the_production_profile(lint: subprocess.Popen[str]) -> None:
    output, _ = lint.communicate(timeout=600)
    assert lint.returncode == 0, output
    assert "Profile 'production' was required, and it passed" in output


def test_playbooks_pass_the_syntax_check() -> None:
    proc = run(BIN / "ansible-playbook", "--syntax-check", "-i", "inventories/demo/hosts.yml",
               *(p.name for p in PLAYBOOKS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {line.split(": ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("playbook: ")} == {
        p.name for p in PLAYBOOKS}


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


def test_the_agent_user_gets_the_serial_ports_of_field_interfaces_and_no_other_group() -> None:
    tasks = yaml.safe_load((ANSIBLE / "roles/edge_agent/tasks/install.yml").read_text())
    user = next(t["ansible.builtin.user"] for t in tasks if "ansible.builtin.user" in t)
    assert user["groups"] == ["dialout"] and user["append"] is True  # USB-serial DALI and Modbus RTU adapters
    assert user["shell"] == "/usr/sbin/nologin" and user["system"] is True


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


def read_unit(path: Path) -> dict[str, list[str]]:
    """The ``key=value`` lines of a unit file, keys mapped to every value they have."""
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def read_environment_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a systemd ``EnvironmentFile`` (comments and blank lines skipped)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith(("#", ";")):
            key, value = line.split("=", 1)
            out[key.strip()] = value
    return out


@dataclass(frozen=True)
class Database:
    """The PostgreSQL database and login role the coordinator role creates, unique to this run."""

    name: str
    user: str
    password: str


@dataclass
class Deployment:
    """The prefixes ``site.yml`` was applied to, and what is needed to use them."""

    tmp: Path
    prefix: Path  # the broker and the box
    coordinator_prefix: Path
    inventory: Path
    limit: str
    plain_port: int
    tls_port: int
    web_port: int
    ca: Path
    coordinator_password: str
    db: Database
    first_apply: subprocess.CompletedProcess[str]

    def playbook_run(self, playbook: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return run(BIN / "ansible-playbook", "-i", self.inventory, playbook, *extra, cwd=self.tmp)

    def unit(self, name: str, prefix: Path | None = None) -> dict[str, list[str]]:
        return read_unit((prefix or self.prefix) / "etc/systemd/system" / name)

    @property
    def coordinator_units(self) -> Path:
        return self.coordinator_prefix / "etc/systemd/system"

    def coordinator_service(self, name: str, instance: str = "") -> tuple[list[str], dict[str, str]]:
        """Command line and environment of a coordinator unit, as systemd would start it.

        ``%i`` is the instance of a template; the environment is systemd's minimal one plus the unit's
        ``EnvironmentFile`` and ``Environment`` lines (no variable of the test process leaks in).
        """
        unit = self.unit(name, self.coordinator_prefix)

        def expand(value: str) -> str:
            return value.replace("%i", instance)

        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(self.tmp)}
        for path in unit.get("EnvironmentFile", []):
            env.update(read_environment_file(Path(expand(path))))
        for assignment in unit.get("Environment", []):
            key, value = expand(assignment).split("=", 1)
            env[key] = value
        [exec_start] = unit["ExecStart"]
        return shlex.split(expand(exec_start)), env


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release, built once per run: every role and every upgrade installs this file."""
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, REPO],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(REPO / "build", ignore_errors=True)  # pip's in-tree build folder
    return next(dist.glob("vigie-*.whl"))


@pytest.fixture(scope="session")
def database() -> Iterator[Database]:
    """Names only: the role creates them; they are dropped at the end of the run whatever happened."""
    suffix = uuid.uuid4().hex[:10]
    db = Database(f"vigie_ansible_{suffix}", f"vigie_ansible_{suffix}", secrets.token_urlsafe(24))
    yield db
    drop_pg_database_and_role(db.name, db.user)


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory, wheel: Path, database: Database,
               lint: subprocess.Popen[str], district_apply: DistrictApply) -> Deployment:
    """``site.yml`` applied once for the whole run: the broker, the coordinator and one box (ansible-lint and the
    district brokers' apply run meanwhile)."""
    tmp = tmp_path_factory.mktemp("ansible")
    prefix, coordinator_prefix = tmp / "root", tmp / "coordinator-root"
    ca, crt, key = _tls(tmp)
    plain_port, tls_port, web_port = free_port(), free_port(), free_port()
    user = getpass.getuser()
    passwords = {name: secrets.token_urlsafe(24) for name in ("coordinator", BOX, OTHER_BOX)}
    pg = pg_admin_env()
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
            "vigie_wheel_src": str(wheel),
            "vigie_python": os.path.realpath(sys.executable),
            # The host image provides the heavy dependencies; here, the development environment does.
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
            "broker": {"hosts": {BROKER_HOST: {}}},
            "coordinator": {"hosts": {COORDINATOR_HOST: {
                "vigie_prefix": str(coordinator_prefix),
                "vigie_db_name": database.name,
                "vigie_db_user": database.user,
                "vigie_db_password": database.password,
                "vigie_db_host": pg["PGHOST"],
                "vigie_db_port": int(pg["PGPORT"]),
                # An administrator role over TCP instead of the postgres system user.
                "vigie_db_admin_env": pg,
                "vigie_web_bind": f"127.0.0.1:{web_port}",
                "vigie_web_workers": 1,
                "vigie_web_threads": 4,
                "vigie_ingest_workers": INGEST_WORKERS,
                "vigie_mqtt_host": "127.0.0.1",
                "vigie_mqtt_port": plain_port,
            }}},
            "edge_agents": {"children": {"dijon": {
                "vars": {"vigie_commune": "dijon"},
                "hosts": {BOX: {"vigie_mqtt_password": passwords[BOX]},
                          OTHER_BOX: {"vigie_mqtt_password": passwords[OTHER_BOX]}},
            }}},
        },
    }}
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    # The real site playbook; the other box is served by the broker and the coordinator but not installed
    # (it would share the prefix).
    limit = f"{BROKER_HOST},{COORDINATOR_HOST},{BOX}"
    first = run(BIN / "ansible-playbook", "-i", tmp / "inventory.yml", ANSIBLE / "site.yml", "--limit", limit,
                cwd=tmp)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    return Deployment(tmp, prefix, coordinator_prefix, tmp / "inventory.yml", limit, plain_port, tls_port, web_port,
                      ca, passwords["coordinator"], database, first)


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


def test_coordinator_apply_creates_the_database_release_environment_and_migrates(deployment: Deployment) -> None:
    dep, db = deployment, deployment.db
    etc = dep.coordinator_prefix / "etc/vigie"
    env_file = etc / "coordinator.env"
    assert env_file.stat().st_mode & 0o777 == 0o640
    env = read_environment_file(env_file)
    url = (f"postgresql+psycopg://{db.user}:{db.password}@{pg_admin_env()['PGHOST']}:{pg_admin_env()['PGPORT']}"
           f"/{db.name}")
    assert env["VIGIE_DATABASE_URL"] == url
    assert env["VIGIE_MQTT_USERNAME"] == "coordinator" and env["VIGIE_MQTT_PASSWORD"] == dep.coordinator_password
    assert env["VIGIE_MQTT_PORT"] == str(dep.plain_port)
    # No default credentials: the secret key was generated on the host, and only its path is in the environment.
    key_file = Path(env["VIGIE_SECRET_KEY_FILE"])
    assert key_file == etc / "secret_key" and key_file.stat().st_mode & 0o777 == 0o640
    assert re.fullmatch(r"[A-Za-z0-9]{64}\n", key_file.read_text())
    assert "VIGIE_SECRET_KEY" not in env
    # /metrics has its own generated token; cookies are Secure behind the HTTPS proxy the role expects.
    metrics_token = Path(env["VIGIE_METRICS_TOKEN_FILE"])
    assert metrics_token == etc / "metrics_token" and metrics_token.stat().st_mode & 0o777 == 0o640
    assert re.fullmatch(r"[A-Za-z0-9]{48}\n", metrics_token.read_text())
    # The centre's Ed25519 key for evidence packages, generated once, readable by the service's group only.
    evidence_key = Path(env["VIGIE_EVIDENCE_KEY_FILE"])
    assert evidence_key == etc / "evidence_key.pem" and evidence_key.stat().st_mode & 0o777 == 0o640
    assert load_private_key(evidence_key) and b"BEGIN PUBLIC KEY" in (etc / "evidence_key.pub").read_bytes()
    assert Path(env["VIGIE_SEGMENTS_DIR"]).is_dir() and Path(env["VIGIE_EVIDENCE_DIR"]).is_dir()
    assert (env["VIGIE_SESSION_COOKIE_SECURE"], env["VIGIE_TRUSTED_PROXIES"]) == ("true", "1")
    assert env["VIGIE_MODELS_DIR"] == str(dep.coordinator_prefix / "opt/vigie/fleet/models")
    release = dep.coordinator_prefix / "opt/vigie/releases/0.1.0"
    assert (dep.coordinator_prefix / "opt/vigie/current").resolve() == release
    assert (release / "bin/vigie-coordinator").exists()

    # The role's own login role owns the fresh database, and its password is the inventory's.
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            owner = conn.execute(sa.text("SELECT pg_get_userbyid(datdba) FROM pg_database "
                                         "WHERE datname = current_database()")).scalar_one()
            seeded = dict(conn.execute(sa.text("SELECT id, site FROM devices ORDER BY id")).all())
    finally:
        engine.dispose()
    assert owner == db.user
    assert seeded == {BOX: "dijon", OTHER_BOX: "dijon"}, "the boxes of the inventory are in the fleet registry"

    assert "TASK [coordinator : Upgrade the schema to the release's head]" in dep.first_apply.stdout
    check = subprocess.run([release / "bin/vigie-coordinator", "db", "check"], capture_output=True, text=True,
                           timeout=120, check=False, env={"PATH": os.environ["PATH"], **env})
    assert check.returncode == 0, check.stderr


def test_generated_units_pass_systemd_analyze_verify(deployment: Deployment) -> None:
    units, coordinator = deployment.prefix / "etc/systemd/system", deployment.coordinator_units
    generated = sorted(p.name for p in coordinator.iterdir())
    assert generated == ["vigie-coordinator.target", "vigie-ingest@.service", "vigie-jobs.service",
                         "vigie-notify.service", "vigie-web.service"]
    # A template is verified through its instances.
    checked = [units / "vigie-broker.service", units / "vigie-edge.service",
               *(coordinator / n.replace("@.", "@1.") for n in generated),
               *(coordinator / f"vigie-ingest@{i}.service" for i in range(2, INGEST_WORKERS + 1))]
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", *checked], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "vigie-" not in proc.stderr, proc.stderr  # not even a warning about one of ours
    edge = deployment.unit("vigie-edge.service")
    assert edge["Type"] == ["notify"] and edge["Restart"] == ["always"] and edge["WatchdogSec"] == ["60"]
    assert edge["StandardOutput"] == ["journal"] and edge["SyslogIdentifier"] == ["vigie-edge"]
    assert (deployment.prefix / "etc/systemd/journald.conf.d/vigie.conf").read_text().count("Storage=persistent")
    target = deployment.unit("vigie-coordinator.target", deployment.coordinator_prefix)
    assert target["Wants"][0].split() == ["vigie-web.service", "vigie-jobs.service", "vigie-notify.service",
                                          *(f"vigie-ingest@{i}.service" for i in range(1, INGEST_WORKERS + 1))]
    web_cmd, _ = deployment.coordinator_service("vigie-web.service")
    assert web_cmd[web_cmd.index("--worker-class") + 1] == "gthread"
    assert web_cmd[-1] == "coordinator.wsgi:app"
    ids = {deployment.coordinator_service("vigie-ingest@.service", str(i))[0][-1] for i in (1, 2)}
    assert ids == {"vigie-ingest-1", "vigie-ingest-2"}, "each instance has its own fixed client id"


class _Notify:
    """A stand-in for systemd's notify socket: records what a service sends."""

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
class Processes:
    """Started services, each with its log file; stopped in reverse order (SIGTERM, as systemd does)."""

    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _files: list[IO[bytes]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop_all
        self._files.append(log)
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def stop_all(self) -> None:
        for proc in reversed(self.procs.values()):
            proc.terminate()
        for proc in reversed(self.procs.values()):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for f in self._files:
            f.close()


@dataclass
class Running:
    deployment: Deployment
    processes: Processes
    recorder: Recorder
    notify: _Notify
    web_notify: _Notify
    metrics_ports: dict[str, int]
    agent: subprocess.Popen[bytes]
    started_at: float


@pytest.fixture(scope="session")
def running(deployment: Deployment) -> Iterator[Running]:
    """Mosquitto, the coordinator's services, then the agent, each started with its unit's own ExecStart."""
    dep = deployment
    processes = Processes(dep.tmp)
    notify = _Notify(dep.tmp / "notify.sock")
    web_notify = _Notify(dep.tmp / "web-notify.sock")
    recorder: Recorder | None = None
    try:
        processes.start("broker", shlex.split(dep.unit("vigie-broker.service")["ExecStart"][0]))
        for port in (dep.plain_port, dep.tls_port):
            wait_until(lambda p=port: _listening(p), 10, f"broker on {port}")  # type: ignore[misc]
        recorder = Recorder(dep.plain_port, username="coordinator", password=dep.coordinator_password)

        # The coordinator, before the box: births are retained, but a new shared subscription gets no
        # retained message (MQTT 5), so the workers must be subscribed when the agent is born.
        argv, env = dep.coordinator_service("vigie-web.service")
        processes.start("web", argv, {**env, "NOTIFY_SOCKET": str(web_notify.path)}, cwd="/")
        metrics_ports: dict[str, int] = {}
        for i in range(1, INGEST_WORKERS + 1):
            argv, env = dep.coordinator_service("vigie-ingest@.service", str(i))
            # What a drop-in would add: a metrics port per worker, to see how the load is shared.
            metrics_ports[f"vigie-ingest-{i}"] = port = free_port()
            processes.start(f"ingest-{i}", argv, {**env, "VIGIE_INGEST_METRICS_PORT": str(port)}, cwd="/")
        for name in ("jobs", "notify"):
            argv, env = dep.coordinator_service(f"vigie-{name}.service")
            processes.start(name, argv, env, cwd="/")
        for i in range(1, INGEST_WORKERS + 1):
            worker = f"ingest-{i}"
            wait_until(lambda w=worker, i=i: f"connected as vigie-ingest-{i}" in processes.log(w)  # type: ignore[misc]
                       or not processes.alive(w), 60, f"ingest worker {i} connected")
            assert processes.alive(worker), processes.log(worker)[-3000:]

        edge = dep.unit("vigie-edge.service")
        pre = subprocess.run(shlex.split(edge["ExecStartPre"][0]), capture_output=True, text=True, timeout=60,
                             check=False)
        assert pre.returncode == 0, pre.stderr
        started_at = time.time()
        processes.start("agent", shlex.split(edge["ExecStart"][0]),
                        {**os.environ, "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000",
                         "PYTHONUNBUFFERED": "1"})
        yield Running(dep, processes, recorder, notify, web_notify, metrics_ports, processes.procs["agent"],
                      started_at)
    finally:
        processes.stop_all()
        if recorder is not None:
            recorder.close()
        notify.close()
        web_notify.close()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return int(resp.status), bytes(resp.read())


def test_agent_birth_reaches_the_broker_with_its_generated_credentials(running: Running) -> None:
    def births() -> list[Any]:
        return [b for b in running.recorder.decoded(wire.Kind.BIRTH) if b.header.dev == BOX]

    wait_until(lambda: bool(births()), 30, f"birth of {BOX}")
    birth = births()[-1]
    assert "light" in birth.caps
    assert birth.header.ts >= int(running.started_at * 1000) - 1000
    assert running.agent.poll() is None, running.processes.log("agent")[-2000:]


def test_agent_tells_systemd_it_is_ready_and_pings_the_watchdog(running: Running) -> None:
    wait_until(lambda: "READY=1" in running.notify.states, 30, "READY=1")
    wait_until(lambda: running.notify.states.count("WATCHDOG=1") >= 2, 10, "two watchdog pings")


def test_publish_outside_the_box_acl_is_refused_and_not_delivered(running: Running) -> None:
    dep = running.deployment
    acks: dict[int, ReasonCode] = {}
    client = _box_client(dep, f"{BOX}-forger", acks)
    try:
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


def _box_client(dep: Deployment, client_id: str, acks: dict[int, ReasonCode]) -> mqtt.Client:
    """A client with the box's installed credentials over TLS, connected; PUBACK reason codes go to ``acks``."""
    password = (dep.prefix / "etc/vigie/mqtt.secret").read_text().strip()
    connected = threading.Event()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(BOX, password)
    client.tls_set(ca_certs=str(dep.prefix / "etc/vigie/ca.crt"))
    client.on_connect = lambda *_: connected.set()
    client.on_publish = lambda _c, _u, mid, rc, _p: acks.__setitem__(mid, rc)
    client.connect("localhost", dep.tls_port, keepalive=10)
    client.loop_start()
    wait_until(connected.is_set, 10, "box credentials accepted over TLS")
    return client


def test_coordinator_api_answers_under_gunicorn(running: Running) -> None:
    port = running.deployment.web_port
    wait_until(lambda: _listening(port) or not running.processes.alive("web"), 60, "gunicorn listening")
    assert running.processes.alive("web"), running.processes.log("web")[-3000:]
    status, body = _get(f"http://127.0.0.1:{port}/api/v1/openapi.json")
    assert status == 200
    spec = json.loads(body)
    assert spec["openapi"].startswith("3.") and any("devices" in p for p in spec["paths"])
    assert any(s.startswith("READY=1") for s in running.web_notify.states), "Type=notify: gunicorn says ready"
    # /metrics is not public: 401 without the generated token, the metrics with it.
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get(f"http://127.0.0.1:{port}/metrics")
    assert refused.value.code == 401
    etc = running.deployment.coordinator_prefix / "etc/vigie"
    token = (etc / "metrics_token").read_text().strip()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 200 and b"vigie_api_requests_total" in resp.read()
    assert "gthread" in running.processes.log("web")


def test_box_birth_lands_in_the_coordinator_database_through_the_ingest_workers(running: Running) -> None:
    env = read_environment_file(running.deployment.coordinator_prefix / "etc/vigie/coordinator.env")
    engine = make_engine(env["VIGIE_DATABASE_URL"], poolclass=sa.pool.NullPool)

    def box() -> dict[str, Any] | None:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT status, caps FROM devices WHERE id = :id"), {"id": BOX}).mappings()
            return dict(row.one())

    try:
        wait_until(lambda: (box() or {}).get("status") == "online", 30, f"{BOX} online in the devices table",
                   step=0.2)
        assert "light" in (box() or {})["caps"]
    finally:
        engine.dispose()
    for i in range(1, INGEST_WORKERS + 1):
        assert running.processes.alive(f"ingest-{i}"), running.processes.log(f"ingest-{i}")[-3000:]


def _messages_received(port: int) -> float:
    _, body = _get(f"http://127.0.0.1:{port}/metrics")
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith("vigie_ingest_messages_total{"))


def test_both_ingest_workers_are_connected_and_share_the_load(running: Running) -> None:
    broker_log = running.processes.log("broker")
    for i in range(1, INGEST_WORKERS + 1):
        assert re.search(rf"New client connected from \S+ as vigie-ingest-{i} \(.*u'coordinator'\)", broker_log), (
            broker_log[-3000:])
    before = {cid: _messages_received(port) for cid, port in running.metrics_ports.items()}
    acks: dict[int, ReasonCode] = {}
    client = _box_client(running.deployment, f"{BOX}-load", acks)
    try:
        mids = [client.publish(f"vigie/v1/dijon/{BOX}/ack", b"not a wire message", qos=1).mid for _ in range(20)]
        wait_until(lambda: all(m in acks for m in mids), 10, "PUBACKs")
    finally:
        client.loop_stop()
        client.disconnect()

    def received() -> dict[str, float]:
        return {cid: _messages_received(port) - before[cid] for cid, port in running.metrics_ports.items()}

    wait_until(lambda: sum(received().values()) >= 20, 15, "the 20 messages counted by the workers", step=0.1)
    assert all(n > 0 for n in received().values()), f"one $share group, every worker gets some: {received()}"


def test_jobs_and_notification_workers_run_with_the_generated_environment(running: Running) -> None:
    procs = running.processes
    wait_until(lambda: "periodic jobs:" in procs.log("jobs") or not procs.alive("jobs"), 30, "jobs started")
    wait_until(lambda: "notification worker" in procs.log("notify") or not procs.alive("notify"), 30,
               "notifications started")
    assert procs.alive("jobs"), procs.log("jobs")[-3000:]
    assert procs.alive("notify"), procs.log("notify")[-3000:]
    wait_until(lambda: "as coordinator-notify (" in procs.log("broker"), 10, "notification worker on the broker")
    assert re.search(r"as coordinator-notify \(.*u'coordinator'\)", procs.log("broker"))


def test_role_health_check_sees_the_birth_of_the_started_agent(running: Running) -> None:
    dep = running.deployment
    wait_until(lambda: any(b.header.dev == BOX for b in running.recorder.decoded(wire.Kind.BIRTH)), 30, "birth")
    ok = dep.playbook_run(ANSIBLE / "site.yml", "--limit", BOX, "--tags", "health",
                          "-e", f"vigie_edge_started_at={running.started_at - 5}")
    assert ok.returncode == 0, ok.stdout[-4000:]
    assert "Wait for the agent's birth on the broker" in ok.stdout
    assert "ok=" in ok.stdout and "failed=0" in ok.stdout


def test_failed_upgrade_rolls_the_box_back_to_the_previous_release(running: Running) -> None:
    dep = running.deployment
    releases = dep.prefix / "opt/vigie/releases"
    proc = dep.playbook_run(ANSIBLE / "upgrade.yml", "-e", f"vigie_upgrade_hosts={BOX}", "-e", "vigie_version=0.1.1",
                            "-e", f"vigie_edge_started_at={time.time() + 3600}", "-e", "vigie_health_timeout_s=2")
    assert proc.returncode != 0
    assert f"{BOX}: release 0.1.1 failed" in proc.stdout and f"rolled back to {releases}/0.1.0" in proc.stdout, (
        proc.stdout[-4000:])
    # The health check failed for the right reason: the only birth on the broker predates the (new) start.
    assert "is older than its start" in proc.stdout
    assert (releases / "0.1.1/bin/vigie-edge").exists(), "the new release was installed before the check"
    assert (dep.prefix / "opt/vigie/current").resolve() == releases / "0.1.0"


# -- a district broker bridged to the central one ------------------------------------------------------------------

CENTRAL_HOST, DISTRICT_HOST = "central-broker-test", "district-broker-test"


@dataclass(frozen=True)
class Districts:
    """Two broker hosts applied with ``site.yml``: the central broker and the Dijon district's broker."""

    central: Path
    district: Path
    central_ports: tuple[int, int]  # plain, TLS
    district_tls_port: int
    ca: Path
    passwords: dict[str, str]


@dataclass
class DistrictApply:
    """``site.yml`` applied to the two broker hosts in the background (it overlaps the main apply)."""

    districts: Districts
    proc: subprocess.Popen[str]


@pytest.fixture(scope="session")
def district_apply(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistrictApply]:
    tmp = tmp_path_factory.mktemp("ansible-districts")
    ca, crt, key = _tls(tmp)
    central_plain, central_tls, district_plain, district_tls = (free_port() for _ in range(4))
    user = getpass.getuser()
    passwords = {name: secrets.token_urlsafe(24) for name in ("coordinator", "bridge", BOX, OTHER_BOX)}
    inventory = {"all": {
        "vars": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "vigie_become": False,
            "vigie_service_manager": "none", "vigie_manage_user": False, "vigie_manage_packages": False,
            "vigie_broker_user": user, "vigie_repo_dir": str(REPO), "vigie_broker_tls_bind": "127.0.0.1",
            "vigie_tls_ca_src": str(ca), "vigie_broker_tls_cert_src": str(crt), "vigie_broker_tls_key_src": str(key),
            "vigie_mqtt_coordinator_password": passwords["coordinator"],
            "vigie_broker_districts": [{"name": "centre", "communes": ["dijon"]}],
            "vigie_broker_bridge_passwords": {"centre": passwords["bridge"]},
        },
        "children": {
            "broker": {"hosts": {CENTRAL_HOST: {
                "vigie_prefix": str(tmp / "central"), "vigie_broker_port": central_plain,
                "vigie_mqtt_tls_port": central_tls}}},
            "district_brokers": {"hosts": {DISTRICT_HOST: {
                "vigie_prefix": str(tmp / "district"), "vigie_broker_port": district_plain,
                "vigie_mqtt_tls_port": district_tls, "vigie_broker_district": "centre",
                "vigie_broker_central_address": f"localhost:{central_tls}", "vigie_broker_edge_group": "dijon"}}},
            "edge_agents": {"children": {"dijon": {
                "vars": {"vigie_commune": "dijon"},
                "hosts": {BOX: {"vigie_mqtt_password": passwords[BOX]},
                          OTHER_BOX: {"vigie_mqtt_password": passwords[OTHER_BOX]}},
            }}},
        },
    }}
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    proc = subprocess.Popen(
        [str(BIN / "ansible-playbook"), "-i", str(tmp / "inventory.yml"), str(ANSIBLE / "site.yml"),
         "--limit", f"{CENTRAL_HOST},{DISTRICT_HOST}"], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                        "ANSIBLE_ROLES_PATH": str(ANSIBLE / "roles"), "ANSIBLE_PIPELINING": "1"})
    yield DistrictApply(Districts(tmp / "central", tmp / "district", (central_plain, central_tls), district_tls, ca,
                                  passwords), proc)
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


@pytest.fixture(scope="session")
def districts(district_apply: DistrictApply) -> Districts:
    output, _ = district_apply.proc.communicate(timeout=600)
    assert district_apply.proc.returncode == 0, output[-8000:]
    return district_apply.districts


def test_district_apply_gives_each_broker_its_users_acl_and_bridge(districts: Districts) -> None:
    central, district = districts.central / "etc/vigie-broker", districts.district / "etc/vigie-broker"
    central_acl = (central / "acl").read_text()
    assert "\nuser bridge-centre\n" in central_acl and f"\nuser {BOX}\n" not in central_acl
    assert f"topic write vigie/v1/dijon/{BOX}/event\n" in central_acl.split("user bridge-centre\n")[1]
    assert re.search(r"^bridge-centre:\$\d+\$", (central / "passwd").read_text(), re.M)
    assert re.search(rf"^{BOX}:\$\d+\$", (district / "passwd").read_text(), re.M)
    assert f"\nuser {BOX}\n" in (district / "acl").read_text()
    conf = (district / "mosquitto.conf").read_text()
    assert os.stat(district / "mosquitto.conf").st_mode & 0o077 == 0, "it holds the bridge's password"
    for line in ("connection district-centre-up", "connection district-centre-down",
                 f"address localhost:{districts.central_ports[1]}", f"remote_password {districts.passwords['bridge']}",
                 f"bridge_cafile {district}/ca.crt", f"acl_file {district}/acl"):
        assert f"\n{line}\n" in conf, line
    assert "connection " not in (central / "mosquitto.conf").read_text()


def test_a_box_on_the_applied_district_broker_reaches_the_applied_central_one(districts: Districts) -> None:
    processes = Processes(districts.central.parent)
    recorder = None
    box = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{BOX}-district",
                      protocol=mqtt.MQTTv5)
    try:
        for name, prefix in (("central", districts.central), ("district", districts.district)):
            unit = read_unit(prefix / "etc/systemd/system/vigie-broker.service")
            processes.start(f"{name}-broker", shlex.split(unit["ExecStart"][0]))
        plain, tls = districts.central_ports
        for port in (plain, tls, districts.district_tls_port):
            wait_until(lambda p=port: _listening(p), 10, f"broker on {port}")  # type: ignore[misc]
        recorder = Recorder(plain, f"vigie/v1/dijon/{BOX}/event", username="coordinator",
                            password=districts.passwords["coordinator"])
        box.username_pw_set(BOX, districts.passwords[BOX])
        box.tls_set(ca_certs=str(districts.ca))
        box.connect("localhost", districts.district_tls_port)
        box.loop_start()
        box.publish(f"vigie/v1/dijon/{BOX}/event", b"through-the-district", qos=1).wait_for_publish(10)
        wait_until(lambda: [m.payload for m in recorder.snapshot()] == [b"through-the-district"], 20,
                   "the box's event on the central broker, through the bridge over TLS\n"
                   + processes.log("district-broker")[-2000:])
    finally:
        box.loop_stop()
        box.disconnect()
        if recorder:
            recorder.close()
        processes.stop_all()
