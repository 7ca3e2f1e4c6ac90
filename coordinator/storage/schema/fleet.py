"""Fleet registry tables: devices, their MQTT sessions and the sequence gaps seen in them."""

from __future__ import annotations

import sqlalchemy as sa

from .base import Ident, Millis, metadata

devices = sa.Table(
    "devices", metadata,
    sa.Column("id", Ident, primary_key=True),
    sa.Column("site", Ident, nullable=False, doc="commune slug, the <site> of the topic tree"),
    sa.Column("district", Ident, nullable=True, doc="operating zone inside the commune"),
    sa.Column("roles", sa.JSON, nullable=False, default=list, doc="camera, light"),
    sa.Column("lat", sa.Float, nullable=True),
    sa.Column("lon", sa.Float, nullable=True),
    sa.Column("caps", sa.JSON, nullable=False, default=list, doc="capabilities from the birth"),
    sa.Column("firmware", sa.String(64), nullable=True),
    sa.Column("config_hash", sa.String(64), nullable=True, doc="hash announced in the birth"),
    sa.Column("seed_config_hash", sa.String(64), nullable=True, doc="hash of the config file it was seeded from"),
    sa.Column(
        "status", sa.String(8), nullable=False, default="unknown",
        doc="unknown (seeded, never heard), online (birth of bd_seq), offline (death of bd_seq: it left or its "
        "link dropped; its telemetry row and the session's events are then flagged stale), stale (set by no "
        "ingest rule: silence is derived from last_seen_ms; a message of the current session sets it online)",
    ),
    sa.Column("bd_seq", sa.BigInteger, nullable=True, doc="birth/death sequence of the current session"),
    sa.Column("last_seen_ms", Millis, nullable=True),
    sa.Column("status_since_ms", Millis, nullable=True),
    sa.Column("session_events_from_ms", Millis, nullable=True,
              doc="earliest event time stored in the current session (its birth time if earlier; null: not known, "
              "a session opened before migration 0006): bounds the UPDATE flagging its events stale at its death"),
    sa.Column("created_ms", Millis, nullable=False),
    sa.Column("updated_ms", Millis, nullable=False),
    sa.CheckConstraint("status IN ('unknown', 'online', 'offline', 'stale')", name="status"),
)
sa.Index("ix_devices_site_status", devices.c.site, devices.c.status)

#: One row per (device, bdSeq): message sequence bookkeeping for gap and duplicate detection.
device_sessions = sa.Table(
    "device_sessions", metadata,
    sa.Column("device_id", Ident, primary_key=True),
    sa.Column("bd_seq", sa.BigInteger, primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("messages", sa.BigInteger, nullable=False, default=0),
    sa.Column("missing", sa.BigInteger, nullable=False, default=0, doc="message numbers never received"),
    sa.Column("duplicates", sa.BigInteger, nullable=False, default=0),
    sa.Column("started_ms", Millis, nullable=False),
    sa.Column("ended_ms", Millis, nullable=True),
)

#: One row per (device, boot): event numbering, independent of MQTT sessions (the outbox
#: replays a boot's events across reconnects).
event_streams = sa.Table(
    "event_streams", metadata,
    sa.Column("device_id", Ident, primary_key=True),
    sa.Column("boot", sa.BigInteger, primary_key=True),
    sa.Column("last_n", sa.BigInteger, nullable=False),
    sa.Column("events", sa.BigInteger, nullable=False, default=0),
    sa.Column("missing", sa.BigInteger, nullable=False, default=0),
    sa.Column("duplicates", sa.BigInteger, nullable=False, default=0),
    sa.Column("historical", sa.BigInteger, nullable=False, default=0),
)

#: Each hole detected in a message or event numbering, for operators and integrators.
sequence_gaps = sa.Table(
    "sequence_gaps", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("device_id", Ident, nullable=False),
    sa.Column("stream", sa.String(8), nullable=False, doc="message (per bdSeq) or event (per boot)"),
    sa.Column("epoch", sa.BigInteger, nullable=False, doc="the bdSeq or the boot"),
    sa.Column("first_missing", sa.BigInteger, nullable=False),
    sa.Column("last_missing", sa.BigInteger, nullable=False),
    sa.Column("detected_ms", Millis, nullable=False),
    sa.CheckConstraint("stream IN ('message', 'event')", name="stream"),
)
sa.Index("ix_sequence_gaps_device", sequence_gaps.c.device_id, sequence_gaps.c.detected_ms)
#: A late message or event fills a recorded hole: found by its stream, without a scan.
sa.Index("ix_sequence_gaps_stream", sequence_gaps.c.device_id, sequence_gaps.c.stream, sequence_gaps.c.epoch)

#: Where each camera's zones and counting lines lie on the ground (WGS84), from the box configs when the fleet is
#: seeded: the map draws them without asking every box for its retained meta.
camera_geometry = sa.Table(
    "camera_geometry", metadata,
    sa.Column("device_id", Ident, primary_key=True),
    sa.Column("cam", sa.SmallInteger, primary_key=True, doc="the camera's index in its box config"),
    sa.Column("target", Ident, primary_key=True, doc="zone or line id (unique within the camera)"),
    sa.Column("site", Ident, nullable=False),
    sa.Column("camera", Ident, nullable=False, doc="the camera's name in its box config"),
    sa.Column("kind", sa.String(4), nullable=False, doc="zone or line"),
    sa.Column("geo", sa.JSON, nullable=False,
              doc="a zone's closed ring of [lon, lat], or a line's {a, b, in_side}, as in the box config"),
    sa.Column("updated_ms", Millis, nullable=False),
    sa.CheckConstraint("kind IN ('zone', 'line')", name="kind"),
)
sa.Index("ix_camera_geometry_site", camera_geometry.c.site)
