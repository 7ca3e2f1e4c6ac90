"""The analytics mode's decisions: the last one is in force; each is kept (and registered by the caller)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from coordinator.legal.analytics_mode import ModeState

from .schema import analytics_mode_log


def current(conn: Connection) -> tuple[ModeState, str | None, int | None]:
    """(state, set_by, set_ms) of the last decision; statistics when none was ever taken."""
    t = analytics_mode_log
    row = conn.execute(sa.select(t).order_by(t.c.id.desc()).limit(1)).one_or_none()
    if row is None:
        return ModeState(), None, None
    return ModeState(str(row.mode), row.legal_basis, row.start_ms, row.end_ms), str(row.set_by), int(row.set_ms)


def record(conn: Connection, state: ModeState, by: str, at_ms: int) -> None:
    conn.execute(analytics_mode_log.insert().values(mode=state.mode, legal_basis=state.legal_basis,
                                                    start_ms=state.start_ms, end_ms=state.end_ms, set_by=by,
                                                    set_ms=at_ms))
