"""Interventions, their audit log, field teams, rules and the notification outbox.

``interventions.version`` guards every update (``UPDATE ... WHERE version = :seen``): two
operators acting at once cannot both win, the second gets a conflict instead of a lost update.
``deliveries`` is a durable outbox: a hook or a request writes the row in its own transaction,
the notification worker sends it later and records each attempt.
"""

from __future__ import annotations

import sqlalchemy as sa

from .base import Ident, Millis, metadata

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite autoincrements INTEGER keys only

STATES = ("new", "acknowledged", "assigned", "en_route", "on_site", "resolved", "closed")
PRIORITIES = ("urgent", "high", "normal", "low")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


teams = sa.Table(
    "teams", metadata,
    sa.Column("id", Ident, primary_key=True, doc="slug, part of the team's MQTT topics"),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("commune", Ident, nullable=False, doc="home commune, the <site> of its topics"),
    sa.Column("skills", sa.JSON, nullable=False, doc="police, voirie, eclairage, proprete"),
    sa.Column("lat", sa.Float, nullable=True, doc="last known position"),
    sa.Column("lon", sa.Float, nullable=True),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("webhook_url", sa.String(512), nullable=True),
    sa.Column("webhook_secret", sa.String(128), nullable=True, doc="HMAC key of the webhook signature"),
    sa.Column("created_ms", Millis, nullable=False),
    sa.Column("updated_ms", Millis, nullable=False),
)

rules = sa.Table(
    "rules", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("type", sa.String(24), nullable=False),
    sa.Column("commune", Ident, nullable=True, doc="NULL: every commune"),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("created_ms", Millis, nullable=False),
    sa.Column("updated_ms", Millis, nullable=False),
    sa.Column("updated_by", sa.String(80), nullable=False),
)

#: Per-rule memory between batches (crowd flags per zone, vehicles in no-stopping zones).
rule_state = sa.Table(
    "rule_state", metadata,
    sa.Column("rule_id", _ID, sa.ForeignKey("rules.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("updated_ms", Millis, nullable=False),
)

interventions = sa.Table(
    "interventions", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("priority", sa.String(8), nullable=False),
    sa.Column("source", sa.String(8), nullable=False, doc="rule, operator or citizen"),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("commune", Ident, nullable=True),
    sa.Column("lat", sa.Float, nullable=True),
    sa.Column("lon", sa.Float, nullable=True),
    sa.Column("device_id", Ident, nullable=True),
    sa.Column("target", Ident, nullable=True, doc="zone or luminaire id"),
    sa.Column("dedupe_key", sa.String(160), nullable=True),
    sa.Column("skill", sa.String(16), nullable=True),
    sa.Column("rule_id", _ID, sa.ForeignKey("rules.id", ondelete="SET NULL"), nullable=True),
    sa.Column("service_code", sa.String(32), nullable=True, doc="Open311 service of a citizen report"),
    sa.Column("team_id", Ident, sa.ForeignKey("teams.id"), nullable=True),
    sa.Column("reports", sa.Integer, nullable=False, default=1, doc="merged duplicates, the first included"),
    sa.Column("escalation", sa.SmallInteger, nullable=False, default=0),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("first_ms", Millis, nullable=False),
    sa.Column("last_ms", Millis, nullable=False, doc="latest report merged in"),
    sa.Column("sla_start_ms", Millis, nullable=False),
    sa.Column("acknowledged_ms", Millis, nullable=True),
    sa.Column("on_site_ms", Millis, nullable=True),
    sa.Column("resolved_ms", Millis, nullable=True),
    sa.Column("closed_ms", Millis, nullable=True),
    sa.Column("created_ms", Millis, nullable=False),
    sa.Column("updated_ms", Millis, nullable=False),
    sa.Column("created_by", sa.String(80), nullable=False),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    sa.CheckConstraint(_in("state", STATES), name="state"),
    sa.CheckConstraint(_in("priority", PRIORITIES), name="priority"),
    sa.CheckConstraint(_in("source", ("rule", "operator", "citizen")), name="source"),
)
sa.Index("ix_interventions_state", interventions.c.state, interventions.c.kind)
sa.Index("ix_interventions_commune_state", interventions.c.commune, interventions.c.state)
sa.Index("ix_interventions_team_state", interventions.c.team_id, interventions.c.state)

intervention_log = sa.Table(
    "intervention_log", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("intervention_id", _ID, sa.ForeignKey("interventions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("ts_ms", Millis, nullable=False),
    sa.Column("actor", sa.String(160), nullable=False, doc="user:<name>, team:<id>, rule:<id>, citizen, system"),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("from_state", sa.String(16), nullable=True),
    sa.Column("to_state", sa.String(16), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
)
sa.Index("ix_intervention_log_intervention", intervention_log.c.intervention_id, intervention_log.c.id)

deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("intervention_id", _ID, sa.ForeignKey("interventions.id", ondelete="CASCADE"), nullable=True),
    sa.Column("team_id", Ident, sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(8), nullable=False, default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_ms", Millis, nullable=False, doc="not before"),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_ms", Millis, nullable=False),
    sa.Column("done_ms", Millis, nullable=True),
    sa.CheckConstraint(_in("channel", ("mqtt", "webhook")), name="channel"),
    sa.CheckConstraint(_in("status", ("pending", "sent", "failed")), name="status"),
)
sa.Index("ix_deliveries_status_next", deliveries.c.status, deliveries.c.next_ms)

delivery_attempts = sa.Table(
    "delivery_attempts", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", _ID, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("ts_ms", Millis, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("http_status", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
)
sa.Index("ix_delivery_attempts_delivery", delivery_attempts.c.delivery_id)

#: Citizen reports per client and window (the client is a hash of its address, never the address).
report_quota = sa.Table(
    "report_quota", metadata,
    sa.Column("client", sa.String(64), primary_key=True),
    sa.Column("window_start_ms", Millis, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)
