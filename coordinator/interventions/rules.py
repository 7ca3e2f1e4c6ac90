"""Rules that turn events into intervention candidates, with their per-zone state kept explicit.

A rule is configured by supervisors (a pydantic model per type, ``extra="forbid"``, discriminated
on ``type``). :func:`evaluate` is pure: it takes the rules, each rule's state (a JSON-able dict,
stored by the caller between batches), the newly stored events and the time, and returns the
candidates and the new states. The ingest hook calls it inside the ingest transaction; the
periodic job calls it with no events, so that a vehicle that stays put is noticed even when
its camera says nothing more.

Event fields are the wire names (``vigie_wire.events``); classes are COCO indices.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from .sla import PRIORITIES

PERSON, CAR, MOTORCYCLE, BUS, TRUCK = 0, 2, 3, 5, 7
VEHICLES = [CAR, MOTORCYCLE, BUS, TRUCK]
#: Vehicle entries forgotten after this long without a leave (a missed event must not leak state).
TRACK_MEMORY_MS = 24 * 3600 * 1000
SKILLS = ("police", "voirie", "eclairage", "proprete")
TALQ_FAULTS = ("lampFailure", "dimmingFailure", "supplyLoss", "controlGearCommFailure",
               "lampPowerTooHigh", "lampPowerTooLow")
#: Faults of a light node's cabinet (``cabinet_fault`` events): door, breaker, a silent controller or meter.
CABINET_FAULTS = ("doorOpen", "breakerTrip", "controllerCommFailure", "meterCommFailure")

Priority = Literal["urgent", "high", "normal", "low"]
Skill = Literal["police", "voirie", "eclairage", "proprete"]
Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
assert tuple(Priority.__args__) == PRIORITIES  # type: ignore[attr-defined]


class ZoneRef(BaseModel):
    """A zone of a box's config; without ``device``, that zone id on every box."""

    model_config = ConfigDict(extra="forbid")
    device: Ident | None = None
    zone: Ident

    def matches(self, device: str, zone: str) -> bool:
        return self.zone == zone and (self.device is None or self.device == device)


class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: Priority = "normal"
    skill: Skill = "police"
    dedupe_window_s: int = Field(default=900, ge=0, le=7 * 86400,
                                 description="a candidate of the same kind and place within this window is merged")
    dedupe_radius_m: float = Field(default=50.0, ge=0, le=5000, description="'same place' radius, metres")
    max_age_s: int = Field(default=600, ge=1, le=7 * 86400,
                           description="camera events older than this (replayed from a box's outbox) are ignored")


class CrowdRule(_RuleBase):
    """More than ``threshold`` objects of ``classes`` in a zone (from occupancy events)."""

    type: Literal["crowd"]
    zones: list[ZoneRef] = Field(default_factory=list, max_length=256, description="empty: every zone")
    threshold: int = Field(ge=1, le=10_000)
    classes: list[int] = Field(default_factory=lambda: [PERSON], min_length=1, max_length=80)
    priority: Priority = "high"


class LoiteringRule(_RuleBase):
    """A box's loitering event for ``classes`` in a zone, with at least ``min_dwell_s`` of dwell."""

    type: Literal["loitering"]
    zones: list[ZoneRef] = Field(default_factory=list, max_length=256, description="empty: every zone")
    classes: list[int] = Field(default_factory=lambda: [PERSON], min_length=1, max_length=80)
    min_dwell_s: int = Field(default=0, ge=0, le=86_400)


class StoppedVehicleRule(_RuleBase):
    """A vehicle track staying longer than ``max_stop_s`` in a no-stopping zone."""

    type: Literal["stopped_vehicle"]
    zones: list[ZoneRef] = Field(min_length=1, max_length=256, description="the no-stopping zones")
    max_stop_s: int = Field(ge=1, le=86_400)
    classes: list[int] = Field(default_factory=lambda: list(VEHICLES), min_length=1, max_length=80)


class LightFaultRule(_RuleBase):
    """A luminaire or cabinet fault reported by a light node (``lamp_fault`` or ``cabinet_fault``, ``active: true``)."""

    type: Literal["light_fault"]
    faults: list[Literal["lampFailure", "dimmingFailure", "supplyLoss", "controlGearCommFailure",
                         "lampPowerTooHigh", "lampPowerTooLow", "doorOpen", "breakerTrip", "controllerCommFailure",
                         "meterCommFailure"]] = Field(default_factory=list, description="empty: every fault")
    skill: Skill = "eclairage"
    dedupe_window_s: int = Field(default=7 * 86400, ge=0, le=30 * 86400)


class DeviceOfflineRule(_RuleBase):
    """A box silent for more than ``after_s`` (checked by a periodic job, not by events)."""

    type: Literal["device_offline"]
    after_s: int = Field(default=900, ge=60, le=30 * 86400)
    roles: list[Literal["camera", "light"]] = Field(default_factory=list, description="empty: every box")
    skill: Skill = "eclairage"


RuleConfig = Annotated[CrowdRule | LoiteringRule | StoppedVehicleRule | LightFaultRule | DeviceOfflineRule,
                       Field(discriminator="type")]
