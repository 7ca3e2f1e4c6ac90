"""Time windows and buckets of the analytics API: minute, hour, or local day.

Days are Dijon's days (Europe/Paris), not UTC's: a "Monday" on a dashboard runs from local midnight to midnight,
and one day a year has 23 hours, another 25. Hours and minutes are plain UTC divisions (every offset of the zone
is a whole number of hours).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

Bucket = Literal["minute", "hour", "day"]
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
WINDOWS_MS = {"1h": HOUR_MS, "24h": 24 * HOUR_MS, "7d": 7 * 24 * HOUR_MS, "30d": 30 * 24 * HOUR_MS}
DEFAULT_TZ = ZoneInfo("Europe/Paris")

T = TypeVar("T")


def sql_bucket_ms(bucket: Bucket) -> int:
    """The bucket the database groups by: days are folded from hours afterwards (see :func:`fold_days`)."""
    return MINUTE_MS if bucket == "minute" else HOUR_MS


def local_day_start(ts_ms: int, tz: dt.tzinfo = DEFAULT_TZ) -> int:
    """Start, in ms since the epoch, of the local day containing ``ts_ms``."""
    local = dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).astimezone(tz)
    midnight = dt.datetime.combine(local.date(), dt.time(0), tzinfo=tz)
    return int(midnight.timestamp() * 1000)


def window(start_ms: int | None, end_ms: int | None, span: str, now_ms: int) -> tuple[int, int]:
    """``[start, end)``: as given, or the ``span`` (``24h``, ``7d``...) ending at ``end`` (default: now)."""
    end = now_ms if end_ms is None else end_ms
    start = end - WINDOWS_MS[span] if start_ms is None else start_ms
    return start, end


def fold_days(rows: Iterable[T], key: Callable[[T], tuple[object, ...]], t: Callable[[T], int],
              merge: Callable[[T, T], T], retime: Callable[[T, int], T], tz: dt.tzinfo = DEFAULT_TZ) -> list[T]:
    """Merge hourly rows into local-day rows with the same ``key``, in time order."""
    out: dict[tuple[object, ...], T] = {}
    for row in rows:
        day = local_day_start(t(row), tz)
        k = (day, *key(row))
        out[k] = merge(out[k], retime(row, day)) if k in out else retime(row, day)
    return [out[k] for k in sorted(out, key=lambda k: (k[0], [str(x) for x in k[1:]]))]
