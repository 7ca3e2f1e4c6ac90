"""Which team to send: a ranked proposal with the reasons, for an operator to confirm.

The score adds up plain, explainable terms rather than a learnt model: operators must be
able to tell why a team comes first. A team lacking the needed skill is still listed (the
operator may know better) but far below any team that has it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .geo import haversine_m

SKILL_MATCH = 100.0
SKILL_MISSING = -100.0
SAME_COMMUNE = 30.0
PER_KM = -2.0
UNKNOWN_DISTANCE = -10.0
PER_ACTIVE_INTERVENTION = -15.0


@dataclass(frozen=True)
class TeamView:
    id: str
    name: str
    skills: tuple[str, ...]
    commune: str
    lat: float | None
    lon: float | None
    load: int  # interventions assigned, en route or on site
    active: bool = True


@dataclass(frozen=True)
class Need:
    """What the intervention asks for."""

    skill: str | None
    commune: str | None
    lat: float | None
    lon: float | None


@dataclass(frozen=True)
class Proposal:
    team: str
    score: float
    distance_m: float | None
    load: int
    reasons: list[str] = field(default_factory=list)


def score(need: Need, team: TeamView) -> Proposal:
    total, reasons = 0.0, []
    if need.skill is not None:
        if need.skill in team.skills:
            total += SKILL_MATCH
            reasons.append(f"has skill {need.skill} (+{SKILL_MATCH:g})")
        else:
            total += SKILL_MISSING
            reasons.append(f"lacks skill {need.skill} ({SKILL_MISSING:g})")
    if need.commune is not None and need.commune == team.commune:
        total += SAME_COMMUNE
        reasons.append(f"based in {team.commune} (+{SAME_COMMUNE:g})")
    distance = None
    if None not in (need.lat, need.lon, team.lat, team.lon):
        distance = haversine_m(need.lat, need.lon, team.lat, team.lon)  # type: ignore[arg-type]
        total += PER_KM * distance / 1000
        reasons.append(f"{distance / 1000:.1f} km away ({PER_KM * distance / 1000:+.1f})")
    else:
        total += UNKNOWN_DISTANCE
        reasons.append(f"distance unknown ({UNKNOWN_DISTANCE:g})")
    if team.load:
        total += PER_ACTIVE_INTERVENTION * team.load
        reasons.append(f"{team.load} intervention(s) in hand ({PER_ACTIVE_INTERVENTION * team.load:g})")
    else:
        reasons.append("free (0)")
    return Proposal(team.id, round(total, 2), None if distance is None else round(distance, 1), team.load, reasons)


def rank(need: Need, teams: Sequence[TeamView]) -> list[Proposal]:
    """Active teams, best first (ties by team id, for a stable order)."""
    proposals = [score(need, t) for t in teams if t.active]
    return sorted(proposals, key=lambda p: (-p.score, p.team))
