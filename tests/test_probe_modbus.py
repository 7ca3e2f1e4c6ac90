"""``vigie-edge probe modbus`` and ``probe --config`` against a real pymodbus server: values with units, causes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from edge_agent.lighting.cabinet.simulator import METER_UNIT, CabinetServer, free_port
from tests.test_cabinet import lighting_section


def _probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge_agent.cli", "probe", *args], capture_output=True, text=True,
                          timeout=60, check=False)


def test_probe_reads_every_register_of_the_sdm630_map_with_its_unit() -> None:
    with CabinetServer() as server:
        server.model.coils[0] = True
        out = _probe("modbus", f"127.0.0.1:{server.port}", "--unit", str(METER_UNIT), "--map", "sdm630")
    assert out.returncode == 0, out.stdout + out.stderr
    for line in ("voltage_l1 = 230 V", "power_l1 = 400 W", "power_total = 400 W", "frequency = 50 Hz",
                 "import_energy = 1234.5", "total_energy = 1234.5", "power_factor = 0.95"):
        assert line in out.stdout
    assert "16 checks: 16 ok, 0 failed" in out.stdout  # connect + 15 registers


def test_probe_names_the_cause_of_each_failure() -> None:
    with CabinetServer() as server:
        wrong = _probe("modbus", f"127.0.0.1:{server.port}", "--unit", "9", "--map", "sdm630")
        bad_map = _probe("modbus", f"127.0.0.1:{server.port}", "--unit", "1", "--map", "sdm630")
        unknown = _probe("modbus", f"127.0.0.1:{server.port}", "--unit", "2", "--map", "sdm360")
    refused = _probe("modbus", f"127.0.0.1:{free_port()}", "--map", "sdm630", "--timeout", "0.5")
    assert (wrong.returncode, bad_map.returncode, unknown.returncode, refused.returncode) == (1, 1, 1, 1)
    assert "FAIL  modbus 127.0.0.1" in wrong.stdout and "wrong unit: input_register: exception 0x0b" in wrong.stdout
    assert "bad answer: input_register: exception 0x02 (illegal data address)" in bad_map.stdout
    assert "config: unknown register map 'sdm360'" in unknown.stdout
    assert "connect" in refused.stdout and "refused: cannot connect" in refused.stdout


def test_probe_config_checks_the_cabinet_of_a_box(tmp_path: Path) -> None:
    with CabinetServer() as server:
        lighting = lighting_section(server.port, tmp_path)
        raw: dict[str, Any] = {"device_id": "light-cab-01", "site": "dijon", "lighting": lighting}
        raw["lighting"]["cabinet"]["meter"]["unit"] = 5  # a meter addressed wrongly
        path = tmp_path / "box.yaml"
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        out = _probe("--config", str(path))
    assert out.returncode == 1
    assert "PASS  cabinet controller  read     door_open = False open" in out.stdout
    assert "FAIL  cabinet meter       read     wrong unit" in out.stdout
