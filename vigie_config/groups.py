"""Groups every light node belongs to without saying so: its commune's and the city's.

Operators switch a whole commune (a festival, a storm) or the whole métropole (a power-saving order) at once.
Listing such groups in each of 170 box configs would be a chore that someone forgets; so every luminaire of a box
is implicitly in ``commune-<site>`` and in ``city``, and the box subscribes to both group topics of its own site:
``vigie/v1/<site>/group/commune-<site>/cmd`` and ``vigie/v1/<site>/group/city/cmd``.

Why two groups when both topics reach the same boxes: they are two override targets. A city-wide override and a
commune's own override are held side by side on the node, the newest by ``cseq`` wins while both are in force, and
cancelling one leaves the other. A city-wide command is published once per commune (on each site's ``city`` topic)
with one ``cmd_id``: a box only ever receives one copy.

The box and the coordinator import these names; nothing else may spell them.
"""

from __future__ import annotations

from .lighting import LightingConfig

#: The group of every light node of the métropole.
CITY_GROUP = "city"
#: Prefix of a commune's group: ``commune-<site>``.
COMMUNE_PREFIX = "commune-"


def commune_group(site: str) -> str:
    """The implicit group of every light node of commune ``site``."""
    return f"{COMMUNE_PREFIX}{site}"


def implicit_groups(site: str) -> tuple[str, str]:
    """The groups a light node of ``site`` is in whatever its config says."""
    return commune_group(site), CITY_GROUP


def with_implicit_groups(config: LightingConfig, site: str) -> LightingConfig:
    """``config`` with every luminaire also in :func:`implicit_groups` (the engine then accepts their overrides)."""
    extra = implicit_groups(site)
    luminaires = tuple(
        lum.model_copy(update={"groups": (*lum.groups, *(g for g in extra if g not in lum.groups))})
        for lum in config.luminaires
    )
    return config.model_copy(update={"luminaires": luminaires})
