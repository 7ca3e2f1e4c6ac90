"""Route modules of the API, listed explicitly (a registry, not an import side effect hunt)."""

from . import (
    analytics,
    analytics_mode,
    auth,
    device_activity,
    fleet,
    intervention_context,
    interventions,
    lighting,
    lighting_state,
    map_geometry,
    open311,
    recording,
    register,
    requisitions,
    rules,
    security_events,
    segments,
    stream,
    teams,
    users,
)

ROUTE_MODULES = (auth, users, stream, fleet, map_geometry, device_activity, lighting, lighting_state, analytics,
                 interventions, intervention_context, teams, rules, open311, security_events, register, requisitions,
                 analytics_mode, segments, recording)
