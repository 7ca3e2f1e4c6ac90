"""The Open311 services citizens can report, and what each becomes as an intervention.

Citizen reports never dispatch anyone by themselves: they open a ``new`` intervention at a
modest priority, for an operator to triage.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    description: str
    group: str
    skill: str
    priority: str


SERVICES: dict[str, Service] = {s.code: s for s in (
    Service("streetlight", "Éclairage public en panne", "Lampadaire éteint, clignotant ou allumé de jour.",
            "éclairage", "eclairage", "normal"),
    Service("pothole", "Chaussée ou trottoir dégradé", "Nid-de-poule, pavé descellé, trottoir cassé.",
            "voirie", "voirie", "normal"),
    Service("obstruction", "Obstacle ou stationnement gênant", "Véhicule ou objet gênant la circulation.",
            "voirie", "police", "normal"),
    Service("dumping", "Dépôt sauvage", "Déchets ou encombrants abandonnés sur la voie publique.",
            "propreté", "proprete", "low"),
    Service("graffiti", "Tag ou affichage sauvage", "Tag, graffiti ou affiche sur le mobilier urbain.",
            "propreté", "proprete", "low"),
)}
