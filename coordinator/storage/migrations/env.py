"""Alembic environment: runs migrations on the connection or URL handed over by ``storage``."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from coordinator.storage.engine import make_engine
from coordinator.storage.migrate import include_name
from coordinator.storage.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True,
                      compare_type=True, include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
