"""The one ``MetaData`` every table of the coordinator belongs to.

A naming convention makes constraint names identical on SQLite and PostgreSQL, so Alembic can
drop or alter them by name in later migrations (SQLite's batch mode needs names to exist).
Times are stored as integer milliseconds since the epoch, as on the wire: no time-zone
ambiguity between the two databases, and minute or hour buckets are integer divisions.
"""

from __future__ import annotations

import sqlalchemy as sa

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

#: Identifiers as the wire contract allows them (device, site, zone, group...).
Ident = sa.String(64)
#: Milliseconds since the epoch.
Millis = sa.BigInteger()
