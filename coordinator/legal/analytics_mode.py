"""The city-wide analytics mode, as pure rules: which alerting rules the law lets the city run.

``statistics`` (the default) keeps video analytics to anonymous aggregates: counts, occupancy,
flows, lighting presence. A rule that raises an alert about one person or one vehicle is refused
(CNIL, 19 July 2022: real-time "augmented" cameras of public actors need a specific law, anonymous
statistics excepted). ``alerting`` is possible only under a recorded legal basis for a bounded
period, and then only for the event kinds of décret 2023-828 art. 3 that Vigie can detect. No
kind uses biometrics: Vigie has no face or identity model (EU AI Act art. 5(1)(h)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["statistics", "alerting"]
MODES: tuple[str, ...] = ("statistics", "alerting")
#: Décret 2023-828 art. 3 kinds that Vigie's detectors and rules can signal today. The others
#: (abandoned object, weapon, person on the ground, fire start) have no detector in Vigie.
ART3_KINDS: tuple[str, ...] = ("wrong_way", "forbidden_zone", "excessive_density", "crowd_movement")
#: Longest period one decision may open alerting for (a new decision renews it).
MAX_ALERTING_DAYS = 366


@dataclass(frozen=True)
class RuleLaw:
    """What a rule type is in law: the art. 3 kind it signals (None: none) and whether it targets individuals."""

    art3_kind: str | None
    individual: bool
    video: bool = True


#: Every rule type of ``coordinator.interventions.rules`` (a test keeps the two lists equal).
RULE_LAW: dict[str, RuleLaw] = {
    "crowd": RuleLaw("excessive_density", individual=False),
    "stopped_vehicle": RuleLaw("forbidden_zone", individual=True),
    "loitering": RuleLaw(None, individual=True),
    "light_fault": RuleLaw(None, individual=False, video=False),
    "device_offline": RuleLaw(None, individual=False, video=False),
}


@dataclass(frozen=True)
class ModeState:
    """The last decision on the mode; alerting holds only within [start_ms, end_ms)."""

    mode: str = "statistics"
    legal_basis: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None

    def effective(self, now_ms: int) -> str:
        if self.mode == "alerting" and self.start_ms is not None and self.end_ms is not None \
                and self.start_ms <= now_ms < self.end_ms:
            return "alerting"
        return "statistics"


def check_decision(mode: str, legal_basis: str | None, start_ms: int | None, end_ms: int | None) -> str | None:
    """Why a decision is refused, or None: alerting needs a legal basis and a bounded period."""
    if mode not in MODES:
        return f"mode must be one of {', '.join(MODES)}"
    if mode == "statistics":
        return None
    if not (legal_basis or "").strip():
        return "alerting needs legal_basis: the law or decree that authorises it"
    if start_ms is None or end_ms is None:
        return "alerting needs a period: start_ms and end_ms"
    if end_ms <= start_ms:
        return "end_ms must be after start_ms"
    if end_ms - start_ms > MAX_ALERTING_DAYS * 86_400_000:
        return f"alerting is authorised for at most {MAX_ALERTING_DAYS} days at a time"
    return None


def rule_refusal(rule_type: str, state: ModeState, now_ms: int) -> str | None:
    """Why a rule of ``rule_type`` may not be configured now, or None when it may."""
    law = RULE_LAW.get(rule_type)
    if law is None:
        return f"rule type {rule_type!r} has no legal classification"
    if not law.video or not law.individual:
        return None
    if state.effective(now_ms) == "statistics":
        return (f"analytics_mode is 'statistics': a '{rule_type}' rule alerts on individual people or vehicles, "
                "which public video analytics may not do without a specific law (CNIL, July 2022); only anonymous "
                "aggregates (counts, occupancy, density) are allowed")
    if law.art3_kind not in ART3_KINDS:
        return (f"a '{rule_type}' rule is not one of the event kinds of décret 2023-828 art. 3 that Vigie can "
                f"detect ({', '.join(ART3_KINDS)}); it is refused even in 'alerting' mode")
    return None
