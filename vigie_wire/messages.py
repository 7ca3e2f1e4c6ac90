"""The messages of Vigie v1, as frozen dataclasses that validate themselves.

Field order is wire order (see :mod:`vigie_wire.schema`). Every message starts with a
:class:`Header`; what follows depends on the topic kind. Timestamps are milliseconds since
the Unix epoch (UTC). Constructing a message with a bad value raises
:class:`~vigie_wire.errors.WireError`, so the encoder can never emit what the decoder would
refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .events import EVENT_TYPES, Detection, Event, UnknownEvent
from .limits import INT64_MAX, MAX_EVENTS_PER_BATCH, MAX_SNAPSHOT_BYTES, SCHEMA_VERSION, UINT32_MAX, UINT64_MAX
from .schema import Record, ident, rule
from .topics import Kind

_HEX = re.compile(r"[0-9a-f]{8,64}")
_CMD_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_CMD_NAME = re.compile(r"[a-z][a-z0-9_.]{0,63}")
_STATES = "new|acknowledged|assigned|en_route|on_site|resolved|closed"
_FIELD_STATES = "acknowledged|en_route|on_site|resolved"


@dataclass(frozen=True)
class Header(Record):
    """Common to every message: who sent it, in which MQTT session, in which order.

    ``bd`` is the sender's birth/death sequence, increased at every MQTT connection and kept
    across restarts; ``seq`` counts the messages of that connection from 0 (the birth), so
    a receiver detects gaps and duplicates per ``(dev, bd)``.
    """

    v: int = field(metadata=rule(lo=SCHEMA_VERSION, hi=SCHEMA_VERSION, doc="schema version"))
    dev: str = field(metadata=ident("sender id: a device, or the coordinator host"))
    bd: int = field(metadata=rule(lo=0, hi=UINT32_MAX, doc="birth/death sequence"))
    seq: int = field(metadata=rule(lo=0, hi=UINT64_MAX, doc="message number in the session"))
    ts: int = field(metadata=rule(lo=0, hi=INT64_MAX, doc="send time, ms since epoch"))


@dataclass(frozen=True)
class Birth(Record):
    """Retained on ``<site>/<device>/birth`` at every connection."""

    kind: ClassVar[Kind] = Kind.BIRTH
    header: Header
    firmware: str = field(metadata=rule(max_len=64, doc="agent version"))
    config_hash: str = field(metadata=rule(pattern=_HEX, doc="sha256 (hex, >= 8) of the box config"))
    caps: tuple[str, ...] = field(metadata=rule(max_len=64, max_items=64, doc="capabilities"))
    lat: float | None = field(default=None, metadata=rule(lo=-90, hi=90, doc="WGS84"))
    lon: float | None = field(default=None, metadata=rule(lo=-180, hi=180, doc="WGS84"))


@dataclass(frozen=True)
class Meta(Record):
    """Retained on ``<site>/<device>/meta`` after every birth: what the box is and what it observes or drives.

    ``info`` is a map built from the box configuration (kind of device, position, cameras with their model,
    classes, zones and lines, luminaires with position, rated power and groups), so that an integrator reads
    the site without the configuration files. It changes only with the configuration (``config_hash``).
    """

    kind: ClassVar[Kind] = Kind.META
    header: Header
    config_hash: str = field(metadata=rule(pattern=_HEX, doc="sha256 (hex, >= 8) of the box config, as in the birth"))
    info: dict[str, Any] = field(metadata=rule(doc="the box's site metadata (see the document)"))


@dataclass(frozen=True)
class Death(Record):
    """The MQTT will on ``<site>/<device>/death`` (retained).

    Its header's ``bd`` names the connection it belongs to: a death whose ``bd`` is older than
    the current birth's is stale and must be ignored.
    """

    kind: ClassVar[Kind] = Kind.DEATH
    header: Header


@dataclass(frozen=True)
class EventRecord(Record):
    """One event in a batch: its number in its boot, its time, its body.

    The event's unique id is ``(device, batch.boot, n)``; storage uses it to be idempotent.
    """

    n: int = field(metadata=rule(lo=0, hi=UINT64_MAX, doc="event number within the boot"))
    ts: int = field(metadata=rule(lo=0, hi=INT64_MAX, doc="event time, ms since epoch"))
    body: Event = field(metadata=rule(doc="event type code, then the type's fields"))


@dataclass(frozen=True)
class EventBatch(Record):
    """Events of one boot, on ``<site>/<device>/event``.

    ``historical`` is set when the events were produced while the link was down (or by an
    earlier run of the agent) and are being replayed from the outbox.
    """

    kind: ClassVar[Kind] = Kind.EVENT
    header: Header
    boot: int = field(metadata=rule(lo=0, hi=UINT32_MAX, doc="agent run that produced the events"))
    historical: bool = field(metadata=rule(doc="replayed from the outbox"))
    events: tuple[EventRecord, ...] = field(metadata=rule(min_items=1, max_items=MAX_EVENTS_PER_BATCH))


@dataclass(frozen=True)
class Telemetry(Record):
    """Periodic health and measurements of a node, batched in one map per interval."""

    kind: ClassVar[Kind] = Kind.TELEMETRY
    header: Header
    metrics: dict[str, Any] = field(metadata=rule(doc="name -> number or small structure"))


@dataclass(frozen=True)
class Command(Record):
    """A command to a device (``<site>/<device>/cmd``) or a group (``<site>/group/<g>/cmd``).

    ``cseq`` increases per issuer and target across restarts (the issuer uses its clock in ms),
    so a device can reject a stale command; ``expires`` bounds how late it may be applied.
    """

    kind: ClassVar[Kind] = Kind.CMD
    header: Header
    target: str = field(metadata=ident("device or group the command is for (must match the topic)"))
    cmd_id: str = field(metadata=rule(max_len=64, pattern=_CMD_ID))
    cseq: int = field(metadata=rule(lo=0, hi=UINT64_MAX, doc="issuer's command sequence"))
    expires: int = field(metadata=rule(lo=0, hi=INT64_MAX, doc="ms since epoch; later = reject"))
    name: str = field(metadata=rule(max_len=64, pattern=_CMD_NAME))
    args: dict[str, Any] = field(default_factory=dict, metadata=rule(doc="command arguments"))


class AckResult:
    """Result codes of a command acknowledgement."""

    APPLIED = "applied"
    REJECTED_STALE = "stale"
    REJECTED_EXPIRED = "expired"
    DUPLICATE = "duplicate"
    INVALID = "invalid"
    UNSUPPORTED = "unsupported"
    FAILED = "failed"
    ALL = (APPLIED, REJECTED_STALE, REJECTED_EXPIRED, DUPLICATE, INVALID, UNSUPPORTED, FAILED)


@dataclass(frozen=True)
class CommandAck(Record):
    """A device's answer to every command it receives, on ``<site>/<device>/ack``."""

    kind: ClassVar[Kind] = Kind.ACK
    header: Header
    cmd_id: str = field(metadata=rule(max_len=64, pattern=_CMD_ID, doc="the acknowledged command's id"))
    result: str = field(
        metadata=rule(
            max_len=16,
            pattern=re.compile("|".join(AckResult.ALL)),
            doc="applied, stale, expired, duplicate, invalid, unsupported or failed",
        )
    )
    detail: str = field(default="", metadata=rule(max_len=512, doc="human-readable reason"))
    applied: dict[str, Any] = field(default_factory=dict, metadata=rule(doc="what was applied"))


