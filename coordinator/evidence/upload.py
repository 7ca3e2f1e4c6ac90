"""Resumable upload of a box's segment files, one chunk per request, each chunk with its SHA-256.

A box sends ``PUT /api/v1/segments/<site>/<device>/<camera>/<start_ms>-<end_ms>.mp4`` with
``Content-Range: bytes FIRST-LAST/TOTAL``, ``X-Chunk-SHA256`` (of this chunk) and ``X-File-SHA256``
(of the whole file). Chunks are appended to ``SEGMENTS_DIR/.partial/...`` only when they start
where the received bytes end and their hash matches; after an interruption, ``GET`` on the same
path tells the box how many bytes arrived, and it resumes from there. The last chunk makes the
coordinator hash the whole file; only a file whose hash matches appears under ``SEGMENTS_DIR``
(an atomic rename), where packages are assembled from.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UploadRefusedError
from .package import sha256_file

_RANGE = re.compile(r"^bytes (\d{1,12})-(\d{1,12})/(\d{1,12})$")
_PART = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_NAME = re.compile(r"^(\d{1,15})-(\d{1,15})\.mp4$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
#: Largest chunk one request may carry, and largest file.
MAX_CHUNK = 8 * 1024 * 1024
MAX_FILE = 4 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class Target:
    site: str
    device: str
    camera: str
    name: str

    def final(self, root: Path) -> Path:
        return root / self.site / self.device / self.camera / self.name

    def partial(self, root: Path) -> Path:
        return root / ".partial" / self.site / self.device / self.camera / (self.name + ".part")


def target(site: str, device: str, camera: str, name: str) -> Target:
    """The segment a path names; 400 unless every part is an identifier and the name ``<start>-<end>.mp4``."""
    for label, value in (("site", site), ("device", device), ("camera", camera)):
        if not _PART.match(value):
            raise UploadRefusedError(400, f"{label} {value!r} is not an identifier")
    m = _NAME.match(name)
    if m is None or int(m.group(2)) <= int(m.group(1)):
        raise UploadRefusedError(400, f"file name {name!r} must be '<start_ms>-<end_ms>.mp4' with end after start")
    return Target(site, device, camera, name)


def received(root: Path, t: Target) -> tuple[int, bool]:
    """(bytes held, complete) for a segment."""
    if t.final(root).is_file():
        return t.final(root).stat().st_size, True
    part = t.partial(root)
    return (part.stat().st_size if part.is_file() else 0), False


def put_chunk(root: Path, t: Target, content_range: str | None, chunk_sha256: str | None, file_sha256: str | None,
              data: bytes) -> tuple[int, bool]:
    """Append one chunk; returns (bytes held, complete). Refusals change nothing on disk."""
    m = _RANGE.match(content_range or "")
    if m is None:
        raise UploadRefusedError(400, "Content-Range must be 'bytes FIRST-LAST/TOTAL'")
    first, last, total = (int(g) for g in m.groups())
    if last < first or last >= total or total > MAX_FILE:
        raise UploadRefusedError(400, f"Content-Range {content_range!r} is not a range inside the file "
                                 f"(files up to {MAX_FILE} bytes)")
    if len(data) != last - first + 1 or len(data) > MAX_CHUNK:
        raise UploadRefusedError(400, f"the body has {len(data)} bytes, the range says {last - first + 1} "
                                 f"(chunks up to {MAX_CHUNK} bytes)")
    for label, value in (("X-Chunk-SHA256", chunk_sha256), ("X-File-SHA256", file_sha256)):
        if value is None or not _HEX.match(value):
            raise UploadRefusedError(400, f"{label} must be 64 lowercase hex digits")
    held, complete = received(root, t)
    if complete:
        raise UploadRefusedError(409, "this segment is already complete", held)
    if first != held:
        raise UploadRefusedError(409, f"the chunk starts at {first}, {held} bytes are held: resume from {held}", held)
    if hashlib.sha256(data).hexdigest() != chunk_sha256:
        raise UploadRefusedError(400, "the chunk's SHA-256 does not match X-Chunk-SHA256: send it again", held)
    part = t.partial(root)
    part.parent.mkdir(parents=True, exist_ok=True)
    with part.open("ab") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    held = last + 1
    if held < total:
        return held, False
    if sha256_file(part) != file_sha256:
        part.unlink()
        raise UploadRefusedError(422, "the whole file's SHA-256 does not match X-File-SHA256: the upload starts over",
                                 0)
    final = t.final(root)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, final)
    return held, True
