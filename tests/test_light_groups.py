"""Implicit groups of a light node: its commune's and the city's, subscribed to and obeyed without configuring them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import vigie_wire as wire
from edge_agent.lighting.role import LightRole
from tests.boxes import write_box
from tests.test_light_role import LIGHTING, NIGHT
from vigie_config.groups import CITY_GROUP, commune_group, implicit_groups
from vigie_config.topics import group_topics


class _Sink:
    def emit_many(self, bodies: Sequence[wire.Event], ts_ms: int | None = None) -> list[tuple[int, int]]:
        return [(0, i) for i, _ in enumerate(bodies)]

    def publish_snapshot(self, cam: int, event_id: tuple[int, int], jpeg: bytes) -> bool:
        return False


def _role(tmp_path: Path, site: str = "talant") -> LightRole:
    cfg, _ = write_box(tmp_path, 1883, "light-test-01", site=site,
                       lighting={**LIGHTING, "state_file": str(tmp_path / "state.json")})
    return LightRole(cfg, _Sink(), clock=lambda: NIGHT)


def _override(target: str, cmd_id: str, cseq: int, level: float | None) -> wire.Command:
    ms = int(NIGHT.timestamp() * 1000)
    return wire.Command(wire.Header(1, "coordinator", 0, cseq, ms), target, cmd_id, cseq, ms + 600_000,
                        "light.override", {"level": level})


def test_the_commune_and_city_groups_are_named_from_the_site() -> None:
    assert commune_group("talant") == "commune-talant"
    assert implicit_groups("talant") == ("commune-talant", CITY_GROUP)


def test_a_light_box_subscribes_to_its_commune_and_city_group_topics(tmp_path: Path) -> None:
    cfg, _ = write_box(tmp_path, 1883, "light-test-01", site="talant", lighting=LIGHTING)
    assert group_topics(cfg) == ["city", "commune-talant", "place-darcy", "rue-liberte"]
    camera_only, _ = write_box(tmp_path, 1883, "cam-test-01")
    assert group_topics(camera_only) == []


def test_commune_and_city_overrides_hold_every_luminaire_and_cancel_separately(tmp_path: Path) -> None:
    role = _role(tmp_path)
    node = role.node
    result, _, applied = role.handle_command(_override("commune-talant", "c-1", 10, 20))
    assert (result, applied["luminaires"]) == ("applied", 3)
    assert {lum: d.level for lum, d in node.engine.level_at(NIGHT + dt.timedelta(seconds=1)).items()} == {
        "l01": 20.0, "l02": 20.0, "l03": 20.0}
    assert role.handle_command(_override("city", "city-1", 11, 50))[0] == "applied"
    assert {d.level for d in node.engine.level_at(NIGHT + dt.timedelta(seconds=1)).values()} == {50.0}
    assert role.handle_command(_override("city", "city-2", 12, None))[0] == "applied"  # cancel the city's only
    assert {d.level for d in node.engine.level_at(NIGHT + dt.timedelta(seconds=1)).values()} == {20.0}


def test_a_group_of_another_commune_is_refused(tmp_path: Path) -> None:
    role = _role(tmp_path)
    result, detail, _ = role.handle_command(_override("commune-dijon", "c-9", 10, 20))
    assert result == "invalid" and "commune-dijon" in detail