@dataclass(frozen=True)
class Snapshot(Record):
    """An image illustrating one event, on ``<site>/<device>/snapshot``. Off by default.

    Only boxes configured for it send snapshots, and only after blanking the privacy masks and
    blurring every person: the picture that leaves the box identifies nobody. ``boot`` and
    ``n`` name the event it illustrates.
    """

    kind: ClassVar[Kind] = Kind.SNAPSHOT
    header: Header
    cam: int = field(metadata=rule(lo=0, hi=255, doc="camera index in the box config"))
    boot: int = field(metadata=rule(lo=0, hi=UINT32_MAX, doc="boot of the illustrated event"))
    n: int = field(metadata=rule(lo=0, hi=UINT64_MAX, doc="number of the illustrated event"))
    jpeg: bytes = field(metadata=rule(max_len=MAX_SNAPSHOT_BYTES, doc="JPEG image, people blurred"))


@dataclass(frozen=True)
class State(Record):
    """The coordinator's retained liveness on ``STATE/<host>``; its will sets ``online`` false."""

    kind: ClassVar[Kind] = Kind.STATE
    header: Header
    online: bool = field(metadata=rule(doc="the coordinator is up"))


class DispatchAction:
    """What a dispatch tells a team."""

    ASSIGN = "assign"  # the intervention is now yours
    UPDATE = "update"  # the control post changed it (state, priority...)
    WITHDRAW = "withdraw"  # no longer yours (reassigned or unassigned)
    ESCALATE = "escalate"  # an SLA deadline passed
    REFUSED = "refused"  # your status update was not applied; ``note`` says why
    ALL = (ASSIGN, UPDATE, WITHDRAW, ESCALATE, REFUSED)


