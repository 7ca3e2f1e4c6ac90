"""Gap and duplicate logic for numbered streams (pure: numbers in, decisions out).

Two numberings are checked, with the same logic:

* messages, by ``seq`` within one MQTT connection of a device, ``(device, bdSeq)``;
* events, by ``n`` within one run of its agent, ``(device, boot)``.

A stream remembers the highest number seen (``last``, -1 before the first) and the holes
below it. A number above ``last`` moves the front and opens a hole if it skips some; a number
at or below ``last`` is either *late* (it fills a recorded hole: with several ingest workers a
device's messages can be committed out of order) or a *duplicate*. Nothing here does I/O, so
the rules are tested exhaustively without a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple


class Gap(NamedTuple):
    """Numbers ``first..last`` (inclusive) never received."""

    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class Advance:
    """What new, distinct numbers do to a stream whose highest number was ``previous``."""

    previous: int
    last: int
    gaps: list[Gap]
    late: list[int]

    @property
    def missing(self) -> int:
        return sum(g.size for g in self.gaps)


def advance(last: int, numbers: Iterable[int]) -> Advance:
    """Move the front of a stream past ``numbers`` (distinct, each seen for the first time).

    Numbers above ``last`` extend the stream, any skipped number becomes a :class:`Gap`;
    numbers at or below ``last`` are returned as ``late`` for :func:`fill` to place.
    """
    front, gaps, late = last, [], []
    for n in sorted(set(numbers)):
        if n <= last:
            late.append(n)
            continue
        if n > front + 1:
            gaps.append(Gap(front + 1, n - 1))
        front = n
    return Advance(last, front, gaps, late)


def split_new(numbers: Sequence[int]) -> tuple[list[int], int]:
    """Distinct numbers of a batch, in order of first arrival, and how many repeats it held."""
    seen: dict[int, None] = dict.fromkeys(numbers)
    return list(seen), len(numbers) - len(seen)


@dataclass
class Filled:
    """How recorded holes change when late numbers arrive.

    ``changed`` maps a hole's id to its new extent (``None``: completely filled, delete it);
    ``added`` are the right halves of holes split by a number in their middle, with the id of
    the hole they come from; ``unmatched`` numbers were in no hole: they had been received
    already, so they are duplicates.
    """

    changed: dict[int, Gap | None] = field(default_factory=dict)
    added: list[tuple[int, Gap]] = field(default_factory=list)
    filled: list[int] = field(default_factory=list)
    unmatched: list[int] = field(default_factory=list)


def fill(holes: Sequence[tuple[int, Gap]], numbers: Iterable[int]) -> Filled:
    """Place late ``numbers`` (distinct) into recorded ``holes`` given as ``(id, gap)``."""
    out = Filled()
    # Disjoint pieces (origin id, is a split-off piece, extent): a hole split by one number
    # may be hit again by the next.
    pieces = sorted(((hid, False, g) for hid, g in holes), key=lambda p: p[2].first)
    for n in sorted(set(numbers)):
        for k, (hid, split, g) in enumerate(pieces):
            if g.first <= n <= g.last:
                repl = []
                if n > g.first:
                    repl.append((hid, split, Gap(g.first, n - 1)))
                if n < g.last:
                    repl.append((hid, split or n > g.first, Gap(n + 1, g.last)))
                pieces[k:k + 1] = repl
                out.filled.append(n)
                break
        else:
            out.unmatched.append(n)
    kept: dict[int, Gap] = {}
    for hid, split, g in pieces:
        if split:
            out.added.append((hid, g))
        else:
            kept[hid] = g
    for hid, g in holes:
        if hid not in kept:
            out.changed[hid] = None
        elif kept[hid] != g:
            out.changed[hid] = kept[hid]
    return out
