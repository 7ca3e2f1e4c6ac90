"""The recording role in the agent's process: the purge job, hold and upload commands, the status.

Camera processes record (:mod:`.recorder`); the agent owns what spans cameras: the box-wide
quota and retention (:mod:`.purge`), the coordinator's commands (:mod:`.commands`) and the
status reported in telemetry.
"""

from __future__ import annotations

from typing import Any

import vigie_wire as wire
from vigie_config.box import BoxConfig
from vigie_config.secrets import read_password

from ..ports import EventSink
from .commands import AckTuple, RecordingCommands
from .purge import PurgeJob
from .recorder import open_store
from .upload import Uploader


class RecordingRole:
    """Everything of recording that runs beside the link."""

    def __init__(self, config: BoxConfig, sink: EventSink) -> None:
        settings = config.recording
        assert settings is not None
        self.store = open_store(settings)
        self.purge = PurgeJob(config, self.store, sink)
        uploader = None
        if settings.upload_url is not None and settings.token_file is not None:
            uploader = Uploader(self.store, settings.upload_url, read_password(settings.token_file), config.site,
                                config.device_id, chunk_bytes=settings.upload_chunk_bytes)
        self.uploader = uploader
        self.commands = RecordingCommands(self.store, [c.name for c in config.cameras], uploader)

    def start(self) -> None:
        self.purge.start()
        self.commands.resume()

    def stop(self) -> None:
        self.purge.stop()

    def handle_command(self, cmd: wire.Command) -> AckTuple:
        return self.commands.handle(cmd)

    def status(self) -> dict[str, Any]:
        out = self.purge.status()
        if self.uploader is not None:
            out["rec.uploaded_segments"] = self.uploader.uploaded
            out["rec.upload_resumptions"] = self.uploader.interruptions
            out["rec.pending_uploads"] = self.commands.pending
        return out
