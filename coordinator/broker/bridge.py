"""District brokers bridged to the central broker (pure: box configs and districts in, topics and text out).

A city past one broker's reach gets a Mosquitto per *district* — a few communes whose boxes connect to it — and
each district broker bridges to the central broker, where the coordinator's ingest workers, notify worker and
integrators stay. Standard Mosquitto bridging, nothing home-made. (A district here is a group of communes; the
box config's own ``district`` field is a neighbourhood inside one commune and plays no part.)

What a bridge carries is derived from the same box configs as the ACLs (:mod:`.acl`), so it is exactly what the
district's boxes do:

* **up** (``out``): every topic a box of the district publishes — birth, death, meta, events, telemetry, acks,
  snapshots when enabled;
* **down** (``in``): every topic a box of the district reads that is not published inside the district — its
  command topic, its groups' command topics, the coordinators' STATE, the events of neighbour cameras that live
  in other districts. A neighbour camera of the same district is heard locally: bridging it down too would
  deliver its events twice.

The central broker's ACL gets one user per district bridge, granted exactly these topics: write the up topics,
read the down topics. A compromised district broker can then speak only for its own boxes.

Each district has **two bridge connections**, one per direction, because Mosquitto 2.0 connects an MQTT v5
bridge with a session expiry of 0: the central broker forgets the bridge's subscriptions whenever the link drops,
and a command published during the outage would reach nobody. So:

* the *up* connection is MQTT v5 (``bridge_protocol_version mqttv50``), so the publishes keep their v5
  properties (the ``application/msgpack`` content type the contract promises integrators); while the link is
  down, the district broker queues its messages (``local_cleansession false``), persisted across its restarts;
* the *down* connection is MQTT 3.1.1 with ``cleansession false``: its session on the central broker persists
  (``persistent_client_expiration``), so commands published during an outage are queued there and delivered
  when the link returns. Boxes decode commands from the payload alone, so nothing they need is lost.

Both use QoS 1 on every topic, and ``bridge_attempt_unsubscribe false`` (the default sends an UNSUBSCRIBE per
``out`` topic at every connection, for nothing). Delivery is at least once: a batch in flight when the link drops
is sent again, and the ingest workers store events idempotently by id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vigie_config import BoxConfig

from .acl import AclError, AclUser, box_user

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class DistrictError(ValueError):
    """The districts cannot be bridged as asked (a commune in two districts, a bad name...)."""


@dataclass(frozen=True)
class District:
    """A district broker: its name and the communes (box ``site``) whose boxes connect to it."""

    name: str
    sites: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> District:
        """``NAME=site[,site...]``, as given to ``broker-config --district``."""
        name, sep, sites = text.partition("=")
        chosen = tuple(s.strip() for s in sites.split(",") if s.strip())
        if not sep or not chosen:
            raise DistrictError(f"district {text!r}: expected NAME=commune[,commune...]")
        if not _NAME.fullmatch(name):
            raise DistrictError(f"district name {name!r}: lowercase letters, digits and '-', at most 40")
        return cls(name, chosen)


@dataclass(frozen=True)
class DistrictTopics:
    """What one district's bridge carries: ``up`` to the central broker, ``down`` from it."""

    up: tuple[str, ...]
    down: tuple[str, ...]


@dataclass(frozen=True)
class BridgeSettings:
    """The bridge of a district broker to the central broker, as Mosquitto's ``connection`` sections need it."""

    district: str
    #: ``host:port`` of the central broker, as the district host reaches it.
    address: str
    remote_username: str
    remote_password: str
    topics: DistrictTopics
    #: CA of the central broker's certificate: set, the bridge uses TLS and checks the host name.
    cafile: Path | None = None
    keepalive_s: int = 30
    #: Reconnection back-off, ``(base, cap)`` seconds (Mosquitto's decorrelated jitter).
    restart_timeout_s: tuple[int, int] = (2, 30)

    def connection_names(self) -> tuple[str, str]:
        """The two connections' names, which are also their client ids on the central broker."""
        return f"district-{self.district}-up", f"district-{self.district}-down"