@dataclass(frozen=True)
class Dispatch(Record):
    """An intervention sent to a field team, on ``<site>/team/<team>/dispatch`` (coordinator -> team).

    ``team`` must equal the topic's team. The same content goes to the team's webhook as JSON.
    """

    kind: ClassVar[Kind] = Kind.DISPATCH
    header: Header
    team: str = field(metadata=ident("the team the dispatch is for (must match the topic)"))
    intervention: int = field(metadata=rule(lo=1, hi=INT64_MAX, doc="intervention id"))
    action: str = field(metadata=rule(max_len=16, pattern=re.compile("|".join(DispatchAction.ALL)),
                                      doc="assign, update, withdraw, escalate or refused"))
    state: str = field(metadata=rule(max_len=16, pattern=re.compile(_STATES), doc="the intervention's state"))
    priority: str = field(metadata=rule(max_len=8, pattern=re.compile("urgent|high|normal|low"), doc="priority"))
    category: str = field(metadata=ident("kind of intervention: crowd, light_fault, pothole..."))
    title: str = field(metadata=rule(max_len=200, doc="one line for the team's screen"))
    note: str = field(default="", metadata=rule(max_len=512, doc="the operator's reason, or why an update was refused"))
    lat: float | None = field(default=None, metadata=rule(lo=-90, hi=90, doc="WGS84"))
    lon: float | None = field(default=None, metadata=rule(lo=-180, hi=180, doc="WGS84"))


@dataclass(frozen=True)
class TeamStatus(Record):
    """A field team's status update, on ``<site>/team/<team>/status`` (team -> coordinator).

    The header's ``dev`` is the team id (it must match the topic). The coordinator applies it
    as a transition by the team, only on an intervention assigned to that team.
    """

    kind: ClassVar[Kind] = Kind.STATUS
    header: Header
    intervention: int = field(metadata=rule(lo=1, hi=INT64_MAX, doc="intervention id"))
    state: str = field(metadata=rule(max_len=16, pattern=re.compile(_FIELD_STATES),
                                     doc="en_route, on_site, resolved, or acknowledged to hand it back"))
    reason: str = field(default="", metadata=rule(max_len=512, doc="why (needed to hand an intervention back)"))


__all__ = [
    "EVENT_TYPES",
    "MESSAGE_TYPES",
    "AckResult",
    "Birth",
    "Command",
    "CommandAck",
    "Death",
    "Detection",
    "Dispatch",
    "DispatchAction",
    "Event",
    "EventBatch",
    "EventRecord",
    "Header",
    "Message",
    "Meta",
    "Snapshot",
    "State",
    "TeamStatus",
    "Telemetry",
    "UnknownEvent",
]

Message = (Birth | Death | EventBatch | Telemetry | Command | CommandAck | Snapshot | State | Dispatch | TeamStatus
           | Meta)

#: The message class carried by each topic kind.
MESSAGE_TYPES: dict[Kind, type[Record]] = {
    cls.kind: cls
    for cls in (Birth, Death, EventBatch, Telemetry, Command, CommandAck, Snapshot, State, Dispatch, TeamStatus, Meta)
}
