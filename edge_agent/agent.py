"""Run a box: open its outbox, start its link, publish telemetry until told to stop."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import vigie_wire as wire
from vigie_config import BoxConfig, config_hash
from vigie_config.topics import group_topics, listen_topics

from . import sdnotify
from .lighting.role import LightRole
from .link import Link, Outbox
from .link.commands import AckTuple
from .meta import site_metadata
from .recording.role import RecordingRole
from .vision.process import CameraProcess

log = logging.getLogger("vigie.agent")


def capabilities(config: BoxConfig, presence: bool = False) -> list[str]:
    """The ``caps`` of the box's birth, which tell integrators what the box is and which events it sends.

    ``link`` (every box), ``vision`` (cameras: detections, tracks, zones, lines, counts), ``model:<name>`` per
    detector model its cameras run (the ``cls`` of its events index that model's class list), ``presence`` (a
    presence sensor: zone events without detections or tracks' ends), ``light`` (luminaires), ``recording``
    (cameras that record: recording events and ``recording.*`` commands).
    """
    models = sorted({cam.model.name.removesuffix(".manifest.json") for cam in config.cameras})
    recording = config.recording is not None and any(cam.recording.enabled for cam in config.cameras)
    return (["link"] + (["vision"] if config.cameras else []) + [f"model:{m}" for m in models]
            + (["presence"] if presence else []) + (["light"] if config.lighting else [])
            + (["recording"] if recording else []))


class Agent:
    """One box: its link, and the roles its config gives it.

    Each camera runs in its own process (``vigie-vision-<name>``) that writes its events into
    the outbox file itself; the light role stays in this process, next to the link, because it
    answers commands.
    """

    def __init__(self, config: BoxConfig, config_path: Path | None = None,
                 light_clock: Callable[[], dt.datetime] | None = None, presence: bool = False) -> None:
        """``presence``: the box is a presence sensor without a camera, whose zone events its owner emits."""
        self.config = config
        self.outbox = Outbox(config.outbox.path, config.outbox.max_events, config.outbox.synchronous)
        digest = config_hash(config_path) if config_path else "0" * 64
        caps = capabilities(config, presence)
        self.link = Link(config, self.outbox, config_hash=digest, capabilities=caps,
                         groups=group_topics(config), listen=listen_topics(config), meta=site_metadata(config, caps))
        # Each camera process loads its model when started; start() fails if one cannot.
        self.cameras = [CameraProcess(i, cam, config.outbox, self.link.publish_snapshot, recording=config.recording)
                        for i, cam in enumerate(config.cameras)]
        self.recording = RecordingRole(config, self.link) if config.recording is not None else None
        self.light = LightRole(config, self.link, *([light_clock] if light_clock else [])) if config.lighting else None
        if self.light is not None:
            self.link.set_listener(self.light.on_message)
        self.link.set_command_handler(self._command)
        self._stop = threading.Event()

    def _command(self, cmd: wire.Command) -> AckTuple:
        """Route a command to the role that owns its name (``recording.*``, else the light role)."""
        if self.recording is not None and cmd.name.startswith("recording."):
            return self.recording.handle_command(cmd)
        if self.light is not None:
            return self.light.handle_command(cmd)
        return wire.AckResult.UNSUPPORTED, f"this box has no role for {cmd.name}", {}

    def start(self) -> None:
        self.link.start()
        if self.recording is not None:
            self.recording.start()
        for camera in self.cameras:  # all spawned first: they load their models in parallel
            camera.start(self.link.boot)
        try:
            for camera in self.cameras:
                camera.wait_ready()
        except Exception:
            for camera in self.cameras:
                camera.stop()
            self.link.stop()
            raise
        if self.light is not None:
            self.light.start()

    def metrics(self) -> dict[str, Any]:
        """Everything the box reports each telemetry interval, in one batched map."""
        out = self.link.link_metrics()
        for worker in self.cameras:
            out.update(worker.health())
        if self.light is not None:
            out.update(self.light.health())
        if self.recording is not None:
            out.update(self.recording.status())
        return out

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def run_forever(self) -> None:
        """Block until SIGINT/SIGTERM, publishing telemetry every interval."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        self.start()
        interval = self.config.telemetry_interval_s
        ping = sdnotify.watchdog_interval_s()
        sdnotify.notify("READY=1")
        next_telemetry = time.monotonic() + interval
        while not self._stop.wait(min(interval, ping or interval, max(0.0, next_telemetry - time.monotonic()))):
            if ping is not None:
                sdnotify.notify("WATCHDOG=1")  # the main loop turns: systemd need not restart the box
            if time.monotonic() >= next_telemetry:
                self.link.publish_telemetry(self.metrics())
                next_telemetry += interval
        sdnotify.notify("STOPPING=1")
        self.shutdown()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        self._stop.set()

    def shutdown(self, drain_s: float = 2.0) -> None:
        """Stop the roles, give queued events a moment to go out, then leave (death published)."""
        for worker in self.cameras:
            worker.stop()
        if self.light is not None:
            self.light.stop()
        if self.recording is not None:
            self.recording.stop()
        self.link.wait_drained(drain_s)
        self.link.stop()
        self.outbox.close()
