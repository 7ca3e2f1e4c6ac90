"""The topics a box with lights subscribes to beyond its own, computed from its config.

The box subscribes to them; the coordinator grants them in the broker's ACL (``vigie-coordinator broker-config``):
one function for both, so that a box is never denied a topic it needs, nor granted one it does not.
"""

from __future__ import annotations

import vigie_wire as wire

from .box import BoxConfig
from .groups import implicit_groups


def group_topics(box: BoxConfig) -> list[str]:
    """Groups whose command topics the box subscribes to: the broker fans group commands out.

    Its luminaires' groups, and the commune's and the city's (see :mod:`.groups`).
    """
    return sorted(box.lighting.groups() | set(implicit_groups(box.site))) if box.lighting else []


def listen_topics(box: BoxConfig) -> list[str]:
    """Neighbour cameras' event topics and the coordinators' STATE, for a box with lights."""
    if box.lighting is None:
        return []
    topics = {wire.device_topic(src.site or box.site, src.device, wire.Kind.EVENT) for src in box.lighting.presence}
    return [*sorted(topics), wire.subscription(wire.Kind.STATE)]
