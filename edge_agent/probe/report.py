"""The result of a probe: one line per check, each naming the device, the step and the likely cause."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Check:
    """One step of a probe against one device.

    Attributes:
        device: The device as it may be shown (a camera URL without its credentials, a bus, a host).
        step: What was tried (``connect``, ``describe``, ``open``, ``read``, ``detect``...).
        ok: Whether it worked.
        detail: What was found, or what went wrong, in words a technician can act on.
        cause: When it failed, the likely cause: ``unreachable``, ``refused``, ``auth``, ``timeout``, ``protocol``
            (it answers, but not as expected: wrong path, unsupported stream).
    """

    device: str
    step: str
    ok: bool
    detail: str
    cause: str | None = None


@dataclass(slots=True)
class ProbeReport:
    """Every check run on a device, in order; a failed step ends the probe of that device."""

    checks: list[Check] = field(default_factory=list)
    #: Facts found on the way, printed as a summary (codec, resolution, fps, detections...).
    facts: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, check: Check) -> bool:
        self.checks.append(check)
        return check.ok

    def table(self) -> str:
        """A plain-text table, one row per check, for the terminal and the install report."""
        rows = [("device", "step", "result", "detail", "likely cause")]
        rows += [(c.device, c.step, "ok" if c.ok else "FAIL", c.detail, c.cause or "") for c in self.checks]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(r)).rstrip()
                 for r in rows]
        lines += [f"{key}: {value}" for key, value in self.facts.items()]
        return "\n".join(lines)
