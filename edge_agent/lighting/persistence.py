"""The light node's state file: written atomically, read back without ever stopping the node.

What is at stake: the overrides the operator sent (a street kept at 100 % for works tonight) and a calendar the
centre pushed. Losing them on a power cut is bad; losing the node to a half-written file is worse, since the
street would stay dark until someone drives out. Hence write-to-temp + fsync + rename (the file is always either
the old or the new state), and a reader that sets an unreadable file aside for analysis and starts afresh from
the config.

A save returns once the new state would survive a power cut: its bytes are synced, and so is its directory after
the rename. Saves into one directory at the same time (a process hosting many boxes, all told at once to dim)
share their directory syncs, as a database's group commit does: a save waits for a directory sync that *began
after its rename*, and one sync covers every rename done before it began. Each file's own sync stays its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading
from collections.abc import Callable
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


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be fsynced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class DirectorySync:
    """Group commit of directory syncs: concurrent callers of :meth:`after_rename` share them.

    A caller's rename is durable once a sync of its directory *started* after the rename returned. Each caller
    takes a ticket after its rename; a sync started when tickets up to *n* were issued covers tickets up to *n*.
    One caller at a time runs the sync; the others wait for one that covers their ticket, or run the next.

    Args:
        sync: Syncs a directory (``fsync`` of it); injected in tests to watch the order of events.
    """

    def __init__(self, sync: Callable[[Path], None] = _fsync_dir) -> None:
        self._sync = sync
        self._cond = threading.Condition()
        self._issued: dict[Path, int] = {}  # directory -> tickets issued
        self._covered: dict[Path, int] = {}  # directory -> highest ticket a finished sync covers
        self._running: set[Path] = set()
        #: Directory syncs run (fewer than the renames when saves overlap).
        self.syncs = 0

    def pending(self, directory: Path) -> int:
        """Callers of ``directory`` whose rename no finished sync covers yet."""
        with self._cond:
            return self._issued.get(directory, 0) - self._covered.get(directory, 0)

    def after_rename(self, directory: Path) -> None:
        """Return once a sync of ``directory`` that began after this call was made has finished: call it after
        the rename it must make durable.

        Raises:
            Exception: Whatever the injected ``sync`` raised when this caller ran it (the default never raises).
        """
        with self._cond:
            ticket = self._issued[directory] = self._issued.get(directory, 0) + 1
            while self._covered.get(directory, 0) < ticket:
                if directory in self._running:
                    self._cond.wait()
                    continue
                self._running.add(directory)
                covers = self._issued[directory]
                self._cond.release()
                synced = False
                try:
                    self._sync(directory)
                    synced = True
                finally:
                    self._cond.acquire()
                    self._running.discard(directory)
                    if synced:  # a failed sync covers nobody: the next waiter runs another
                        self.syncs += 1
                        self._covered[directory] = max(self._covered.get(directory, 0), covers)
                    self._cond.notify_all()


#: The process's directory syncs (every light node of a process saves through it).
DIRECTORY_SYNC = DirectorySync()


def write_atomic(path: Path, data: bytes, directories: DirectorySync = DIRECTORY_SYNC) -> None:
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
    directories.after_rename(path.parent)  # ... and the rename itself survives a power cut


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
