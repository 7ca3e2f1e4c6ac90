"""Storage: the only package that knows tables and SQL (SQLAlchemy Core + Alembic).

Domain modules take and return values; repositories in this package turn them into rows.
"""

from .engine import DEFAULT_URL, make_engine, normalise_url
from .migrate import current_revision, downgrade, head_revision, schema_drift, upgrade
from .schema import metadata

__all__ = [
    "DEFAULT_URL",
    "current_revision",
    "downgrade",
    "head_revision",
    "make_engine",
    "metadata",
    "normalise_url",
    "schema_drift",
    "upgrade",
]