def assign_boxes(boxes: Iterable[BoxConfig], districts: Sequence[District]) -> dict[str | None, list[BoxConfig]]:
    """Boxes by district name (``None``: boxes of communes no district serves, which stay on the central broker).

    Raises:
        DistrictError: Two districts share a name or a commune.
    """
    owner: dict[str, str] = {}
    for d in districts:
        if d.name in {o for o in owner.values()}:
            raise DistrictError(f"district {d.name!r} is given twice")
        for site in d.sites:
            if site in owner:
                raise DistrictError(f"commune {site!r} is in both districts {owner[site]!r} and {d.name!r}")
            owner[site] = d.name
    out: dict[str | None, list[BoxConfig]] = {d.name: [] for d in districts}
    out[None] = []
    for box in sorted(boxes, key=lambda b: (b.site, b.device_id)):
        out[owner.get(box.site)].append(box)
    return out


def district_topics(boxes: Sequence[BoxConfig]) -> DistrictTopics:
    """The up and down topics of a district whose boxes are ``boxes`` (see the module docstring).

    Raises:
        AclError: A box has no MQTT user name (its grants, hence its topics, cannot be derived).
    """
    users = [box_user(b) for b in boxes]
    up = _ordered(t for u in users for t in u.write)
    local = set(up)
    down = _ordered(t for u in users for t in u.read if t not in local)
    return DistrictTopics(up, down)


def bridge_user(name: str, district: str, topics: DistrictTopics, boxes: int) -> AclUser:
    """The central broker's grants for a district's bridge: publish the up topics, read the down topics."""
    return AclUser(name, read=topics.down, write=topics.up,
                   comment=f"bridge of district broker {district} ({boxes} boxes)")


def render_bridge(b: BridgeSettings) -> str:
    """The two ``connection`` sections of ``mosquitto.conf`` bridging a district broker to the central one.

    Raises:
        DistrictError: The bridge has nothing to carry, or a value cannot be written on one config line.
    """
    if not b.topics.up and not b.topics.down:
        raise DistrictError(f"district {b.district}: the bridge has no topic to carry (no box in the district?)")
    for value in (b.address, b.remote_username, b.remote_password):
        if not value or any(c.isspace() for c in value):
            raise DistrictError(f"district {b.district}: address, user and password must be single words")
    up_name, down_name = b.connection_names()
    base, cap = b.restart_timeout_s
    common = [
        f"address {b.address}",
        f"remote_username {b.remote_username}",
        f"remote_password {b.remote_password}",
        "cleansession false",
        "local_cleansession false",
        "start_type automatic",
        f"restart_timeout {base} {cap}",
        f"keepalive_interval {b.keepalive_s}",
        "bridge_attempt_unsubscribe false",
        "try_private true",
        # The connection state, retained on the district broker only ($SYS/broker/connection/<id>/state):
        # the central broker's ACL grants the bridge user nothing under $SYS.
        "notifications true",
        "notifications_local_only true",
    ]
    if b.cafile is not None:
        common += [f"bridge_cafile {b.cafile}", "bridge_tls_version tlsv1.2", "bridge_insecure false"]
    lines = ["", f"# Bridge of district {b.district} to the central broker: up, boxes' messages (MQTT v5 keeps"
                 " their properties)", f"connection {up_name}", f"remote_clientid {up_name}",
             "bridge_protocol_version mqttv50", *common]
    lines += [f"topic {t} out 1" for t in b.topics.up]
    lines += ["", "# Down: commands, groups, STATE (MQTT 3.1.1: its session outlives an outage on the central "
                  "broker)", f"connection {down_name}", f"remote_clientid {down_name}",
              "bridge_protocol_version mqttv311", *common]
    lines += [f"topic {t} in 1" for t in b.topics.down]
    return "\n".join(lines) + "\n"


def _ordered(topics: Iterable[str]) -> tuple[str, ...]:
    """Topics without repeats, in first-seen order (stable files, readable diffs)."""
    return tuple(dict.fromkeys(topics))


__all__ = ["AclError", "BridgeSettings", "District", "DistrictError", "DistrictTopics", "assign_boxes",
           "bridge_user", "district_topics", "render_bridge"]
