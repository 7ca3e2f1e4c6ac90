"""The committed box configs of the demo district: schema, validation, coherence, and broken copies."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from edge_agent.agent import capabilities
from vigie_config import load_config
from vigie_config.schema import DOC_PATH, SCHEMA_PATH, box_json_schema, doc_with_reference, schema_text

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "firmware_configs").glob("*.yaml"))


def raw(name: str) -> dict[str, Any]:
    data = yaml.safe_load((REPO / "firmware_configs" / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def as_json(data: Any) -> Any:
    """What a JSON tool sees of a YAML document (the committed files quote dates and times)."""
    return json.loads(json.dumps(data))


# -- the schema ---------------------------------------------------------------------------------------


def test_committed_schema_is_generated_from_the_models() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "firmware_configs/box.schema.json is out of date: run .venv/bin/python -m vigie_config.schema"
    )


def test_field_reference_in_the_doc_is_generated_from_the_schema() -> None:
    doc = DOC_PATH.read_text(encoding="utf-8")
    assert doc == doc_with_reference(doc, box_json_schema()), (
        "docs/firmware-configs.md is out of date: run .venv/bin/python -m vigie_config.schema"
    )


def test_schema_is_valid_draft_2020_12_and_documents_every_field() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    models = {"BoxConfig": schema, **schema["$defs"]}
    undocumented = [f"{m}.{f}" for m, s in models.items() for f, p in s.get("properties", {}).items()
                    if not p.get("description")]
    assert undocumented == []
    for needed in ("CameraConfig", "LightingConfig", "ZoneConfig", "PresenceSourceConfig", "CalendarEntry"):
        assert needed in models


def test_schema_check_command_passes_on_the_committed_files() -> None:
    proc = subprocess.run([sys.executable, "-m", "vigie_config.schema", "--check"],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_committed_config_validates_against_the_schema(path: Path) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(as_json(yaml.safe_load(path.read_text(encoding="utf-8"))))


def _leaf_messages(errors: Iterable[jsonschema.ValidationError]) -> Iterator[str]:
    """The innermost messages: an ``anyOf`` (an optional section) hides the real reason in its context."""
    for error in errors:
        if error.context:
            yield from _leaf_messages(error.context)
        else:
            yield error.message


def test_schema_rejects_what_the_models_reject() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    bad = raw("light-darcy-01")
    bad["lighting"]["luminaires"][0]["rated_w"] = -5
    bad["mqtt"]["colour"] = "blue"
    messages = sorted(_leaf_messages(validator.iter_errors(as_json(bad))))
    assert any("-5 is less than or equal to the minimum of 0" in m for m in messages), messages
    assert any("'colour' was unexpected" in m for m in messages), messages


# -- the district ---------------------------------------------------------------------------------------


def test_vigie_edge_validate_passes_on_every_committed_config() -> None:
    proc = subprocess.run([sys.executable, "-m", "edge_agent.cli", "validate", *map(str, CONFIGS)],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"{p}: ok" for p in CONFIGS]


def test_district_has_camera_light_and_pole_boxes_in_two_communes() -> None:
    boxes = {p.stem: load_config(p) for p in CONFIGS}
    assert all(name == cfg.device_id for name, cfg in boxes.items()), "one file per box, named after it"
    roles = {name: (bool(cfg.cameras), cfg.lighting is not None) for name, cfg in boxes.items()}
    assert {(True, False), (False, True), (True, True)} <= set(roles.values())
    assert {cfg.site for cfg in boxes.values()} >= {"dijon", "fontaine-les-dijon"}
    for cfg in boxes.values():
        assert cfg.lat is not None and cfg.lon is not None
        assert 47.2 < cfg.lat < 47.4 and 4.9 < cfg.lon < 5.2, f"{cfg.device_id} is outside Dijon Métropole"
        assert cfg.district is not None
        assert cfg.mqtt.username == cfg.device_id and cfg.mqtt.tls is not None and cfg.mqtt.password_file


def test_every_presence_source_is_a_zone_of_a_committed_camera_box() -> None:
    boxes = {p.stem: load_config(p) for p in CONFIGS}
    sources = 0
    for cfg in boxes.values():
        for src in cfg.lighting.presence if cfg.lighting else ():
            sources += 1
            camera_box = boxes.get(src.device)
            assert camera_box is not None, f"{cfg.device_id} listens to unknown box {src.device}"
            assert camera_box.site == (src.site or cfg.site)
            zones = {z.id for cam in camera_box.cameras for z in cam.zones}
            assert src.zone in zones, f"{cfg.device_id}: {src.device} has no zone {src.zone}"
    assert sources >= 5


def test_a_group_shared_by_two_cabinets_is_one_topic() -> None:
    boxes = [load_config(p) for p in CONFIGS]
    owners = [b.device_id for b in boxes if b.lighting and "rue-liberte" in b.lighting.groups()]
    assert owners == ["light-darcy-01", "light-liberte-01"]


# -- broken copies ----------------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return apply


def _delete(path: str) -> Mutation:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[key]
        del node[last]
    return apply


# (case, source box, mutation, field path, reason): the line `<file>: <field>: <reason...>` must be printed.
BROKEN: list[tuple[str, str, Mutation, str, str]] = [
    ("misspelt section", "light-darcy-01", _set("lightning", {}), "lightning", "Extra inputs are not permitted"),
    ("upper-case device id", "cam-darcy-01", _set("device_id", "CAM-Darcy-01"), "device_id", "should match pattern"),
    ("reserved device id", "cam-darcy-01", _set("device_id", "group"), "device_id", "reserved for group and team"),
    ("site with a space", "cam-darcy-01", _set("site", "Dijon centre"), "site", "should match pattern"),
    ("port out of range", "cam-liberte-01", _set("mqtt.port", 88830), "mqtt.port", "less than or equal to 65535"),
    ("password without user", "cam-liberte-01", _delete("mqtt.username"), "mqtt", "password_file needs a username"),
    ("latitude out of range", "light-liberte-01", _set("lat", 147.3), "lat", "less than or equal to 90"),
    ("zone outside the frame", "cam-liberte-01", _set("cameras.0.zones.0.polygon.0", [1.2, 0.5]),
     "cameras.0.zones.0.polygon", r"point \(1.2, 0.5\) is outside the frame"),
    ("zone class the camera drops", "cam-liberte-01", _set("cameras.0.zones.0.classes", ["person", "bus"]),
     "cameras.0", "zone street uses classes the camera does not report: bus"),
    ("missing model", "pole-liberation-01", _set("cameras.0.model", "../models/nowhere.manifest.json"),
     "cameras.0.model", "model manifest not found"),
    ("class unknown to the model", "cam-darcy-01", _set("cameras.0.classes", ["person", "unicorn"]),
     "cameras.0.classes", "not in the model .*: unicorn"),
    ("calendar group typo", "light-darcy-01", _set("lighting.calendar.1.groups", ["place-darc"]),
     "lighting", r"calendar.1.groups: no luminaire is in group\(s\) place-darc"),
    ("presence for a foreign group", "light-liberte-01", _set("lighting.presence.0.groups", ["place-darcy"]),
     "lighting", r"presence.0.groups: no luminaire is in group\(s\) place-darcy"),
    ("duplicate luminaire", "light-fontaine-01", _set("lighting.luminaires.1.id", "carrois-01"),
     "lighting", "duplicate luminaire ids: carrois-01"),
    ("unknown time zone", "light-fontaine-01", _set("lighting.tz", "Europe/Dijon"), "lighting.tz",
     "unknown IANA time zone 'Europe/Dijon'"),
    ("unknown program kind", "pole-liberation-01", _set("lighting.calendar.1.program", {"kind": "dusk"}),
     "lighting.calendar.1.program", "does not match any of the expected tags"),
    ("certificate without key", "light-fontaine-01", _set("mqtt.tls.cert_file", "/etc/vigie/box.crt"),
     "mqtt.tls", "cert_file and key_file go together"),
]


def test_validate_names_file_field_and_reason_for_every_broken_copy(tmp_path: Path) -> None:
    paths: dict[str, Path] = {}
    for case, source, mutate, _field, _reason in BROKEN:
        data = copy.deepcopy(raw(source))
        mutate(data)
        path = tmp_path / f"{re.sub(r'[^a-z]+', '-', case)}.yaml"
        # Relative model paths must point where they do from firmware_configs/.
        text = yaml.safe_dump(data, sort_keys=False).replace("../models/", f"{REPO}/models/")
        path.write_text(text, encoding="utf-8")
        paths[case] = path
    proc = subprocess.run([sys.executable, "-m", "edge_agent.cli", "validate", *map(str, paths.values())],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert proc.stdout == "", "no broken copy may pass"
    lines = proc.stderr.splitlines()
    for case, _source, _mutate, field, reason in BROKEN:
        prefix = f"{paths[case]}: {field}: "
        mine = [ln for ln in lines if ln.startswith(prefix)]
        assert any(re.search(reason, ln) for ln in mine), f"{case}: no line {prefix}{reason!r} in\n{proc.stderr}"


def test_unquoted_clock_time_is_refused_with_a_hint(tmp_path: Path) -> None:
    text = (REPO / "firmware_configs" / "light-fontaine-01.yaml").read_text(encoding="utf-8")
    path = tmp_path / "light.yaml"
    path.write_text(text.replace('at: "22:00"', "at: 22:00"), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "edge_agent.cli", "validate", str(path)],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert f"{path}: lighting.calendar: " in proc.stderr
    assert "clock times must be quoted strings such as '22:00'" in proc.stderr


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_birth_capabilities_say_what_each_committed_box_is_and_which_model_it_runs(path: Path) -> None:
    config = load_config(path)
    caps = capabilities(config)
    assert caps[0] == "link"
    assert ("vision" in caps) == bool(config.cameras) and ("light" in caps) == (config.lighting is not None)
    models = {c.model.name.removesuffix(".manifest.json") for c in config.cameras}
    assert {c.removeprefix("model:") for c in caps if c.startswith("model:")} == models
    assert all(m == "nanodet-g-416" for m in models), "the document lists the class list of the shipped model"
    assert "presence" not in caps and "presence" in capabilities(config, presence=True)
