"""``vigie-coordinator broker-config``: write a city broker's ``mosquitto.conf`` and ACL from the box configs.

The Ansible ``broker`` role runs this on the control machine, next to ``firmware_configs/``, and copies the
two files to the broker host: the configuration comes from :func:`~coordinator.broker.config.render_mosquitto_conf`
(the function the tests and the demo use) and the ACL from :func:`~coordinator.broker.acl.render_acl`. Every
box config is validated by the shared loader as ``vigie-edge validate`` does (all but the detector model files,
which the boxes hold), so a broken file stops the deployment before the broker is touched. Paths given here are
paths on the broker host.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vigie_config import load_config
from vigie_config.errors import ConfigError

from .acl import TEAM_TOPICS, AclError, render_acl
from .config import BrokerSettings, TlsListener, render_mosquitto_conf


def cmd_broker_config(args: argparse.Namespace) -> int:
    """Validate the box configs, then write ``<out>/acl`` and ``<out>/mosquitto.conf``; 1 on any error."""
    boxes, errors = [], []
    for path in args.configs:
        try:
            boxes.append(load_config(path))
        except ConfigError as exc:
            errors.append(str(exc))
    try:
        acl = render_acl(boxes, coordinator=args.coordinator_user, integrator=args.integrator_user,
                         bridge=args.bridge_user, team_topics=args.team_topic or TEAM_TOPICS)
    except AclError as exc:
        errors.append(f"acl: {exc}")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    tls = None
    if args.tls_port:
        if not (args.cafile and args.certfile and args.keyfile):
            print("broker-config: --tls-port needs --cafile, --certfile and --keyfile", file=sys.stderr)
            return 1
        tls = TlsListener(port=args.tls_port, ca_file=args.cafile, cert_file=args.certfile, key_file=args.keyfile,
                          bind=args.tls_bind)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = BrokerSettings(
        data_dir=args.data_dir, port=args.port or None, bind=args.bind, allow_anonymous=False,
        password_file=args.password_file, acl_file=args.acl_file or (out / "acl").resolve(), tls=tls,
        log_to_file=args.log_file, user=args.run_as,
    )
    try:
        conf = render_mosquitto_conf(settings)
    except ValueError as exc:
        print(f"broker-config: {exc}", file=sys.stderr)
        return 1
    (out / "acl").write_text(acl, encoding="utf-8")
    (out / "mosquitto.conf").write_text(conf, encoding="utf-8")
    print(f"{out / 'acl'}: {len(boxes)} boxes; {out / 'mosquitto.conf'}")
    return 0


def add_parser(sub: Any) -> None:
    """Register ``broker-config`` on ``vigie-coordinator``'s sub-command parsers."""
    p = sub.add_parser("broker-config", help="write mosquitto.conf and the per-device ACL from box configs")
    p.add_argument("configs", nargs="+", type=Path, help="box configs (firmware_configs/*.yaml)")
    p.add_argument("--out", required=True, help="folder the two files are written to")
    p.add_argument("--coordinator-user", required=True, help="MQTT user of the coordinator and ingest workers")
    p.add_argument("--integrator-user", help="optional read-only MQTT user for third parties")
    p.add_argument("--bridge-user", help="optional MQTT user of the keyed-JSON bridge (vigie-coordinator bridge)")
    p.add_argument("--team-topic", action="append", help=f"team topic filter (default {TEAM_TOPICS[0]})")
    p.add_argument("--data-dir", type=Path, required=True, help="broker persistence folder on the broker host")
    p.add_argument("--password-file", type=Path, required=True, help="mosquitto_passwd file on the broker host")
    p.add_argument("--acl-file", type=Path, help="where the ACL will be on the broker host (default: <out>/acl)")
    p.add_argument("--port", type=int, default=1883, help="plain listener port, 0 for none")
    p.add_argument("--bind", default="127.0.0.1", help="plain listener address")
    p.add_argument("--tls-port", type=int, default=0, help="TLS listener port, 0 for none")
    p.add_argument("--tls-bind", default="0.0.0.0", help="TLS listener address")
    p.add_argument("--cafile", type=Path)
    p.add_argument("--certfile", type=Path)
    p.add_argument("--keyfile", type=Path)
    p.add_argument("--run-as", help="account Mosquitto switches to when started as root")
    p.add_argument("--log-file", action="store_true", help="log to <data-dir>/mosquitto.log instead of stderr")
    p.set_defaults(func=cmd_broker_config)
