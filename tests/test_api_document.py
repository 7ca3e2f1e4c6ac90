"""The OpenAPI document states the bounds, vocabularies and limits the code enforces."""

from __future__ import annotations

from typing import Any

from flask import Flask
from jsonschema import Draft202012Validator

from coordinator.api.openapi import document
from coordinator.api.routes.interventions import Kind
from coordinator.interventions.geo import COMMUNE_SLUGS

METHODS = ("get", "post", "put", "patch", "delete")


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    out = []
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                out.append((method, path, op, [*item.get("parameters", []), *op.get("parameters", [])]))
    return out


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_every_integer_parameter_is_bounded_on_both_sides() -> None:
    doc = document()
    for method, path, _op, params in _operations(doc):
        for p in params:
            schema = _resolve(doc, p["schema"])
            if schema.get("type") == "integer":
                assert "minimum" in schema and "maximum" in schema, (method, path, p["name"])


def test_communes_and_kinds_are_enums_generated_from_the_data() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]
    assert schemas["CommuneSlug"]["enum"] == sorted(COMMUNE_SLUGS)
    assert set(schemas["InterventionKind"]["enum"]) == set(Kind.__args__)
    for name in ("InterventionCreate", "TeamCreate", "TeamUpdate", "RuleIn"):
        assert sorted(COMMUNE_SLUGS) == _commune_enum(schemas[name]["properties"]["commune"]), name
    for method, path, _op, params in _operations(doc):
        for p in params:
            if p["name"] in {"site", "commune"} and p["in"] == "query":
                assert p["schema"] == {"$ref": "#/components/schemas/CommuneSlug"}, (method, path)


def _commune_enum(schema: dict[str, Any]) -> list[str]:
    options = schema.get("anyOf", [schema])
    return next(o["enum"] for o in options if "enum" in o)


def test_every_operation_with_a_body_documents_413_and_every_parameter_400() -> None:
    doc = document()
    for method, path, op, params in _operations(doc):
        if "requestBody" in op:
            assert "413" in op["responses"], (method, path)
        # A wrong X-CSRF-Token is refused with the documented 403, not a 400.
        if any(p["in"] in {"query", "header"} and p["name"] != "X-CSRF-Token" for p in params):
            assert "400" in op["responses"], (method, path)
        if any(p["name"] == "X-CSRF-Token" for p in params):
            assert "403" in op["responses"], (method, path)


def test_cross_field_rules_are_in_the_schemas() -> None:
    schemas = document()["components"]["schemas"]
    override = Draft202012Validator(schemas["OverrideRequest"])
    base = {"scope": "commune", "site": "dijon", "level": 50}
    assert override.is_valid({**base, "duration_s": 60})
    assert not override.is_valid({**base, "duration_s": 60, "expires": 10})
    assert not override.is_valid(base)
    team = Draft202012Validator(schemas["TeamCreate"])
    good = {"id": "t", "name": "T", "commune": "dijon", "skills": ["police"]}
    assert team.is_valid(good)
    assert not team.is_valid({**good, "lat": 47.3})
    assert not team.is_valid({**good, "skills": ["police", "police"]})
    assert not team.is_valid({**good, "webhook_url": "https://x.example/h"})
    transition = Draft202012Validator(schemas["TransitionRequest"])
    assert not transition.is_valid({"to": "new"})
    assert transition.is_valid({"to": "new", "reason": "pas fini"})
    assert not transition.is_valid({"to": "assigned"})
    assert not transition.is_valid({"to": "en_route", "team": "t"})
    calendar = Draft202012Validator(schemas["CalendarRequest"])
    assert not calendar.is_valid({"scope": "device", "device": "b", "calendar": None})


def test_the_served_document_names_the_role_each_operation_requires(app: Flask) -> None:
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    roles = {(m, p): op.get("x-required-role") for m, p, op, _ in _operations(doc)}
    assert roles[("post", "/users")] == "admin" and roles[("get", "/rules")] == "supervisor"
    assert roles[("post", "/auth/tokens")] == "viewer" and roles[("post", "/lighting/overrides")] == "operator"
    for (method, path), role in roles.items():
        public = doc["paths"][path][method].get("security") == []
        assert (role is None) == public, (method, path)
