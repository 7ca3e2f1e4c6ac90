"""The register's chain, as pure values: canonical form, hash of an entry, first break in a sequence.

An entry's hash is the SHA-256 of its canonical JSON (RFC 8785, so any reader in any language
recomputes the same bytes) including the previous entry's hash and its own sequence number.
Editing an entry changes its hash; deleting one leaves a gap in the sequence and a ``prev`` that
no longer matches; moving one changes its sequence number, hence its hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import rfc8785

#: ``prev`` of the first entry.
GENESIS = "0" * 64

#: What the register records (R252-11 and the requisition workflow).
KINDS: tuple[str, ...] = (
    "recording_started", "recording_stopped", "viewing", "extraction",
    "requisition_created", "requisition_approved", "requisition_refused",
    "transmission", "download", "download_refused", "destruction",
    "legal_hold_set", "legal_hold_released", "analytics_mode_changed",
)


@dataclass(frozen=True)
class Entry:
    """One register entry; ``hash`` covers every other field."""

    seq: int
    at_ms: int
    kind: str
    actor: str
    camera: str | None
    procedure: str | None
    subject: str | None
    detail: str | None
    prev: str
    hash: str


def canonical(seq: int, at_ms: int, kind: str, actor: str, camera: str | None, procedure: str | None,
              subject: str | None, detail: str | None, prev: str) -> bytes:
    """The bytes an entry's hash is taken over (RFC 8785 JSON: sorted keys, no spaces, UTF-8)."""
    return rfc8785.dumps({"seq": seq, "at_ms": at_ms, "kind": kind, "actor": actor, "camera": camera,
                          "procedure": procedure, "subject": subject, "detail": detail, "prev": prev})


def entry_hash(seq: int, at_ms: int, kind: str, actor: str, camera: str | None, procedure: str | None,
               subject: str | None, detail: str | None, prev: str) -> str:
    """Hex SHA-256 of the canonical form."""
    return hashlib.sha256(canonical(seq, at_ms, kind, actor, camera, procedure, subject, detail, prev)).hexdigest()


@dataclass(frozen=True)
class Break:
    """The first entry at which the chain does not hold, and why."""

    seq: int
    reason: str


def first_break(entries: Iterable[Entry], head: tuple[int, str] | None = None) -> Break | None:
    """The first bad entry of ``entries`` (in stored order), or None when the whole chain holds.

    Args:
        entries: every entry, ordered by ``seq`` as stored.
        head: the (last seq, last hash) kept beside the entries; catches the deletion of the last
            entries, which leaves no later entry to notice it.
    """
    expected_seq, prev = 1, GENESIS
    for e in entries:
        if e.seq != expected_seq:
            return Break(expected_seq if e.seq > expected_seq else e.seq,
                         f"entry {expected_seq} is missing (next stored is {e.seq})" if e.seq > expected_seq
                         else f"entry {e.seq} is out of order")
        if e.prev != prev:
            return Break(e.seq, f"entry {e.seq} does not follow entry {e.seq - 1} (previous hash differs)")
        recomputed = entry_hash(e.seq, e.at_ms, e.kind, e.actor, e.camera, e.procedure, e.subject, e.detail, e.prev)
        if recomputed != e.hash:
            return Break(e.seq, f"entry {e.seq} was altered (its content does not match its hash)")
        expected_seq, prev = e.seq + 1, e.hash
    if head is not None and head != (expected_seq - 1, prev):
        return Break(expected_seq, f"entries after {expected_seq - 1} are missing (the register's head is "
                                   f"entry {head[0]})")
    return None
