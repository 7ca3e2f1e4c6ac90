"""The communes of the métropole as the map draws them: slug, name and approximate centre."""

from __future__ import annotations

from typing import Any

from vigie_config.metropole import communes


def as_json() -> list[dict[str, Any]]:
    return [{"slug": c.slug, "name": c.name, "lat": c.lat, "lon": c.lon} for c in communes()]
