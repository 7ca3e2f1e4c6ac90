"""Is a box alive on the broker? Its retained birth is recent enough and no death of that session follows.

The deployment runs this after (re)starting a box agent, and the rolling upgrade after each batch:
``python -m coordinator.broker.birthcheck --site dijon --device cam-darcy-01 --since <epoch> ...``. A birth
is retained, so one from a previous run would always be there; what proves the agent that just started
reached the broker is a birth sent at or after ``--since`` (the start, by the box's clock), by a session
whose will (the retained death) has not fired. Exit 0 when healthy, 1 with the reason otherwise.
"""

from __future__ import annotations

import argparse
import ssl
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import vigie_wire as wire


def judge(birth: wire.Birth | None, death: wire.Death | None, device: str, since_ms: int) -> str | None:
    """Why the box is not healthy (None: it is), from its retained birth and death."""
    if birth is None:
        return f"no birth from {device} on the broker"
    if birth.header.dev != device:
        return f"the birth on {device}'s topic was sent by {birth.header.dev}"
    if birth.header.ts < since_ms:
        return f"the last birth of {device} is older than its start ({birth.header.ts} < {since_ms} ms)"
    if death is not None and death.header.bd == birth.header.bd:
        return f"{device} died after its birth (session {birth.header.bd})"
    return None


def check(args: argparse.Namespace) -> str | None:
    """Poll the broker until the box is healthy or ``args.timeout`` passes; the last reason, or None."""
    retained: dict[str, Any] = {}
    lock = threading.Lock()
    topics = {k: wire.device_topic(args.site, args.device, k) for k in (wire.Kind.BIRTH, wire.Kind.DEATH)}

    def on_message(_c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        try:
            decoded = wire.decode(m.topic, bytes(m.payload))
        except wire.WireError:
            return
        with lock:
            retained[m.topic] = decoded

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id=f"birthcheck-{args.device}-{time.time_ns()}", protocol=mqtt.MQTTv5)
    password = Path(args.password_file).read_text(encoding="utf-8").splitlines()[0] if args.password_file else None
    if args.username:
        client.username_pw_set(args.username, password)
    if args.cafile:
        client.tls_set(ca_certs=str(args.cafile), cert_reqs=ssl.CERT_REQUIRED)
    client.on_connect = lambda c, *_: c.subscribe([(t, 1) for t in topics.values()])
    client.on_message = on_message
    client.connect(args.host, args.port, keepalive=10)
    client.loop_start()
    deadline = time.monotonic() + args.timeout
    reason: str | None = "no answer from the broker"
    try:
        while time.monotonic() < deadline:
            with lock:
                birth, death = retained.get(topics[wire.Kind.BIRTH]), retained.get(topics[wire.Kind.DEATH])
            reason = judge(birth, death, args.device, int(args.since * 1000))
            if reason is None:
                return None
            time.sleep(0.2)
    finally:
        client.loop_stop()
        client.disconnect()
    return reason


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m coordinator.broker.birthcheck", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8883)
    p.add_argument("--cafile", type=Path, help="CA of the broker's certificate (TLS); plain TCP without it")
    p.add_argument("--username", help="a user that may read the box's birth and death (the coordinator's)")
    p.add_argument("--password-file", type=Path, help="file whose first line is that user's password")
    p.add_argument("--site", required=True)
    p.add_argument("--device", required=True)
    p.add_argument("--since", type=float, default=0.0, help="the agent's start, seconds since the epoch")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a healthy birth")
    args = p.parse_args(argv)
    try:
        reason = check(args)
    except (OSError, ssl.SSLError) as exc:
        reason = f"cannot reach the broker at {args.host}:{args.port}: {exc}"
    if reason is not None:
        print(f"{args.site}/{args.device}: unhealthy: {reason}", file=sys.stderr)
        return 1
    print(f"{args.site}/{args.device}: birth reached the broker")
    return 0


if __name__ == "__main__":
    sys.exit(main())
