"""The result of a probe: one :class:`Check` per step of a device, and its rendering for a terminal."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Cause(StrEnum):
    """The likely cause of a failed step, in words a field technician acts on."""

    UNREACHABLE = "unreachable"  # no route, no answer to connect: cabling, address, power
    REFUSED = "refused"  # the host answered but nothing listens on that port
    AUTH = "auth"  # credentials refused
    TIMEOUT = "timeout"  # connected, then no answer in time
    WRONG_UNIT = "wrong unit"  # a Modbus unit id / DALI address that is not there
    NOT_D4I = "not D4i"  # the gear answers but has no D4i memory banks
    BAD_ANSWER = "bad answer"  # an answer that does not parse or is out of range
    CONFIG = "config"  # the box config itself is wrong for this device
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Check:
    """One step of probing one device.

    Attributes:
        device: What was probed, as the config names it (``cam 0``, ``dali bus``, ``cabinet meter``).
        step: The step (``connect``, ``read``, ``decode``, ``scan``...).
        ok: Whether the step passed.
        detail: What was found (codec and fps, levels, a register's value) or what went wrong.
        cause: For a failure, its likely cause.
    """

    device: str
    step: str
    ok: bool
    detail: str = ""
    cause: Cause | None = None

    @classmethod
    def passed(cls, device: str, step: str, detail: str = "") -> Check:
        return cls(device, step, True, detail)

    @classmethod
    def failed(cls, device: str, step: str, cause: Cause, detail: str) -> Check:
        return cls(device, step, False, detail, cause)


def exit_code(checks: Iterable[Check]) -> int:
    """0 when every check passed (and there was at least one), 1 otherwise."""
    seen = list(checks)
    return 0 if seen and all(c.ok for c in seen) else 1


def render(checks: Sequence[Check]) -> str:
    """A fixed-width pass/fail table, one line per check, failures with their likely cause."""
    rows = [
        ("PASS" if c.ok else "FAIL", c.device, c.step, c.detail if c.ok else f"{c.cause}: {c.detail}")
        for c in checks
    ]
    header = ("", "device", "step", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = ["  ".join(col.ljust(w) for col, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
             for r in [header, *rows]]
    failed = sum(1 for c in checks if not c.ok)
    lines.append(f"{len(checks)} checks: {len(checks) - failed} ok, {failed} failed")
    return "\n".join(lines)
