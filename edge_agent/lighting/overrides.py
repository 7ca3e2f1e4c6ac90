"""Operator overrides (TALQ override command): validation, and which one is in force for a luminaire.

A command carries a level (``None``: cancel, back to the program), ramp times, an optional start and an
expiry. Commands are ordered by their issuer's sequence ``cseq``, never by arrival: MQTT redelivers and
two paths (a group topic and a device topic) can swap two commands, and the operator's last word must win.

Everything here is a function of values; the engine in :mod:`.control` holds the accepted commands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vigie_config.calendar import Level, Ramp
from vigie_wire.messages import AckResult
from vigie_wire.schema import ID_PATTERN

Scope = Literal["luminaire", "group"]

#: Why a command is refused: each is also the :class:`~vigie_wire.messages.AckResult` code of its ack.
RejectReason = Literal["stale", "expired", "duplicate", "invalid"]

#: Same alphabet as :class:`vigie_wire.messages.Command`'s ``cmd_id``.
CMD_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class OverrideCommand(BaseModel):
    """An accepted override, as the node keeps it (and persists it) until it expires.

    ``start`` and ``expires`` may be given as aware datetimes or, as on the wire, integer milliseconds since
    the Unix epoch. A cancel (``level=None``) is kept too, until its expiry, as a tombstone: without it an
    older command arriving late from another issuer would revive the override the operator just cancelled.

    Attributes:
        issuer: Who sent it (the command header's ``dev``); sequences are compared per issuer.
        cseq: The issuer's command sequence (its clock in ms, so comparable between issuers as time).
        scope: Whether ``target`` is a luminaire id or a group name.
        ramp_up_s: Ramp when the override raises the level.
        ramp_down_s: Ramp when the override lowers it.
        start: When it takes effect; ``None``: as soon as accepted.
        expires: When it stops being in force (and the latest it may be accepted).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cmd_id: str = Field(pattern=CMD_ID_PATTERN)
    issuer: str = Field(min_length=1, max_length=64)
    cseq: int = Field(ge=0, le=2**64 - 1)
    scope: Scope
    target: str = Field(pattern=f"^{ID_PATTERN.pattern}$")
    level: Level | None = None
    ramp_up_s: Ramp = 0.0
    ramp_down_s: Ramp = 0.0
    start: AwareDatetime | None = None
    expires: AwareDatetime

    @field_validator("start", "expires", mode="before")
    @classmethod
    def _from_epoch_ms(cls, value: Any) -> Any:
        """Wire times are ms since the epoch; pydantic would guess seconds or ms from the magnitude."""
        if isinstance(value, int) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value / 1000.0, dt.UTC)
        return value

    @model_validator(mode="after")
    def _starts_before_expiry(self) -> Self:
        if self.start is not None and self.start >= self.expires:
            raise ValueError(f"start {self.start} is not before expiry {self.expires}")
        return self

    @property
    def order(self) -> tuple[int, str]:
        """Sort key of "more recent": the sequence, then the issuer so that ties are still decided."""
        return (self.cseq, self.issuer)

    def in_force(self, now: dt.datetime) -> bool:
        """Whether this command sets the level at ``now`` (a cancel never does)."""
        return self.level is not None and (self.start is None or self.start <= now) and now < self.expires


@dataclass(frozen=True)
class Accepted:
    """A valid, fresh command: apply it, and acknowledge with :attr:`result`."""

    command: OverrideCommand
    result: str = AckResult.APPLIED


@dataclass(frozen=True)
class Rejected:
    """A command not applied; ``reason`` is the ack result code, ``detail`` the human-readable why."""

    reason: RejectReason
    detail: str

    @property
    def result(self) -> str:
        """The :class:`~vigie_wire.messages.AckResult` code to acknowledge with."""
        return self.reason


def accept(
    fields: Mapping[str, Any],
    last_seq_by_issuer: Mapping[str, int],
    now: dt.datetime,
    *,
    applied: Collection[str] = (),
) -> Accepted | Rejected:
    """Validate an override command against what the node has already seen; pure, never raises.

    Checks in this order, so that the ack tells the issuer the most useful thing: ``invalid`` (fields),
    ``duplicate`` (a redelivery of a command already applied: the issuer may count it as done), ``stale``
    (a sequence not newer than the last accepted from the same issuer), ``expired`` (expiry <= now).

    Args:
        fields: The command's fields (see :class:`OverrideCommand`).
        last_seq_by_issuer: Highest accepted ``cseq`` per issuer.
        now: Aware current time.
        applied: Ids of the commands already applied.
    """
    try:
        command = OverrideCommand.model_validate(dict(fields))
    except (ValidationError, TypeError, ValueError) as exc:
        return Rejected("invalid", _short(exc))
    if command.cmd_id in applied:
        return Rejected("duplicate", f"command {command.cmd_id!r} was already applied")
    last = last_seq_by_issuer.get(command.issuer)
    if last is not None and command.cseq <= last:
        detail = f"cseq {command.cseq} is not newer than {last}, the last from {command.issuer!r}"
        return Rejected("stale", detail)
    if command.expires <= now:
        return Rejected("expired", f"expired at {command.expires.isoformat()}")
    return Accepted(command)


def fresh(
    cmd_id: str,
    issuer: str,
    cseq: int,
    expires: dt.datetime,
    last_seq_by_issuer: Mapping[str, int],
    now: dt.datetime,
    applied: Collection[str] = (),
) -> Rejected | None:
    """The duplicate / stale / expired checks of :func:`accept`, for commands that are not overrides."""
    if cmd_id in applied:
        return Rejected("duplicate", f"command {cmd_id!r} was already applied")
    last = last_seq_by_issuer.get(issuer)
    if last is not None and cseq <= last:
        return Rejected("stale", f"cseq {cseq} is not newer than {last}, the last from {issuer!r}")
    if expires <= now:
        return Rejected("expired", f"expired at {expires.isoformat()}")
    return None


def _short(exc: Exception) -> str:
    """A one-line reason that fits an ack's 512-character ``detail``."""
    if isinstance(exc, ValidationError):
        text = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'command'}: {e['msg']}" for e in exc.errors())
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:500]


def relevant(overrides: Iterable[OverrideCommand], lum_id: str, groups: frozenset[str]) -> list[OverrideCommand]:
    """The commands that target luminaire ``lum_id`` directly or through one of its ``groups``."""
    return [
        o
        for o in overrides
        if (o.scope == "luminaire" and o.target == lum_id) or (o.scope == "group" and o.target in groups)
    ]


def winner(overrides: Iterable[OverrideCommand], now: dt.datetime) -> OverrideCommand | None:
    """Which of one luminaire's relevant commands sets its level at ``now``, if any.

    A luminaire-level override beats any group override (the operator aimed at this very lamp); between
    group overrides, the more recent by sequence wins.
    """
    live = [o for o in overrides if o.in_force(now)]
    own = [o for o in live if o.scope == "luminaire"]
    return max(own or live, key=lambda o: o.order, default=None)


def upcoming(overrides: Iterable[OverrideCommand], now: dt.datetime) -> list[dt.datetime]:
    """Instants after ``now`` when one of these commands starts or ends: the level may change then."""
    times = [o.expires for o in overrides] + [o.start for o in overrides if o.start is not None]
    return sorted(t for t in times if t > now)
