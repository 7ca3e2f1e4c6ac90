"""Issuing lighting commands: store first, then publish; and publishing what is still pending.

The order matters: a command is in the database (with who must answer it) before any node can answer, so an ack
always finds its command, and a broker outage leaves a pending row for :func:`publish_pending` rather than a lost
command. No Flask here: the API and the periodic job both call these functions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Engine

import vigie_wire as wire
from coordinator.storage import lighting as store

from .commands import Address, StoredCommand, new_cmd_id, to_wire

log = logging.getLogger("vigie.lighting")


class Publishing(Protocol):
    """What the service needs of an MQTT publisher (:class:`coordinator.mqtt_publisher.Publisher`)."""

    def publish(self, topic: str, payload: bytes) -> str | None: ...

    def next_seq(self) -> int: ...


class NoTargetError(LookupError):
    """A command that would reach nobody: no commune with lights, an unknown device."""


@dataclass(frozen=True)
class Issued:
    command: StoredCommand
    topics: list[str]
    targets: list[str]


def issue(
    engine: Engine,
    *,
    addr: Address,
    name: str,
    args: dict[str, Any],
    issuer: str,
    requested_by: str,
    now_ms: int,
    expires_ms: int,
    calendar_group: tuple[str, str] | None = None,
) -> Issued:
    """Store a command with its topics and expected answers; with ``calendar_group`` (site, group) also record it
    as that group's calendar, in the same transaction.

    Raises:
        NoTargetError: A device unknown to the registry and the inventory, or a city command with no lit commune.
    """
    with engine.begin() as conn:
        if addr.scope == "device":
            site = store.device_site(conn, addr.target)
            if site is None:
                raise NoTargetError(f"device {addr.target!r} is in neither the registry nor the light inventory")
            addr = Address("device", site, addr.target)
            targets = [addr.target]
            topics = addr.topics()
        elif addr.scope == "group":
            targets = store.group_devices(conn, addr.site, addr.target)
            topics = addr.topics()
        else:
            lit = store.lit_devices(conn, None if addr.scope == "city" else addr.site)
            targets = sorted(lit)
            topics = addr.topics(lit_sites=lit.values())
            if not topics:
                raise NoTargetError("no commune has light devices in the registry or the inventory")
        cmd = StoredCommand(
            cmd_id=new_cmd_id(name), name=name, scope=addr.scope, site=addr.site, target=addr.target, issuer=issuer,
            cseq=store.take_cseq(conn, issuer, now_ms), created_ms=now_ms, expires_ms=expires_ms, args=args,
            requested_by=requested_by,
        )
        store.insert_command(conn, cmd, topics, targets)
        if calendar_group is not None:
            store.save_calendar(conn, store.GroupCalendar(calendar_group[0], calendar_group[1],
                                                          args.get("calendar"), now_ms, requested_by, cmd.cmd_id))
    return Issued(cmd, topics, targets)


def publish_pending(
    engine: Engine, publisher: Publishing, now_ms: int, cmd_ids: Sequence[str] | None = None
) -> int:
    """Publish every unexpired (command, topic) the broker has not acknowledged yet; returns how many it took.

    Stops at the first failure: the broker is down, the rest would fail the same way (the next run retries).
    """
    with engine.connect() as conn:
        todo = store.unpublished(conn, now_ms, cmd_ids)
    done = 0
    for cmd, topic in todo:
        payload = wire.encode(to_wire(cmd, publisher.next_seq(), now_ms))
        error = publisher.publish(topic, payload)
        with engine.begin() as conn:
            store.mark_publish(conn, cmd.cmd_id, topic, now_ms, error)
        if error is not None:
            log.warning("command %s not published on %s: %s (retried later)", cmd.cmd_id, topic, error)
            break
        done += 1
    return done


def published(states: Iterable[store.TopicState]) -> bool:
    """Whether every topic of a command was acknowledged by the broker."""
    return all(s.published_ms is not None for s in states)
