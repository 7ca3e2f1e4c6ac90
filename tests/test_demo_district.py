"""The demo's simulated district: valid box configs, the promised size, placed in their communes."""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from coordinator.demo.run import _night_offset
from coordinator.demo.seed import RULES, TEAMS, seed_demo
from coordinator.storage import interventions as interventions_store
from coordinator.storage import teams as teams_store
from edge_agent.simulation.presence import DAILY, arrivals, rate_per_s
from vigie_config import load_config
from vigie_config.metropole import METRES_PER_DEGREE, commune, communes, district
from vigie_config.metropole.district import write_configs


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * METRES_PER_DEGREE
    dx = (lon2 - lon1) * METRES_PER_DEGREE * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


def test_communes_are_the_23_of_the_metropole() -> None:
    assert len(communes()) == 23
    assert commune("dijon").lat == pytest.approx(47.322)


def test_district_has_20_cabinets_2000_luminaires_over_several_communes() -> None:
    d = district.generate()
    assert len(d.light_boxes) == 20
    assert d.luminaire_count == 2000
    assert len({b["site"] for b in d.light_boxes}) == 7
    assert 5 <= len(d.sensors) <= 35


def test_district_is_reproducible_from_its_seed() -> None:
    assert district.generate(1) == district.generate(1)
    assert district.generate(1) != district.generate(2)


def test_every_box_is_placed_near_its_commune_centre() -> None:
    d = district.generate()
    for box in d.light_boxes:
        c = commune(box["site"])
        assert _metres(c.lat, c.lon, box["lat"], box["lon"]) < 1600
        for lum in box["lighting"]["luminaires"]:
            assert _metres(box["lat"], box["lon"], lum["lat"], lum["lon"]) <= 50 * district.SPACING_M + 1


def test_written_configs_pass_the_edge_validation(tmp_path: Path) -> None:
    d = district.generate()
    lights, sensors = write_configs(d, tmp_path, 18830)
    assert len(lights) == 20 and len(sensors) == len(d.sensors)
    sensor_ids = {s.device_id for s in d.sensors}
    for path in lights:
        box = load_config(path)
        assert box.lighting is not None and len(box.lighting.luminaires) == 100
        # A cabinet listens only to sensors that exist, on its own streets.
        for src in box.lighting.presence:
            assert src.device in sensor_ids
    for path in sensors:
        assert load_config(path).cameras == []


def test_presence_arrivals_follow_the_hourly_rate() -> None:
    rng = random.Random(3)
    n = sum(len(arrivals(rng, "collector", 18, t, 60.0)) for t in range(0, 36000, 60))
    expected = rate_per_s("collector", 18) * 36000
    assert abs(n - expected) < 4 * expected**0.5
    assert rate_per_s("main", 3) < rate_per_s("main", 17)
    assert DAILY["residential"] < DAILY["main"]


def test_daytime_demo_shifts_light_clocks_to_the_evening() -> None:
    tz = dt.timezone(dt.timedelta(hours=1))
    noon = dt.datetime(2026, 11, 26, 12, 0, tzinfo=tz)
    assert noon + _night_offset(noon) == noon.replace(hour=21, minute=30)
    assert _night_offset(noon.replace(hour=22)) == dt.timedelta(0)


def test_demo_teams_and_rules_are_seeded_once_and_valid(engine: Engine) -> None:
    assert seed_demo(engine) == (len(TEAMS), len(RULES))
    assert seed_demo(engine) == (0, 0)
    with engine.connect() as conn:
        stored = interventions_store.list_rules(conn)
        teams = teams_store.list_teams(conn)
    assert {r.type for r in stored} == {"crowd", "stopped_vehicle", "loitering", "light_fault", "device_offline"}
    assert {t.commune for t in teams} >= {"dijon", "chenove", "talant", "quetigny"}
    for t in teams:  # every depot is in its commune (centres are good to ~1 km)
        c = commune(t.commune)
        assert t.lat is not None and t.lon is not None
        assert _metres(c.lat, c.lon, t.lat, t.lon) < 2500
