"""What the boxes are told when a requisition is approved or released: pure, one command per box.

An approval sends each box that films the window a ``recording.upload`` command: the box first
holds the window's segments (they outlive their retention and the quota until released), then
uploads them to the coordinator's resumable upload API with its own token. A release sends
``recording.release``. Cameras are named ``<site>/<device>/<camera>`` in requisitions; a box
knows its cameras by name only. Commands go through the lighting command store (stored
before they are published, republished while pending, answers recorded from the acks), which
is the coordinator's one command channel to the boxes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

UPLOAD = "recording.upload"
RELEASE = "recording.release"
#: How long a box may take to come back online and still act on the command.
COMMAND_TTL_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class BoxCommand:
    site: str
    device: str
    name: str
    args: dict[str, Any]


def hold_id(requisition_id: int) -> str:
    return f"requisition-{requisition_id}"


def by_box(cameras: Iterable[str]) -> dict[tuple[str, str], list[str]]:
    """Camera names per (site, device), from ``<site>/<device>/<camera>`` names."""
    out: dict[tuple[str, str], list[str]] = {}
    for camera in cameras:
        site, device, name = camera.split("/")
        out.setdefault((site, device), []).append(name)
    return {k: sorted(v) for k, v in sorted(out.items())}


def upload_commands(requisition_id: int, cameras: Iterable[str], start_ms: int, end_ms: int) -> list[BoxCommand]:
    """One ``recording.upload`` per box filming the window."""
    return [BoxCommand(site, device, UPLOAD, {"hold_id": hold_id(requisition_id), "cameras": names,
                                               "start_ms": start_ms, "end_ms": end_ms})
            for (site, device), names in by_box(cameras).items()]


def release_commands(requisition_id: int, cameras: Iterable[str]) -> list[BoxCommand]:
    """One ``recording.release`` per box of the requisition."""
    return [BoxCommand(site, device, RELEASE, {"hold_id": hold_id(requisition_id)})
            for (site, device) in by_box(cameras)]
