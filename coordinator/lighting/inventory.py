"""The luminaire inventory of a box, from its config: ids, rated power, groups, position.

Only the box config knows which luminaires a cabinet drives and in which groups: the registry needs it to know
which boxes must answer a group command, and the energy report needs the rated power for its full-power reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigie_config.box import BoxConfig


@dataclass(frozen=True)
class Luminaire:
    device_id: str
    lum_id: str
    site: str
    rated_w: float
    groups: tuple[str, ...]
    lat: float | None
    lon: float | None


def luminaires_of(box: BoxConfig) -> list[Luminaire]:
    """The configured luminaires of ``box`` (none for a camera-only box); positions default to the box's."""
    if box.lighting is None:
        return []
    return [
        Luminaire(
            device_id=box.device_id, lum_id=lum.id, site=box.site, rated_w=lum.rated_w, groups=tuple(lum.groups),
            lat=lum.lat if lum.lat is not None else box.lat, lon=lum.lon if lum.lon is not None else box.lon,
        )
        for lum in box.lighting.luminaires
    ]
