"""Assembling a package from the segment files the coordinator holds.

Segment files arrive (uploaded by the boxes; the upload is a later step) under
``SEGMENTS_DIR/<site>/<device>/<camera>/<start_ms>-<end_ms>.mp4``: the path says which camera
and which UTC interval a file covers, so finding a window's files is a directory listing.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .errors import EvidenceError
from .keys import public_key_pem

FORMAT = "vigie-evidence/1"
_NAME = re.compile(r"^(\d{1,15})-(\d{1,15})\.mp4$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Segment:
    camera: str
    path: Path
    start_ms: int
    end_ms: int


def find_segments(root: Path, cameras: list[str], start_ms: int, end_ms: int) -> list[Segment]:
    """The files of ``cameras`` that overlap [start_ms, end_ms), by camera then time."""
    out: list[Segment] = []
    for camera in cameras:
        folder = root.joinpath(*camera.split("/"))
        if not folder.is_dir():
            continue
        for f in folder.iterdir():
            m = _NAME.match(f.name)
            if m is None or not f.is_file():
                continue
            s, e = int(m.group(1)), int(m.group(2))
            if s < end_ms and e > start_ms:
                out.append(Segment(camera, f, s, e))
    return sorted(out, key=lambda seg: (seg.camera, seg.start_ms))


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def frame_count(path: Path) -> int:
    """Frames in the file, counted as the video samples actually present in it, not taken from a header.

    Each sample is read from the file (demuxed), so a truncated file counts what it holds, and a count
    that disagrees with the header's is refused. Samples are not decoded: decoding 4 hours of 10 fps
    video took a hundred times longer than reading it (``bench/recording_bench.py``), for the same count
    (one H.264 or MPEG-4 sample is one frame).
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise EvidenceError(f"{path} has no video stream")
            stream = container.streams.video[0]
            n = sum(1 for packet in container.demux(stream) if packet.size)
            declared = stream.frames
    except av.FFmpegError as exc:
        raise EvidenceError(f"{path} is not a readable video: {exc}") from exc
    if declared and declared != n:
        raise EvidenceError(f"{path}: its header declares {declared} frames, {n} are in the file (truncated?)")
    return n


def build_package(out: Path, segments: list[Segment], request: Mapping[str, Any], approved_by: str,
                  approved_ms: int, key: Ed25519PrivateKey, created_ms: int,
                  locations: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """Write the package directory ``out`` and ``out``.zip; returns the ZIP's path.

    Files are copied byte for byte; the manifest is RFC 8785 JSON (so its signature does not
    depend on a JSON library's spacing) and is signed as written.
    """
    if out.exists():
        raise EvidenceError(f"{out} exists already")
    clips = out / "clips"
    clips.mkdir(parents=True)
    files = []
    for seg in segments:
        rel = Path("clips", *seg.camera.split("/"), seg.path.name)
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seg.path, dest)
        files.append({"path": rel.as_posix(), "camera": seg.camera,
                      "location": dict((locations or {}).get(seg.camera) or {}) or None,
                      "start_ms": seg.start_ms, "end_ms": seg.end_ms, "start_utc": utc(seg.start_ms),
                      "end_utc": utc(seg.end_ms), "frames": frame_count(dest), "bytes": dest.stat().st_size,
                      "sha256": sha256_file(dest)})
    manifest: dict[str, Any] = {"format": FORMAT, "created_utc": utc(created_ms), "request": dict(request),
                "approved_by": approved_by, "approved_utc": utc(approved_ms), "files": files}
    data = rfc8785.dumps(manifest)
    (out / "manifest.json").write_bytes(data)
    (out / "manifest.sig").write_bytes(key.sign(data))
    (out / "centre.pub").write_bytes(public_key_pem(key))
    archive = out.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for f in sorted(p for p in out.rglob("*") if p.is_file()):
            zf.write(f, f.relative_to(out).as_posix())
    return archive
