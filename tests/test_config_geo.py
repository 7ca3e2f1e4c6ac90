"""A camera's zones and lines on the ground (WGS84): a good geometry loads; each bad one names file, field and why."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from vigie_config import load_config
from vigie_config.errors import ConfigError
from vigie_config.geo import BBOX, check_ring, in_metropole

REPO = Path(__file__).resolve().parents[1]
RING = [[5.0410, 47.3225], [5.0416, 47.3225], [5.0416, 47.3220], [5.0410, 47.3220], [5.0410, 47.3225]]
LINE = {"a": [5.0413, 47.3226], "b": [5.0413, 47.3219], "in_side": "right"}


def box(tmp: Path, zone_geo: Any = RING, line_geo: Any = LINE, direction: str = "a_to_b") -> Path:
    camera = {
        "name": "north", "source": "rtsp://10.0.0.1/stream", "model": str(REPO / "models/nanodet-g-416.manifest.json"),
        "zones": [{"id": "square", "polygon": [[0.1, 0.4], [0.9, 0.4], [0.9, 1.0], [0.1, 1.0]], "geo": zone_geo}],
        "lines": [{"id": "street", "a": [0.5, 0.3], "b": [0.5, 1.0], "direction": direction, "geo": line_geo}],
    }
    path = tmp / "cam-geo-01.yaml"
    path.write_text(yaml.safe_dump({"device_id": "cam-geo-01", "site": "dijon", "lat": 47.3222, "lon": 5.0413,
                                    "cameras": [camera]}), encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_a_zone_and_a_line_on_the_ground_load_as_given(tmp_path: Path) -> None:
    cam = load_config(box(tmp_path)).cameras[0]
    assert cam.zones[0].geo == [tuple(p) for p in RING]
    assert cam.lines[0].geo is not None and cam.lines[0].geo.in_side == "right"
    none = load_config(box(tmp_path, zone_geo=None, line_geo=None)).cameras[0]
    assert none.zones[0].geo is None and none.lines[0].geo is None, "geometry on the ground is optional"


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("latitude and longitude swapped", {"zone_geo": [[lat, lon] for lon, lat in RING]}, "cameras.0.zones.0.geo",
     r"point \[47.3225, 5.041\] is outside the métropole .*latitude and longitude swapped\? the order is \[lon, lat\]"),
    ("a longitude past 180", {"zone_geo": [[185.0, 47.3], *RING[1:-1], [185.0, 47.3]]}, "cameras.0.zones.0.geo",
     r"point \[185.0, 47.3\]: \[lon, lat\] needs -180 <= lon <= 180"),
    ("a ring left open", {"zone_geo": RING[:-1]}, "cameras.0.zones.0.geo",
     r"the ring is not closed: its last position \[5.041, 47.322\] must repeat the first \[5.041, 47.3225\]"),
    ("corners in a line", {"zone_geo": [[5.0410, 47.3225], [5.0412, 47.3225], [5.0414, 47.3225], [5.0410, 47.3225]]},
     "cameras.0.zones.0.geo", r"the ring is degenerate: it covers 0.00 m²"),
    ("a ring crossing itself", {"zone_geo": [RING[0], RING[1], RING[3], RING[2], RING[0]]}, "cameras.0.zones.0.geo",
     r"the ring crosses itself: edges 1 and 3 meet"),
    ("too few positions", {"zone_geo": [RING[0], RING[1], RING[0]]}, "cameras.0.zones.0.geo",
     r"at least 4 items"),
    ("a line of one point", {"line_geo": {**LINE, "b": LINE["a"]}}, "cameras.0.lines.0.geo",
     r"a and b are 0.00 m apart"),
    ("an in side against the direction", {"line_geo": {**LINE, "in_side": "left"}}, "cameras.0.lines.0",
     r"geo.in_side 'left' contradicts direction 'a_to_b': .* so the in side is 'right'"),
    ("the reverse direction's side", {"direction": "b_to_a"}, "cameras.0.lines.0",
     r"geo.in_side 'right' contradicts direction 'b_to_a': .* so the in side is 'left'"),
    ("a zone in the next commune", {"zone_geo": [[lon + 0.03, lat] for lon, lat in RING]}, "cameras.0.zones.0.geo",
     r"\[5.0716, 47.3225\] is 2\d{3} m from the box \(47.3222, 5.0413\), past 1000 m"),
]


@pytest.mark.parametrize(("changes", "field", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_ground_geometry_names_file_field_and_reason(tmp_path: Path, changes: dict[str, Any], field: str,
                                                           reason: str) -> None:
    path = box(tmp_path, **changes)
    message = error_of(path)
    assert message.startswith(f"{path}: {field}: "), message
    assert any(re.search(reason, line) for line in message.splitlines()), message


def test_the_metropole_is_one_rule_for_boxes_and_citizen_reports() -> None:
    from coordinator.interventions import geo  # noqa: PLC0415 -- the centre's rule is the shared one

    assert geo.in_metropole is in_metropole and geo.BBOX is BBOX
    south, west, _north, _east = BBOX
    assert in_metropole(47.322, 5.041) and not in_metropole(5.041, 47.322)
    ring = [(west - 0.01, south), (west + 0.01, south), (west + 0.01, south + 0.01), (west - 0.01, south)]
    with pytest.raises(ValueError, match="outside the métropole"):
        check_ring(ring)
