"""Config section of the light role: the cabinet's luminaires, the node's sky, its calendar and its neighbours.

One YAML mapping (``lighting:`` in a box config) becomes, through :func:`edge_agent.lighting.build.build_engine`,
the engine that decides every level, and through
:meth:`LightingConfig.specs` the nameplates the driver and the diagnostics need. Everything that can be checked
without the hardware is checked here, at start-up: a calendar entry for a group that no luminaire is in would
leave that sector on its fail-safe every night, which nobody would notice before the energy bill.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vigie_wire.schema import ID_PATTERN

from .cabinet import CabinetConfig
from .calendar import Calendar, CalendarEntry
from .drivers import DRIVER_CONFIGS, DriverConfig, SimulatedDriverConfig
from .errors import ConfigError
from .luminaire import MAX_LUMINAIRES, LuminaireSpec

#: Where a node stands when its config does not say (its astro clock's default): Dijon, 47.322 N, 5.041 E.
DIJON_LAT = 47.322
DIJON_LON = 5.041
DIJON_TZ = "Europe/Paris"

_ID = f"^{ID_PATTERN.pattern}$"
#: A group name: the ``<group>`` of ``vigie/v1/<site>/group/<group>/cmd``, hence a topic-safe id.
GroupName = Annotated[str, Field(pattern=_ID)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LuminaireConfig(_Section):
    """One luminaire of the cabinet: its nameplate (see :class:`~vigie_config.luminaire.LuminaireSpec`),
    the groups it answers to, and where it stands (for the map; the sky is the node's).
    """

    id: str = Field(pattern=_ID, description="Luminaire id, unique in the cabinet (the asset tag of the lantern).")
    rated_w: float = Field(gt=0, le=2000, description="Rated power at 100 %, in watts (nameplate).")
    standby_w: float = Field(0.5, ge=0, le=20, description="Power drawn when off, in watts; below rated_w.")
    convexity: float = Field(
        0.2, ge=0, le=1, description="Shape of the power curve against level (0: linear), for the energy estimate."
    )
    groups: tuple[GroupName, ...] = Field(
        default=(), max_length=16,
        description="Groups the luminaire answers to: calendar entries, presence and group command topics.",
    )
    lat: float | None = Field(None, ge=-90, le=90, description="Latitude of the luminaire, for the map.")
    lon: float | None = Field(None, ge=-180, le=180, description="Longitude of the luminaire, for the map.")

    @model_validator(mode="after")
    def _valid_nameplate(self) -> Self:
        self.spec()  # standby below rated, and whatever else the nameplate itself checks
        return self

    def spec(self) -> LuminaireSpec:
        """The nameplate the driver and :func:`~edge_agent.lighting.drivers.diagnose` judge this luminaire by."""
        return LuminaireSpec(id=self.id, rated_w=self.rated_w, standby_w=self.standby_w, convexity=self.convexity)


class PresenceSourceConfig(_Section):
    """A zone of a neighbour camera box whose detections light up some of this node's groups.

    Attributes:
        device: The camera box's device id (the sender of the ``zone_enter`` / ``occupancy`` events).
        zone: The zone id in that box's config.
        cam: The camera index within that box; ``None``: the zone id on any of its cameras.
        site: The camera box's site when it is not this box's (a street across a commune boundary).
        groups: The groups of this node the zone boosts (their calendar entry must be a sensor program).
    """

    device: str = Field(pattern=_ID, description="The camera box's device id, whose events the node listens to.")
    zone: str = Field(pattern=_ID, description="The zone id in that box's config.")
    cam: int | None = Field(
        None, ge=0, le=255, description="The camera index within that box; absent: the zone on any of its cameras."
    )
    site: str | None = Field(
        None, pattern=_ID, description="The camera box's site when it is not this box's (across a commune boundary)."
    )
    groups: tuple[GroupName, ...] = Field(
        min_length=1, max_length=16, description="Groups of this node the zone boosts (their entry: a sensor program)."
    )

    @property
    def key(self) -> str:
        """The engine's source id: never a group name (``/`` cannot be in one), unique per (device, cam, zone)."""
        return f"{self.device}/{'*' if self.cam is None else self.cam}/{self.zone}"

    def matches(self, device: str, zone: str, cam: int | None) -> bool:
        """Whether a detection by ``device``'s camera ``cam`` (``None``: not said) in ``zone`` is this source's."""
        return device == self.device and zone == self.zone and (self.cam is None or cam is None or cam == self.cam)


def _bare_kind_schema(schema: dict[str, Any]) -> None:
    """The JSON Schema says what ``_bare_kind`` accepts: a driver section, or the name of a kind needing none."""
    bare = []
    for kind, model in sorted(DRIVER_CONFIGS.items()):
        try:
            model.model_validate({"kind": kind})
        except ValidationError:
            continue
        bare.append(kind)
    section = {key: schema.pop(key) for key in ("oneOf", "discriminator") if key in schema}
    schema["anyOf"] = [section, {"type": "string", "enum": bare, "description": "A kind that needs no settings."}]


class LightingConfig(_Section):
    """The light role of a box (``lighting:``); see the module docstring and ``docs`` for a YAML example.

    Attributes:
        driver: The luminaires' driver section, of a kind in :data:`~vigie_config.drivers.DRIVER_CONFIGS`.
        luminaires: The cabinet's luminaires, at most 200.
        lat: Latitude of the node, for its astro clock (default: Dijon).
        lon: Longitude of the node.
        tz: IANA time zone of the programs' clock times.
        calendar: Entries in priority order, the first valid one wins (holidays above weekdays); the default
            calendar, replaced by one the centre sends until the centre reverts it.
        presence: Neighbour camera zones and the groups they boost.
        cabinet: The cabinet's controller and meter on Modbus TCP (see :mod:`.cabinet`).
        night_floor_pct: Lowest non-zero level at night: a 5 % step is taken for a typo of 50 and raised to it.
        failsafe_ramp_s: Ramp of fail-safe and fallback decisions (the lights come back within it).
        occupancy_max_s: How long an ``occupancy`` report that never clears keeps its zone's boost alive (a
            camera that died with someone in view must not keep a street at 100 % all night).
        state_file: Where the node keeps overrides and commanded calendars across restarts.
        decision_interval_s: How often the node decides and drives the gear.
        telemetry_interval_s: How often it reports levels, energy and faults.
    """

    driver: DriverConfig = Field(
        default_factory=SimulatedDriverConfig,
        description="The luminaires' driver: a mapping with its kind and settings, or just the kind when it needs "
        "none (`simulated`).",
        json_schema_extra=_bare_kind_schema,
    )
    luminaires: tuple[LuminaireConfig, ...] = Field(
        min_length=1, max_length=MAX_LUMINAIRES, description="The cabinet's luminaires, at most 200."
    )
    cabinet: CabinetConfig | None = Field(
        None, description="The cabinet's Modbus controller and meter, polled whatever the luminaires' driver."
    )
    lat: float = Field(DIJON_LAT, ge=-90, le=90, description="Latitude of the node, for its astro clock.")
    lon: float = Field(DIJON_LON, ge=-180, le=180, description="Longitude of the node, for its astro clock.")
    tz: str = Field(DIJON_TZ, description="IANA time zone of the programs' clock times.")
    calendar: tuple[CalendarEntry, ...] = Field(
        min_length=1, max_length=64,
        description="Entries in priority order, the first valid one wins (holidays above weekdays); replaced by a "
        "calendar the centre sends until the centre reverts it.",
    )
    presence: tuple[PresenceSourceConfig, ...] = Field(
        default=(), max_length=64, description="Neighbour camera zones and the groups they boost."
    )
    night_floor_pct: float = Field(
        10.0, ge=0, le=100, description="Lowest non-zero level at night (a 5 % step is taken for a typo of 50)."
    )
    failsafe_ramp_s: float = Field(60.0, ge=0, le=3600, description="Ramp of fail-safe and fallback decisions.")
    occupancy_max_s: float = Field(
        900.0, gt=0, le=86_400, description="How long an occupancy report that never clears keeps its boost alive."
    )
    state_file: Path = Field(
        Path("/var/lib/vigie/lighting-state.json"),
        description="Where the node keeps overrides and commanded calendars across restarts (relative: to the "
        "config file).",
    )
    decision_interval_s: float = Field(
        1.0, ge=0.1, le=60, description="How often the node decides and drives the gear, in seconds."
    )
    telemetry_interval_s: float = Field(
        60.0, ge=1, le=3600, description="How often the node reports levels, energy and faults, in seconds."
    )

    @field_validator("driver", mode="before")
    @classmethod
    def _bare_kind(cls, value: Any) -> Any:
        """``driver: simulated`` is short for ``driver: {kind: simulated}``."""
        return {"kind": value} if isinstance(value, str) else value

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. {DIJON_TZ!r})") from exc
        return value

    @field_validator("calendar", mode="before")
    @classmethod
    def _quoted_times(cls, value: Any) -> Any:
        """Refuse clock times that YAML turned into numbers: unquoted ``22:00`` is read as 1320 (base 60)."""
        _check_clock_times(value, "calendar")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = check_lighting(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def zone(self) -> dt.tzinfo:
        """The node's time zone."""
        return ZoneInfo(self.tz)

    def specs(self) -> list[LuminaireSpec]:
        """Nameplates in config order, for :func:`~edge_agent.lighting.drivers.build_driver`."""
        return [lum.spec() for lum in self.luminaires]

    def groups(self) -> frozenset[str]:
        """Every group some luminaire of the cabinet is in."""
        return frozenset(g for lum in self.luminaires for g in lum.groups)


def _check_clock_times(value: Any, path: str) -> None:
    """Raise if a ``at`` or ``window`` value under ``value`` is a number (see :meth:`LightingConfig._quoted_times`)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}"
            times = item if key == "window" and isinstance(item, list | tuple) else [item] if key == "at" else []
            if any(isinstance(t, int | float) and not isinstance(t, bool) for t in times):
                raise ValueError(
                    f"{here}: clock times must be quoted strings such as '22:00' (YAML reads an unquoted 22:00 as "
                    f"the number 1320), got {item!r}"
                )
            _check_clock_times(item, here)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_clock_times(item, f"{path}.{i}")


def check_lighting(cfg: LightingConfig) -> list[str]:
    """What makes ``cfg`` unusable although each field is valid, as ``field: reason`` lines (empty when fine).

    Run by the model itself and again by :func:`edge_agent.lighting.build.build_engine`, since
    ``model_copy(update=...)`` and ``model_construct`` skip validation.
    """
    problems: list[str] = []
    ids = [lum.id for lum in cfg.luminaires]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(f"luminaires: duplicate luminaire ids: {', '.join(dupes)}")
    if len(ids) > MAX_LUMINAIRES:
        problems.append(f"luminaires: {len(ids)} luminaires, a cabinet drives at most {MAX_LUMINAIRES}")
    known = cfg.groups()
    names = [e.name for e in cfg.calendar]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"calendar: duplicate entry names: {', '.join(dupes)}")
    for i, entry in enumerate(cfg.calendar):
        unknown = sorted((entry.groups or frozenset()) - known)
        if unknown:
            problems.append(f"calendar.{i}.groups: no luminaire is in group(s) {', '.join(unknown)} ({entry.name})")
    uncovered = [
        lum.id
        for lum in cfg.luminaires
        if not any(e.groups is None or not e.groups.isdisjoint(lum.groups) for e in cfg.calendar)
    ]
    if uncovered:
        problems.append(
            f"calendar: no entry for luminaire(s) {', '.join(uncovered[:10])} (they would only ever fail safe)"
        )
    problems += _check_circuits(cfg)
    keys = [src.key for src in cfg.presence]
    for i, src in enumerate(cfg.presence):
        unknown = sorted(set(src.groups) - known)
        if unknown:
            problems.append(f"presence.{i}.groups: no luminaire is in group(s) {', '.join(unknown)}")
        if keys.count(src.key) > 1 and keys.index(src.key) != i:
            problems.append(f"presence.{i}: duplicate source {src.key} (list its groups once)")
    return problems


def _check_circuits(cfg: LightingConfig) -> list[str]:
    """The cabinet's circuits feed luminaires of this node, each at most once; the contactor driver needs them all."""
    problems: list[str] = []
    known = {lum.id for lum in cfg.luminaires}
    circuits = cfg.cabinet.circuits if cfg.cabinet is not None else ()
    fed: dict[str, str] = {}
    for i, circuit in enumerate(circuits):
        if unknown := [lum for lum in circuit.luminaires if lum not in known]:
            problems.append(f"cabinet.circuits.{i}.luminaires: unknown luminaire(s) {', '.join(unknown)}")
        for lum in circuit.luminaires:
            if lum in fed:
                problems.append(f"cabinet.circuits.{i}.luminaires: {lum} is already on circuit {fed[lum]}")
            fed[lum] = circuit.id
    if cfg.driver.kind == "contactor":
        if cfg.cabinet is None or cfg.cabinet.controller is None:
            problems.append("driver: the contactor driver needs lighting.cabinet with a controller")
        elif off := [lum.id for lum in cfg.luminaires if lum.id not in fed]:
            problems.append(f"driver: the contactor driver switches circuits; on no circuit: {', '.join(off[:10])}")
    return problems


def build_calendar(cfg: LightingConfig) -> Calendar:
    """The config's calendar as the engine's :class:`~vigie_config.calendar.Calendar`.

    Raises:
        ConfigError: The entries do not make a calendar (duplicate names), naming ``calendar``.
    """
    try:
        return Calendar(entries=tuple(cfg.calendar))
    except ValidationError as exc:
        raise ConfigError(f"lighting.calendar: {exc}") from exc
