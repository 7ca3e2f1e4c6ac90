"""Per-device Mosquitto ACLs, derived from the box configs (pure: configs in, ACL text out).

A box's config already says everything its permissions depend on: its site and device id (the topics it
publishes under), the groups its luminaires are in (the group command topics it reads) and the neighbour
cameras whose presence it listens to. Deriving the ACL from the same files that ``vigie-edge validate``
checks means a box cannot be deployed with permissions that disagree with what it does.

Mosquitto's ``acl_file`` grants nothing by default: once the file is set, a client may only do what a
``topic`` line under its ``user`` (or a ``pattern`` line) allows. ``write`` covers publishing (the will
included); a refused QoS 1 publish from an MQTT v5 client gets a PUBACK with reason code 0x87 (not
authorised) and goes nowhere. ``read`` is checked per message on delivery: Mosquitto 2.0 grants the
subscription itself (even ``#``) and then delivers only the messages whose topic the user may read.
Lines are explicit per user rather than ``pattern`` lines with ``%u``: a pattern would let a box publish as
itself under any site, whereas the site is part of its identity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import vigie_wire as wire
from vigie_config import BoxConfig
from vigie_config.topics import group_topics, listen_topics

from ..json_bridge import keyed

#: What the coordinator sends field teams: interventions on ``vigie/v1/<site>/team/<team>/dispatch``.
TEAM_TOPICS = (wire.subscription(wire.Kind.DISPATCH),)
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: What a box publishes; ``snapshot`` only when one of its cameras sends snapshots.
_BOX_WRITES = (wire.Kind.BIRTH, wire.Kind.DEATH, wire.Kind.META, wire.Kind.EVENT, wire.Kind.TELEMETRY, wire.Kind.ACK)
#: What an integrator may read: the documented, non-operational topics.
_INTEGRATOR_READS = tuple(
    wire.subscription(k)
    for k in (wire.Kind.BIRTH, wire.Kind.DEATH, wire.Kind.META, wire.Kind.EVENT, wire.Kind.TELEMETRY)
)


class AclError(ValueError):
    """The box configs cannot be turned into a safe ACL (a missing or shared user name)."""


@dataclass(frozen=True)
class AclUser:
    """One MQTT user's grants: topic filters it may read (subscribe to) and write (publish to)."""

    name: str
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    comment: str = ""


def box_user(box: BoxConfig) -> AclUser:
    """A box's grants: its own topics out; its commands, its groups, its neighbours' presence and STATE in."""
    if box.mqtt.username is None:
        raise AclError(f"{box.device_id}: mqtt.username is not set; a box without a user cannot be granted anything")
    writes = [wire.device_topic(box.site, box.device_id, k) for k in _BOX_WRITES]
    if any(cam.snapshots.enabled for cam in box.cameras):
        writes.append(wire.device_topic(box.site, box.device_id, wire.Kind.SNAPSHOT))
    # Exactly what the agent subscribes to (the same functions decide), so the two cannot disagree: its
    # command topic, its groups' (the commune's and the city's included), neighbours' events and STATE.
    reads = [wire.device_topic(box.site, box.device_id, wire.Kind.CMD)]
    reads += [wire.group_command_topic(box.site, g) for g in group_topics(box)]
    reads += [t for t in listen_topics(box) if t not in reads]
    if wire.subscription(wire.Kind.STATE) not in reads:
        reads.append(wire.subscription(wire.Kind.STATE))
    roles = [r for r, on in (("camera", bool(box.cameras)), ("light", box.lighting is not None)) if on]
    return AclUser(box.mqtt.username, tuple(reads), tuple(writes),
                   comment=f"box {box.site}/{box.device_id} ({' + '.join(roles) or 'link only'})")


