"""The root of a box config (``firmware_configs/<box>.yaml``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vigie_wire.topics import RESERVED

from .lighting import LightingConfig
from .link import BatchConfig, MqttConfig, OutboxConfig
from .recording import RecordingConfig
from .vision import CameraConfig

ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class BoxConfig(BaseModel):
    """One field box: who it is, where it is, how it talks to the centre."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: str = Field(
        pattern=ID,
        description="The box's id, unique in its site: the ``<device>`` of its topics (not ``group`` or ``team``).",
    )
    site: str = Field(
        pattern=ID, description="Commune slug (``dijon``, ``talant``...): the ``<site>`` of every topic of the box."
    )
    district: str | None = Field(
        None, pattern=ID,
        description="Neighbourhood or sector of the commune (``centre-ville``...), for the fleet registry and the "
        "inventory; not part of any topic.",
    )
    lat: float | None = Field(None, ge=-90, le=90, description="Latitude of the box (WGS84), for the map.")
    lon: float | None = Field(None, ge=-180, le=180, description="Longitude of the box (WGS84), for the map.")
    mqtt: MqttConfig = Field(MqttConfig(), description="How the box reaches the broker.")
    outbox: OutboxConfig = Field(OutboxConfig(), description="The durable queue every event passes through.")
    batch: BatchConfig = Field(BatchConfig(), description="How events are grouped into MQTT messages.")
    telemetry_interval_s: float = Field(60.0, ge=1, le=3600, description="Seconds between two telemetry messages.")
    cameras: list[CameraConfig] = Field(
        default_factory=list, max_length=8,
        description="The camera role: each camera's index in this list is its ``cam`` in events.",
    )
    recording: RecordingConfig | None = Field(
        None, description="Where recordings are kept, encrypted; needed once a camera records."
    )
    lighting: LightingConfig | None = Field(
        None, description="The light role: luminaires of the cabinet, their calendar and presence sources."
    )

    @field_validator("device_id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED:  # vigie/v1/<site>/group/... and .../team/... are group and team topics
            raise ValueError(f"{value!r} is reserved for group and team topics and cannot be a device id")
        return value

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, cameras: list[CameraConfig]) -> list[CameraConfig]:
        names = [c.name for c in cameras]
        if len(set(names)) != len(names):
            raise ValueError("camera names must be unique")
        return cameras
