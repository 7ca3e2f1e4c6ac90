"""Shared fixtures: a private Mosquitto per test, and fresh real databases (SQLite and PostgreSQL).

The Hypothesis profile (``ci`` when the ``CI`` variable is set, ``dev`` otherwise, see
:mod:`tests.hypothesis_profiles`) is loaded here, before any test module builds its ``settings``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Engine

from coordinator.storage import make_engine
from tests import hypothesis_profiles
from tests.api_helpers import make_app
from tests.db_helpers import DatabaseFactory
from tests.mqtt_helpers import Mosquitto

hypothesis_profiles.load()

DB_KINDS = ("sqlite", "postgresql")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running broker that the test may stop, kill and restart on the same port."""
    b = Mosquitto(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture(scope="session", params=DB_KINDS)
def db_factory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """One migrated template per database kind for the whole run."""
    factory = DatabaseFactory(request.param, tmp_path_factory.mktemp(f"db-{request.param}"))
    yield factory
    factory.close()


@pytest.fixture
def db_url(db_factory: DatabaseFactory) -> Iterator[str]:
    """URL of a fresh, migrated, empty database; every test using it runs on SQLite and PostgreSQL."""
    url = db_factory.new_url()
    yield url
    db_factory.release(url)  # dropped in the background while the next tests run


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = make_engine(db_url)
    yield e
    e.dispose()


@pytest.fixture
def db(engine: Engine) -> Engine:
    """The test's database, under the name the API tests use beside ``app``."""
    return engine


@pytest.fixture
def app(db_url: str) -> Flask:
    """The coordinator app on the test's database; test files with other settings override it."""
    return make_app(db_url)
