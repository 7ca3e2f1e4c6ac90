"""``vigie-edge probe dali`` and the DALI part of ``probe --config``, on python-dali's fake bus (the simulator)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from edge_agent.cli import main
from edge_agent.lighting.drivers.dali_bus import parse_transport
from edge_agent.lighting.drivers.dali_sim import SimBus, forget_simulators, simulated_bus


@pytest.fixture(autouse=True)
def fresh_simulators() -> Iterator[None]:
    forget_simulators()
    yield
    forget_simulators()


def bus(uri: str) -> SimBus:
    return simulated_bus(parse_transport(uri))


def probe(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(["probe", *argv])
    return code, capsys.readouterr().out.splitlines()


def test_a_healthy_line_is_scanned_gear_by_gear(capsys: pytest.CaptureFixture[str]) -> None:
    bus("fake:3")  # the simulator's gear, as a street would have them
    code, out = probe(capsys, "dali", "--transport", "fake:3")
    assert code == 0
    assert any("PASS" in line and "3 gear (addresses 0, 1, 2), 3 of them D4i" in line for line in out)
    gear = [line for line in out if "dali gear" in line]
    assert len(gear) == 3 and all(line.startswith("PASS") for line in gear)
    assert "types 6,50,51,52, D4i yes, level off, energy 0.0 Wh, power 0.5 W" in gear[0]
    assert out[-1] == "5 checks: 5 ok, 0 failed"


def test_a_lamp_failure_fails_its_gear_and_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    bus("fake:3").by_address(1).lamp_failed = True
    code, out = probe(capsys, "dali", "--transport", "fake:3")
    assert code == 1
    failed = [line for line in out if line.startswith("FAIL")]
    assert len(failed) == 1 and "dali gear 1" in failed[0]
    assert "other: lamp failure, light source failure reported by the gear" in failed[0]


def test_plain_gear_fail_only_when_d4i_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = probe(capsys, "dali", "--transport", "fake:2?d4i=0")
    assert code == 0 and "0 of them D4i" in "\n".join(out)
    code, out = probe(capsys, "dali", "--transport", "fake:2?d4i=0", "--d4i")
    assert code == 1
    assert sum(1 for line in out if "not D4i: no D4i device types" in line) == 2


def test_gear_claiming_d4i_without_its_banks_is_a_bad_answer(capsys: pytest.CaptureFixture[str]) -> None:
    bus("fake:1?d4i=0").by_address(0).devicetypes = [6, 51, 52]  # says D4i, has no bank 202
    code, out = probe(capsys, "dali", "--transport", "fake:1?d4i=0")
    assert code == 1
    assert any("bad answer: D4i memory banks unreadable" in line for line in out)


@pytest.mark.parametrize(("transport", "expected"), [
    ("hasseb:/dev/hidraw-vigie-absent", "unreachable: cannot open hasseb:/dev/hidraw-vigie-absent: no such device"),
    ("luba232:/dev/ttyUSB-vigie-absent", "unreachable: DALI interface failed"),
    ("dali:/dev/ttyUSB0", "config: unknown DALI transport"),
])
def test_an_interface_that_cannot_be_opened_names_the_likely_cause(capsys: pytest.CaptureFixture[str],
                                                                    transport: str, expected: str) -> None:
    code, out = probe(capsys, "dali", "--transport", transport)
    assert code == 1
    assert expected in out[1] and out[-1] == "1 checks: 0 ok, 1 failed"


def _box(tmp_path: Path, transport: str, lums: int, addresses: dict[str, int] | None = None) -> Path:
    raw = {
        "device_id": "light-probe-01", "site": "dijon",
        "mqtt": {"host": "127.0.0.1", "port": 1883},
        "lighting": {
            "driver": {"kind": "dali", "transport": transport, "addresses": addresses or {}},
            "luminaires": [{"id": f"rue-{i}", "rated_w": 60} for i in range(lums)],
            "calendar": [{"name": "night", "program": {"kind": "astro"}}],
            "state_file": str(tmp_path / "state.json"),
        },
    }
    path = tmp_path / "box.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_probe_config_fails_a_luminaire_missing_on_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = probe(capsys, "--config", str(_box(tmp_path, "fake:3", 4)))
    assert code == 1
    failed = [line for line in out if line.startswith("FAIL")]
    assert len(failed) == 1
    assert "luminaire rue-3" in failed[0] and "wrong unit: configured at short address 3" in failed[0]
    assert sum(1 for line in out if line.startswith("PASS  dali gear") and "(rue-" in line) == 3


def test_probe_config_fails_gear_no_luminaire_uses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = probe(capsys, "--config", str(_box(tmp_path, "fake:4", 2, {"rue-0": 1, "rue-1": 3})))
    assert code == 1
    failed = [line for line in out if line.startswith("FAIL")]
    assert [line.split()[3] for line in failed] == ["0", "2"]  # dali gear 0 and 2: on the line, in no luminaire
    assert all("config: answers on the line but no luminaire of the config uses it" in line for line in failed)
    assert any("dali gear 1 (rue-0)" in line for line in out) and any("dali gear 3 (rue-1)" in line for line in out)


def test_probe_config_of_a_matching_line_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = probe(capsys, "--config", str(_box(tmp_path, "fake:2", 2)))
    assert code == 0, out


def test_validate_names_the_field_of_a_wrong_transport(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _box(tmp_path, "usb:/dev/hidraw0", 2)
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "lighting.driver.dali.transport" in err and "unknown DALI transport 'usb:/dev/hidraw0'" in err


def test_the_demo_runs_the_committed_dali_cabinet_on_the_simulator(tmp_path: Path) -> None:
    from coordinator.demo.run import FIRMWARE_CONFIGS, field_config  # noqa: PLC0415 -- the demo's own rewrite
    from vigie_config import load_config  # noqa: PLC0415

    src = FIRMWARE_CONFIGS / "light-fontaine-01.yaml"
    field = load_config(src)
    assert field.lighting is not None and field.lighting.driver.kind == "dali"
    demo = load_config(field_config(tmp_path, 1883, src))
    assert demo.lighting is not None
    assert demo.lighting.driver.transport == "fake:5?rated_w=40,40,40,40,60"  # type: ignore[union-attr]
    transport = parse_transport(demo.lighting.driver.transport)  # type: ignore[union-attr]
    assert [g.rated_w for g in simulated_bus(transport).gear] == [40, 40, 40, 40, 60]


def test_a_gear_that_would_go_dark_when_the_line_fails_fails_the_probe(capsys: pytest.CaptureFixture[str]) -> None:
    bus("fake:2").by_address(1).system_failure_level = 0
    code, out = probe(capsys, "dali", "--transport", "fake:2")
    assert code == 1
    failed = [line for line in out if line.startswith("FAIL")]
    assert len(failed) == 1 and "dali gear 1" in failed[0] and "fail-safe" in failed[0]
    assert "config: system failure level off: the luminaire dims if the DALI line fails" in failed[0]
