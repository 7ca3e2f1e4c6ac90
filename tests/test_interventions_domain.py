"""The intervention domain without a database: lifecycle, rules, dedupe, ranking, SLA."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from pydantic import ValidationError

from coordinator.interventions.assignment import Need, TeamView, rank
from coordinator.interventions.dedupe import OpenIntervention, find_duplicate
from coordinator.interventions.errors import (
    IllegalTransitionError,
    InvalidRequestError,
    NotAllowedError,
    NotVerifiedError,
)
from coordinator.interventions.lifecycle import TRANSITIONS, Actor, Intervention, State, transition
from coordinator.interventions.rules import Candidate, DeviceView, Rule, RuleSpec, evaluate, offline_candidates
from coordinator.interventions.sla import DEFAULT_SLA, escalation_level, higher

OP = Actor("user", "operateur")
T0 = 1_764_093_600_000


def iv(state: State, **kw: Any) -> Intervention:
    return Intervention(id=1, kind=kw.pop("kind", "crowd"), state=state, priority=kw.pop("priority", "high"),
                        sla_start_ms=T0, **kw)


# -- lifecycle ------------------------------------------------------------------------------------
EXPECTED_EDGES = {
    ("new", "acknowledged"), ("new", "assigned"), ("new", "closed"),
    ("acknowledged", "assigned"), ("acknowledged", "closed"),
    ("assigned", "assigned"), ("assigned", "acknowledged"), ("assigned", "en_route"), ("assigned", "closed"),
    ("en_route", "assigned"), ("en_route", "on_site"), ("en_route", "closed"),
    ("on_site", "resolved"),
    ("resolved", "closed"), ("resolved", "new"), ("closed", "new"),
}


def test_lifecycle_table_is_the_documented_one() -> None:
    assert {(a.value, b.value) for a, b in TRANSITIONS} == EXPECTED_EDGES


@pytest.mark.parametrize(("frm", "to"), list(itertools.product(State, State)))
def test_every_move_outside_the_table_is_illegal(frm: State, to: State) -> None:
    start = iv(frm, team="equipe-b" if frm in (State.ASSIGNED, State.EN_ROUTE, State.ON_SITE) else None)
    if (frm.value, to.value) in EXPECTED_EDGES:
        new, entry = transition(start, to, OP, "motif", T0 + 1, team="equipe-a")
        assert new.state is to and entry.to_state == to.value and entry.from_state == frm.value
        assert entry.actor == "user:operateur" and entry.ts_ms == T0 + 1
    else:
        with pytest.raises(IllegalTransitionError, match="allowed"):
            transition(start, to, OP, "motif", T0 + 1, team="equipe-a")


def test_cancel_unassign_and_reopen_need_a_reason() -> None:
    for start, to in ((iv(State.NEW), State.CLOSED), (iv(State.ASSIGNED, team="a"), State.ACKNOWLEDGED),
                      (iv(State.CLOSED), State.NEW)):
        with pytest.raises(InvalidRequestError, match="needs a reason"):
            transition(start, to, OP, "  ", T0)


def test_assigning_needs_a_team_and_acknowledges() -> None:
    with pytest.raises(InvalidRequestError, match="needs a team"):
        transition(iv(State.NEW), State.ASSIGNED, OP, None, T0)
    new, entry = transition(iv(State.NEW), State.ASSIGNED, OP, None, T0 + 5, team="pm-centre")
    assert (new.team, new.acknowledged_ms) == ("pm-centre", T0 + 5)
    assert entry.action == "assign" and entry.detail == {"team": "pm-centre"}
    with pytest.raises(IllegalTransitionError, match="already assigned"):
        transition(new, State.ASSIGNED, OP, None, T0 + 6, team="pm-centre")
    again, entry = transition(new, State.ASSIGNED, OP, None, T0 + 7, team="pm-nord")
    assert again.team == "pm-nord"
    assert entry.action == "reassign" and entry.detail == {"team": "pm-nord", "previous_team": "pm-centre"}


def test_a_team_moves_only_its_own_intervention_and_only_field_moves() -> None:
    mine = iv(State.ASSIGNED, team="pm-centre")
    new, entry = transition(mine, State.EN_ROUTE, Actor("team", "pm-centre"), None, T0)
    assert new.state is State.EN_ROUTE and entry.actor == "team:pm-centre"
    with pytest.raises(NotAllowedError, match="not assigned"):
        transition(mine, State.EN_ROUTE, Actor("team", "pm-nord"), None, T0)
    with pytest.raises(NotAllowedError, match="control post"):
        transition(mine, State.CLOSED, Actor("team", "pm-centre"), "fini", T0)


def test_light_fault_is_resolved_only_when_verified_healthy() -> None:
    on_site = iv(State.ON_SITE, kind="light_fault", team="eclairage-sud")
    for verdict in (None, False):
        with pytest.raises(NotVerifiedError, match="lamp_fault events do not show every fault cleared"):
            transition(on_site, State.RESOLVED, OP, None, T0, verified_healthy=verdict)
    new, _ = transition(on_site, State.RESOLVED, OP, None, T0 + 9, verified_healthy=True)
    assert new.state is State.RESOLVED and new.resolved_ms == T0 + 9


def test_reopening_starts_a_new_cycle() -> None:
    done = iv(State.CLOSED, team="a", acknowledged_ms=T0 + 1, on_site_ms=T0 + 2, resolved_ms=T0 + 3,
              closed_ms=T0 + 4, escalation=2)
    new, entry = transition(done, State.NEW, OP, "toujours en panne", T0 + 100)
    assert new == replace(done, state=State.NEW, team=None, sla_start_ms=T0 + 100, acknowledged_ms=None,
                          on_site_ms=None, resolved_ms=None, closed_ms=None, escalation=0)
    assert entry.action == "reopen" and entry.reason == "toujours en panne"


def test_unknown_target_state_is_a_bad_request() -> None:
    with pytest.raises(InvalidRequestError, match="unknown state"):
        transition(iv(State.NEW), "teleported", OP, None, T0)


# -- SLA ------------------------------------------------------------------------------------------
def test_escalation_counts_missed_deadlines_and_stops_when_milestones_are_met() -> None:
    p = DEFAULT_SLA["high"]
    fresh = iv(State.NEW)
    assert escalation_level(fresh, T0 + p.ack_s * 1000) == 0
    assert escalation_level(fresh, T0 + p.ack_s * 1000 + 1) == 1
    assert escalation_level(fresh, T0 + p.on_site_s * 1000 + 1) == 2
    assert escalation_level(fresh, T0 + p.resolve_s * 1000 + 1) == 3
    on_time = iv(State.ON_SITE, acknowledged_ms=T0 + 1000, on_site_ms=T0 + 60_000)
    assert escalation_level(on_time, T0 + p.on_site_s * 1000 + 1) == 0
    late_ack = iv(State.ACKNOWLEDGED, acknowledged_ms=T0 + p.ack_s * 1000 + 5)
    assert escalation_level(late_ack, T0 + p.ack_s * 1000 + 10) == 1


def test_urgent_escalates_sooner_than_low() -> None:
    at = T0 + 10 * 60 * 1000
    assert escalation_level(iv(State.NEW, priority="urgent"), at) > escalation_level(iv(State.NEW, priority="low"), at)
    assert higher("low", "urgent") == "urgent" and higher("high", "normal") == "high"


# -- dedupe ---------------------------------------------------------------------------------------
def cand(**kw: Any) -> Candidate:
    base: dict[str, Any] = {"kind": "crowd", "priority": "high", "skill": "police", "commune": "dijon", "ts_ms": T0,
                            "title": "t", "key": "cam-1/z", "window_s": 900, "radius_m": 50.0}
    base.update(kw)
    return Candidate(**base)


def test_same_kind_same_key_within_the_window_merges() -> None:
    open_one = OpenIntervention(7, "crowd", "cam-1/z", None, None, T0 - 60_000)
    assert find_duplicate(cand(), [open_one]) == open_one
    assert find_duplicate(cand(ts_ms=T0 + 900_000), [open_one]) is None  # window passed
    assert find_duplicate(cand(kind="loitering"), [open_one]) is None
    assert find_duplicate(cand(key="cam-1/other"), [open_one]) is None


def test_nearby_reports_merge_by_distance_and_far_ones_do_not() -> None:
    darcy = OpenIntervention(3, "pothole", None, 47.3224, 5.0355, T0)
    near = cand(kind="pothole", key=None, lat=47.3226, lon=5.0356)  # about 23 m
    far = cand(kind="pothole", key=None, lat=47.3240, lon=5.0355)  # about 180 m
    assert find_duplicate(near, [darcy]) == darcy
    assert find_duplicate(far, [darcy]) is None


# -- assignment -----------------------------------------------------------------------------------
def test_ranking_prefers_skill_then_commune_then_distance_and_load_with_reasons() -> None:
    need = Need("eclairage", "chenove", 47.293, 5.005)
    teams = [
        TeamView("voirie-chenove", "Voirie", ("voirie",), "chenove", 47.293, 5.005, 0),
        TeamView("eclairage-dijon", "Éclairage Dijon", ("eclairage",), "dijon", 47.322, 5.041, 0),
        TeamView("eclairage-sud", "Éclairage sud", ("eclairage",), "chenove", 47.295, 5.007, 0),
        TeamView("eclairage-sud-2", "Éclairage sud 2", ("eclairage",), "chenove", 47.295, 5.007, 2),
        TeamView("eclairage-off", "Hors service", ("eclairage",), "chenove", 47.293, 5.005, 0, active=False),
    ]
    ranked = rank(need, teams)
    assert [p.team for p in ranked] == ["eclairage-sud", "eclairage-sud-2", "eclairage-dijon", "voirie-chenove"]
    best = ranked[0]
    assert best.reasons[0].startswith("has skill eclairage") and "based in chenove" in best.reasons[1]
    assert best.distance_m is not None and 200 < best.distance_m < 400
    assert any("2 intervention(s) in hand" in r for r in ranked[1].reasons)
    assert ranked[-1].reasons[0].startswith("lacks skill eclairage")


# -- rules ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ev:
    type: str
    body: dict[str, Any]
    ts_ms: int = T0
    device_id: str = "cam-darcy-01"
    site: str = "dijon"
    extra: dict[str, Any] = field(default_factory=dict)


def rule(config: dict[str, Any], rid: int = 1, commune: str | None = None) -> Rule:
    return Rule(rid, "r", commune, True, RuleSpec.model_validate({"config": config}).config)


def test_rule_configs_are_strict() -> None:
    with pytest.raises(ValidationError, match="threshold"):
        RuleSpec.model_validate({"config": {"type": "crowd"}})
    with pytest.raises(ValidationError, match="extra"):
        RuleSpec.model_validate({"config": {"type": "crowd", "threshold": 3, "colour": "red"}})
    with pytest.raises(ValidationError):
        RuleSpec.model_validate({"config": {"type": "stopped_vehicle", "zones": [], "max_stop_s": 60}})


def test_crowd_fires_once_per_crowd_and_rearms_when_it_thins() -> None:
    r = rule({"type": "crowd", "threshold": 10, "zones": [{"zone": "crossing"}]})
    occ = lambda n, t=T0: Ev("occupancy", {"cam": 0, "zone": "crossing", "counts": [[0, n], [2, 30]]}, ts_ms=t)  # noqa: E731
    out, st = evaluate([r], {}, [occ(5), occ(11), occ(14)], T0)
    assert [(c.kind, c.key, c.detail["count"], c.priority) for c in out] == [("crowd", "cam-darcy-01/crossing", 11,
                                                                             "high")]
    out, st = evaluate([r], st, [occ(12)], T0)
    assert out == []  # still the same crowd
    out, st = evaluate([r], st, [occ(3), occ(20)], T0)
    assert len(out) == 1  # thinned, then a new crowd
    other_zone = Ev("occupancy", {"cam": 0, "zone": "terrasse", "counts": [[0, 50]]})
    assert evaluate([r], st, [other_zone], T0)[0] == []


def test_stale_camera_events_replayed_from_an_outbox_raise_nothing() -> None:
    r = rule({"type": "crowd", "threshold": 1, "max_age_s": 60})
    old = Ev("occupancy", {"cam": 0, "zone": "z", "counts": [[0, 9]]}, ts_ms=T0 - 3_600_000)
    assert evaluate([r], {}, [old], T0)[0] == []


def test_loitering_rule_filters_class_zone_and_dwell() -> None:
    r = rule({"type": "loitering", "zones": [{"device": "cam-darcy-01", "zone": "fountains"}], "min_dwell_s": 120})
    ok = Ev("loitering", {"cam": 0, "zone": "fountains", "track": 4, "cls": 0, "dwell_ms": 130_000})
    short = Ev("loitering", {"cam": 0, "zone": "fountains", "track": 5, "cls": 0, "dwell_ms": 60_000})
    car = Ev("loitering", {"cam": 0, "zone": "fountains", "track": 6, "cls": 2, "dwell_ms": 600_000})
    elsewhere = replace(ok, device_id="cam-liberte-01")
    out, _ = evaluate([r], {}, [ok, short, car, elsewhere], T0)
    assert [(c.kind, c.detail["track"]) for c in out] == [("loitering", 4)]


def test_vehicle_stopped_longer_than_allowed_is_found_by_time_alone() -> None:
    r = rule({"type": "stopped_vehicle", "zones": [{"zone": "bus-stop"}], "max_stop_s": 120})
    enter = Ev("zone_enter", {"cam": 0, "zone": "bus-stop", "track": 9, "cls": 2})
    walker = Ev("zone_enter", {"cam": 0, "zone": "bus-stop", "track": 10, "cls": 0})
    out, st = evaluate([r], {}, [enter, walker], T0 + 1000)
    assert out == [] and len(st[1]["tracks"]) == 1
    out, st = evaluate([r], st, [], T0 + 119_000)
    assert out == []
    out, st = evaluate([r], st, [], T0 + 121_000)
    assert [(c.kind, c.key, c.detail["dwell_ms"]) for c in out] == [("stopped_vehicle", "cam-darcy-01/bus-stop",
                                                                    121_000)]
    assert evaluate([r], st, [], T0 + 500_000)[0] == []  # once per stop


def test_vehicle_that_leaves_in_time_or_whose_track_ends_is_forgotten() -> None:
    r = rule({"type": "stopped_vehicle", "zones": [{"zone": "bus-stop"}], "max_stop_s": 120})
    enter = Ev("zone_enter", {"cam": 0, "zone": "bus-stop", "track": 9, "cls": 5})
    leave = Ev("zone_leave", {"cam": 0, "zone": "bus-stop", "track": 9, "cls": 5, "dwell_ms": 40_000},
               ts_ms=T0 + 40_000)
    _, st = evaluate([r], {}, [enter, leave], T0 + 40_000)
    assert st[1]["tracks"] == {}
    lost = Ev("track_end", {"cam": 0, "track": 9, "cls": 5, "seen_ms": 50_000}, ts_ms=T0 + 50_000)
    _, st = evaluate([r], {}, [enter, lost], T0 + 50_000)
    assert st[1]["tracks"] == {}


def test_a_boxs_loitering_event_reports_a_stopped_vehicle_at_once() -> None:
    r = rule({"type": "stopped_vehicle", "zones": [{"zone": "bus-stop"}], "max_stop_s": 120})
    loiter = Ev("loitering", {"cam": 0, "zone": "bus-stop", "track": 3, "cls": 7, "dwell_ms": 180_000})
    out, st = evaluate([r], {}, [loiter], T0)
    assert [c.detail["dwell_ms"] for c in out] == [180_000]
    assert evaluate([r], st, [], T0 + 600_000)[0] == []


def test_light_fault_rule_opens_on_active_faults_only_keyed_by_luminaire_and_fault() -> None:
    r = rule({"type": "light_fault"})
    on = Ev("lamp_fault", {"lum": "l02", "fault": "lampFailure", "active": True}, device_id="light-darcy-01")
    off = Ev("lamp_fault", {"lum": "l02", "fault": "lampFailure", "active": False}, device_id="light-darcy-01")
    out, _ = evaluate([r], {}, [on, off], T0 + 10 * 86_400_000)  # faults are never too old to matter
    assert [(c.kind, c.key, c.target, c.skill) for c in out] == [("light_fault", "light-darcy-01/l02/lampFailure",
                                                                  "l02", "eclairage")]


def test_cabinet_faults_open_cabinet_interventions_keyed_by_part_and_fault() -> None:
    r = rule({"type": "light_fault", "faults": ["doorOpen", "breakerTrip"]})
    door = Ev("cabinet_fault", {"part": "cabinet", "fault": "doorOpen", "active": True}, device_id="light-darcy-01")
    trip = Ev("cabinet_fault", {"part": "north", "fault": "breakerTrip", "active": True}, device_id="light-darcy-01")
    meter = Ev("cabinet_fault", {"part": "cabinet", "fault": "meterCommFailure", "active": True})
    closed = Ev("cabinet_fault", {"part": "cabinet", "fault": "doorOpen", "active": False})
    out, _ = evaluate([r], {}, [door, trip, meter, closed], T0)
    assert [(c.kind, c.key, c.target, c.title) for c in out] == [
        ("cabinet_fault", "light-darcy-01/cabinet:cabinet/doorOpen", None, "Cabinet of light-darcy-01: doorOpen"),
        ("cabinet_fault", "light-darcy-01/cabinet:north/breakerTrip", None,
         "Cabinet of light-darcy-01, circuit north: breakerTrip"),
    ]


def test_rules_of_a_commune_ignore_other_communes() -> None:
    r = rule({"type": "light_fault"}, commune="talant")
    on = Ev("lamp_fault", {"lum": "l02", "fault": "supplyLoss", "active": True})
    assert evaluate([r], {}, [on], T0)[0] == []


def test_offline_rule_finds_boxes_silent_beyond_the_threshold() -> None:
    r = rule({"type": "device_offline", "after_s": 900, "roles": ["light"]})
    devices = [DeviceView("light-1", "dijon", "offline", T0 - 1_000_000, T0 - 1_000_000, ("light",)),
               DeviceView("light-2", "dijon", "online", T0 - 10_000, T0 - 5_000_000, ("light",)),
               DeviceView("cam-1", "dijon", "offline", T0 - 9_000_000, T0, ("camera",)),
               DeviceView("light-3", "dijon", "unknown", None, None, ("light",))]
    out = offline_candidates([r], devices, T0)
    assert [(c.key, c.kind, c.commune) for c in out] == [("light-1", "device_offline", "dijon")]
