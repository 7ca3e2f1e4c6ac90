"""The product's reactions to ingest, wired in one place: the composition root of the ingest worker.

:mod:`coordinator.ingest.hooks` defines what a hook receives and the :class:`~coordinator.ingest.hooks.Hooks`
registry; the domains (interventions, analytics, lighting, the register) import those types. Registering the
domains' hooks here, outside the ``ingest`` package, keeps the dependency one-way: ingest never imports a domain,
and a domain module can be imported alone.
"""

from __future__ import annotations

from .analytics import hooks as analytics_hooks
from .dispatch.jobs import EVENT_TYPES as RULE_EVENT_TYPES
from .dispatch.jobs import make_event_hook
from .ingest.hooks import Hooks
from .lighting import hooks as lighting_hooks
from .register import hooks as register_hooks


def default_hooks() -> Hooks:
    """The product's wiring. Each domain adds its hook here (one line each, explicit)."""
    hooks = Hooks()
    hooks.add_events(lighting_hooks.on_fault_events, lighting_hooks.FAULT_EVENT_TYPES)  # lighting: fault state,
    # before the interventions' hook, which reads it when a fault clears
    hooks.add_events(make_event_hook(), RULE_EVENT_TYPES)  # interventions: rules over events
    hooks.add_events(analytics_hooks.on_events, analytics_hooks.EVENT_TYPES)  # analytics: counts and occupancy
    hooks.telemetry.append(analytics_hooks.on_telemetry)  # analytics: energy per light group and hour
    hooks.acks.append(lighting_hooks.on_acks)  # lighting: answers to light.* commands
    hooks.add_events(register_hooks.on_events, register_hooks.EVENT_TYPES)  # register: recordings, destructions
    return hooks
