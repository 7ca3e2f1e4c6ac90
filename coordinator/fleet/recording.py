"""Recording status per camera, read from the boxes' latest telemetry: a pure function.

A recording box reports ``rec.<camera>.*`` (retention, bytes, segments, oldest image, held
segments, destructions) and ``rec.*`` for the box (bytes, quota, holds), see the AsyncAPI
document. Frames never leave the box: this is all the centre knows of a recording until a
requisition uploads part of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_FIELDS = ("retention_days", "bytes", "segments", "oldest_ms", "held", "destroyed_expired", "evicted_quota")


@dataclass(frozen=True)
class CameraRecording:
    camera: str  # <site>/<device>/<name>, as requisitions and the register name it
    name: str
    retention_days: float | None
    bytes: int
    segments: int
    oldest_ms: int | None
    held: int
    destroyed_expired: int
    evicted_quota: int


@dataclass(frozen=True)
class BoxRecording:
    device_id: str
    site: str
    reported_ms: int
    stale: bool
    bytes: int
    quota_bytes: int | None
    holds: int
    cameras: tuple[CameraRecording, ...]


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def from_telemetry(device_id: str, site: str, reported_ms: int, stale: bool,
                   metrics: Mapping[str, Any]) -> BoxRecording | None:
    """The box's recording status, or None when its telemetry says nothing of recording."""
    if "rec.bytes" not in metrics:
        return None
    per: dict[str, dict[str, Any]] = {}
    for key, value in metrics.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "rec" and parts[2] in _FIELDS:
            per.setdefault(parts[1], {})[parts[2]] = value
    cameras = tuple(
        CameraRecording(
            camera=f"{site}/{device_id}/{name}", name=name,
            retention_days=float(f["retention_days"]) if isinstance(f.get("retention_days"), (int, float)) else None,
            bytes=_int(f.get("bytes")), segments=_int(f.get("segments")),
            oldest_ms=_int(f["oldest_ms"]) if isinstance(f.get("oldest_ms"), int) else None,
            held=_int(f.get("held")), destroyed_expired=_int(f.get("destroyed_expired")),
            evicted_quota=_int(f.get("evicted_quota")))
        for name, f in sorted(per.items()))
    quota = metrics.get("rec.quota_bytes")
    return BoxRecording(device_id, site, reported_ms, stale, _int(metrics.get("rec.bytes")),
                        _int(quota) if quota is not None else None, _int(metrics.get("rec.holds")), cameras)
