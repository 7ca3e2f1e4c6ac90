"""Config sections of the camera role: sources, model, zones, lines, privacy masks.

Geometry is given in *normalised* frame coordinates (0..1, origin top-left), so a config
survives a change of stream resolution; the pipeline converts to pixels on the first frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
NormPoint = tuple[float, float]
SnapshotTrigger = Literal["detection", "zone_enter", "line_crossing", "loitering"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_points(points: list[NormPoint]) -> list[NormPoint]:
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"point ({x}, {y}) is outside the frame: coordinates are fractions 0..1")
    return points


class ZoneConfig(_Section):
    """A polygon of interest; objects are placed by their foot point (bottom centre)."""

    id: str = Field(pattern=ID)
    polygon: list[NormPoint] = Field(min_length=3, max_length=64)
    #: Class names counted in this zone (default: all the camera's classes).
    classes: list[str] | None = None
    #: Seconds after which an object still in the zone raises one loitering event.
    loiter_s: float | None = Field(None, gt=0, le=86_400)

    _points = field_validator("polygon")(_check_points)


class LineConfig(_Section):
    """A counting line from ``a`` to ``b``; ``a_to_b`` counts left-to-right of A→B as inbound."""

    id: str = Field(pattern=ID)
    a: NormPoint
    b: NormPoint
    direction: Literal["a_to_b", "b_to_a"] = "a_to_b"
    classes: list[str] | None = None

    @model_validator(mode="after")
    def _points(self) -> LineConfig:
        _check_points([self.a, self.b])
        if self.a == self.b:
            raise ValueError("a and b must differ")
        return self


class MaskConfig(_Section):
    """A privacy mask: pixels inside are blanked before anything looks at the frame."""

    polygon: list[NormPoint] = Field(min_length=3, max_length=64)

    _points = field_validator("polygon")(_check_points)


def _default_triggers() -> list[SnapshotTrigger]:
    return ["loitering"]


class SnapshotConfig(_Section):
    """Images that illustrate chosen events. Off by default: frames stay on the box.

    When on, the privacy masks are blanked and every person is pixelated before the JPEG is
    encoded; nothing else can be configured about that.
    """

    enabled: bool = False
    #: Event types that trigger a snapshot.
    on: list[SnapshotTrigger] = Field(default_factory=_default_triggers, min_length=1)
    #: At most one snapshot per camera in this many seconds.
    min_interval_s: float = Field(10.0, ge=1, le=3600)
    max_width: int = Field(640, ge=160, le=1920)
    jpeg_quality: int = Field(70, ge=30, le=95)


class CameraConfig(_Section):
    """One camera of the box. Its position in ``cameras`` is its index in events."""

    name: str = Field(pattern=ID)
    #: File path, ``rtsp://``/``http://`` URL, or a device index such as ``"0"``.
    source: str = Field(min_length=1)
    loop: bool = False
    #: Pace a file at its own frame rate, as a live camera would deliver it.
    realtime: bool = False
    detect_fps: float = Field(5.0, gt=0, le=60)
    model: Path = Path("models/nanodet-g-416.manifest.json")
    threads: int = Field(2, ge=1, le=16)
    score_threshold: float = Field(0.4, gt=0, lt=1)
    #: Classes the camera reports; others are ignored from the detector on.
    classes: list[str] = Field(default_factory=lambda: ["person", "bicycle", "car", "motorcycle", "bus", "truck"])
    zones: list[ZoneConfig] = Field(default_factory=list, max_length=32)
    lines: list[LineConfig] = Field(default_factory=list, max_length=32)
    masks: list[MaskConfig] = Field(default_factory=list, max_length=32)
    #: Seconds per aggregated count record.
    count_interval_s: int = Field(60, ge=1, le=86_400)
    #: Detection refresh without motion, so stationary objects are re-checked.
    refresh_s: float = Field(5.0, gt=0, le=3600)
    snapshots: SnapshotConfig = SnapshotConfig()

    @model_validator(mode="after")
    def _unique_ids(self) -> CameraConfig:
        ids = [z.id for z in self.zones] + [ln.id for ln in self.lines]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"zone and line ids must be unique within a camera: {', '.join(dupes)}")
        for owner, classes in [("zone " + z.id, z.classes) for z in self.zones] + [
            ("line " + ln.id, ln.classes) for ln in self.lines
        ]:
            unknown = sorted(set(classes or []) - set(self.classes))
            if unknown:
                raise ValueError(f"{owner} uses classes the camera does not report: {', '.join(unknown)}")
        return self
