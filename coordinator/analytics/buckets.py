"""Time windows and buckets of the analytics API: minute, hour, or local day.

Days are Dijon's days (Europe/Paris), not UTC's: a "Monday" on a dashboard runs from local midnight to midnight,
and one day a year has 23 hours, another 25. Hours and minutes are plain UTC divisions (every offset of the zone
is a whole number of hours).

Every bucket is computed by the database (``GROUP BY``), days included: a year of the city's energy is a million
hourly rows, too many to fetch and fold in Python. SQLite knows no time zones, so days are planned here as
:class:`DayRun` pieces of the window (runs of whole 24-hour days at one UTC offset, and the days on which the
offset changes, each on its own) that both databases evaluate with integer arithmetic (:func:`day_runs`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

Bucket = Literal["minute", "hour", "day"]
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WINDOWS_MS = {"1h": HOUR_MS, "24h": 24 * HOUR_MS, "7d": 7 * 24 * HOUR_MS, "30d": 30 * 24 * HOUR_MS}
#: Longest window served by hour (the ``7d`` window, and a day of margin for a week given by ``from``/``to``):
#: beyond it, ``bucket=hour`` is answered by local day and the response says so. A week of the city's energy by
#: hour is ~20,000 rows; a month would be 85,000, a year a million, more than a chart can show.
HOUR_BUCKETS_MAX_MS = 8 * DAY_MS
DEFAULT_TZ = ZoneInfo("Europe/Paris")

T = TypeVar("T")


def sql_bucket_ms(bucket: Bucket) -> int:
    """The fixed length of a minute or hour bucket (days are :func:`day_runs`)."""
    return MINUTE_MS if bucket == "minute" else HOUR_MS


def served_bucket(bucket: Bucket, start_ms: int, end_ms: int) -> Bucket:
    """The bucket a window is served in: hours over more than :data:`HOUR_BUCKETS_MAX_MS` become days."""
    return "day" if bucket == "hour" and end_ms - start_ms > HOUR_BUCKETS_MAX_MS else bucket


class DayRun(NamedTuple):
    """Times ``[start_ms, end_ms)`` whose local day start is ``start_ms + (t - start_ms) // 86,400,000 days``
    (``whole``: whole 24-hour days at one offset) or ``start_ms`` itself (a day of 23 or 25 hours)."""

    start_ms: int
    end_ms: int
    whole: bool

    def day_of(self, ts_ms: int) -> int:
        """The local day start of ``ts_ms`` (in this run), as the database computes it."""
        return self.start_ms + (ts_ms - self.start_ms) // DAY_MS * DAY_MS if self.whole else self.start_ms


def _offset_ms(ts_ms: int, tz: dt.tzinfo) -> int:
    off = dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).astimezone(tz).utcoffset()
    return int(off.total_seconds() * 1000) if off is not None else 0


def day_runs(start_ms: int, end_ms: int, tz: dt.tzinfo = DEFAULT_TZ) -> tuple[DayRun, ...]:
    """The local days covering ``[start_ms, end_ms)``, as runs the database can bucket without a time zone.

    A day is whole when it lasts 24 hours at one offset; consecutive whole days at the same offset share a run.
    About 3 runs a year in Europe/Paris (the two days the clocks change stand alone).
    """
    runs: list[DayRun] = []
    day = local_day_start(start_ms, tz)
    while day < end_ms:
        nxt = local_day_start(day + DAY_MS + 12 * HOUR_MS, tz)  # days last 23 to 25 hours
        whole = nxt - day == DAY_MS and _offset_ms(day, tz) == _offset_ms(nxt - 1, tz)
        last = runs[-1] if runs else None
        if whole and last is not None and last.whole and last.end_ms == day \
                and _offset_ms(last.start_ms, tz) == _offset_ms(day, tz):
            runs[-1] = last._replace(end_ms=nxt)
        else:
            runs.append(DayRun(day, nxt, whole))
        day = nxt
    return tuple(runs)


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
