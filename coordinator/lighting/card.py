"""A luminaire's card on the map: its measured state, its cabinet's own readings, and the energy of the day.

The operator who clicks a red point wants, in one place, what the luminaire was asked and what it does, its
faults, the cabinet it hangs on (whether that cabinet's contactors are closed, its door shut, what its meter
reads) and how much its groups drew since midnight against the full-power reference. The cabinet part is a pure
reading of the node's ``cabinet.*`` and ``light.*`` telemetry metrics (see the AsyncAPI document), so a cabinet
without a Modbus controller or meter simply has those parts empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from coordinator.analytics.buckets import local_day_start
from coordinator.analytics.energy import savings_pct
from coordinator.storage import analytics as energy_store
from coordinator.storage import lighting_state as store

from .state import COMMUNE_PREFIX, LuminaireState, states

METER_PREFIX = "cabinet.meter."
#: The node's own totals over its luminaires (``light.*`` scalars), as the card shows them.
NODE_TOTALS = ("light.n", "light.on", "light.answering", "light.power_w", "light.energy_wh")


def _scalar(value: Any) -> float | int | str | bool | None:
    """A metric shown as is when it is a plain value; a table or a map is not a reading for the card."""
    return value if value is None or isinstance(value, (int, float, str, bool)) else None


def cabinet_readings(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The cabinet's meter values, contacts and circuits, and the node's totals, from its telemetry metrics."""
    meter = {k[len(METER_PREFIX):]: _scalar(v) for k, v in sorted(metrics.items()) if k.startswith(METER_PREFIX)}
    circuits: list[dict[str, Any]] = []
    table = metrics.get("cabinet.circuits")
    if isinstance(table, Mapping):
        ids, on, tripped = table.get("ids"), table.get("on"), table.get("tripped")
        if isinstance(ids, list) and isinstance(on, list) and isinstance(tripped, list) \
                and len(ids) == len(on) == len(tripped):
            circuits = [{"id": i, "on": o if isinstance(o, bool) else None,
                         "tripped": tr if isinstance(tr, bool) else None}
                        for i, o, tr in zip(ids, on, tripped, strict=True)]
    door, dark = metrics.get("cabinet.door_open"), metrics.get("cabinet.dark")
    return {"meter": meter, "circuits": circuits, "door_open": door if isinstance(door, bool) else None,
            "dark": dark if isinstance(dark, bool) else None,
            "node": {k[len("light."):]: _scalar(metrics.get(k)) for k in NODE_TOTALS if k in metrics}}


def luminaire(conn: Connection, device_id: str, lum_id: str, now_ms: int) -> LuminaireState | None:
    rows = [r for r in store.luminaires(conn, None, device_id, None) if r.lum_id == lum_id]
    return states(conn, rows, now_ms)[0] if rows else None


def card(conn: Connection, lum: LuminaireState, now_ms: int) -> dict[str, Any]:
    """The card of a luminaire already read (and already checked against the caller's commune)."""
    tele = store.node_telemetry(conn, [lum.device_id]).get(lum.device_id)
    day = local_day_start(now_ms)
    energy = []
    for group in (COMMUNE_PREFIX + lum.site, *lum.groups):
        rows = energy_store.energy(conn, day, now_ms + 1, lum.site, group)
        wh = sum(r.energy_wh for r in rows)
        ref = sum(r.reference_wh for r in rows)
        energy.append({"group": group, "energy_wh": round(wh, 3), "reference_wh": round(ref, 3),
                       "savings_pct": savings_pct(sum(r.rated_energy_wh for r in rows), ref)})
    cabinet = {"device_id": lum.device_id, "telemetry_ms": None if tele is None else tele.ts_ms,
               "stale": None if tele is None else tele.stale, **cabinet_readings({} if tele is None else tele.metrics)}
    return {"luminaire": lum.as_json(), "cabinet": cabinet, "energy_today": {"day_start_ms": day, "groups": energy}}
