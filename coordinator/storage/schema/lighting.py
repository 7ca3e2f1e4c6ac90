"""Lighting: the luminaire inventory, group calendars, commands to the nodes and their acknowledgements.

The inventory comes from the box configs (``firmware_configs/``): births say a box has lights, only its config says
which luminaires, in which groups, of which rated power, and both the group commands (who must answer) and the
energy report (full-power reference) need that.
"""

from __future__ import annotations

import sqlalchemy as sa

from .base import Ident, Millis, metadata

#: Site key of city-wide rows (``light_calendars``, ``light_commands``): not an id, so no commune can be called so.
CITY_SITE = "*"

light_luminaires = sa.Table(
    "light_luminaires", metadata,
    sa.Column("device_id", Ident, primary_key=True),
    sa.Column("lum_id", Ident, primary_key=True),
    sa.Column("site", Ident, nullable=False),
    sa.Column("rated_w", sa.Float, nullable=False, doc="nameplate power at 100 %"),
    sa.Column("lat", sa.Float, nullable=True),
    sa.Column("lon", sa.Float, nullable=True),
    sa.Column("updated_ms", Millis, nullable=False),
)
sa.Index("ix_light_luminaires_site", light_luminaires.c.site)

#: Configured groups of each luminaire (the implicit commune and city groups are not listed).
light_group_members = sa.Table(
    "light_group_members", metadata,
    sa.Column("site", Ident, primary_key=True),
    sa.Column("group_name", Ident, primary_key=True),
    sa.Column("device_id", Ident, primary_key=True),
    sa.Column("lum_id", Ident, primary_key=True),
)
sa.Index("ix_light_group_members_device", light_group_members.c.device_id)

#: The calendar each group should follow, as last set through the API (``NULL``: back to the boxes' configs).
light_calendars = sa.Table(
    "light_calendars", metadata,
    sa.Column("site", Ident, primary_key=True, doc="commune slug, or '*' for the city group"),
    sa.Column("group_name", Ident, primary_key=True),
    sa.Column("calendar", sa.JSON, nullable=True),
    sa.Column("updated_ms", Millis, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("cmd_id", sa.String(64), nullable=False, doc="the light.calendar command that pushed it"),
)

#: Last command sequence per issuer: ``cseq`` must grow across restarts and across the app's processes.
light_issuers = sa.Table(
    "light_issuers", metadata,
    sa.Column("issuer", Ident, primary_key=True),
    sa.Column("last_cseq", sa.BigInteger, nullable=False),
)

light_commands = sa.Table(
    "light_commands", metadata,
    sa.Column("cmd_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(32), nullable=False, doc="light.override or light.calendar"),
    sa.Column("scope", sa.String(8), nullable=False, doc="group, commune, city or device"),
    sa.Column("site", Ident, nullable=False, doc="commune slug, or '*' for the city"),
    sa.Column("target", Ident, nullable=False, doc="the command's target: a group or a device id"),
    sa.Column("issuer", Ident, nullable=False),
    sa.Column("cseq", sa.BigInteger, nullable=False),
    sa.Column("created_ms", Millis, nullable=False),
    sa.Column("expires_ms", Millis, nullable=False),
    sa.Column("args", sa.JSON, nullable=False),
    sa.Column("requested_by", sa.String(64), nullable=False),
    sa.CheckConstraint("scope IN ('group', 'commune', 'city', 'device')", name="scope"),
)
sa.Index("ix_light_commands_site_created", light_commands.c.site, light_commands.c.created_ms)

#: Where a command goes (a city-wide command: one topic per commune); ``published_ms`` NULL = still to publish.
light_command_topics = sa.Table(
    "light_command_topics", metadata,
    sa.Column("cmd_id", sa.String(64), sa.ForeignKey("light_commands.cmd_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("topic", sa.String(200), primary_key=True),
    sa.Column("published_ms", Millis, nullable=True, doc="when the broker acknowledged it (PUBACK)"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.String(200), nullable=True),
)

#: Expected answers (one row per target device, result NULL until it answers) and answers from others.
light_command_acks = sa.Table(
    "light_command_acks", metadata,
    sa.Column("cmd_id", sa.String(64), sa.ForeignKey("light_commands.cmd_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("device_id", Ident, primary_key=True),
    sa.Column("expected", sa.Boolean, nullable=False, doc="the registry said this device is a target"),
    sa.Column("result", sa.String(16), nullable=True, doc="applied, stale, expired, duplicate, invalid..."),
    sa.Column("detail", sa.String(512), nullable=True),
    sa.Column("applied", sa.JSON, nullable=True),
    sa.Column("ack_ms", Millis, nullable=True),
)


#: The current state of each (luminaire, fault) reported by the nodes' ``lamp_fault`` events, kept at ingest: raw
#: events leave with the retention, a lamp that failed 40 days ago and was never repaired must stay failed. The
#: row is the latest report by (event time, boot, number), whatever order the events arrived in.
lamp_faults = sa.Table(
    "lamp_faults", metadata,
    sa.Column("device_id", Ident, primary_key=True),
    sa.Column("lum_id", Ident, primary_key=True),
    sa.Column("fault", sa.String(32), primary_key=True, doc="TALQ LampMonitor fault name"),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("ts_ms", Millis, nullable=False, doc="time of the event that reported this state"),
    sa.Column("boot", sa.BigInteger, nullable=False),
    sa.Column("n", sa.BigInteger, nullable=False),
)
