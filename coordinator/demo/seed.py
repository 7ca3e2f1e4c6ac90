"""Teams and rules of the demo, so interventions open, get proposed and dispatched on their own.

Idempotent: a team or rule already present (by id or name) is left as the operators changed it.
Positions are depots near the commune centres; skills follow the métropole's services.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coordinator.interventions.rules import RuleSpec
from coordinator.storage import interventions as interventions_store
from coordinator.storage import teams as teams_store
from coordinator.storage.schema import rules as rules_table
from vigie_config.metropole import commune, offset

#: (id, name, commune, skills, east m, north m from the commune centre)
TEAMS: tuple[tuple[str, str, str, tuple[str, ...], float, float], ...] = (
    ("pm-dijon-centre", "Police municipale — Dijon centre", "dijon", ("police",), -300, 100),
    ("pm-dijon-nord", "Police municipale — Dijon nord", "dijon", ("police",), 200, 1800),
    ("ep-dijon", "Éclairage public — Dijon", "dijon", ("eclairage",), 1500, -900),
    ("voirie-dijon", "Voirie — Dijon", "dijon", ("voirie", "proprete"), 900, -1200),
    ("ep-sud", "Éclairage public — secteur sud", "chenove", ("eclairage",), 300, 200),
    ("pm-chenove", "Police municipale — Chenôve", "chenove", ("police",), 0, 0),
    ("pm-talant", "Police municipale — Talant", "talant", ("police",), 0, 0),
    ("pm-quetigny", "Police municipale — Quetigny", "quetigny", ("police", "voirie"), 0, 0),
)

RULES: tuple[tuple[str, str | None, dict[str, Any]], ...] = (
    ("Attroupement place Darcy", "dijon",
     {"type": "crowd", "zones": [{"device": "cam-darcy-01", "zone": "crossing"}], "threshold": 3}),
    ("Stationnement interdit rue de la Liberté", "dijon",
     {"type": "stopped_vehicle", "zones": [{"device": "cam-liberte-01", "zone": "street"}], "max_stop_s": 60,
      "skill": "police"}),
    ("Stationnement prolongé d'une personne", None, {"type": "loitering", "min_dwell_s": 60, "priority": "low"}),
    ("Panne de luminaire", None, {"type": "light_fault"}),
    ("Boîtier silencieux", None, {"type": "device_offline", "after_s": 300}),
)


def seed_demo(engine: Engine, now_ms: int | None = None) -> tuple[int, int]:
    """Add the demo's teams and rules that are missing; returns (teams added, rules added)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    added_teams = added_rules = 0
    with engine.begin() as conn:
        for tid, name, slug, skills, east, north in TEAMS:
            if teams_store.get_team(conn, tid) is not None:
                continue
            c = commune(slug)
            lat, lon = offset(c.lat, c.lon, east, north)
            teams_store.save_team(conn, teams_store.TeamRow(tid, name, slug, list(skills), round(lat, 6),
                                                            round(lon, 6), True, None, None), now, create=True)
            added_teams += 1
        existing = set(conn.execute(sa.select(rules_table.c.name)).scalars())
        for name, rule_commune, config in RULES:
            if name not in existing:
                checked = RuleSpec.model_validate({"config": config}).config.model_dump(mode="json")
                interventions_store.create_rule(conn, name, rule_commune, True, checked, "demo", now)
                added_rules += 1
    return added_teams, added_rules
