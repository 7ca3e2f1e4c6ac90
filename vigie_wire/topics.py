"""Every MQTT topic of Vigie v1 is built and parsed here, and nowhere else.

Layout (``<site>`` is a commune slug, ids are lower-case slugs)::

    vigie/v1/<site>/<device>/birth|death|meta|event|telemetry|cmd|ack|snapshot
    vigie/v1/<site>/group/<group>/cmd      commands fanned out by the broker
    vigie/v1/<site>/team/<team>/dispatch   interventions sent to a field team (coordinator -> team)
    vigie/v1/<site>/team/<team>/status     a field team's status updates (team -> coordinator)
    vigie/v1/STATE/<host>                  the coordinator's retained liveness

A team's ``<site>`` is its home commune. Dispatch and status are two topics rather than one
so that the broker's ACL can let a team read its dispatch topic and write only its status
topic, and so that neither side receives its own messages back.

``group`` and ``team`` are reserved and cannot be device ids (:data:`RESERVED`), so that a box's topics and
the group and team topics stay apart for the broker's ACL patterns and for readers; ``STATE`` is upper-case
so it can never be a site slug.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import WireError
from .schema import ID_PATTERN

ROOT = "vigie/v1"
GROUP = "group"
TEAM = "team"
STATE = "STATE"
#: Words of the topic layout that can never be a device id.
RESERVED = frozenset({GROUP, TEAM})


class Kind(enum.StrEnum):
    """What a topic carries; each kind has exactly one message type."""

    BIRTH = "birth"
    DEATH = "death"
    EVENT = "event"
    TELEMETRY = "telemetry"
    CMD = "cmd"
    ACK = "ack"
    SNAPSHOT = "snapshot"
    STATE = "state"
    DISPATCH = "dispatch"
    STATUS = "status"
    META = "meta"


#: Kinds of the team topics (``<site>/team/<team>/<kind>``).
TEAM_KINDS = frozenset({Kind.DISPATCH, Kind.STATUS})
DEVICE_KINDS = frozenset(k for k in Kind if k is not Kind.STATE and k not in TEAM_KINDS)


def _require_id(what: str, value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise WireError("topic", f"invalid {what} {value!r}: expected [a-z0-9][a-z0-9_-]{{0,63}}")
    return value


@dataclass(frozen=True)
class Topic:
    """A parsed topic. Exactly one of ``device``, ``group``, ``team`` or ``host`` is set."""

    kind: Kind
    site: str | None = None
    device: str | None = None
    group: str | None = None
    host: str | None = None
    team: str | None = None

    def __str__(self) -> str:
        if self.kind is Kind.STATE:
            return f"{ROOT}/{STATE}/{self.host}"
        if self.team is not None:
            return f"{ROOT}/{self.site}/{TEAM}/{self.team}/{self.kind}"
        if self.group is not None:
            return f"{ROOT}/{self.site}/{GROUP}/{self.group}/{self.kind}"
        return f"{ROOT}/{self.site}/{self.device}/{self.kind}"


def device_topic(site: str, device: str, kind: Kind) -> str:
    """Topic of one device's messages of ``kind`` (birth, event, cmd...)."""
    _require_id("site", site)
    _require_id("device id", device)
    if device in RESERVED:
        raise WireError("topic", f"{device!r} is reserved and cannot be a device id")
    if kind not in DEVICE_KINDS:
        raise WireError("topic", f"{kind} is not a device topic kind")
    return f"{ROOT}/{site}/{device}/{kind}"


def group_command_topic(site: str, group: str) -> str:
    """Topic a light node subscribes to for commands to one of its groups."""
    return f"{ROOT}/{_require_id('site', site)}/{GROUP}/{_require_id('group', group)}/{Kind.CMD}"


def team_topic(site: str, team: str, kind: Kind) -> str:
    """Topic of a field team: its dispatches (``Kind.DISPATCH``) or its status updates (``Kind.STATUS``)."""
    if kind not in TEAM_KINDS:
        raise WireError("topic", f"{kind} is not a team topic kind")
    return f"{ROOT}/{_require_id('site', site)}/{TEAM}/{_require_id('team', team)}/{kind}"


def state_topic(host: str) -> str:
    """Retained liveness topic of coordinator ``host``."""
    return f"{ROOT}/{STATE}/{_require_id('host id', host)}"


def subscription(kind: Kind, site: str = "+") -> str:
    """Filter matching ``kind`` from every device or team (of ``site``, or of every site)."""
    if kind is Kind.STATE:
        return f"{ROOT}/{STATE}/+"
    if site != "+":
        _require_id("site", site)
    if kind in TEAM_KINDS:
        return f"{ROOT}/{site}/{TEAM}/+/{kind}"
    return f"{ROOT}/{site}/+/{kind}"


def parse_topic(topic: str) -> Topic:
    """Parse a Vigie topic; raise :class:`WireError` (reason ``topic``) on anything else."""
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != ROOT:
        raise WireError("topic", f"not a {ROOT} topic: {topic[:200]!r}")
    rest = parts[2:]
    if len(rest) == 2 and rest[0] == STATE:
        return Topic(Kind.STATE, host=_require_id("host id", rest[1]))
    if len(rest) == 4 and rest[1] == GROUP and rest[3] == Kind.CMD:
        return Topic(Kind.CMD, site=_require_id("site", rest[0]), group=_require_id("group", rest[2]))
    if len(rest) == 4 and rest[1] == TEAM and rest[3] in TEAM_KINDS:
        return Topic(Kind(rest[3]), site=_require_id("site", rest[0]), team=_require_id("team", rest[2]))
    if len(rest) == 3:
        site, device, kind = rest
        try:
            k = Kind(kind)
        except ValueError:
            raise WireError("topic", f"unknown topic kind {kind[:64]!r} in {topic[:200]!r}") from None
        if k not in DEVICE_KINDS or device in RESERVED:
            raise WireError("topic", f"unexpected topic {topic[:200]!r}")
        return Topic(k, site=_require_id("site", site), device=_require_id("device id", device))
    raise WireError("topic", f"unexpected topic layout {topic[:200]!r}")
