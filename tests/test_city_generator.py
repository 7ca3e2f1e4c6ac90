"""The simulated métropole: its size, its share-out by population, its places, its event mix and failures."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from coordinator.sim.run import clock_offset
from edge_agent.lighting.drivers import LampFault, SimulatedDriver
from edge_agent.simulation.camera_replay import CameraReplay, hour_factor, load_mix, poisson
from edge_agent.simulation.city_host import CityHost
from vigie_config import load_config
from vigie_config.metropole import METRES_PER_DEGREE, commune, communes, populations
from vigie_config.metropole import city as city_mod
from vigie_config.metropole.city import generate_city, lamp_failures, share, write_city_configs


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * METRES_PER_DEGREE
    dx = (lon2 - lon1) * METRES_PER_DEGREE * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


@pytest.fixture(scope="module")
def city() -> city_mod.City:
    return generate_city()


def test_the_city_has_340_cabinets_34000_luminaires_115_cameras_in_every_commune(city: city_mod.City) -> None:
    assert len(city.light_boxes) == 340 and city.luminaire_count == 34_000
    assert len(city.cameras) == 115
    assert {b["site"] for b in city.light_boxes} == {c.slug for c in communes()}
    assert 0.05 * 1360 < len(city.sensors) < 0.15 * 1360  # a tenth of the 1,360 streets
    ids = [b["device_id"] for b in city.light_boxes] + [c.device_id for c in city.cameras]
    ids += [s.device_id for s in city.sensors]
    assert len(ids) == len(set(ids)) == city.box_count


def test_cabinets_and_cameras_follow_the_population(city: city_mod.City) -> None:
    pops = populations()
    assert set(pops) == {c.slug for c in communes()}
    total = sum(pops.values())
    cabinets = Counter(b["site"] for b in city.light_boxes)
    cameras = Counter(c.site for c in city.cameras)
    for slug, pop in pops.items():
        # one cabinet each, then the other 317 shared out exactly to within one
        assert abs(cabinets[slug] - 1 - 317 * pop / total) < 1, slug
        assert abs(cameras[slug] - 115 * pop / total) < 1, slug
        assert cabinets[slug] >= 1
    assert cabinets["dijon"] == max(cabinets.values()) and cameras["flavignerot"] == 0


def test_share_is_exact_with_its_minimum_and_refuses_the_impossible() -> None:
    assert share(10, {"a": 1, "b": 1, "c": 2}) == {"a": 3, "b": 2, "c": 5}  # a tie goes by name
    got = share(7, {"a": 100, "b": 1, "c": 1}, minimum=1)
    assert got == {"a": 5, "b": 1, "c": 1}
    assert sum(share(340, {c.slug: float(p) for c, p in zip(communes(), range(1, 24), strict=True)}).values()) == 340
    with pytest.raises(ValueError):
        share(2, {"a": 1, "b": 1, "c": 1}, minimum=1)


def test_every_box_and_luminaire_stands_in_its_commune_within_the_metropole(city: city_mod.City) -> None:
    lats = [c.lat for c in communes()]
    lons = [c.lon for c in communes()]
    margin = 0.05  # ~5 km around the communes' centres
    cabinets = Counter(b["site"] for b in city.light_boxes)
    for box in city.light_boxes:
        c = commune(box["site"])
        radius = city_mod.commune_radius_m(cabinets[c.slug])
        assert _metres(c.lat, c.lon, box["lat"], box["lon"]) <= radius + 1
        lums = box["lighting"]["luminaires"]
        assert len(lums) == 100 and len({lum["id"] for lum in lums}) == 100
        for lum in lums:
            assert min(lats) - margin < lum["lat"] < max(lats) + margin
            assert min(lons) - margin < lum["lon"] < max(lons) + margin
            assert _metres(box["lat"], box["lon"], lum["lat"], lum["lon"]) <= 15 + 24 * 35 + 1
            assert lum["rated_w"] in (40, 80, 120)
    for cam in city.cameras:
        c = commune(cam.site)
        assert _metres(c.lat, c.lon, cam.lat, cam.lon) <= city_mod.commune_radius_m(cabinets[c.slug]) / 2 + 1


def test_luminaires_line_streets_at_their_class_spacing(city: city_mod.City) -> None:
    watts = {w: name for name, w, _ in city_mod.CLASSES}
    box = city.light_boxes[0]
    lums = box["lighting"]["luminaires"]
    for a, b in itertools.pairwise(lums):
        if a["groups"] == b["groups"]:  # neighbours on one street
            gap = _metres(a["lat"], a["lon"], b["lat"], b["lon"])
            assert gap == pytest.approx(city_mod.SPACING_M[watts[a["rated_w"]]], abs=0.5)


def test_the_city_is_reproducible_from_its_seed() -> None:
    assert generate_city(5, cabinets=30, cameras=5) == generate_city(5, cabinets=30, cameras=5)
    assert generate_city(5, cabinets=30, cameras=5) != generate_city(6, cabinets=30, cameras=5)


def test_a_small_city_shares_its_counts_among_the_chosen_communes() -> None:
    small = generate_city(cabinets=5, cameras=3, sites=["dijon", "talant"])
    assert Counter(b["site"] for b in small.light_boxes) == {"dijon": 4, "talant": 1}
    assert Counter(c.site for c in small.cameras) == {"dijon": 3}


def test_written_configs_are_valid_boxes_of_their_kind(tmp_path: Path) -> None:
    small = generate_city(cabinets=6, cameras=2, sensor_share=0.5, sites=["dijon", "quetigny"])
    paths = write_city_configs(small, tmp_path, 1883)
    assert len(paths) == small.box_count
    sensors = {s.device_id for s in small.sensors}
    for dev, path in paths.items():
        box = load_config(path)
        if dev.startswith("light-"):
            assert box.lighting is not None and len(box.lighting.luminaires) == 100
            assert all(src.device in sensors for src in box.lighting.presence)
        elif dev.startswith("cam-"):
            assert [z.id for z in box.cameras[0].zones] == ["crossing"] and box.lighting is None
        else:
            assert dev in sensors and not box.cameras and box.lighting is None
    before = {p: p.stat().st_mtime_ns for p in paths.values()}
    write_city_configs(small, tmp_path, 1883)  # unchanged configs are not rewritten: their hash holds
    assert {p: p.stat().st_mtime_ns for p in paths.values()} == before


def test_camera_replay_reproduces_the_recorded_mix_at_the_peak_hour() -> None:
    mix = load_mix()
    assert {"detection", "zone_enter", "line_crossing", "occupancy"} <= set(mix.per_minute)
    replay = CameraReplay("crossing", "street", random.Random(1))
    got: Counter[str] = Counter()
    peak = max(range(24), key=hour_factor)
    for _ in range(1800):
        got.update(ev.wire_name for ev in replay.step(1.0, peak))
    for kind in ("detection", "zone_enter", "line_crossing", "track_end"):
        want = mix.per_minute[kind] * 30
        assert abs(got[kind] - want) < 5 * math.sqrt(want), kind
    assert got["counts"] == 1800 // mix.count_interval_s
    quiet = CameraReplay("crossing", "street", random.Random(1))
    night = sum(len(quiet.step(1.0, 3)) for _ in range(1800))
    assert night < sum(got.values()) / 5  # 03:00 is a small fraction of the evening peak


def test_a_burst_multiplies_the_rate() -> None:
    calm, busy = (CameraReplay("crossing", "street", random.Random(2)) for _ in range(2))
    n_calm = sum(len(calm.step(1.0, 20)) for _ in range(300))
    n_busy = sum(len(busy.step(1.0, 20, factor=10)) for _ in range(300))
    assert 7 * n_calm < n_busy < 13 * n_calm


def test_poisson_draws_have_the_asked_mean() -> None:
    rng = random.Random(4)
    for lam in (0.3, 4.0, 80.0):
        mean = sum(poisson(rng, lam) for _ in range(4000)) / 4000
        assert mean == pytest.approx(lam, rel=0.1, abs=0.05)
    assert poisson(rng, 0) == 0


def test_lamp_failures_follow_the_accelerated_yearly_rate(city: city_mod.City) -> None:
    day = 86_400.0
    fails = lamp_failures(city, seed=1, duration_s=day, acceleration=100)
    want = 34_000 * city_mod.YEARLY_FAILURE_RATE * 100 / 365  # ~186 a day at x100
    assert abs(len(fails) - want) < 4 * math.sqrt(want)
    assert all(0 <= f.at_s < day and f.repair_s == pytest.approx(f.at_s + city_mod.REPAIR_S / 100) for f in fails)
    assert fails == sorted(fails, key=lambda f: f.at_s)
    assert lamp_failures(city, seed=1, duration_s=day) == fails
    assert lamp_failures(city, seed=1, duration_s=day, acceleration=0) == []


def test_clock_offset_shows_the_asked_local_time() -> None:
    now = dt.datetime(2026, 12, 7, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert clock_offset("20:30", now) == dt.timedelta(hours=6, minutes=30)
    assert clock_offset("09:00", now) == dt.timedelta(hours=19)
    assert clock_offset("now", now) == dt.timedelta(0)


def test_the_host_fails_lamps_on_schedule_and_repairs_them(tmp_path: Path) -> None:
    """The city's failure schedule reaches the simulated gear of the hosted cabinets (built, not connected)."""
    small = generate_city(cabinets=2, cameras=0, sensor_share=0, sites=["dijon"])
    configs = write_city_configs(small, tmp_path, 1)
    host = CityHost(small, configs, seed=3, fault_acceleration=5e6, duration_s=60)
    assert host.failures, "x5,000,000 gives a few failures a minute on 200 luminaires"
    for device in host.lights:
        host.agents[device] = host._agent(device)
    first = host.failures[0]
    # Steps fall between the failure and its repair, and after the repair: ``started + at_s - started`` is not
    # ``at_s`` to the last bit (the epoch's magnitude rounds it), so a step exactly on a due time may miss it.
    failed_at, repaired_at = first.at_s, first.repair_s
    host.step(host.started + (failed_at + repaired_at) / 2, 1.0)
    driver = host.agents[first.device_id].light.driver  # type: ignore[union-attr]
    assert isinstance(driver, SimulatedDriver)
    assert LampFault.LAMP_FAILURE in driver._lamp(first.lum_id).faults
    assert host.faults_injected >= 1
    host.step(host.started + repaired_at + (repaired_at - failed_at) / 2, 1.0)
    assert LampFault.LAMP_FAILURE not in driver._lamp(first.lum_id).faults
    for agent in host.agents.values():
        agent.outbox.close()
