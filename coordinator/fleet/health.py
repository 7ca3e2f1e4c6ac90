"""Health of the fleet: counts by status and commune, versions in use, boxes silent for too long.

A technician who has just installed a box, or a supervisor on a Monday morning, asks the same three questions:
how many are up, which firmware runs where (an upgrade half rolled out shows as two versions), and which boxes have
not been heard of for a while although the registry does not call them offline (a box whose will was lost, a
cellular link that went quiet). Pure: rows in, summary out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

#: A box that sends telemetry every minute and has not been heard for 15 minutes needs a look.
SILENT_AFTER_MS = 15 * 60 * 1000
#: Longest list of silent boxes in one summary: the count says the rest.
MAX_SILENT_LISTED = 100


@dataclass(frozen=True)
class Device:
    """A registry row, as the fleet domain needs it."""

    id: str
    site: str
    status: str
    district: str | None = None
    roles: tuple[str, ...] = ()
    lat: float | None = None
    lon: float | None = None
    caps: tuple[str, ...] = ()
    firmware: str | None = None
    config_hash: str | None = None
    seed_config_hash: str | None = None
    last_seen_ms: int | None = None
    status_since_ms: int | None = None

    @property
    def config_drift(self) -> bool:
        """The box announces another config than the one it was installed with (a hand edit, an old image)."""
        return (
            self.config_hash is not None
            and self.seed_config_hash is not None
            and not self.seed_config_hash.startswith(self.config_hash)
            and not self.config_hash.startswith(self.seed_config_hash)
        )


@dataclass(frozen=True)
class SilentDevice:
    id: str
    site: str
    status: str
    last_seen_ms: int | None
    silent_ms: int | None


@dataclass(frozen=True)
class FleetHealth:
    """The summary served by ``GET /fleet/health``."""

    total: int
    by_status: dict[str, int]
    by_site: dict[str, dict[str, int]]
    by_role: dict[str, int]
    firmware: dict[str, int]
    config_drift: list[str]
    silent_after_ms: int
    silent_total: int
    silent: list[SilentDevice] = field(default_factory=list)


def health_summary(devices: Iterable[Device], now_ms: int, silent_after_ms: int = SILENT_AFTER_MS) -> FleetHealth:
    """Summarise ``devices`` at ``now_ms``.

    A device is *silent* when it was never seen, or not for ``silent_after_ms``, whatever its status: the registry's
    ``online`` is only as fresh as the last birth or death, and a box can vanish without either. The silent list
    starts with the longest silent (never seen first).
    """
    by_status: Counter[str] = Counter()
    by_site: dict[str, Counter[str]] = {}
    by_role: Counter[str] = Counter()
    firmware: Counter[str] = Counter()
    drift: list[str] = []
    silent: list[SilentDevice] = []
    total = 0
    for d in devices:
        total += 1
        by_status[d.status] += 1
        by_site.setdefault(d.site, Counter())[d.status] += 1
        by_role.update(d.roles)
        firmware[d.firmware or "unknown"] += 1
        if d.config_drift:
            drift.append(d.id)
        age = None if d.last_seen_ms is None else max(0, now_ms - d.last_seen_ms)
        if age is None or age >= silent_after_ms:
            silent.append(SilentDevice(d.id, d.site, d.status, d.last_seen_ms, age))
    silent.sort(key=lambda s: (s.silent_ms is not None, -(s.silent_ms or 0), s.id))
    return FleetHealth(
        total=total,
        by_status=dict(sorted(by_status.items())),
        by_site={site: dict(sorted(c.items())) for site, c in sorted(by_site.items())},
        by_role=dict(sorted(by_role.items())),
        firmware=dict(sorted(firmware.items(), key=lambda kv: (-kv[1], kv[0]))),
        config_drift=sorted(drift),
        silent_after_ms=silent_after_ms,
        silent_total=len(silent),
        silent=silent[:MAX_SILENT_LISTED],
    )
