"""The rules of a requisition: what a valid request is, who may decide it, what a decision yields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import BadRequisitionError, NotAllowedError, WrongStateError

LEGAL_BASES: tuple[str, ...] = ("60-1", "77-1-1", "99-3", "other")
#: Recordings are destroyed after at most one month (CSI L252-5); the code caps retention at 30 days.
RETENTION_MS = 30 * 24 * 3600 * 1000
#: A download link lives this long unless the approver says otherwise.
DEFAULT_LINK_DAYS = 14

Status = Literal["pending", "approved", "refused"]


def check_window(start_ms: int, end_ms: int, now_ms: int) -> None:
    """Refuse a window that is empty, in the future, or older than the retention (nothing is left of it)."""
    if end_ms <= start_ms:
        raise BadRequisitionError("end_ms must be after start_ms")
    if end_ms > now_ms:
        raise BadRequisitionError("the window ends in the future: only past recordings can be requested")
    if start_ms < now_ms - RETENTION_MS:
        raise BadRequisitionError("the window starts more than 30 days ago: recordings older than the retention "
                                  "period are destroyed (CSI L252-5) and cannot be requested")


def check_basis(basis: str, other_text: str | None) -> None:
    if basis not in LEGAL_BASES:
        raise BadRequisitionError(f"legal_basis must be one of {', '.join(LEGAL_BASES)}")
    if basis == "other" and not (other_text or "").strip():
        raise BadRequisitionError("legal_basis 'other' needs legal_basis_text naming the text")


@dataclass(frozen=True)
class Decision:
    status: Status
    by: str
    at_ms: int
    note: str | None


def decide(status: str, requested_by: str, decider: str, approve: bool, at_ms: int, note: str | None) -> Decision:
    """The decision on a pending request; the requester may never decide their own (two people)."""
    if status != "pending":
        raise WrongStateError(f"the requisition is already {status}")
    if decider == requested_by:
        raise NotAllowedError("the requester cannot decide their own requisition: another supervisor must")
    return Decision("approved" if approve else "refused", decider, at_ms, note)
