"""A light node's engine built from its config section: the calendar, the sun clock at its coordinates, the rules.

The section and its checks are the shared box configuration (:mod:`vigie_config.lighting`); what decides levels,
and the astronomical clock it needs, are the box's.
"""

from __future__ import annotations

import datetime as dt

from vigie_config.calendar import SunFn
from vigie_config.errors import ConfigError
from vigie_config.lighting import LightingConfig, build_calendar, check_lighting

from .astro import night_window
from .control import EngineState, LightingEngine


def astro_sun(cfg: LightingConfig) -> SunFn:
    """The node's sun clock: (sunset, next sunrise) of a local date, at its coordinates, from :mod:`.astro`."""
    zone = cfg.zone

    def sun(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        on, off = night_window(day, cfg.lat, cfg.lon, zone)
        return on, off

    return sun


def build_engine(
    cfg: LightingConfig, sun_fn: SunFn | None = None, *, state: EngineState | None = None
) -> LightingEngine:
    """The engine of a light node.

    Args:
        cfg: The light section.
        sun_fn: The sun clock; ``None``: :func:`astro_sun` at the node's coordinates.
        state: A persisted state to resume from; its calendar, if any (one the centre sent), wins over the
            config's; without one, the config's calendar is followed.

    Raises:
        ConfigError: An inconsistent config; the message names the field (``lighting.<field>: reason``).
    """
    problems = check_lighting(cfg)
    if problems:
        raise ConfigError("\n".join(f"lighting.{p}" for p in problems))
    calendar = build_calendar(cfg)
    if state is None:
        state = EngineState(calendar=calendar)
    elif state.calendar is None:
        state = state.model_copy(update={"calendar": calendar})
    return LightingEngine(
        {lum.id: lum.groups for lum in cfg.luminaires},
        sun_fn or astro_sun(cfg),
        cfg.zone,
        state=state,
        min_night_level=cfg.night_floor_pct,
        failsafe_ramp_s=cfg.failsafe_ramp_s,
        presence_sources={src.key: src.groups for src in cfg.presence},
    )