def coordinator_user(name: str, team_topics: Sequence[str] = TEAM_TOPICS) -> AclUser:
    """The centre's grants: read everything Vigie; write commands (device and group), STATE and team dispatches.

    Ingest workers share this user; their ``$share/<group>/...`` subscriptions are checked against the topic
    filter without the share prefix.
    """
    writes = (
        f"{wire.topics.ROOT}/+/+/{wire.Kind.CMD}",
        f"{wire.topics.ROOT}/+/{wire.topics.GROUP}/+/{wire.Kind.CMD}",
        f"{wire.topics.ROOT}/{wire.topics.STATE}/+",
        *team_topics,
    )
    return AclUser(name, (f"{wire.topics.ROOT}/#",), writes, comment="coordinator (web app and ingest workers)")


def integrator_user(name: str) -> AclUser:
    """A read-only third party: births, deaths, metadata, events, telemetry and STATE, and their keyed-JSON copies
    (``vigie-json/v1/#``); never commands or snapshots."""
    return AclUser(name, (*_INTEGRATOR_READS, wire.subscription(wire.Kind.STATE), f"{keyed.ROOT}/#"),
                   comment="integrator, read-only")


def json_bridge_user(name: str) -> AclUser:
    """The keyed-JSON bridge: reads what an integrator may read of the contract, writes only its own namespace."""
    return AclUser(name, tuple(keyed.subscriptions()), (f"{keyed.ROOT}/#",),
                   comment="keyed-JSON bridge (vigie-coordinator bridge)")


def acl_users(
    boxes: Iterable[BoxConfig],
    *,
    coordinator: str | None,
    integrator: str | None = None,
    json_bridge: str | None = None,
    team_topics: Sequence[str] = TEAM_TOPICS,
    bridges: Sequence[AclUser] = (),
) -> list[AclUser]:
    """Every user's grants, service users first (district bridges after them), boxes in device order.

    Raises:
        AclError: A box has no user name, two principals share one, or a name cannot be written in an ACL.
    """
    users = [coordinator_user(coordinator, team_topics)] if coordinator is not None else []
    if integrator is not None:
        users.append(integrator_user(integrator))
    if json_bridge is not None:
        users.append(json_bridge_user(json_bridge))
    users += bridges
    users += [box_user(b) for b in sorted(boxes, key=lambda b: (b.site, b.device_id))]
    seen: dict[str, str] = {}
    for user in users:
        if not _USERNAME.fullmatch(user.name):
            raise AclError(f"user name {user.name!r} ({user.comment}) is not a plain [A-Za-z0-9_.-] name")
        if user.name in seen:
            raise AclError(f"user name {user.name!r} is used by both {seen[user.name]} and {user.comment}")
        seen[user.name] = user.comment
    return users


def render_acl(
    boxes: Iterable[BoxConfig],
    *,
    coordinator: str | None,
    integrator: str | None = None,
    json_bridge: str | None = None,
    team_topics: Sequence[str] = TEAM_TOPICS,
    bridges: Sequence[AclUser] = (),
) -> str:
    """Mosquitto ``acl_file`` text granting each user exactly :func:`acl_users`' topics, nothing to anonymous.

    ``coordinator`` is None on a district broker: only its boxes connect there (its bridge is not checked
    against the local ACL), the coordinator reaches them through the central broker.

    Raises:
        AclError: See :func:`acl_users`.
    """
    lines = ["# Generated by coordinator.broker.acl from firmware_configs/: edit the box configs, not this file.",
             "# Nothing is granted to anonymous clients (no topic line before the first user)."]
    for user in acl_users(boxes, coordinator=coordinator, integrator=integrator, json_bridge=json_bridge,
                          team_topics=team_topics, bridges=bridges):
        lines += ["", f"# {user.comment}", f"user {user.name}"]
        both = set(user.read) & set(user.write)
        lines += [f"topic readwrite {t}" for t in user.read if t in both]
        lines += [f"topic read {t}" for t in user.read if t not in both]
        lines += [f"topic write {t}" for t in user.write if t not in both]
    return "\n".join(lines) + "\n"
