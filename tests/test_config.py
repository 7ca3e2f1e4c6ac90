"""Box configs: a good file loads; every bad one names file, field and reason."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from vigie_config import BoxConfig, config_hash, load_config
from vigie_config.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

GOOD: dict[str, Any] = {
    "device_id": "cam-darcy-01",
    "site": "dijon",
    "lat": 47.3220,
    "lon": 5.0415,
    "mqtt": {
        "host": "broker.vigie.local",
        "port": 8883,
        "username": "cam-darcy-01",
        "password_file": "/etc/vigie/mqtt.pass",
        "tls": {"ca_file": "/etc/vigie/ca.pem", "cert_file": "/etc/vigie/box.pem", "key_file": "/etc/vigie/box.key"},
        "keepalive_s": 20,
    },
    "outbox": {"path": "/var/lib/vigie/outbox.sqlite3", "max_events": 200_000, "synchronous": "FULL"},
    "batch": {"window_ms": 50, "max_events": 300, "inflight": 10},
    "telemetry_interval_s": 30,
}


def write(tmp: Path, name: str, data: Any) -> Path:
    path = tmp / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def with_(**changes: Any) -> dict[str, Any]:
    """GOOD with top-level keys replaced; a value of ``...`` removes the key."""
    out = {k: v for k, v in GOOD.items() if changes.get(k) is not Ellipsis}
    out.update({k: v for k, v in changes.items() if v is not Ellipsis})
    return out


def mqtt(**changes: Any) -> dict[str, Any]:
    out = {k: v for k, v in GOOD["mqtt"].items() if changes.get(k) is not Ellipsis}
    out.update({k: v for k, v in changes.items() if v is not Ellipsis})
    return out


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


# -- good files ------------------------------------------------------------------------------


def test_valid_yaml_loads_every_section(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "good.yaml", GOOD))
    assert isinstance(cfg, BoxConfig)
    assert (cfg.device_id, cfg.site, cfg.lat, cfg.lon) == ("cam-darcy-01", "dijon", 47.3220, 5.0415)
    assert cfg.mqtt.port == 8883
    assert cfg.mqtt.username == "cam-darcy-01"
    assert cfg.mqtt.password_file == Path("/etc/vigie/mqtt.pass")
    assert cfg.mqtt.tls is not None
    assert cfg.mqtt.tls.key_file == Path("/etc/vigie/box.key")
    assert cfg.outbox.max_events == 200_000
    assert cfg.outbox.synchronous == "FULL"
    assert cfg.batch.window_ms == 50
    assert cfg.telemetry_interval_s == 30.0


def test_minimal_yaml_gets_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "min.yaml", "device_id: lum-0042\nsite: talant\n"))
    assert cfg.mqtt.port == 1883
    assert cfg.mqtt.tls is None
    assert cfg.lat is None
    assert cfg.outbox.synchronous == "NORMAL"


def test_loaded_config_is_frozen(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "good.yaml", GOOD))
    with pytest.raises(ValueError, match="frozen"):
        cfg.device_id = "other"  # type: ignore[misc]


def test_config_hash_is_the_sha256_of_the_file_bytes(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", GOOD)
    b = write(tmp_path, "b.yaml", with_(telemetry_interval_s=31))
    assert re.fullmatch(r"[0-9a-f]{64}", config_hash(a))
    assert config_hash(a) != config_hash(b)
    assert config_hash(a) == config_hash(write(tmp_path, "c.yaml", GOOD))


# -- each error names the file, the field path and the reason ---------------------------------

FIELD_ERRORS = [
    ("unknown top-level field", with_(colour="blue"), "colour", r"Extra inputs are not permitted"),
    ("unknown nested field", with_(mqtt=mqtt(hots="x")), "mqtt.hots", r"Extra inputs are not permitted"),
    ("unknown tls field", with_(mqtt=mqtt(tls={"ca_file": "/ca", "verify": False})), "mqtt.tls.verify",
     r"Extra inputs are not permitted"),
    ("upper-case device id", with_(device_id="Cam-Darcy-01"), "device_id", r"should match pattern"),
    ("device id with slash", with_(device_id="cam/01"), "device_id", r"should match pattern"),
    ("device id with wildcard", with_(device_id="cam+"), "device_id", r"should match pattern"),
    ("device id too long", with_(device_id="c" * 65), "device_id", r"should match pattern"),
    ("device id empty", with_(device_id=""), "device_id", r"should match pattern"),
    ("device id reserved", with_(device_id="group"), "device_id", r"reserved"),
    ("device id reserved for team topics", with_(device_id="team"), "device_id", r"reserved"),
    ("device id not a string", with_(device_id=42), "device_id", r"valid string"),
    ("device id missing", with_(device_id=...), "device_id", r"Field required"),
    ("bad site", with_(site="Dijon Centre"), "site", r"should match pattern"),
    ("port zero", with_(mqtt=mqtt(port=0)), "mqtt.port", r"greater than or equal to 1"),
    ("port too high", with_(mqtt=mqtt(port=65536)), "mqtt.port", r"less than or equal to 65535"),
    ("port not a number", with_(mqtt=mqtt(port="mqtt")), "mqtt.port", r"valid integer"),
    ("password without username", with_(mqtt=mqtt(username=...)), "mqtt", r"password_file needs a username"),
    ("cert without key", with_(mqtt=mqtt(tls={"ca_file": "/ca", "cert_file": "/c"})), "mqtt.tls",
     r"cert_file and key_file go together"),
    ("key without cert", with_(mqtt=mqtt(tls={"ca_file": "/ca", "key_file": "/k"})), "mqtt.tls",
     r"cert_file and key_file go together"),
    ("tls without ca", with_(mqtt=mqtt(tls={})), "mqtt.tls.ca_file", r"Field required"),
    ("reconnect bounds reversed", with_(mqtt=mqtt(reconnect_min_s=10, reconnect_max_s=1)), "mqtt",
     r"reconnect_max_s must be >= reconnect_min_s"),
    ("latitude out of range", with_(lat=91), "lat", r"less than or equal to 90"),
    ("outbox bound zero", with_(outbox={"max_events": 0}), "outbox.max_events", r"greater than or equal to 1"),
    ("outbox synchronous", with_(outbox={"synchronous": "OFF"}), "outbox.synchronous", r"'NORMAL' or 'FULL'"),
    ("batch above 1000", with_(batch={"max_events": 1001}), "batch.max_events", r"less than or equal to 1000"),
    ("section not a mapping", with_(mqtt="broker:1883"), "mqtt", r"valid dictionary"),
]


@pytest.mark.parametrize("case", FIELD_ERRORS, ids=[c[0] for c in FIELD_ERRORS])
def test_invalid_field_gives_config_error_naming_file_field_and_reason(
    tmp_path: Path, case: tuple[str, dict[str, Any], str, str]
) -> None:
    _name, data, field, reason = case
    path = write(tmp_path, "box.yaml", data)
    message = error_of(path)
    line = next((ln for ln in message.splitlines() if ln.startswith(f"{path}: {field}: ")), None)
    assert line is not None, message
    assert re.search(reason, line), message


def test_every_error_of_a_file_is_reported_on_its_own_line(tmp_path: Path) -> None:
    path = write(tmp_path, "box.yaml", with_(device_id="BAD", colour="blue", mqtt=mqtt(port=0)))
    lines = error_of(path).splitlines()
    assert len(lines) == 3
    assert {ln.split(": ")[1] for ln in lines} == {"device_id", "colour", "mqtt.port"}
    assert all(ln.startswith(f"{path}: ") for ln in lines)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("- device_id: cam-1\n- site: dijon\n", "expected a mapping at the top level"),
        ("just a string\n", "expected a mapping at the top level"),
        ("", "expected a mapping at the top level"),
    ],
    ids=["list", "scalar", "empty file"],
)
def test_file_that_is_not_a_mapping_gives_config_error(tmp_path: Path, text: str, reason: str) -> None:
    path = write(tmp_path, "box.yaml", text)
    assert error_of(path) == f"{path}: {reason}"


def test_invalid_yaml_gives_config_error_with_file_and_position(tmp_path: Path) -> None:
    path = write(tmp_path, "box.yaml", "device_id: cam-1\nmqtt: {port: 1883\nsite: dijon\n")
    message = error_of(path)
    assert message.startswith(f"{path}: not valid YAML: ")
    assert re.search(r"line \d+, column \d+", message)


def test_missing_file_gives_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    message = error_of(path)
    assert message.startswith(f"{path}: cannot read: ")
    assert "No such file" in message


def test_file_that_is_not_utf8_gives_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("device_id: cam-1\nsite: dijon\n# caméra place Darcy\n".encode("latin-1"))
    message = error_of(path)
    assert message.startswith(f"{path}: ")
    assert "UTF-8" in message


# -- the command line -------------------------------------------------------------------------


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent.cli", "validate", *map(str, paths)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )


def test_cli_validate_exits_1_and_prints_one_line_per_error(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", GOOD)
    bad = write(tmp_path, "bad.yaml", with_(device_id="Cam 1", mqtt=mqtt(port=70000)))
    proc = validate(good, bad)
    assert proc.returncode == 1, proc.stderr
    assert f"{good}: ok" in proc.stdout.splitlines()
    errors = proc.stderr.splitlines()
    assert len(errors) == 2, proc.stderr
    assert any(ln.startswith(f"{bad}: device_id: ") for ln in errors), proc.stderr
    assert any(ln.startswith(f"{bad}: mqtt.port: ") for ln in errors), proc.stderr


def test_cli_validate_reports_every_bad_file(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.yaml", "site: [dijon\n")
    missing = tmp_path / "missing.yaml"
    proc = validate(broken, missing)
    assert proc.returncode == 1
    errors = proc.stderr.splitlines()
    assert any(ln.startswith(f"{broken}: not valid YAML") for ln in errors), proc.stderr
    assert any(ln.startswith(f"{missing}: cannot read") for ln in errors), proc.stderr


def test_cli_validate_exits_0_on_good_files_only(tmp_path: Path) -> None:
    one = write(tmp_path, "one.yaml", GOOD)
    two = write(tmp_path, "two.yaml", "device_id: lum-0042\nsite: talant\n")
    proc = validate(one, two)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"{one}: ok", f"{two}: ok"]
    assert proc.stderr == ""


def test_validate_reports_unknown_model_classes_and_missing_models(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    cfg = tmp_path / "cam.yaml"
    cfg.write_text(
        "device_id: cam-x\nsite: dijon\ncameras:\n"
        f"  - name: north\n    source: {root}/tests/data/vtest_excerpt.avi\n"
        f"    model: {root}/models/nanodet-g-416.manifest.json\n    classes: [person, unicorn]\n"
        f"  - name: south\n    source: {root}/tests/data/vtest_excerpt.avi\n"
        f"    model: {tmp_path}/missing.manifest.json\n"
    )
    proc = subprocess.run([sys.executable, "-m", "edge_agent.cli", "validate", str(cfg)],
                          capture_output=True, text=True, cwd=root, check=False)
    assert proc.returncode == 1
    assert f"{cfg}: cameras.0.classes: not in the model" in proc.stderr and "unicorn" in proc.stderr
    assert f"{cfg}: cameras.1.model: model manifest not found" in proc.stderr


def test_every_committed_box_config_validates() -> None:
    root = Path(__file__).resolve().parents[1]
    configs = sorted((root / "firmware_configs").glob("*.yaml"))
    assert configs
    for path in configs:
        cfg = load_config(path)
        for cam in cfg.cameras:
            assert cam.model.is_absolute() and cam.model.exists(), "relative paths resolve against the file"
