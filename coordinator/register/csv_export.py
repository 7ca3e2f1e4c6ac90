"""The register as CSV (one header row, one row per entry, hashes included so a copy can be re-verified)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from .chain import Entry

COLUMNS = ("seq", "at_utc", "at_ms", "kind", "actor", "camera", "procedure", "subject", "detail", "prev", "hash")


def utc(at_ms: int) -> str:
    """ISO 8601 UTC to the millisecond, as the printable page and the CSV show times."""
    return datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rows(entries: Iterable[Entry]) -> Iterable[list[str]]:
    yield list(COLUMNS)
    for e in entries:
        yield [str(e.seq), utc(e.at_ms), str(e.at_ms), e.kind, e.actor, e.camera or "", e.procedure or "",
               e.subject or "", e.detail or "", e.prev, e.hash]


def write_csv(out: TextIO, entries: Iterable[Entry]) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows(entries):
        writer.writerow(row)
