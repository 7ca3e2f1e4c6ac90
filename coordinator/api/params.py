"""Numbers the API takes from clients: ids, timestamps, offsets and cursors, bounded before any query.

Why one module: a number that reaches the database unchecked can be wider than its column (SQLite raises
``OverflowError`` past 64 bits), and ``str.isdigit`` or ``int`` accept more than ASCII digits (``"²"``,
``"٣"``). Every path id, query integer, body id and stream cursor goes through the types and parsers here,
so the bounds written in the OpenAPI document are the bounds the code checks.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from werkzeug.routing import BaseConverter

#: Largest stored id: ids are SQL ``BIGINT`` (signed 64 bits).
MAX_ID = 2**63 - 1
#: Largest timestamp in ms: 9999-12-31T23:59:59.999Z, the last instant a calendar date can name.
MAX_MS = 253_402_300_799_999
#: Largest page offset: deeper pages are not browsed, they are filtered.
MAX_OFFSET = 1_000_000

_DIGITS = re.compile(r"[0-9]{1,19}")


def positive_at_most(limit: int) -> str:
    """A regular expression matching exactly the decimal numbers 1..``limit``, without leading zeros.

    A route converter must refuse out-of-range ids by its pattern, not in ``to_python``: Werkzeug checks a
    rule's methods before its converters, so an id refused late on one method's rule is answered 405 from
    a sibling rule of another method instead of 404.
    """
    top = str(limit)
    shorter = f"[1-9][0-9]{{0,{len(top) - 2}}}" if len(top) > 1 else None
    same: list[str] = []
    for i, digit in enumerate(top):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            rest = len(top) - i - 1
            same.append(f"{top[:i]}[{low}-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    same.append(top)
    return "|".join(([shorter] if shorter else []) + same)


def parse_digits(text: str, low: int, high: int) -> int | None:
    """``text`` as an integer in ``[low, high]`` if it is 1-19 ASCII digits and nothing else, else None."""
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _ascii_integer(value: Any) -> Any:
    """Text given for an integer must be ASCII digits (a sign allowed): no ``"²"``, ``"1_000"`` or ``" 12"``."""
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,19}", value):
        raise ValueError("must be an integer written with ASCII digits (at most 19)")
    return value


AsciiInteger = BeforeValidator(_ascii_integer)
#: A stored id (path, query or body).
Id = Annotated[int, AsciiInteger, Field(ge=1, le=MAX_ID)]
#: A time in ms since the Unix epoch.
Millis = Annotated[int, AsciiInteger, Field(ge=0, le=MAX_MS)]
#: A page offset.
Offset = Annotated[int, AsciiInteger, Field(ge=0, le=MAX_OFFSET)]


class IdConverter(BaseConverter):
    """``<id:name>`` in a route: ASCII digits from 1 to :data:`MAX_ID`; anything else matches no route (404).

    Werkzeug's ``int`` converter matches ``\\d+``, which takes any Unicode digit and any length.
    """

    regex = f"(?:{positive_at_most(MAX_ID)})"
    part_isolating = True

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


#: Largest id of the tables keyed by a 32-bit integer (users, tokens, requisitions): PostgreSQL compares a bound
#: id as that column's type, so a larger one is refused by the route, as a 404, before any query.
MAX_ID32 = 2**31 - 1


class Id32Converter(IdConverter):
    """``<id32:name>``: as ``<id:name>``, up to :data:`MAX_ID32`, for ids of 32-bit integer columns."""

    regex = f"(?:{positive_at_most(MAX_ID32)})"


class TextConverter(BaseConverter):
    """The default ``<name>`` converter without NUL characters (``%00``), which PostgreSQL cannot compare."""

    regex = "[^/\\x00]+"
    part_isolating = True
