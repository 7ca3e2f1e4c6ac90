"""Stream sources in box configs: malformed URLs and missing camera credentials are caught by ``validate``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from edge_agent.cli import main
from edge_agent.vision.camera_source import stream_target
from vigie_config import load_config
from vigie_config.stream_url import check_source, parse_onvif, redact, with_credentials

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "nanodet-g-416.manifest.json"


def _write(tmp: Path, **camera: Any) -> Path:
    raw = {"device_id": "cam-pole-17", "site": "dijon",
           "cameras": [{"name": "pole-17", "model": str(MODEL), **camera}]}
    path = tmp / "box.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@dataclass
class _Run:
    returncode: int
    stderr: str


@pytest.fixture
def validate(capsys: pytest.CaptureFixture[str]) -> Callable[[Path], _Run]:
    """``vigie-edge validate PATH`` as the technician runs it: exit code and what it printed on stderr."""
    def run(path: Path) -> _Run:
        code = main(["validate", str(path)])
        return _Run(code, capsys.readouterr().err)
    return run


@pytest.mark.parametrize(("camera", "field", "reason"), [
    ({"source": "rtps://cam.local/stream"}, "cameras.0.source", "unsupported scheme 'rtps'"),
    ({"source": "rtsp://10.0.0.7:99999/stream"}, "cameras.0.source", "bad port"),
    ({"source": "rtsp:///stream"}, "cameras.0.source", "no host"),
    ({"source": "rtsp://10.0.0.7/live stream"}, "cameras.0.source", "contains blanks"),
    ({"source": "onvif://10.0.0.7"}, "cameras.0.source", "names its user"),
    ({"source": "onvif://admin:hunter22@10.0.0.7"}, "cameras.0.source", "carries no password"),
    ({"source": "onvif://admin@10.0.0.7/onvif/device_service"}, "cameras.0.source", "has no path"),
    ({"source": "onvif://admin@10.0.0.7?channel=2"}, "cameras.0.source", "unknown parameter(s) channel"),
    ({"source": "onvif://admin@10.0.0.7"}, "cameras.0", "an onvif:// source needs password_file"),
    ({"source": "rtsp://10.0.0.7/stream", "password_file": "pw"}, "cameras.0", "needs a user in the source"),
    ({"source": "rtsp://u:p@10.0.0.7/s", "password_file": "pw"}, "cameras.0", "keep one"),
    ({"source": "onvif://admin@10.0.0.7", "password_file": "missing.pw"}, "cameras.0.password_file",
     "cannot read"),
])
def test_validate_names_file_field_and_reason(tmp_path: Path, validate: Callable[[Path], _Run],
                                              camera: dict[str, Any], field: str, reason: str) -> None:
    (tmp_path / "pw").write_text("x\n")
    path = _write(tmp_path, **camera)
    proc = validate(path)
    assert proc.returncode == 1
    line = next((ln for ln in proc.stderr.splitlines() if f"{path}: {field}:" in ln), "")
    assert reason in line, proc.stderr
    assert "hunter22" not in proc.stderr, "a password written in the wrong place is not echoed"


def test_an_empty_password_file_is_reported(tmp_path: Path, validate: Callable[[Path], _Run]) -> None:
    (tmp_path / "camera.pw").write_text("")
    proc = validate(_write(tmp_path, source="onvif://admin@10.0.0.7", password_file="camera.pw"))
    assert proc.returncode == 1 and "cameras.0.password_file:" in proc.stderr and "is empty" in proc.stderr


def test_stream_sources_with_their_password_file_validate(tmp_path: Path,
                                                         validate: Callable[[Path], _Run]) -> None:
    (tmp_path / "camera.pw").write_text("s3cret\n")
    for source in ["onvif://admin@10.0.0.7:8000?profile=subStream", "rtsp://viewer@10.0.0.7:554/Streaming/101"]:
        path = _write(tmp_path, source=source, password_file="camera.pw")
        assert validate(path).returncode == 0
        cam = load_config(path).cameras[0]
        assert cam.password_file == tmp_path / "camera.pw"  # relative to the config file


def test_a_password_file_completes_an_rtsp_url() -> None:
    url, resolve = stream_target("rtsp://viewer@10.0.0.7:554/Streaming/101", "p@ss:w/rd")
    assert url == "rtsp://viewer:p%40ss%3Aw%2Frd@10.0.0.7:554/Streaming/101" and resolve is None
    address = parse_onvif("onvif://admin@cam-17.local?profile=subStream")
    assert (address.host, address.port, address.user, address.profile) == ("cam-17.local", 80, "admin", "subStream")


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)


@given(user=_TEXT, password=_TEXT.filter(lambda p: len(p) >= 4), path=st.sampled_from(["/cam", "", "/a?b=1"]))
@example(user="admin", password="@@@@", path="/cam")
@example(user="a:b", password="/x?#y", path="")
def test_credentials_put_in_a_url_are_never_shown(user: str, password: str, path: str) -> None:
    """Whatever the password holds (``@``, ``/``, ``:``, non-ASCII), the URL stays valid and redaction hides it."""
    url = with_credentials(f"rtsp://10.0.0.7:554{path}", user, password)
    assert check_source(url) == url
    shown = redact(url)
    assert shown == f"rtsp://***@10.0.0.7:554{path}"
