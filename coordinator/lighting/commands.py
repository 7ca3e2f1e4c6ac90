"""Lighting commands as values: where they go, what they say, and how their acknowledgements add up.

A command is addressed in one of four scopes:

========  =========================================================  =============================
scope     topic(s)                                                   ``Command.target``
========  =========================================================  =============================
group     ``vigie/v1/<site>/group/<group>/cmd``                       ``<group>``
commune   ``vigie/v1/<site>/group/commune-<site>/cmd``                ``commune-<site>``
city      ``vigie/v1/<site>/group/city/cmd`` for every lit commune    ``city``
device    ``vigie/v1/<site>/<device>/cmd`` (args name lum or group)    ``<device>``
========  =========================================================  =============================

``commune-<site>`` and ``city`` are groups every light node is in without configuring them
(:mod:`vigie_config.groups`); a group named so is the commune or city scope, whatever scope was asked.

``cseq`` is the issuer's command sequence: it must grow for every command of the issuer, across restarts and the
app's processes, and nodes order overrides by it ("last command wins"). It follows the clock in milliseconds, and
goes one past the last one when two commands share a millisecond or the clock stepped back.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import vigie_wire as wire
from vigie_config.commands import CALENDAR_COMMAND, OVERRIDE_COMMAND
from vigie_config.groups import CITY_GROUP, COMMUNE_PREFIX, commune_group

Scope = Literal["group", "commune", "city", "device"]

__all__ = [
    "CALENDAR_COMMAND",
    "OVERRIDE_COMMAND",
    "AckRow",
    "AckSummary",
    "Address",
    "Scope",
    "StoredCommand",
    "address",
    "new_cmd_id",
    "next_cseq",
    "override_args",
    "summarise_acks",
    "to_wire",
]

#: Site of city-wide commands and calendars (storage key; never a commune slug).
CITY = "*"


@dataclass(frozen=True)
class Address:
    """Where a command goes: its scope, commune (``*`` for the city), and wire target (a group or a device)."""

    scope: Scope
    site: str
    target: str

    @property
    def group(self) -> str | None:
        """The group of a group, commune or city command."""
        return None if self.scope == "device" else self.target

    def topics(self, device_site: str | None = None, lit_sites: Iterable[str] = ()) -> list[str]:
        """Command topics: one, except city-wide (one per commune in ``lit_sites``)."""
        if self.scope == "device":
            return [wire.device_topic(device_site or self.site, self.target, wire.Kind.CMD)]
        if self.scope == "city":
            return [wire.group_command_topic(s, CITY_GROUP) for s in sorted(set(lit_sites))]
        return [wire.group_command_topic(self.site, self.target)]


def address(scope: Scope, site: str | None = None, group: str | None = None, device: str | None = None) -> Address:
    """Normalise what a caller asked into an :class:`Address`.

    Raises:
        ValueError: A scope without what it needs (a group without a site...), or a commune group of another site.
    """
    if scope == "group" and group == CITY_GROUP:
        scope = "city"
    elif scope == "group" and group is not None and group.startswith(COMMUNE_PREFIX):
        if site is not None and group != commune_group(site):
            raise ValueError(f"group {group!r} is the commune group of another site than {site!r}")
        scope, site = "commune", group[len(COMMUNE_PREFIX):]
    if scope == "city":
        return Address("city", CITY, CITY_GROUP)
    if scope == "device":
        if device is None:
            raise ValueError("a device command needs a device")
        return Address("device", site or "", device)  # the registry knows its site
    if site is None:
        raise ValueError(f"a {scope} command needs a site")
    if scope == "commune":
        return Address("commune", site, commune_group(site))
    if group is None:
        raise ValueError("a group command needs a group")
    return Address("group", site, group)


def next_cseq(last: int | None, now_ms: int) -> int:
    """The next command sequence: the clock, or one past ``last`` if the clock has not moved past it."""
    return now_ms if last is None or now_ms > last else last + 1


def new_cmd_id(name: str) -> str:
    """A unique command id, prefixed by its kind so logs and acks are readable (``ovr-...``, ``cal-...``)."""
    prefix = "ovr" if name == OVERRIDE_COMMAND else "cal" if name == CALENDAR_COMMAND else "cmd"
    return f"{prefix}-{secrets.token_hex(8)}"


def override_args(
    level: float | None,
    ramp_up_s: float,
    ramp_down_s: float,
    start_ms: int | None,
    lum: str | None = None,
    group: str | None = None,
) -> dict[str, Any]:
    """``args`` of a ``light.override`` (``lum`` or ``group`` only on a device's own topic).

    ``level`` ``None`` is an empty override: the target returns to its program.
    """
    args: dict[str, Any] = {"level": level, "ramp_up_s": ramp_up_s, "ramp_down_s": ramp_down_s}
    if start_ms is not None:
        args["start"] = start_ms
    if lum is not None:
        args["lum"] = lum
    if group is not None:
        args["group"] = group
    return args


@dataclass(frozen=True)
class StoredCommand:
    """A command as the coordinator keeps it (``light_commands``)."""

    cmd_id: str
    name: str
    scope: Scope
    site: str
    target: str
    issuer: str
    cseq: int
    created_ms: int
    expires_ms: int
    args: dict[str, Any]
    requested_by: str


def to_wire(cmd: StoredCommand, seq: int, now_ms: int) -> wire.Command:
    """The MQTT message of ``cmd``, with a header of the publishing session."""
    header = wire.Header(wire.SCHEMA_VERSION, cmd.issuer, 0, seq, now_ms)
    return wire.Command(header, cmd.target, cmd.cmd_id, cmd.cseq, cmd.expires_ms, cmd.name, dict(cmd.args))


@dataclass(frozen=True)
class AckRow:
    """What is known of one device's answer to a command."""

    device_id: str
    expected: bool
    result: str | None
    detail: str | None = None
    applied: Mapping[str, Any] | None = None
    ack_ms: int | None = None


@dataclass(frozen=True)
class AckSummary:
    """Where a command stands: ``pending`` before expiry with answers missing, else ``complete`` or ``partial``.

    ``by_result`` counts answers by result code, plus ``waiting`` (no answer yet, not expired) and ``no_answer``
    (a target that did not answer before the expiry).
    """

    state: Literal["pending", "complete", "partial"]
    expected: int
    by_result: dict[str, int]
    no_answer: list[str] = field(default_factory=list)


def summarise_acks(rows: Iterable[AckRow], expires_ms: int, now_ms: int) -> AckSummary:
    """Tally the answers; a target that did not answer before ``expires_ms`` will not apply the command."""
    counts: Counter[str] = Counter()
    silent: list[str] = []
    expected = 0
    expired = now_ms >= expires_ms
    for row in rows:
        expected += row.expected
        if row.result is not None:
            counts[row.result] += 1
        elif expired:
            counts["no_answer"] += 1
            silent.append(row.device_id)
        else:
            counts["waiting"] += 1
    if counts["waiting"]:
        state: Literal["pending", "complete", "partial"] = "pending"
    elif set(counts) <= {wire.AckResult.APPLIED, wire.AckResult.DUPLICATE}:
        state = "complete"
    else:
        state = "partial"
    return AckSummary(state, expected, dict(sorted(counts.items())), sorted(silent))
