"""Names of the commands a light node obeys, as the ``name`` of a ``cmd`` message.

The coordinator sends them and the node dispatches on them (:func:`edge_agent.lighting.node.handle_command`):
both import these names, nothing else spells them.
"""

from __future__ import annotations

#: Command name of an override on the wire (``args``: level, ramp_up_s, ramp_down_s, start, and lum or group
#: on the box's own topic).
OVERRIDE_COMMAND = "light.override"
#: Push a calendar (``args.calendar``: the Calendar mapping; ``null`` returns to the config's).
CALENDAR_COMMAND = "light.calendar"
