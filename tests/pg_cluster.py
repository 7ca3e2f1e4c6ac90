"""Private PostgreSQL clusters for the replication tests: a primary made with ``initdb`` and its streaming replica.

The machine's cluster on 127.0.0.1:5432 is shared and not configured for replication; a throwaway primary in a
temporary folder is, and its replica is made the way an operator makes one: ``pg_basebackup -R`` (which writes
``standby.signal`` and ``primary_conninfo``). PostgreSQL refuses to run as root: as root, the commands run as the
``postgres`` account, which owns the folder.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from coordinator.broker import free_port

_VERSIONS = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
PG_BIN = _VERSIONS[-1].parent if _VERSIONS else Path("/usr/lib/postgresql/15/bin")


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class PgCluster:
    """One cluster in ``root/<name>``, listening on 127.0.0.1:``port`` with its socket in ``root``."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.data = root / name
        self.port = free_port()
        self.log = root / f"{name}.log"

    @property
    def superuser(self) -> str:
        return "postgres" if os.geteuid() == 0 else getpass.getuser()

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.superuser}@127.0.0.1:{self.port}/{database}"

    def _run(self, *cmd: str) -> None:
        proc = subprocess.run(_as_owner(list(cmd)), capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")

    def initdb(self) -> None:
        """A new primary: trust on the loopback (initdb's ``--auth=trust`` also lets replication connect)."""
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "--auth=trust", "-U", self.superuser,
                  "--no-sync", "-E", "UTF8", "--locale=C")

    def base_backup_of(self, primary: PgCluster) -> None:
        """A streaming replica of ``primary``, as an operator makes one (``-R``: standby.signal + conninfo)."""
        self._run(str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", self.superuser,
                  "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync")

    def start(self) -> None:
        # A throwaway cluster: no fsync; the replica reports what it applied every second.
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c wal_receiver_status_interval=1 -c max_connections=40")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", options, "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")


class ReplicatedPair:
    """A private primary and its streaming replica, in a temporary folder the ``postgres`` account owns."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="vigie-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.primary = PgCluster(self.root, "primary")
        self.replica = PgCluster(self.root, "replica")

    def start(self) -> None:
        self.primary.initdb()
        self.primary.start()
        self.replica.base_backup_of(self.primary)
        self.replica.start()

    def close(self) -> None:
        for cluster in (self.replica, self.primary):
            with contextlib.suppress(RuntimeError):  # already stopped, or never started
                cluster.stop()
        shutil.rmtree(self.root, ignore_errors=True)
