"""Time partitions of the tables that grow with time (PostgreSQL): their layout, and which ranges to add or drop.

Pure: ranges are ``[start, end)`` in integer milliseconds since the epoch, like the rows' time columns, cut at
UTC days or months. :mod:`coordinator.storage.partitions` does the DDL; ``docs/storage.md`` says why these tables,
these granularities and this job rather than ``pg_partman``.

- ``events`` (raw events, retention-limited): one partition per UTC day. At the city's rate (115 cameras at the
  recorded footage's ~290 events per minute) a day is ~20-50 million rows, a few GB: the unit the retention job
  drops, and small enough that a day's indexes stay in memory while it is being written.
- ``analytics_counts`` and ``analytics_occupancy`` (kept for years): one partition per UTC month, ~20-40
  million rows at the city's rate; the analytics routes' windows (1 h to 390 days) touch 1 to 14 of them.

``telemetry`` and ``light_meters`` hold the latest row per device or luminaire: they do not grow with time and
are not partitioned. ``energy_hourly`` grows by ~3,000 rows a day for the whole city: not worth it either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Span = Literal["day", "month"]
Range = tuple[int, int]

DAY_MS = 86_400_000
#: Rows timed before this (a box clock at zero, a bad replay) go to the default partition, not to one of their own.
EARLIEST_MS = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True)
class TimeLayout:
    """How one table is partitioned on PostgreSQL.

    ``key`` is its primary key there: PostgreSQL requires the partition column in every unique constraint of a
    partitioned table. ``plain_key`` is the key of the unpartitioned table (SQLite, and before migration 0004).
    ``indexes`` are the table's secondary indexes (name, columns), created on the parent, hence on every
    partition. ``ahead`` is how many spans past the current one are kept ready.
    """

    table: str
    column: str
    span: Span
    ahead: int
    key: tuple[str, ...]
    plain_key: tuple[str, ...]
    indexes: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def default(self) -> str:
        """The partition of rows no range holds: they are kept, never refused."""
        return f"{self.table}_default"


EVENTS = TimeLayout(
    "events", "ts_ms", "day", ahead=7,
    key=("device_id", "boot", "n", "ts_ms"), plain_key=("device_id", "boot", "n"),
    indexes=(("ix_events_ts", ("ts_ms",)), ("ix_events_site_ts", ("site", "ts_ms"))))
_COUNT_KEY = ("site", "device_id", "cam", "target", "cls", "minute_ms")
COUNTS = TimeLayout(
    "analytics_counts", "minute_ms", "month", ahead=2, key=_COUNT_KEY, plain_key=_COUNT_KEY,
    indexes=(("ix_analytics_counts_minute", ("minute_ms",)),
             ("ix_analytics_counts_device_minute", ("device_id", "minute_ms"))))
_OCC_KEY = ("site", "device_id", "cam", "zone", "cls", "minute_ms")
OCCUPANCY = TimeLayout(
    "analytics_occupancy", "minute_ms", "month", ahead=2, key=_OCC_KEY, plain_key=_OCC_KEY,
    indexes=(("ix_analytics_occupancy_minute", ("minute_ms",)),
             ("ix_analytics_occupancy_device_minute", ("device_id", "minute_ms"))))

LAYOUTS: tuple[TimeLayout, ...] = (EVENTS, COUNTS, OCCUPANCY)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _ms(d: datetime) -> int:
    return int(d.timestamp() * 1000)


def span_start(ms: int, span: Span) -> int:
    """Start of the UTC day or month holding ``ms``."""
    if span == "day":
        return ms - ms % DAY_MS
    d = _utc(ms)
    return _ms(datetime(d.year, d.month, 1, tzinfo=UTC))


def span_after(start: int, span: Span) -> int:
    """Start of the span following the one starting at ``start``."""
    if span == "day":
        return start + DAY_MS
    d = _utc(start)
    return _ms(datetime(d.year + d.month // 12, d.month % 12 + 1, 1, tzinfo=UTC))


def span_range(ms: int, span: Span) -> Range:
    start = span_start(ms, span)
    return start, span_after(start, span)


def partition_name(layout: TimeLayout, start: int) -> str:
    """``events_p20261207``, ``analytics_counts_p202612``: sortable, and the range is readable in ``\\d+``."""
    fmt = "%Y%m%d" if layout.span == "day" else "%Y%m"
    return f"{layout.table}_p{_utc(start).strftime(fmt)}"


def ranges_ahead(layout: TimeLayout, now_ms: int) -> list[Range]:
    """The current span and ``layout.ahead`` spans after it."""
    out = [span_range(now_ms, layout.span)]
    for _ in range(layout.ahead):
        out.append((out[-1][1], span_after(out[-1][1], layout.span)))
    return out


def missing(layout: TimeLayout, existing: Iterable[Range], now_ms: int) -> list[Range]:
    """Ranges to create so that the current span and the ones ahead exist (none that overlaps an existing one)."""
    have = list(existing)
    return [r for r in ranges_ahead(layout, now_ms) if not any(s < r[1] and r[0] < e for s, e in have)]


def expired(existing: Iterable[Range], cutoff_ms: int) -> list[Range]:
    """Ranges whose every row is older than ``cutoff_ms``: dropped whole by retention, oldest first."""
    return sorted(r for r in existing if r[1] <= cutoff_ms)


def ranges_for_rows(layout: TimeLayout, days: Iterable[int], now_ms: int) -> list[Range]:
    """Ranges for existing rows (given as UTC day numbers, ``ms // DAY_MS``) plus those ahead of ``now_ms``.

    Rows before :data:`EARLIEST_MS` or past the last range ahead get no range of their own: the default partition
    holds them (a wrong clock must not create partitions decades away).
    """
    ahead = ranges_ahead(layout, now_ms)
    horizon = ahead[-1][1]
    out = set(ahead)
    for day in days:
        ms = day * DAY_MS
        if EARLIEST_MS <= ms < horizon:
            out.add(span_range(ms, layout.span))
    return sorted(out)


_BOUND = re.compile(r"FOR VALUES FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


def parse_bound(expr: str) -> Range | None:
    """``pg_get_expr(relpartbound)`` of a range partition as a range; ``None`` for ``DEFAULT``."""
    m = _BOUND.fullmatch(expr.strip())
    if m is None:
        if expr.strip() == "DEFAULT":
            return None
        raise ValueError(f"not a range partition bound: {expr!r}")
    return int(m.group(1)), int(m.group(2))


_PARTITION = re.compile(r"(?P<table>[a-z_]+)_(?:p\d{6}|p\d{8}|default)")


def is_partition(name: str) -> bool:
    """Whether ``name`` is one of the partitions made here (schema comparisons look at parents only)."""
    m = _PARTITION.fullmatch(name)
    return m is not None and m.group("table") in {layout.table for layout in LAYOUTS}
