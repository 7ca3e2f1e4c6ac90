"""Which commands of one decision step can go out as one DALI frame to a group, or to the whole line.

A DALI line carries ~30 frames a second, so 64 luminaires told the same level one by one take two seconds,
while the same level to a DALI group (or a broadcast) is one frame that every member obeys at once. The driver
collects a step's commands and asks :func:`plan` how to send them; pure, so that its guarantees are tested
without a bus:

* a group (or the broadcast) is used only when **every** gear that would obey it got exactly that command in the
  step: a group frame never changes a luminaire the node did not command;
* each luminaire is commanded once, by its group or on its own;
* larger groups first (fewer frames), the broadcast before any group.

Groups are those the gear themselves report (QUERY GROUPS at discovery): the commissioning of the street (which
gear answers which of the 16 DALI groups) is the installer's, the driver only uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: A luminaire's command in a step: (level %, ramp s).
Command = tuple[float, float]
#: Where a shared command goes: a DALI group number, or ``None`` for the broadcast.
Target = int | None


@dataclass(frozen=True, slots=True)
class Shared:
    """One frame for several luminaires: ``command`` to ``target`` (a group, or ``None``: the whole line)."""

    target: Target
    command: Command
    luminaires: frozenset[str]


def plan(
    pending: Mapping[str, Command],
    groups: Mapping[int, frozenset[str]],
    line: frozenset[str],
    *,
    min_size: int = 2,
) -> tuple[list[Shared], dict[str, Command]]:
    """Split a step's commands into shared frames and individual ones.

    Args:
        pending: The step's commands, by luminaire.
        groups: The luminaires obeying each DALI group; a group with gear the driver does not drive (unconfigured
            gear on the line) must be left out by the caller.
        line: Every luminaire on the line that obeys a broadcast (``frozenset()`` when unconfigured gear share the
            line: then no broadcast).
        min_size: Fewest luminaires worth a shared frame (a group of one is its own short address).

    Returns:
        The shared frames, and the commands left to send one by one.
    """
    left = dict(pending)
    shared: list[Shared] = []
    candidates: list[tuple[Target, frozenset[str]]] = [(None, line)] if line else []
    candidates += sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    for target, members in candidates:
        if len(members) < min_size or not members <= left.keys():
            continue
        commands = {left[lum] for lum in members}
        if len(commands) != 1:
            continue
        shared.append(Shared(target, commands.pop(), members))
        for lum in members:
            del left[lum]
    return shared, left
