"""``vigie-coordinator broker-config``: write a city broker's ``mosquitto.conf`` and ACL from the box configs.

The Ansible ``broker`` role runs this on the control machine, next to ``firmware_configs/``, and copies the
two files to the broker host: the configuration comes from :func:`~coordinator.broker.config.render_mosquitto_conf`
(the function the tests and the demo use) and the ACL from :func:`~coordinator.broker.acl.render_acl`. Every
box config is validated by the shared loader as ``vigie-edge validate`` does (all but the detector model files,
which the boxes hold), so a broken file stops the deployment before the broker is touched. Paths given here are
paths on the broker host.

With ``--district NAME=commune,...`` (repeatable) the city is split into district brokers bridged to the central
one (see :mod:`~coordinator.broker.bridge`): ``<out>/`` then holds the central broker's files (its ACL grants each
district's bridge user exactly the topics it carries, and no longer lists the boxes of a district), and
``<out>/districts/<NAME>/`` each district broker's ``mosquitto.conf`` (with its bridge sections, hence the bridge's
password: written readable by its owner only) and ``acl`` (its boxes only). Every broker host uses the same paths
and listeners.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from vigie_config import load_config
from vigie_config.errors import ConfigError

from .acl import TEAM_TOPICS, AclError, AclUser, render_acl
from .bridge import BridgeSettings, District, DistrictError, assign_boxes, bridge_user, district_topics
from .config import BrokerSettings, TlsListener, render_mosquitto_conf

#: The central broker's user of a district's bridge.
BRIDGE_USER = "bridge-{district}"


def cmd_broker_config(args: argparse.Namespace) -> int:
    """Validate the box configs, then write the brokers' ACLs and ``mosquitto.conf``; 1 on any error."""
    boxes, errors = [], []
    for path in args.configs:
        try:
            boxes.append(load_config(path))
        except ConfigError as exc:
            errors.append(str(exc))
    try:
        districts = [District.parse(d) for d in args.district or ()]
        by_district = assign_boxes(boxes, districts)
    except DistrictError as exc:
        print(f"broker-config: {exc}", file=sys.stderr)
        return 1
    if districts and not (args.central_address and args.bridge_password_dir):
        errors.append("broker-config: --district needs --central-address and --bridge-password-dir")
    files: dict[Path, str] = {}
    out = Path(args.out)
    tls = None
    if args.tls_port:
        if not (args.cafile and args.certfile and args.keyfile):
            print("broker-config: --tls-port needs --cafile, --certfile and --keyfile", file=sys.stderr)
            return 1
        tls = TlsListener(port=args.tls_port, ca_file=args.cafile, cert_file=args.certfile, key_file=args.keyfile,
                          bind=args.tls_bind)
    settings = BrokerSettings(
        data_dir=args.data_dir, port=args.port or None, bind=args.bind, allow_anonymous=False,
        password_file=args.password_file, acl_file=args.acl_file or (out / "acl").resolve(), tls=tls,
        log_to_file=args.log_file, user=args.run_as,
    )
    bridges: list[AclUser] = []
    for d in districts if not errors else ():
        try:
            conf, acl, user = _district_files(args, settings, d, by_district[d.name])
        except (AclError, DistrictError, OSError) as exc:
            errors.append(f"district {d.name}: {exc}")
            continue
        bridges.append(user)
        files[out / "districts" / d.name / "mosquitto.conf"] = conf
        files[out / "districts" / d.name / "acl"] = acl
    try:
        files[out / "acl"] = render_acl(by_district[None], coordinator=args.coordinator_user,
                                        integrator=args.integrator_user, json_bridge=args.json_bridge_user,
                                        team_topics=args.team_topic or TEAM_TOPICS, bridges=bridges)
    except AclError as exc:
        errors.append(f"acl: {exc}")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    try:
        files[out / "mosquitto.conf"] = render_mosquitto_conf(settings)
    except ValueError as exc:
        print(f"broker-config: {exc}", file=sys.stderr)
        return 1
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, text, secret=path.parent != out and path.name == "mosquitto.conf")
    print(f"{out / 'acl'}: {len(by_district[None])} boxes, {len(bridges)} district bridges; "
          f"{out / 'mosquitto.conf'}")
    for d in districts:
        print(f"{out / 'districts' / d.name}: {len(by_district[d.name])} boxes of {', '.join(d.sites)}")
    return 0


