"""The R252-11 register: an append-only, hash-chained journal of what happens to recordings.

Recordings started and stopped, viewings, extractions, requisitions and their approvals,
transmissions, downloads, destructions and legal holds each append one entry. Each entry carries
the SHA-256 of the previous one, so editing, deleting or reordering a past entry breaks the chain
at that entry, which ``vigie-coordinator register verify`` names.
"""

from .chain import GENESIS, KINDS, Entry, entry_hash, first_break
from .errors import RegisterError

__all__ = ["GENESIS", "KINDS", "Entry", "RegisterError", "entry_hash", "first_break"]
