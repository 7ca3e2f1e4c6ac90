"""Real databases for the tests: SQLite files and PostgreSQL databases, migrated once per run.

Each database-backed test gets a fresh database of each kind: a copy of a migrated SQLite file,
or ``CREATE DATABASE ... TEMPLATE`` of a migrated PostgreSQL template (about as fast as a copy).
Dropping is the costly part: PostgreSQL checkpoints at every ``DROP DATABASE`` (a second or more
on a busy machine). A test's PostgreSQL database is therefore dropped by a background thread as
soon as the test is over, while the next tests run, instead of all together at the end of the run.
PostgreSQL is the server on 127.0.0.1:5432 with the ``vigie_test`` role that ``.ci/services`` creates
(``VIGIE_TEST_PG`` overrides the admin URL).
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coordinator.storage import make_engine, upgrade

PG_ADMIN_URL = os.environ.get("VIGIE_TEST_PG", "postgresql+psycopg://vigie_test:vigie_test@127.0.0.1:5432/postgres")


def _pg_admin() -> Engine:
    return make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


class DatabaseFactory:
    """Hands out fresh migrated databases of one kind and drops them at the end of the run."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self.workdir = workdir
        self._created: list[str] = []
        self._lock = threading.Lock()
        self._to_drop: queue.Queue[str | None] = queue.Queue()
        self._dropper: threading.Thread | None = None
        self._template = ""
        if kind == "sqlite":
            self._template = str(workdir / "template.sqlite3")
            engine = make_engine(f"sqlite:///{self._template}")
            upgrade(engine)
            engine.dispose()
        else:
            self._template = f"vigie_tmpl_{uuid.uuid4().hex[:12]}"
            admin = _pg_admin()
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self._template}"'))
            admin.dispose()
            self._created.append(self._template)
            engine = make_engine(pg_url(self._template), poolclass=sa.pool.NullPool)
            upgrade(engine)
            engine.dispose()

    def new_url(self) -> str:
        """URL of a new database holding the migrated, empty schema."""
        if self.kind == "sqlite":
            path = self.workdir / f"db-{uuid.uuid4().hex[:12]}.sqlite3"
            shutil.copyfile(self._template, path)
            return f"sqlite:///{path}"
        name = f"vigie_test_{uuid.uuid4().hex[:12]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"'))
        admin.dispose()
        with self._lock:
            self._created.append(name)
        return pg_url(name)

    def new_empty_url(self) -> str:
        """URL of a new database without any table, for a test that migrates it itself (released the same way)."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.workdir / f'empty-{uuid.uuid4().hex[:12]}.sqlite3'}"
        name = f"vigie_test_{uuid.uuid4().hex[:12]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        with self._lock:
            self._created.append(name)
        return pg_url(name)

    def release(self, url: str) -> None:
        """The test using ``url`` is over: drop its PostgreSQL database in the background (SQLite: nothing)."""
        if self.kind != "postgresql":
            return
        if self._dropper is None:
            self._dropper = threading.Thread(target=self._drop_released, name="vigie-test-dropdb", daemon=True)
            self._dropper.start()
        self._to_drop.put(url.rsplit("/", 1)[1])

    def _drop_released(self) -> None:
        admin = _pg_admin()
        try:
            while (name := self._to_drop.get()) is not None:
                try:
                    with admin.connect() as conn:  # WITH (FORCE): a connection a test left open does not block it
                        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                except sa.exc.SQLAlchemyError:
                    continue  # left in the list: close() tries again and says why if it fails too
                with self._lock:
                    self._created.remove(name)
        finally:
            admin.dispose()

    def close(self) -> None:
        """Drop what is left: the template, and any database not dropped in the background."""
        if self.kind != "postgresql":
            return
        if self._dropper is not None:
            self._to_drop.put(None)
            self._dropper.join()
        admin = _pg_admin()
        with admin.connect() as conn:
            for name in reversed(self._created):
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pg_admin_env() -> dict[str, str]:
    """The admin URL as libpq variables (``PGHOST``...), for tools like ``psql`` and ``createdb``."""
    url = sa.engine.make_url(PG_ADMIN_URL)
    env = {"PGHOST": url.host or "127.0.0.1", "PGPORT": str(url.port or 5432), "PGUSER": url.username or ""}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env


def drop_pg_database_and_role(database: str, role: str) -> None:
    """Drop a database (even with open connections) and a login role, if they exist."""
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()
