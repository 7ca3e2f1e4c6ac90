"""What the ingest worker hands to the domain after storing a batch, in the same transaction.

Ingest decodes and stores; analytics, lighting, fleet and intervention rules react to what was
*newly* stored (a replayed duplicate reaches no hook twice). Hooks run inside the batch's
transaction, so an aggregate is never counted without its event nor an event without its
aggregate. A hook must not do network I/O: it writes rows (an intervention, a notification to
send) that other workers act on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class StoredEvent:
    """One event stored for the first time. ``body`` holds the event's fields by name."""

    device_id: str
    site: str
    boot: int
    n: int
    ts_ms: int
    type: str  # wire name: detection, zone_enter, line_crossing, lamp_fault...
    body: dict[str, Any]
    historical: bool


@dataclass(frozen=True)
class StoredTelemetry:
    device_id: str
    site: str
    ts_ms: int
    metrics: dict[str, Any]


@dataclass(frozen=True)
class StoredAck:
    device_id: str
    site: str
    ts_ms: int
    cmd_id: str
    result: str
    detail: str
    applied: dict[str, Any]


@dataclass(frozen=True)
class DeviceChange:
    """A device went online (birth), offline (death) or stale."""

    device_id: str
    site: str
    ts_ms: int
    status: str
    previous: str


EventHook = Callable[[Connection, Sequence[StoredEvent]], None]
TelemetryHook = Callable[[Connection, Sequence[StoredTelemetry]], None]
AckHook = Callable[[Connection, Sequence[StoredAck]], None]
DeviceHook = Callable[[Connection, Sequence[DeviceChange]], None]


@dataclass
class Hooks:
    """The explicit list of reactions; ``default_hooks()`` wires the product's domains."""

    events: list[EventHook] = field(default_factory=list)
    telemetry: list[TelemetryHook] = field(default_factory=list)
    acks: list[AckHook] = field(default_factory=list)
    devices: list[DeviceHook] = field(default_factory=list)
    #: Event types an event hook reads (a hook not in this map reads every type).
    types: dict[EventHook, frozenset[str]] = field(default_factory=dict)

    def add_events(self, hook: EventHook, types: Iterable[str] | None = None) -> None:
        """Register an event hook, for the given event types only (``None``: all of them).

        Most events of a busy site are detections and crossings that only analytics of
        their own reads; a hook that declares its types costs nothing for the others: storage
        builds no :class:`StoredEvent` an interested hook would not receive.
        """
        self.events.append(hook)
        if types is not None:
            self.types[hook] = frozenset(types)

    def event_types(self) -> frozenset[str] | None:
        """Types some event hook reads; ``None`` when a hook reads every type."""
        wanted: set[str] = set()
        for hook in self.events:
            types = self.types.get(hook)
            if types is None:
                return None
            wanted |= types
        return frozenset(wanted)

    def on_events(self, conn: Connection, items: Sequence[StoredEvent]) -> None:
        if not items:
            return
        for hook in self.events:
            types = self.types.get(hook)
            if types is None:
                hook(conn, items)
                continue
            mine = [e for e in items if e.type in types]
            if mine:
                hook(conn, mine)

    def on_telemetry(self, conn: Connection, items: Sequence[StoredTelemetry]) -> None:
        if items:
            for hook in self.telemetry:
                hook(conn, items)

    def on_acks(self, conn: Connection, items: Sequence[StoredAck]) -> None:
        if items:
            for hook in self.acks:
                hook(conn, items)

    def on_devices(self, conn: Connection, items: Sequence[DeviceChange]) -> None:
        if items:
            for hook in self.devices:
                hook(conn, items)


def default_hooks() -> Hooks:
    """The product's wiring. Each domain adds its hook here (one line each, explicit)."""
    # Imported here, not at the top: the domains import this module for its types.
    from coordinator.analytics import hooks as analytics_hooks  # noqa: PLC0415
    from coordinator.dispatch.jobs import EVENT_TYPES as RULE_EVENT_TYPES  # noqa: PLC0415
    from coordinator.dispatch.jobs import make_event_hook  # noqa: PLC0415
    from coordinator.lighting import hooks as lighting_hooks  # noqa: PLC0415
    from coordinator.register import hooks as register_hooks  # noqa: PLC0415

    hooks = Hooks()
    hooks.add_events(make_event_hook(), RULE_EVENT_TYPES)  # interventions: rules over events
    hooks.add_events(analytics_hooks.on_events, analytics_hooks.EVENT_TYPES)  # analytics: counts and occupancy
    hooks.telemetry.append(analytics_hooks.on_telemetry)  # analytics: energy per light group and hour
    hooks.acks.append(lighting_hooks.on_acks)  # lighting: answers to light.* commands
    hooks.add_events(register_hooks.on_events, register_hooks.EVENT_TYPES)  # register: recordings, destructions
    return hooks
