"""Shared fixtures: a private Mosquitto per test, with the project's generated config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mqtt_helpers import Mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running broker that the test may stop, kill and restart on the same port."""
    b = Mosquitto(tmp_path / "broker")
    b.start()
    yield b
    b.stop()
