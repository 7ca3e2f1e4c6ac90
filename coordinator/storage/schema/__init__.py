"""Every table of the coordinator, one module per domain, all on one ``metadata``.

Alembic compares this metadata with the migrations (``tests/test_storage.py``), so a table
changed here without a migration fails the suite.
"""

from .auth import ROLES, api_tokens, users
from .base import metadata
from .events import events, telemetry
from .fleet import device_sessions, devices, event_streams, sequence_gaps

__all__ = [
    "ROLES",
    "api_tokens",
    "device_sessions",
    "devices",
    "event_streams",
    "events",
    "metadata",
    "sequence_gaps",
    "telemetry",
    "users",
]
