"""The result of a probe: one :class:`Check` per step of a device, and its rendering for a terminal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Cause(StrEnum):
    """The likely cause of a failed step, in words a field technician acts on."""

    UNREACHABLE = "unreachable"  # no route, no answer to connect: cabling, address, power
    REFUSED = "refused"  # the host answered but nothing listens on that port
    AUTH = "auth"  # credentials refused
    TIMEOUT = "timeout"  # connected, then no answer in time
    PROTOCOL = "protocol"  # it answers, but not as expected: wrong path, unsupported stream
    WRONG_UNIT = "wrong unit"  # a Modbus unit id / DALI address that is not there
    NOT_D4I = "not D4i"  # the gear answers but has no D4i memory banks
    BAD_ANSWER = "bad answer"  # an answer that does not parse or is out of range
    CONFIG = "config"  # the box config itself is wrong for this device
    MODEL = "model"  # the detector model cannot be loaded on this box
    LOCAL = "local"  # this box's own side: a file that cannot be written
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Check:
    """One step of probing one device.

    Attributes:
        device: What was probed, as it may be shown (``cam 0``, a camera URL without its credentials, ``dali bus``).
        step: The step (``connect``, ``describe``, ``read``, ``scan``...).
        ok: Whether the step passed.
        detail: What was found (codec and fps, levels, a register's value) or what went wrong.
        cause: For a failure, its likely cause: a :class:`Cause` (a string, as it is printed).
    """

    device: str
    step: str
    ok: bool
    detail: str = ""
    cause: str | None = None

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


def render(checks: Sequence[Check], facts: Mapping[str, str] | None = None) -> str:
    """A fixed-width pass/fail table, one line per check, failures with their likely cause; then the facts."""
    rows = [
        ("PASS" if c.ok else "FAIL", c.device, c.step, c.detail if c.ok else f"{c.cause}: {c.detail}")
        for c in checks
    ]
    header = ("", "device", "step", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = ["  ".join(col.ljust(w) for col, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
             for r in [header, *rows]]
    lines += [f"{key}: {value}" for key, value in (facts or {}).items()]
    failed = sum(1 for c in checks if not c.ok)
    lines.append(f"{len(checks)} checks: {len(checks) - failed} ok, {failed} failed")
    return "\n".join(lines)


@dataclass(slots=True)
class ProbeReport:
    """Every check run on a device, in order, and the facts found on the way (codec, resolution, fps...)."""

    checks: list[Check] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return exit_code(self.checks) == 0

    def add(self, check: Check) -> bool:
        """Record ``check``; returns whether it passed, so a probe can stop at its first failed step."""
        self.checks.append(check)
        return check.ok

    def table(self) -> str:
        """The checks and facts as :func:`render` prints them, for the terminal and the install report."""
        return render(self.checks, self.facts)
