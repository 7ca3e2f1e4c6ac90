"""Event bodies: what a box observed, one frozen dataclass per type with a stable wire code.

Codes are never reused. A decoder that meets a code it does not know keeps the event as
:class:`UnknownEvent` (a newer agent may send types an older coordinator has not learnt).

Camera events name their zone or line by the id used in the box config, and carry the track
id, so that one person's path can be followed across events without any image leaving the
box. Durations are in milliseconds (interval lengths in seconds); boxes in thousandths of
the frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import WireError
from .limits import UINT32_MAX
from .schema import Record, check, ident, record_fields, rule

_CAM = rule(lo=0, hi=255, doc="camera index in the box config")
_TRACK = rule(lo=0, hi=UINT32_MAX, doc="track id, unique per camera and boot")
_CLS = rule(lo=0, hi=65535, doc="class index in the camera model's class list (COCO order for NanoDet)")
_MS = rule(lo=0, hi=UINT32_MAX, doc="duration, ms")


class Event(Record):
    """Base of event bodies; each subclass has a stable ``code`` on the wire."""

    code: ClassVar[int] = 0


@dataclass(frozen=True)
class Detection(Event):
    """An object first seen by a camera (a new track).

    The box is in thousandths of the frame's width/height so that it does not depend on the
    stream's resolution and fits in a few bytes.
    """

    code: ClassVar[int] = 1
    wire_name: ClassVar[str] = "detection"
    cam: int = field(metadata=rule(lo=0, hi=255, doc="camera index in the box config"))
    track: int = field(metadata=rule(lo=0, hi=UINT32_MAX, doc="track id, unique per camera and boot"))
    cls: int = field(metadata=rule(lo=0, hi=65535, doc="class index in the model's class list"))
    conf: int = field(metadata=rule(lo=0, hi=100, doc="confidence, percent"))
    box: tuple[int, ...] = field(
        metadata=rule(lo=0, hi=1000, min_items=4, max_items=4, doc="x, y, w, h in 1/1000 of frame")
    )


@dataclass(frozen=True)
class UnknownEvent(Event):
    """An event type this decoder does not know (sent by a newer agent); kept, not dropped."""

    wire_name: ClassVar[str] = "unknown"
    type_code: int = field(metadata=rule(lo=0, hi=65535))
    fields: tuple[Any, ...] = ()

    def __post_init__(self) -> None:  # free-form payload: bounded by the decoder limits only
        f, hint = record_fields(UnknownEvent)[0]
        check(self.type_code, hint, f.metadata["rule"], f.name)


@dataclass(frozen=True)
class TrackEnd(Event):
    """A track is lost for good (left the view or hidden too long)."""

    code: ClassVar[int] = 2
    wire_name: ClassVar[str] = "track_end"
    cam: int = field(metadata=_CAM)
    track: int = field(metadata=_TRACK)
    cls: int = field(metadata=_CLS)
    seen_ms: int = field(metadata=rule(lo=0, hi=UINT32_MAX, doc="time between first and last sighting, ms"))


@dataclass(frozen=True)
class ZoneEnter(Event):
    """A track's foot point entered a configured zone (after the confirmation frames)."""

    code: ClassVar[int] = 3
    wire_name: ClassVar[str] = "zone_enter"
    cam: int = field(metadata=_CAM)
    zone: str = field(metadata=ident("zone id from the box config"))
    track: int = field(metadata=_TRACK)
    cls: int = field(metadata=_CLS)


@dataclass(frozen=True)
class ZoneLeave(Event):
    """A track left a zone, or was lost inside it (``lost``)."""

    code: ClassVar[int] = 4
    wire_name: ClassVar[str] = "zone_leave"
    cam: int = field(metadata=_CAM)
    zone: str = field(metadata=ident("zone id from the box config"))
    track: int = field(metadata=_TRACK)
    cls: int = field(metadata=_CLS)
    dwell_ms: int = field(metadata=_MS)
    lost: bool = field(default=False, metadata=rule(doc="the track ended inside the zone"))


