"""Config sections of the camera role: sources, model, zones, lines, privacy masks.

Geometry is given in *normalised* frame coordinates (0..1, origin top-left), so a config
survives a change of stream resolution; the pipeline converts to pixels on the first frame.
Zones and lines may also say where they lie on the ground (``geo``, WGS84, see :mod:`.geo`):
the box does not need it, integrators' maps do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .geo import LonLat, check_ring, check_segment
from .recording import CameraRecordingConfig
from .stream_url import check_source, url_has_password, url_user

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

    id: str = Field(pattern=ID, description="Zone id, unique within the camera; light nodes name it in ``presence``.")
    polygon: list[NormPoint] = Field(
        min_length=3, max_length=64, description="Vertices as [x, y] fractions of the frame (0..1, origin top-left)."
    )
    classes: list[str] | None = Field(
        None, description="Class names counted in this zone (default: all the camera's classes)."
    )
    loiter_s: float | None = Field(
        None, gt=0, le=86_400, description="Seconds after which an object still in the zone raises a loitering event."
    )
    box_height: dict[str, tuple[float, float]] | None = Field(
        None,
        description="Plausible box heights per class for objects standing in this zone (foot point inside): "
        "[min, max] as fractions of the frame height. A detection of that class outside the range is rejected "
        "(and counted in telemetry as cam.N.implausible), e.g. a cone-sized person at the back of the scene.",
    )
    box_height_from_ground: bool = Field(
        False,
        description="Derive plausible person box heights from the ground plane: needs ``geo`` with one corner per "
        "polygon vertex (4 or more, in the same order); a person must measure 1.0-2.1 m there, with a margin of "
        "x1.5 either way. ``box_height`` of the class, if given, wins.",
    )
    geo: list[LonLat] | None = Field(
        None, min_length=4, max_length=65,
        description="The ground the zone covers: a closed ring of WGS84 [lon, lat] positions (GeoJSON order, the "
        "last repeats the first), simple, of non-zero area, inside the métropole; published in the box's meta.",
    )

    _points = field_validator("polygon")(_check_points)

    @field_validator("box_height")
    @classmethod
    def _heights(cls, bounds: dict[str, tuple[float, float]] | None) -> dict[str, tuple[float, float]] | None:
        for name, (lo, hi) in (bounds or {}).items():
            if not 0.0 <= lo < hi <= 1.0:
                raise ValueError(f"box_height of {name!r}: [min, max] needs 0 <= min < max <= 1 (fractions of "
                                 f"the frame height), got [{lo}, {hi}]")
        return bounds

    @field_validator("geo")
    @classmethod
    def _ring(cls, ring: list[LonLat] | None) -> list[LonLat] | None:
        if ring is not None:
            check_ring(ring)
        return ring


    @model_validator(mode="after")
    def _ground(self) -> ZoneConfig:
        if self.box_height_from_ground and (self.geo is None or len(self.geo) - 1 != len(self.polygon)
                                            or len(self.polygon) < 4):
            raise ValueError("box_height_from_ground needs geo with one corner per polygon vertex, 4 or more "
                             f"(polygon: {len(self.polygon)} vertices, geo: "
                             f"{'none' if self.geo is None else len(self.geo) - 1} corners)")
        return self


#: The side of a line that is "in" for each ``direction``: ``a_to_b`` counts crossings from the left of A→B to its
#: right as inbound, so "in" is its right.
IN_SIDE = {"a_to_b": "right", "b_to_a": "left"}


class LineGeoConfig(_Section):
    """Where a counting line stands on the ground: its ends A and B (the frame line's A and B) and its "in" side."""

    a: LonLat = Field(description="The ground position of the line's end A, WGS84 [lon, lat].")
    b: LonLat = Field(description="The ground position of its end B, WGS84 [lon, lat].")
    in_side: Literal["left", "right"] = Field(
        description="The side of A->B that is \"in\", for someone standing at A facing B (north up on a map): "
        "`right` for direction a_to_b, `left` for b_to_a (checked: a camera sees the ground from above, so the "
        "side is the same in the frame and on the map).",
    )

    @model_validator(mode="after")
    def _segment(self) -> LineGeoConfig:
        check_segment(self.a, self.b)
        return self


class LineConfig(_Section):
    """A counting line from ``a`` to ``b``; ``a_to_b`` counts left-to-right of A→B as inbound."""

    id: str = Field(pattern=ID, description="Line id, unique within the camera (zones included).")
    a: NormPoint = Field(description="First end of the line, [x, y] fractions of the frame.")
    b: NormPoint = Field(description="Second end of the line; differs from ``a``.")
    direction: Literal["a_to_b", "b_to_a"] = Field(
        "a_to_b", description="Which crossing counts as inbound: left-to-right of A->B (``a_to_b``) or the reverse."
    )
    classes: list[str] | None = Field(None, description="Class names counted (default: all the camera's classes).")
    geo: LineGeoConfig | None = Field(
        None, description="Where the line stands on the ground (WGS84), published in the box's meta."
    )

    @model_validator(mode="after")
    def _points(self) -> LineConfig:
        _check_points([self.a, self.b])
        if self.a == self.b:
            raise ValueError("a and b must differ")
        if self.geo is not None and self.geo.in_side != IN_SIDE[self.direction]:
            crossing = "from the left of A->B to its right" if self.direction == "a_to_b" else "from right to left"
            raise ValueError(
                f"geo.in_side {self.geo.in_side!r} contradicts direction {self.direction!r}: crossings {crossing} "
                f"count as inbound, so the in side is {IN_SIDE[self.direction]!r}"
            )
        return self


class MaskConfig(_Section):
    """A privacy mask: pixels inside are blanked before anything looks at the frame."""

    polygon: list[NormPoint] = Field(
        min_length=3, max_length=64, description="Vertices as [x, y] fractions of the frame; pixels inside are blanked."
    )

    _points = field_validator("polygon")(_check_points)


def _default_triggers() -> list[SnapshotTrigger]:
    return ["loitering"]


class SnapshotConfig(_Section):
    """Images that illustrate chosen events. Off by default: frames stay on the box.

    When on, the privacy masks are blanked and every person is pixelated before the JPEG is
    encoded; nothing else can be configured about that.
    """

    enabled: bool = Field(False, description="Send snapshots at all (off by default: frames stay on the box).")
    on: list[SnapshotTrigger] = Field(
        default_factory=_default_triggers, min_length=1, description="Event types that trigger a snapshot."
    )
    min_interval_s: float = Field(
        10.0, ge=1, le=3600, description="At most one snapshot per camera in this many seconds."
    )
    max_width: int = Field(640, ge=160, le=1920, description="Snapshots are scaled down to this width in pixels.")
    jpeg_quality: int = Field(70, ge=30, le=95, description="JPEG quality of snapshots.")


class CameraConfig(_Section):
    """One camera of the box. Its position in ``cameras`` is its index in events."""

    name: str = Field(pattern=ID, description="Camera name, unique within the box.")
    source: str = Field(
        min_length=1,
        description="File path (relative: to the config file), ``rtsp://``/``rtsps://``/``http://`` URL, "
        "``onvif://user@host[:port][?profile=NAME]`` (the RTSP address is asked of the camera), or a device index "
        "such as ``\"0\"``. Credentials in it never appear in logs or telemetry.",
    )
    password_file: Path | None = Field(
        None,
        description="File holding the camera password (first line; relative: to the config file), for an "
        "``onvif://user@host`` source or an ``rtsp://user@host/...`` URL without an inline password. Required "
        "for ``onvif://``.",
    )
    loop: bool = Field(False, description="Restart a file source at its end (demo, tests).")
    realtime: bool = Field(False, description="Pace a file at its own frame rate, as a live camera would deliver it.")
    detect_fps: float = Field(5.0, gt=0, le=60, description="Frames analysed per second at most.")
    max_lag_s: float = Field(
        5.0, gt=0, le=600,
        description="A live camera only: how far behind the stream the analysis may fall (a box too slow for its "
        "``detect_fps``) before frames are skipped to catch up with live. Larger: fewer frames lost on a loaded box, "
        "later events.",
    )
    model: Path = Field(
        Path("models/nanodet-g-416.manifest.json"),
        description="Detector model manifest (relative: to the config file); its sha256 is checked at start-up.",
    )
    threads: int = Field(2, ge=1, le=16, description="Inference threads of the detector.")
    score_threshold: float = Field(0.4, gt=0, lt=1, description="Detections below this score are ignored.")
    classes: list[str] = Field(
        default_factory=lambda: ["person", "bicycle", "car", "motorcycle", "bus", "truck"],
        description="Classes the camera reports (names of the model); others are ignored from the detector on.",
    )
    zones: list[ZoneConfig] = Field(default_factory=list, max_length=32, description="Zones of interest.")
    lines: list[LineConfig] = Field(default_factory=list, max_length=32, description="Counting lines.")
    masks: list[MaskConfig] = Field(
        default_factory=list, max_length=32, description="Privacy masks, blanked before anything looks at the frame."
    )
    count_interval_s: int = Field(60, ge=1, le=86_400, description="Seconds per aggregated count record.")
    refresh_s: float = Field(
        5.0, gt=0, le=3600,
        description="Seconds between detector runs that keep every detection: without motion, the detector runs "
        "this often so stationary objects are re-checked; with motion, one run this often also keeps detections away "
        "from the moving pixels, so a vehicle parked on a busy street is still tracked (and marked stationary)."
    )
    stationary_s: float = Field(
        10.0, ge=0, le=86_400,
        description="Seconds a track's box centre must stay within stationary_move of one place to be stationary "
        "(a parked vehicle, someone waiting); stationary vehicles are left out of occupancy until they move. "
        "0 disables the marking.",
    )
    stationary_move: float = Field(
        0.25, gt=0, le=5,
        description="How far a stationary track's box centre may wander, in box heights (detector jitter is a few "
        "hundredths; a walker covers about one height per second).",
    )
    snapshots: SnapshotConfig = Field(SnapshotConfig(), description="Images illustrating events; off by default.")
    recording: CameraRecordingConfig = Field(CameraRecordingConfig(), description="Video recording; off by default.")

    _source = field_validator("source")(check_source)

    @model_validator(mode="after")
    def _credentials(self) -> CameraConfig:
        scheme = self.source.partition("://")[0].lower()
        user = url_user(self.source)
        if scheme == "onvif" and self.password_file is None:
            raise ValueError("an onvif:// source needs password_file (the camera account's password)")
        if self.password_file is not None:
            if user is None:
                raise ValueError("password_file needs a user in the source URL (rtsp://user@host/..., "
                                 "onvif://user@host)")
            if url_has_password(self.source):
                raise ValueError("the source URL has an inline password and password_file is set: keep one")
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> CameraConfig:
        ids = [z.id for z in self.zones] + [ln.id for ln in self.lines]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"zone and line ids must be unique within a camera: {', '.join(dupes)}")
        for owner, classes in [("zone " + z.id, z.classes) for z in self.zones] + [
            ("zone " + z.id + " box_height", list(z.box_height)) for z in self.zones if z.box_height
        ] + [
            ("line " + ln.id, ln.classes) for ln in self.lines
        ]:
            unknown = sorted(set(classes or []) - set(self.classes))
            if unknown:
                raise ValueError(f"{owner} uses classes the camera does not report: {', '.join(unknown)}")
        return self
