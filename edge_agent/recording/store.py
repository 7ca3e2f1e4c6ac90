"""The box's segment folder: encrypted files named by camera and interval, the legal holds, one lock.

Layout under ``recording.dir``::

    <camera>/<start_ms>-<end_ms>.seg   one encrypted MP4 segment (see :mod:`.crypto`)
    holds.json                         legal holds in force, by hold id
    uploads.json                       upload jobs accepted and not finished, by hold id
    .lock                              taken (flock) by whoever lists-then-deletes or changes holds

Camera processes write segments; the agent's purge job deletes them and its command handler
sets and releases holds. The lock makes "read the holds, then delete" one step, so a hold set
meanwhile is never missed; writers do not need it (a new file is not a candidate for deletion).
Upload jobs are saved before the command is acknowledged, so that an ``applied`` upload survives
a restart of the box (the coordinator does not send it again).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..errors import EdgeError
from .crypto import open_sealed, write_sealed
from .retention import Hold, Segment

_NAME = re.compile(r"^(\d{1,15})-(\d{1,15})\.seg$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class StoreError(EdgeError):
    """A malformed hold or a holds file that cannot be read."""


class SegmentStore:
    """The folder of one box's recordings."""

    def __init__(self, root: Path, key: bytes) -> None:
        self.root = root
        self._key = key
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    # -- segments ---------------------------------------------------------------------------
    def path_of(self, seg: Segment) -> Path:
        return self.root / seg.camera / f"{seg.start_ms}-{seg.end_ms}.seg"

    def write(self, camera: str, start_ms: int, end_ms: int, mp4: bytes) -> Segment:
        """Encrypt and store one segment; returns it with its size on disk."""
        folder = self.root / camera
        folder.mkdir(exist_ok=True, mode=0o700)
        size = write_sealed(folder / f"{start_ms}-{end_ms}.seg", self._key, mp4)
        return Segment(start_ms, end_ms, camera, size)

    def segments(self, camera: str | None = None) -> list[Segment]:
        """Every complete segment on disk (of ``camera``), oldest first."""
        out = []
        folders = [self.root / camera] if camera else [p for p in self.root.iterdir() if p.is_dir()]
        for folder in folders:
            if not folder.is_dir():
                continue
            for f in folder.iterdir():
                m = _NAME.match(f.name)
                if m is None:
                    continue
                with contextlib.suppress(FileNotFoundError):  # deleted meanwhile by the purge
                    out.append(Segment(int(m.group(1)), int(m.group(2)), folder.name, f.stat().st_size))
        return sorted(out)

    def plain(self, seg: Segment) -> Iterator[bytes]:
        """The recorded MP4 bytes of ``seg``, decrypted chunk by chunk."""
        return open_sealed(self.path_of(seg), self._key)

    def delete(self, seg: Segment) -> bool:
        """Remove one segment file; False when it was already gone."""
        try:
            self.path_of(seg).unlink()
        except FileNotFoundError:
            return False
        return True

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    # -- holds ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive lock over holds and deletions, across processes."""
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holds(self) -> list[Hold]:
        """The holds in force (call under :meth:`locked` when the answer decides a deletion)."""
        return self._load("holds.json", "legal holds")  # never purge on a holds file we cannot read

    def _save_holds(self, holds: list[Hold]) -> None:
        self._save("holds.json", holds)

    def _load(self, name: str, what: str) -> list[Hold]:
        path = self.root / name
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return [Hold(hid, frozenset(h["cameras"]), int(h["start_ms"]), int(h["end_ms"])) for hid, h in raw.items()]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise StoreError(f"{path}: cannot read the {what}: {exc}") from exc

    def _save(self, name: str, holds: list[Hold]) -> None:
        path = self.root / name
        tmp = path.with_suffix(".tmp")
        body = {h.hold_id: {"cameras": sorted(h.cameras), "start_ms": h.start_ms, "end_ms": h.end_ms} for h in holds}
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(body, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def set_hold(self, hold: Hold) -> bool:
        """Add (or replace) a hold; False when the same hold was already in force."""
        if not _ID.match(hold.hold_id) or hold.end_ms <= hold.start_ms or not hold.cameras:
            raise StoreError(f"hold {hold.hold_id!r}: needs an id, cameras and a window with end after start")
        with self.locked():
            current = self.holds()
            if hold in current:
                return False
            self._save_holds([h for h in current if h.hold_id != hold.hold_id] + [hold])
        return True

    def release_hold(self, hold_id: str) -> Hold | None:
        """Remove a hold; returns it, or None when no such hold was in force."""
        with self.locked():
            current = self.holds()
            found = next((h for h in current if h.hold_id == hold_id), None)
            if found is not None:
                self._save_holds([h for h in current if h.hold_id != hold_id])
        return found

    # -- upload jobs ------------------------------------------------------------------------
    def pending_uploads(self) -> list[Hold]:
        """Upload jobs accepted and not finished (windows named by their hold), by hold id."""
        with self.locked():
            return self._load("uploads.json", "pending uploads")

    def add_upload(self, job: Hold) -> None:
        """Save an upload job before it is acknowledged (the same hold id again replaces it)."""
        with self.locked():
            current = self._load("uploads.json", "pending uploads")
            self._save("uploads.json", [j for j in current if j.hold_id != job.hold_id] + [job])

    def finish_upload(self, job: Hold) -> bool:
        """Forget a finished job; False when it was no longer pending, or was replaced by a new window meanwhile."""
        with self.locked():
            current = self._load("uploads.json", "pending uploads")
            if job not in current:
                return False
            self._save("uploads.json", [j for j in current if j != job])
        return True
