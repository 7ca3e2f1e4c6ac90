"""Rewrite the initial migration from the declared tables (before the first release only).

Until a database exists in the field, the schema is one migration, regenerated after a table
change with ``python -m coordinator.storage.regen_initial``. After the first release, changes
are new revisions (``alembic revision --autogenerate``) and this module is deleted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from .engine import make_engine
from .migrate import MIGRATIONS, alembic_config

INITIAL = "0001"


def _tidy(path: Path) -> None:
    """Drop the generated date and trailing blanks, so regenerating an unchanged schema changes nothing."""
    lines = [ln.rstrip() for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("Create Date:")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    for old in (MIGRATIONS / "versions").glob(f"{INITIAL}_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.sqlite3'}")
        cfg = alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.revision(cfg, message="initial schema", autogenerate=True, rev_id=INITIAL)
        engine.dispose()
    _tidy(next((MIGRATIONS / "versions").glob(f"{INITIAL}_*.py")))
    print(f"rewrote {next((MIGRATIONS / 'versions').glob(f'{INITIAL}_*.py'))}")


if __name__ == "__main__":
    main()