RULE_TYPES = ("crowd", "loitering", "stopped_vehicle", "light_fault", "device_offline")


class RuleSpec(BaseModel):
    """A rule's configuration as stored and as the API takes it."""

    model_config = ConfigDict(extra="forbid")
    config: RuleConfig


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    commune: str | None
    enabled: bool
    config: CrowdRule | LoiteringRule | StoppedVehicleRule | LightFaultRule | DeviceOfflineRule

    def covers(self, site: str) -> bool:
        return self.enabled and (self.commune is None or self.commune == site)


class EventLike(Protocol):
    """What a rule reads of a stored event (``coordinator.ingest.hooks.StoredEvent`` fits)."""

    @property
    def device_id(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def ts_ms(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def body(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class DeviceView:
    """What the offline rule reads of a registered device."""

    id: str
    site: str
    status: str
    last_seen_ms: int | None
    status_since_ms: int | None
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """An intervention to open, or to merge into an open one of the same kind and place."""

    kind: str
    priority: str
    skill: str
    commune: str | None
    ts_ms: int
    title: str
    key: str | None
    device_id: str | None = None
    target: str | None = None
    rule_id: int | None = None
    window_s: int = 900
    radius_m: float = 50.0
    detail: dict[str, Any] = field(default_factory=dict)
    lat: float | None = None
    lon: float | None = None


def _candidate(rule: Rule, kind: str, ev_site: str, ts_ms: int, title: str, key: str, device: str,
               target: str | None, detail: dict[str, Any]) -> Candidate:
    c = rule.config
    return Candidate(kind=kind, priority=c.priority, skill=c.skill, commune=ev_site, ts_ms=ts_ms, title=title,
                     key=key, device_id=device, target=target, rule_id=rule.id, window_s=c.dedupe_window_s,
                     radius_m=c.dedupe_radius_m, detail=detail)


def _zone_ok(zones: Sequence[ZoneRef], device: str, zone: str) -> bool:
    return not zones or any(z.matches(device, zone) for z in zones)


def _count(counts: Iterable[Any], classes: Sequence[int]) -> int:
    return sum(int(pair[1]) for pair in counts if int(pair[0]) in classes)


def _crowd(rule: Rule, c: CrowdRule, st: dict[str, Any], ev: EventLike, now_ms: int) -> list[Candidate]:
    if ev.type != "occupancy" or not _zone_ok(c.zones, ev.device_id, ev.body["zone"]):
        return []
    zk = f"{ev.device_id}/{ev.body['zone']}"
    above: dict[str, bool] = st.setdefault("above", {})
    n = _count(ev.body.get("counts", []), c.classes)
    if n <= c.threshold:
        above.pop(zk, None)  # re-armed: the next crowd is a new one
        return []
    if above.get(zk) or now_ms - ev.ts_ms > c.max_age_s * 1000:
        return []
    above[zk] = True
    return [_candidate(rule, "crowd", ev.site, ev.ts_ms, f"Crowd of {n} in zone {ev.body['zone']} ({ev.device_id})",
                       zk, ev.device_id, ev.body["zone"], {"count": n, "threshold": c.threshold})]


def _loitering(rule: Rule, c: LoiteringRule, ev: EventLike, now_ms: int) -> list[Candidate]:
    b = ev.body
    if ev.type != "loitering" or b["cls"] not in c.classes or not _zone_ok(c.zones, ev.device_id, b["zone"]):
        return []
    if b["dwell_ms"] < c.min_dwell_s * 1000 or now_ms - ev.ts_ms > c.max_age_s * 1000:
        return []
    zk = f"{ev.device_id}/{b['zone']}"
    return [_candidate(rule, "loitering", ev.site, ev.ts_ms,
                       f"Loitering in zone {b['zone']} ({ev.device_id}) for {b['dwell_ms'] // 1000} s",
                       zk, ev.device_id, b["zone"], {"track": b["track"], "cls": b["cls"], "dwell_ms": b["dwell_ms"]})]


def _stop_candidate(rule: Rule, entry: dict[str, Any], dwell_ms: int) -> Candidate:
    return _candidate(rule, "stopped_vehicle", entry["site"], entry["t"] + dwell_ms,
                      f"Vehicle stopped {dwell_ms // 1000} s in no-stopping zone {entry['zone']} ({entry['dev']})",
                      f"{entry['dev']}/{entry['zone']}", entry["dev"], entry["zone"],
                      {"track": entry["track"], "cls": entry["cls"], "dwell_ms": dwell_ms})


def _stopped_event(rule: Rule, c: StoppedVehicleRule, st: dict[str, Any], ev: EventLike,
                   now_ms: int) -> list[Candidate]:
    tracks: dict[str, dict[str, Any]] = st.setdefault("tracks", {})
    b = ev.body
    if ev.type == "track_end":
        prefix = f"{ev.device_id}/{b['cam']}/{b['track']}/"
        for k in [k for k in tracks if k.startswith(prefix)]:
            del tracks[k]
        return []
    if ev.type not in ("zone_enter", "zone_leave", "loitering"):
        return []
    if b["cls"] not in c.classes or not any(z.matches(ev.device_id, b["zone"]) for z in c.zones):
        return []
    key = f"{ev.device_id}/{b['cam']}/{b['track']}/{b['zone']}"
    if ev.type == "zone_leave":
        tracks.pop(key, None)
        return []
    if ev.type == "zone_enter":
        tracks.setdefault(key, {"t": ev.ts_ms, "dev": ev.device_id, "site": ev.site, "zone": b["zone"],
                                "track": b["track"], "cls": b["cls"], "fired": False})
        return []
    # a loitering event: the box measured the dwell itself
    entry = tracks.setdefault(key, {"t": ev.ts_ms - b["dwell_ms"], "dev": ev.device_id, "site": ev.site,
                                    "zone": b["zone"], "track": b["track"], "cls": b["cls"], "fired": False})
    if not entry["fired"] and b["dwell_ms"] >= c.max_stop_s * 1000 and now_ms - ev.ts_ms <= c.max_age_s * 1000:
        entry["fired"] = True
        return [_stop_candidate(rule, entry, b["dwell_ms"])]
    return []


def _stopped_tick(rule: Rule, c: StoppedVehicleRule, st: dict[str, Any], now_ms: int) -> list[Candidate]:
    out = []
    tracks: dict[str, dict[str, Any]] = st.setdefault("tracks", {})
    for key in sorted(tracks):
        entry = tracks[key]
        dwell = now_ms - entry["t"]
        if dwell > TRACK_MEMORY_MS:
            del tracks[key]
        elif not entry["fired"] and dwell >= c.max_stop_s * 1000:
            entry["fired"] = True
            out.append(_stop_candidate(rule, entry, dwell))
    return out


def _light_fault(rule: Rule, c: LightFaultRule, ev: EventLike) -> list[Candidate]:
    b = ev.body
    if ev.type not in ("lamp_fault", "cabinet_fault") or not b.get("active"):
        return []
    if c.faults and b["fault"] not in c.faults:
        return []
    if ev.type == "cabinet_fault":  # keyed as the wire keys it: (dev, part, fault); the part is not a luminaire
        part = b["part"]
        where = "" if part == "cabinet" else f", circuit {part}"
        return [_candidate(rule, "cabinet_fault", ev.site, ev.ts_ms, f"Cabinet of {ev.device_id}{where}: {b['fault']}",
                           f"{ev.device_id}/cabinet:{part}/{b['fault']}", ev.device_id, None,
                           {"fault": b["fault"], "part": part})]
    key = f"{ev.device_id}/{b['lum']}/{b['fault']}"  # as the wire contract keys a fault: (dev, lum, fault)
    return [_candidate(rule, "light_fault", ev.site, ev.ts_ms, f"Luminaire {b['lum']} ({ev.device_id}): {b['fault']}",
                       key, ev.device_id, b["lum"], {"fault": b["fault"]})]


def evaluate(rules: Sequence[Rule], states: dict[int, dict[str, Any]], events: Sequence[EventLike],
             now_ms: int) -> tuple[list[Candidate], dict[int, dict[str, Any]]]:
    """Candidates raised by ``events`` (and by time passing), and each rule's new state.

    ``states`` is not modified; rules absent from it start empty.
    """
    new_states = {r.id: copy.deepcopy(states.get(r.id, {})) for r in rules}
    out: list[Candidate] = []
    for rule in rules:
        c, st = rule.config, new_states[rule.id]
        for ev in events:
            if not rule.covers(ev.site):
                continue
            if isinstance(c, CrowdRule):
                out += _crowd(rule, c, st, ev, now_ms)
            elif isinstance(c, LoiteringRule):
                out += _loitering(rule, c, ev, now_ms)
            elif isinstance(c, StoppedVehicleRule):
                out += _stopped_event(rule, c, st, ev, now_ms)
            elif isinstance(c, LightFaultRule):
                out += _light_fault(rule, c, ev)
        if isinstance(c, StoppedVehicleRule) and rule.enabled:
            out += _stopped_tick(rule, c, st, now_ms)
    return out, new_states


def offline_candidates(rules: Sequence[Rule], devices: Sequence[DeviceView], now_ms: int) -> list[Candidate]:
    """Devices silent for longer than an offline rule allows (never-seen devices are left out)."""
    out = []
    for rule in rules:
        c = rule.config
        if not isinstance(c, DeviceOfflineRule):
            continue
        for d in devices:
            quiet_since = d.last_seen_ms if d.last_seen_ms is not None else d.status_since_ms
            if d.status == "unknown" or quiet_since is None or not rule.covers(d.site):
                continue
            if c.roles and not set(c.roles) & set(d.roles):
                continue
            silent_ms = now_ms - quiet_since
            if silent_ms >= c.after_s * 1000:
                out.append(_candidate(rule, "device_offline", d.site, now_ms,
                                      f"Box {d.id} silent for {silent_ms // 60000} min ({d.status})", d.id, d.id,
                                      None, {"status": d.status, "last_seen_ms": d.last_seen_ms}))
    return out
