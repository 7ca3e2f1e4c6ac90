"""Every table of the coordinator, one module per domain, all on one ``metadata``.

Alembic compares this metadata with the migrations (``tests/test_storage.py``), so a table
changed here without a migration fails the suite.
"""

from .analytics import analytics_counts, analytics_occupancy, energy_hourly, light_meters
from .auth import ROLES, api_tokens, auth_sessions, login_throttle, security_events, users
from .base import metadata
from .events import events, telemetry
from .fleet import camera_geometry, device_sessions, devices, event_streams, sequence_gaps
from .interventions import (
    deliveries,
    delivery_attempts,
    intervention_log,
    interventions,
    report_quota,
    rule_state,
    rules,
    teams,
)
from .legal import (
    analytics_mode_log,
    authority_accounts,
    box_upload_tokens,
    download_links,
    legal_designations,
    register_entries,
    register_head,
    requisitions,
)
from .lighting import (
    CITY_SITE,
    lamp_faults,
    light_calendars,
    light_command_acks,
    light_command_topics,
    light_commands,
    light_group_members,
    light_issuers,
    light_luminaires,
)

__all__ = [
    "CITY_SITE",
    "ROLES",
    "analytics_counts",
    "analytics_mode_log",
    "analytics_occupancy",
    "api_tokens",
    "auth_sessions",
    "authority_accounts",
    "box_upload_tokens",
    "camera_geometry",
    "deliveries",
    "delivery_attempts",
    "device_sessions",
    "devices",
    "download_links",
    "energy_hourly",
    "event_streams",
    "events",
    "intervention_log",
    "interventions",
    "lamp_faults",
    "legal_designations",
    "light_calendars",
    "light_command_acks",
    "light_command_topics",
    "light_commands",
    "light_group_members",
    "light_issuers",
    "light_luminaires",
    "light_meters",
    "login_throttle",
    "metadata",
    "register_entries",
    "register_head",
    "report_quota",
    "requisitions",
    "rule_state",
    "rules",
    "security_events",
    "sequence_gaps",
    "teams",
    "telemetry",
    "users",
]
