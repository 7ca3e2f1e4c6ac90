"""Group calendars, validated by the same models the light nodes use.

A calendar the coordinator accepts is one every node accepts: both sides validate with
:class:`vigie_config.calendar.Calendar`. What is stored and pushed is the mapping as given (the node parses
it again), not a re-serialisation that could differ in details such as defaults.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from vigie_config.calendar import Calendar

__all__ = ["Calendar", "CalendarError", "entry_groups", "validate_calendar"]


class CalendarError(ValueError):
    """A calendar the nodes would refuse; ``details`` name each field at fault."""

    def __init__(self, message: str, details: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.details = details


def validate_calendar(calendar: Mapping[str, Any]) -> Calendar:
    """``calendar`` as the node will see it.

    Raises:
        CalendarError: Not a calendar, or one with no entry (a node would only ever fail safe on it).
    """
    try:  # strictly, as JSON: ``false`` is no offset, ``"5"`` no level (times and arrays parse as usual)
        parsed = Calendar.model_validate_json(json.dumps(dict(calendar)), strict=True)
    except ValidationError as exc:
        details = [{"field": "calendar." + ".".join(str(p) for p in e["loc"]), "reason": e["msg"]}
                   for e in exc.errors()]
        raise CalendarError("; ".join(f"{d['field']}: {d['reason']}" for d in details), details) from exc
    if not parsed.entries:
        raise CalendarError("calendar: no entry (the nodes would only ever fail safe)",
                            [{"field": "calendar.entries", "reason": "at least one entry"}])
    return parsed


def entry_groups(calendar: Calendar) -> list[str]:
    """Groups the calendar's entries name: luminaires outside them follow entries without groups only."""
    return sorted({g for e in calendar.entries for g in (e.groups or ())})