@dataclass(frozen=True)
class Occupancy(Event):
    """How many objects of each class are in a zone, sent only when it changes.

    ``counts`` is a list of ``[cls, n]`` pairs; an empty list means the zone is empty. Light
    nodes listening to a camera's zones use it for their presence boost.
    """

    code: ClassVar[int] = 5
    wire_name: ClassVar[str] = "occupancy"
    cam: int = field(metadata=_CAM)
    zone: str = field(metadata=ident("zone id from the box config"))
    counts: tuple[tuple[int, ...], ...] = field(
        metadata=rule(lo=0, hi=65535, max_items=80, doc="[cls, n] pairs, n > 0")
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for i, pair in enumerate(self.counts):
            if len(pair) != 2:
                raise WireError("field", f"expected a [cls, n] pair, got {len(pair)} items", f"counts[{i}]")
            if pair[1] == 0:
                raise WireError("field", "a class with no object is left out, not counted as 0", f"counts[{i}][1]")


@dataclass(frozen=True)
class LineCrossing(Event):
    """A track crossed a counting line; ``inbound`` follows the line's configured direction."""

    code: ClassVar[int] = 6
    wire_name: ClassVar[str] = "line_crossing"
    cam: int = field(metadata=_CAM)
    line: str = field(metadata=ident("line id from the box config"))
    track: int = field(metadata=_TRACK)
    cls: int = field(metadata=_CLS)
    inbound: bool = field(metadata=rule(doc="true: the configured 'in' direction"))


@dataclass(frozen=True)
class Loitering(Event):
    """A track stayed in a zone longer than the zone's loitering threshold (sent once)."""

    code: ClassVar[int] = 7
    wire_name: ClassVar[str] = "loitering"
    cam: int = field(metadata=_CAM)
    zone: str = field(metadata=ident("zone id from the box config"))
    track: int = field(metadata=_TRACK)
    cls: int = field(metadata=_CLS)
    dwell_ms: int = field(metadata=_MS)


@dataclass(frozen=True)
class CountRow(Record):
    """One row of an interval count: a zone (entries) or a line (in/out) and a class."""

    target: str = field(metadata=ident("zone or line id from the box config"))
    cls: int = field(metadata=_CLS)
    inbound: int = field(metadata=rule(lo=0, hi=UINT32_MAX, doc="zone entries, or inbound crossings"))
    outbound: int = field(metadata=rule(lo=0, hi=UINT32_MAX, doc="outbound line crossings (0 for a zone)"))


@dataclass(frozen=True)
class IntervalCounts(Event):
    """Counts aggregated over a closed interval, for dashboards and open data.

    Rows with only zeros are left out; the event's time is the end of the interval.
    """

    code: ClassVar[int] = 8
    wire_name: ClassVar[str] = "counts"
    cam: int = field(metadata=_CAM)
    interval_s: int = field(metadata=rule(lo=1, hi=86_400, doc="interval length, s"))
    rows: tuple[CountRow, ...] = field(metadata=rule(max_items=256, doc="per target and class"))


_TALQ_FAULT = re.compile(
    "lampFailure|dimmingFailure|supplyLoss|controlGearCommFailure|lampPowerTooHigh|lampPowerTooLow"
)


@dataclass(frozen=True)
class LampFault(Event):
    """A luminaire's TALQ LampMonitor fault appeared (``active``) or cleared, sent once per change.

    Light nodes send these as events, through the durable outbox, so a fault seen while the
    centre is unreachable still reaches it; a light-fault intervention is closed on the
    ``active: false`` that follows the repair.
    """

    code: ClassVar[int] = 9
    wire_name: ClassVar[str] = "lamp_fault"
    lum: str = field(metadata=ident("luminaire id in the node config"))
    fault: str = field(metadata=rule(max_len=32, pattern=_TALQ_FAULT, doc="TALQ LampMonitor fault name"))
    active: bool = field(metadata=rule(doc="true when the fault appears, false when it clears"))


_CABINET_FAULT = re.compile("doorOpen|breakerTrip|controllerCommFailure|meterCommFailure")


@dataclass(frozen=True)
class CabinetFault(Event):
    """A fault of a light node's cabinet appeared (``active``) or cleared, sent once per change.

    ``part`` is ``cabinet`` for the cabinet as a whole (door, a controller or meter that stops answering) or the
    id of the circuit whose breaker tripped. Sent through the durable outbox like :class:`LampFault`; the centre
    opens an intervention on the first edge.
    """

    code: ClassVar[int] = 10
    wire_name: ClassVar[str] = "cabinet_fault"
    part: str = field(metadata=ident("`cabinet`, or the circuit id in the node config"))
    fault: str = field(metadata=rule(max_len=32, pattern=_CABINET_FAULT, doc="cabinet fault name"))
    active: bool = field(metadata=rule(doc="true when the fault appears, false when it clears"))


_MS_EPOCH = rule(lo=0, hi=2**53, doc="UTC time, ms since the epoch")


@dataclass(frozen=True)
class RecordingChange(Event):
    """A camera's recording started or stopped, for the video register (R252-11).

    ``reason``: ``config`` (started because the config says so), ``stop`` (the box or camera
    stopped), ``source_lost`` / ``source_ended`` (no more images), ``disk_full`` (the free-space
    floor was reached), ``error``. Sent through the durable outbox: an outage loses none.
    """

    code: ClassVar[int] = 11
    wire_name: ClassVar[str] = "recording"
    cam: int = field(metadata=_CAM)
    camera: str = field(metadata=ident("camera name in the box config"))
    on: bool = field(metadata=rule(doc="true: recording started; false: stopped"))
    reason: str = field(metadata=rule(
        max_len=16, pattern=re.compile("config|stop|source_lost|source_ended|disk_full|error"),
        doc="why it started or stopped"))


@dataclass(frozen=True)
class SegmentDestroyed(Event):
    """A recorded segment was destroyed on the box, for the video register (R252-11).

    ``reason``: ``expired`` (its first image is as old as the camera's retention, at most 30
    days) or ``quota`` (the disk quota evicted the oldest segment). A segment under a legal
    hold is never destroyed.
    """

    code: ClassVar[int] = 12
    wire_name: ClassVar[str] = "segment_destroyed"
    camera: str = field(metadata=ident("camera name in the box config"))
    start_ms: int = field(metadata=_MS_EPOCH)
    end_ms: int = field(metadata=_MS_EPOCH)
    size: int = field(metadata=rule(lo=0, hi=2**53, doc="bytes of the encrypted file"))
    reason: str = field(metadata=rule(max_len=16, pattern=re.compile("expired|quota"), doc="why"))


#: Every event type this version of the contract defines, by wire code.
EVENT_TYPES: dict[int, type[Event]] = {
    cls.code: cls
    for cls in (
        Detection, TrackEnd, ZoneEnter, ZoneLeave, Occupancy, LineCrossing, Loitering, IntervalCounts, LampFault,
        CabinetFault, RecordingChange, SegmentDestroyed,
    )
}