def _district_files(args: argparse.Namespace, central: BrokerSettings, district: District,
                    boxes: list[Any]) -> tuple[str, str, AclUser]:
    """A district broker's ``mosquitto.conf`` and ACL, and its bridge's user on the central broker."""
    if not boxes:
        raise DistrictError(f"no box config is in {', '.join(district.sites)}")
    topics = district_topics(boxes)
    name = BRIDGE_USER.format(district=district.name)
    secret_file = Path(args.bridge_password_dir) / district.name
    password = secret_file.read_text(encoding="utf-8").splitlines()[0].strip() if secret_file.exists() else ""
    if len(password) < 16:
        raise DistrictError(f"{secret_file}: the bridge's password (first line) is missing or under 16 characters")
    bridge = BridgeSettings(district=district.name, address=args.central_address, remote_username=name,
                            remote_password=password, topics=topics, cafile=args.bridge_cafile)
    acl_file = args.acl_file or (Path(args.out) / "districts" / district.name / "acl").resolve()
    conf = render_mosquitto_conf(replace(central, acl_file=acl_file, bridges=(bridge,)))
    acl = render_acl(boxes, coordinator=None)
    return conf, acl, bridge_user(name, district.name, topics, len(boxes))


def _write(path: Path, text: str, *, secret: bool) -> None:
    """Write ``text``; a file holding a password is created readable by its owner only."""
    if secret:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def add_parser(sub: Any) -> None:
    """Register ``broker-config`` on ``vigie-coordinator``'s sub-command parsers."""
    p = sub.add_parser("broker-config", help="write mosquitto.conf and the per-device ACL from box configs")
    p.add_argument("configs", nargs="+", type=Path, help="box configs (firmware_configs/*.yaml)")
    p.add_argument("--out", required=True, help="folder the two files are written to")
    p.add_argument("--coordinator-user", required=True, help="MQTT user of the coordinator and ingest workers")
    p.add_argument("--integrator-user", help="optional read-only MQTT user for third parties")
    p.add_argument("--json-bridge-user",
                   help="optional MQTT user of the keyed-JSON bridge (vigie-coordinator bridge)")
    p.add_argument("--team-topic", action="append", help=f"team topic filter (default {TEAM_TOPICS[0]})")
    p.add_argument("--data-dir", type=Path, required=True, help="broker persistence folder on the broker host")
    p.add_argument("--password-file", type=Path, required=True, help="mosquitto_passwd file on the broker host")
    p.add_argument("--acl-file", type=Path,
                   help="where the ACL will be on the broker hosts (default: <out>/acl, <out>/districts/<NAME>/acl)")
    p.add_argument("--port", type=int, default=1883, help="plain listener port, 0 for none")
    p.add_argument("--bind", default="127.0.0.1", help="plain listener address")
    p.add_argument("--tls-port", type=int, default=0, help="TLS listener port, 0 for none")
    p.add_argument("--tls-bind", default="0.0.0.0", help="TLS listener address")
    p.add_argument("--cafile", type=Path)
    p.add_argument("--certfile", type=Path)
    p.add_argument("--keyfile", type=Path)
    p.add_argument("--run-as", help="account Mosquitto switches to when started as root")
    p.add_argument("--log-file", action="store_true", help="log to <data-dir>/mosquitto.log instead of stderr")
    p.add_argument("--district", action="append", metavar="NAME=COMMUNE[,COMMUNE...]",
                   help="a district broker serving these communes' boxes, bridged to the central broker (repeat)")
    p.add_argument("--central-address", help="host:port of the central broker, as district hosts reach it")
    p.add_argument("--bridge-password-dir", type=Path,
                   help="folder on this machine with one file per district (its name) holding its bridge's password")
    p.add_argument("--bridge-cafile", type=Path,
                   help="CA of the central broker's certificate on the district hosts: the bridges use TLS")
    p.set_defaults(func=cmd_broker_config)
