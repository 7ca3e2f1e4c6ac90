"""Evidence packages: built from segment files, signed with Ed25519, checked offline; one flipped byte fails."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from coordinator.cli import main
from coordinator.evidence import (
    EvidenceError,
    build_package,
    find_segments,
    generate_key,
    public_key_pem,
    verify_package,
)

T0 = 1_780_000_000_000


def write_clip(path: Path, frames: int) -> None:
    """A real MP4 (MPEG-4 Part 2 through OpenCV's FFmpeg) standing in for a box's recorded segment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    assert w.isOpened()
    for i in range(frames):
        w.write(np.full((48, 64, 3), (i * 37) % 256, np.uint8))
    w.release()


@pytest.fixture
def segments(tmp_path: Path) -> Path:
    root = tmp_path / "segments"
    for k, frames in enumerate((5, 6, 7)):
        write_clip(root / "dijon" / "cam-1" / "c0" / f"{T0 + k * 60_000}-{T0 + (k + 1) * 60_000}.mp4", frames)
    write_clip(root / "quetigny" / "cam-9" / "c1" / f"{T0}-{T0 + 60_000}.mp4", 4)
    (root / "dijon" / "cam-1" / "c0" / "notes.txt").write_text("not a segment")
    return root


def _package(tmp_path: Path, segments: Path) -> Path:
    key = generate_key(tmp_path / "keys" / "centre.pem")
    found = find_segments(segments, ["dijon/cam-1/c0", "quetigny/cam-9/c1"], T0 + 30_000, T0 + 90_000)
    request = {"id": 3, "authority": "Parquet de Dijon", "procedure": "PV-2026-001", "legal_basis": "77-1-1"}
    return build_package(tmp_path / "pkg-3", found, request, "cheffe", T0 + 200_000, key, T0 + 300_000,
                         {"dijon/cam-1/c0": {"site": "dijon", "lat": 47.322, "lon": 5.041}})


def test_a_window_takes_the_overlapping_segments_of_the_asked_cameras(segments: Path) -> None:
    found = find_segments(segments, ["dijon/cam-1/c0", "quetigny/cam-9/c1", "nowhere/x/y"], T0 + 30_000, T0 + 90_000)
    assert [(s.camera, s.start_ms - T0) for s in found] == [
        ("dijon/cam-1/c0", 0), ("dijon/cam-1/c0", 60_000), ("quetigny/cam-9/c1", 0)]
    assert find_segments(segments, ["dijon/cam-1/c0"], T0 + 180_000, T0 + 240_000) == []


def test_the_manifest_describes_each_file_and_the_package_verifies(tmp_path: Path, segments: Path) -> None:
    archive = _package(tmp_path, segments)
    manifest = json.loads((tmp_path / "pkg-3" / "manifest.json").read_bytes())
    assert manifest["request"]["procedure"] == "PV-2026-001" and manifest["approved_by"] == "cheffe"
    first = manifest["files"][0]
    assert first["camera"] == "dijon/cam-1/c0" and first["frames"] == 5 and first["location"]["lat"] == 47.322
    assert first["start_utc"] == "2026-05-28T20:26:40.000Z" and first["end_ms"] - first["start_ms"] == 60_000
    assert [f["frames"] for f in manifest["files"]] == [5, 6, 4]
    src = segments / "dijon" / "cam-1" / "c0" / f"{T0}-{T0 + 60_000}.mp4"
    assert (tmp_path / "pkg-3" / first["path"]).read_bytes() == src.read_bytes()  # copied byte for byte
    for package in (tmp_path / "pkg-3", archive):
        report = verify_package(package)
        assert report.ok and report.files == 3, report.problems
    with zipfile.ZipFile(archive) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_a_clip_fails(tmp_path: Path, segments: Path) -> None:
    _package(tmp_path, segments)
    clip = next((tmp_path / "pkg-3" / "clips" / "quetigny").rglob("*.mp4"))
    _flip(clip, clip.stat().st_size // 2)
    report = verify_package(tmp_path / "pkg-3")
    assert report.problems == [f"clips/quetigny/cam-9/c1/{clip.name}: content differs from the manifest (SHA-256)"]


def test_a_flipped_byte_in_the_manifest_fails(tmp_path: Path, segments: Path) -> None:
    _package(tmp_path, segments)
    manifest = tmp_path / "pkg-3" / "manifest.json"
    text = manifest.read_bytes()
    manifest.write_bytes(text.replace(b'"frames":5', b'"frames":6'))
    report = verify_package(tmp_path / "pkg-3")
    assert any("signature does not match" in p for p in report.problems)


def test_another_key_or_an_added_file_fails(tmp_path: Path, segments: Path) -> None:
    _package(tmp_path, segments)
    other = generate_key(tmp_path / "other.pem")
    report = verify_package(tmp_path / "pkg-3", public_key_pem(other))
    assert "centre.pub is not the public key given for the check" in report.problems
    assert any("signature does not match" in p for p in report.problems)
    shutil.copyfile(next((tmp_path / "pkg-3" / "clips").rglob("*.mp4")), tmp_path / "pkg-3" / "clips" / "extra.mp4")
    assert "clips/extra.mp4: not listed in the manifest" in verify_package(tmp_path / "pkg-3").problems


def test_the_key_is_never_overwritten(tmp_path: Path) -> None:
    generate_key(tmp_path / "k.pem")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    with pytest.raises(EvidenceError, match="never overwritten"):
        generate_key(tmp_path / "k.pem")


def test_the_command_line_verifies_and_names_the_failure(tmp_path: Path, segments: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evidence", "keygen", str(tmp_path / "cli.pem"), "--public", str(tmp_path / "cli.pub")]) == 0
    assert "BEGIN PUBLIC KEY" in capsys.readouterr().out
    archive = _package(tmp_path, segments)
    assert main(["evidence", "verify", str(archive)]) == 0
    assert "package verified: signature and 3 files hold" in capsys.readouterr().out
    assert main(["evidence", "verify", str(archive), "--public-key", str(tmp_path / "cli.pub")]) == 1
    assert "FAILED: centre.pub is not the public key given" in capsys.readouterr().err
    _flip(archive, archive.stat().st_size // 2)
    assert main(["evidence", "verify", str(archive)]) in (1, 2)
    assert main(["evidence", "verify", str(tmp_path / "nothing.zip")]) == 2
