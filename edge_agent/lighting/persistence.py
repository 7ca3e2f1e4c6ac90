"""The light node's state file: written atomically, read back without ever stopping the node.

What is at stake: the overrides the operator sent (a street kept at 100 % for works tonight) and a calendar the
centre pushed. Losing them on a power cut is bad; losing the node to a half-written file is worse, since the
street would stay dark until someone drives out. Hence write-to-temp + fsync + rename (the file is always either
the old or the new state), and a reader that sets an unreadable file aside for analysis and starts afresh from
the config.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .control import EngineState, StateError

log = logging.getLogger("vigie.lighting")


@dataclass(frozen=True)
class LoadedState:
    """What :func:`load_state` found.

    Attributes:
        state: The persisted state, ``None`` if there was none or it could not be read.
        set_aside: Where an unreadable file was moved (``None``: nothing was set aside).
        error: Why the file could not be used (empty when it could, or did not exist).
    """

    state: EngineState | None
    set_aside: Path | None = None
    error: str = ""

    @property
    def corrupt(self) -> bool:
        """A state file existed and could not be used."""
        return bool(self.error)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash at any point leaves the old or the new content, whole.

    Raises:
        OSError: The directory cannot be created or written, the disk is full...
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)  # the bytes are on disk before the name points at them
    finally:
        os.close(fd)
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # not every file system lets a directory be fsynced
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # ... and the rename itself survives a power cut
        finally:
            os.close(dir_fd)


def save_state(path: Path, state: EngineState) -> None:
    """Write ``state`` to ``path`` atomically (see :func:`write_atomic`)."""
    write_atomic(path, state.to_json().encode("utf-8"))


def load_state(path: Path, now: dt.datetime) -> LoadedState:
    """The state in ``path``; never raises.

    A missing file is a first start. A file that cannot be read or parsed is renamed
    ``<name>.corrupt-<UTC time>`` next to it (kept for analysis, out of the way of the next save) and the node
    starts from its config; if even the rename fails, the next save overwrites it.
    """
    try:
        text = path.read_bytes()
        return LoadedState(EngineState.from_json(text))
    except FileNotFoundError:
        return LoadedState(None)
    except (OSError, StateError, UnicodeDecodeError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    aside = _set_aside(path, now)
    log.error("lighting state %s unusable, starting from the config calendar (kept as %s): %s", path, aside, error)
    return LoadedState(None, aside, error)


def _set_aside(path: Path, now: dt.datetime) -> Path | None:
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(100):
        aside = path.with_name(f"{path.name}.corrupt-{stamp}" + (f"-{n}" if n else ""))
        if aside.exists():
            continue
        try:
            os.replace(path, aside)
        except OSError as exc:
            log.error("cannot set the unusable lighting state %s aside: %s", path, exc)
            return None
        return aside
    return None
