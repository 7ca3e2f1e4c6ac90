"""Rules that raise interventions from events, read and managed by supervisors.

A rule of a commune is that commune's business; a rule without a commune covers the whole
métropole and only métropole supervisors may see or change it.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from coordinator.interventions.errors import ModelManifestError
from coordinator.interventions.model_classes import class_ids, models_dir, unknown_classes
from coordinator.interventions.rules import RuleConfig
from coordinator.settings import SettingsError
from coordinator.storage import interventions as store
from coordinator.storage.flask import get_engine
from coordinator.storage.interventions import RuleRow

from ..blueprint import bp
from ..bodies import parse_body
from ..errors import bad_request, not_found
from ..openapi import schema_model
from ..security import check_commune, current_principal, require
from ..vocab import Commune
from .analytics_mode import check_rule_allowed
from .dispatch_common import now_ms


@schema_model
class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80)
    commune: Commune | None = Field(default=None, description="commune slug; null: every commune")
    enabled: bool = True
    config: RuleConfig


_CLASSES = "vigie.model_classes"


def init_app(app: Flask) -> None:
    """Read the detector models' classes once, at start: a broken manifest stops the start, not a request."""
    directory = models_dir(app.config)
    try:
        app.extensions[_CLASSES] = (directory, class_ids(directory))
    except ModelManifestError as exc:
        raise SettingsError(str(exc)) from exc


def _check_classes(body: RuleIn) -> None:
    """400 when the rule names a class index that no detector model of the fleet produces."""
    classes: list[int] | None = getattr(body.config, "classes", None)
    if classes is None:
        return
    directory, known = current_app.extensions[_CLASSES]
    unknown = unknown_classes(classes, known)
    if unknown:
        field = f"config.{body.config.type}.classes"
        reason = (f"class ids {unknown} are not produced by any detector model "
                  f"({len(known)} classes in the manifests of {directory})")
        raise bad_request(f"{field}: {reason}", [{"field": field, "reason": reason}])


def rule_json(r: RuleRow) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "type": r.type, "commune": r.commune, "enabled": r.enabled,
            "config": r.config, "updated_ms": r.updated_ms, "updated_by": r.updated_by}


def _visible_rule(rule_id: int) -> RuleRow:
    with get_engine().connect() as conn:
        rule = store.get_rule(conn, rule_id)
    if rule is None:
        raise not_found("rule", rule_id)
    check_commune(current_principal(), rule.commune)
    return rule


@bp.get("/rules")
@require("supervisor")
def list_rules() -> ResponseReturnValue:
    with get_engine().connect() as conn:
        rules = store.list_rules(conn, current_principal().scope)
    return jsonify({"rules": [rule_json(r) for r in rules]})


@bp.post("/rules")
@require("supervisor")
def create_rule() -> ResponseReturnValue:
    body = parse_body(RuleIn)
    _check_classes(body)
    check_rule_allowed(body.config.type)
    p = current_principal()
    check_commune(p, body.commune)
    with get_engine().begin() as conn:
        rid = store.create_rule(conn, body.name, body.commune, body.enabled, body.config.model_dump(mode="json"),
                                f"user:{p.username}", now_ms())
        rule = store.get_rule(conn, rid)
    assert rule is not None
    return jsonify(rule_json(rule)), 201


@bp.get("/rules/<id:rule_id>")
@require("supervisor")
def get_rule(rule_id: int) -> ResponseReturnValue:
    return jsonify(rule_json(_visible_rule(rule_id)))


@bp.put("/rules/<id:rule_id>")
@require("supervisor")
def update_rule(rule_id: int) -> ResponseReturnValue:
    body = parse_body(RuleIn)
    _check_classes(body)
    check_rule_allowed(body.config.type)
    p = current_principal()
    _visible_rule(rule_id)
    check_commune(p, body.commune)
    with get_engine().begin() as conn:
        store.update_rule(conn, rule_id, body.name, body.commune, body.enabled, body.config.model_dump(mode="json"),
                          f"user:{p.username}", now_ms())
        rule = store.get_rule(conn, rule_id)
    assert rule is not None
    return jsonify(rule_json(rule))
