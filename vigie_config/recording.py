"""Config of video recording on the box: per camera (on/off, segment length, retention) and per box (store).

Recording is off by default. French law (Code de la sécurité intérieure L252-5) destroys recordings
within the period the prefect authorised, **at most one month**: the code caps retention at
:data:`MAX_RETENTION_DAYS`, whatever a config says, and ``vigie-edge validate`` refuses more with
the reason. A per-camera retention is the prefect's period for that camera, often shorter.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from .box import BoxConfig

#: Legal maximum (L252-5: one month), enforced by the code.
MAX_RETENTION_DAYS = 30
#: Bytes of a recording key (AES-256-GCM).
KEY_BYTES = 32


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraRecordingConfig(_Section):
    """Whether and how one camera records; off by default (frames stay in memory only)."""

    enabled: bool = Field(False, description="Record this camera (off by default).")
    segment_s: float = Field(
        60.0, ge=1, le=600,
        description="Length of a segment file in seconds; a segment is the unit of retention, hold and upload.",
    )
    retention_days: float = Field(
        MAX_RETENTION_DAYS, gt=0,
        description=f"Days a segment is kept after its first image, at most {MAX_RETENTION_DAYS} (L252-5); "
        "segments under a legal hold are kept until the hold is released.",
    )

    @field_validator("retention_days")
    @classmethod
    def _legal_cap(cls, value: float) -> float:
        if value > MAX_RETENTION_DAYS:
            raise ValueError(
                f"retention_days {value:g} exceeds the legal maximum of {MAX_RETENTION_DAYS} days: recordings are "
                "destroyed within one month (Code de la sécurité intérieure L252-5)")
        return value


class RecordingConfig(_Section):
    """Where and how the box keeps its recordings; needed once any camera records."""

    dir: Path = Field(
        Path("recordings"), description="Folder of the encrypted segment files (relative: to the config).")
    key_file: Path = Field(
        description="The box's recording key: 32 random bytes, mode 0600, generated once per box by the edge_agent "
        "Ansible role. Segments are encrypted with it (AES-256-GCM); without it a disk yields nothing.",
    )
    quota_bytes: int = Field(
        20 * 1024**3, ge=1024**2,
        description="Most bytes all segments may take; past it the oldest segments not under a legal hold are "
        "deleted first (counted and reported).",
    )
    min_free_bytes: int = Field(
        256 * 1024**2, ge=0,
        description="A segment is not written when the disk would keep less free space than this (counted): "
        "recording never fills the disk.",
    )
    purge_interval_s: float = Field(60.0, ge=1, le=3600, description="Seconds between two runs of the purge job.")
    upload_url: str | None = Field(
        None, pattern=r"^https?://",
        description="Base URL of the coordinator's API (``https://centre.example/api/v1``), where the segments "
        "of an approved requisition are uploaded.",
    )
    token_file: Path | None = Field(
        None, description="File holding the box's upload token (``vigie-coordinator legal box-token DEVICE``).",
    )
    upload_chunk_bytes: int = Field(
        1024**2, ge=4096, le=8 * 1024**2, description="Bytes per upload request (each with its SHA-256).",
    )


def check_recording(config: BoxConfig) -> list[str]:
    """``field: reason`` lines for what pydantic cannot see: a recording camera needs a store and a usable key."""
    errors: list[str] = []
    recording = [i for i, cam in enumerate(config.cameras) if cam.recording.enabled]
    errors += [f"cameras.{i}.recording.enabled: a device index source cannot be recorded (use its stream URL)"
               for i in recording if config.cameras[i].source.isdigit()]
    store = config.recording
    if store is None:
        errors += [f"cameras.{i}.recording.enabled: the box has no 'recording' section (dir, key_file)"
                   for i in recording]
        return errors
    try:
        mode = store.key_file.stat().st_mode
        size = store.key_file.stat().st_size
    except OSError as exc:
        return [f"recording.key_file: cannot read {store.key_file}: {exc.strerror or exc}"]
    if size != KEY_BYTES:
        errors.append(f"recording.key_file: {store.key_file} holds {size} bytes, a key is {KEY_BYTES} random bytes")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        errors.append(f"recording.key_file: {store.key_file} is readable by others (mode {stat.S_IMODE(mode):04o}); "
                      "it must be 0600")
    if (store.upload_url is None) != (store.token_file is None):
        errors.append("recording: upload_url and token_file go together (the coordinator and the box's token)")
    return errors
