"""Reads behind a camera box's card on the map: its latest events in a window, newest first.

Rows only; :mod:`coordinator.api.routes.device_activity` shapes them with the counts of
:func:`coordinator.storage.intervention_context.counts_around` for the card.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import events


def recent_events(conn: Connection, device_id: str, start_ms: int, end_ms: int, limit: int,
                  skip_types: Sequence[str] = ()) -> tuple[int, list[dict[str, Any]]]:
    """How many events the device stored in ``[start_ms, end_ms)`` (``skip_types`` left out), and the latest
    ``limit`` of them, newest first."""
    c = events.c
    cond = [c.device_id == device_id, c.ts_ms >= start_ms, c.ts_ms < end_ms]
    if skip_types:
        cond.append(c.type.not_in(list(skip_types)))
    total = int(conn.execute(sa.select(sa.func.count()).select_from(events).where(*cond)).scalar_one())
    q = (sa.select(c.device_id, c.boot, c.n, c.site, c.ts_ms, c.type, c.cam, c.target, c.cls, c.track, c.historical,
                   c.body).where(*cond).order_by(c.ts_ms.desc(), c.boot.desc(), c.n.desc()).limit(limit))
    return total, [{**r._mapping, "historical": bool(r.historical)} for r in conn.execute(q)]
