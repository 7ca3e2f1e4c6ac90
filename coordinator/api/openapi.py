"""The OpenAPI 3.1 document of ``/api/v1``: hand-written paths, generated body schemas.

``openapi.yaml`` describes every route; request and response bodies that are pydantic models
are generated into ``components.schemas`` so they cannot drift from the code. With
``VALIDATE_RESPONSES`` (the test suite sets it) every JSON response is checked against the
document, so each API test also proves the document true.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from importlib import resources
from typing import Any

import yaml
from flask import Flask, Response, request
from jsonschema import Draft202012Validator
from pydantic import BaseModel
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from . import vocab

PREFIX = "/api/v1"
_MODELS: dict[str, type[BaseModel]] = {}


def schema_model(model: type[BaseModel]) -> type[BaseModel]:
    """Class decorator: publish ``model``'s JSON Schema as ``#/components/schemas/<Name>``."""
    _MODELS[model.__name__] = model
    return model


@cache
def _base_document() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("openapi.yaml").read_text(encoding="utf-8")
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc


def document() -> dict[str, Any]:
    """The full document: the YAML plus the generated schemas of registered models."""
    doc = copy.deepcopy(_base_document())
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(vocab.schemas())
    for name, model in sorted(_MODELS.items()):
        generated = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
        for def_name, definition in generated.pop("$defs", {}).items():
            schemas.setdefault(def_name, definition)
        schemas[name] = generated
    return doc


def flask_rule_to_path(rule: str) -> str:
    """``/api/v1/interventions/<int:iid>`` -> ``/interventions/{iid}``."""
    path = rule[len(PREFIX):] if rule.startswith(PREFIX) else rule
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", path) or "/"


def api_routes(app: Flask) -> set[tuple[str, str]]:
    """Every (method, documented path) the app serves under the prefix."""
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX):
            continue
        for method in rule.methods or ():
            if method in {"HEAD", "OPTIONS"}:
                continue
            out.add((method.lower(), flask_rule_to_path(rule.rule)))
    return out


def documented_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "patch", "delete"}
    return {(m, p) for p, item in doc.get("paths", {}).items() for m in item if m in methods}


def _validator_for(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for ``schema`` whose ``#/components/...`` references resolve in ``doc``."""
    doc["__check__"] = schema
    resource: Resource[Any] = Resource.from_contents(doc, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:vigie-api", resource)
    return Draft202012Validator({"$ref": "urn:vigie-api#/__check__"}, registry=registry)


class ResponseMismatchError(AssertionError):
    """A response the OpenAPI document does not describe (raised in tests only)."""


def check_response(doc: dict[str, Any], method: str, path: str, status: int, body: Any) -> None:
    item = doc.get("paths", {}).get(path)
    if item is None or method not in item:
        raise ResponseMismatchError(f"{method.upper()} {path} is not in the OpenAPI document")
    responses = item[method].get("responses", {})
    spec = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
    if spec is None:
        raise ResponseMismatchError(f"{method.upper()} {path}: status {status} is not documented")
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        spec = doc["components"]["responses"][name]
    schema = spec.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return
    errors = sorted(_validator_for(copy.deepcopy(doc), schema).iter_errors(body), key=str)
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path)
        raise ResponseMismatchError(f"{method.upper()} {path} {status}: body does not match the document at "
                               f"'{where}': {errors[0].message}")


def with_roles(doc: dict[str, Any], app: Flask) -> dict[str, Any]:
    """``doc`` with ``x-required-role`` on each operation, read from the ``require`` decorator of its view.

    Taken from the code, not written by hand, so the document cannot promise a role the route does not
    check; an audit reads it to know which calls a low role must be refused.
    """
    for rule in app.url_map.iter_rules():
        role = getattr(app.view_functions.get(rule.endpoint), "required_role", None)
        item = doc.get("paths", {}).get(flask_rule_to_path(rule.rule))
        if role is None or item is None or not rule.rule.startswith(PREFIX):
            continue
        for method in rule.methods or ():
            if method.lower() in item:
                item[method.lower()]["x-required-role"] = role
    return doc


def init_app(app: Flask) -> None:
    @app.get(f"{PREFIX}/openapi.json")
    def openapi_json() -> dict[str, Any]:
        """The API's own description (public: integrators read it before they have a token)."""
        return with_roles(document(), app)

    if app.config.get("VALIDATE_RESPONSES"):
        full = document()

        @app.after_request
        def _validate(resp: Response) -> Response:
            if request.url_rule is None or not request.url_rule.rule.startswith(PREFIX):
                return resp
            if resp.mimetype != "application/json" or resp.direct_passthrough:
                return resp
            check_response(full, request.method.lower(), flask_rule_to_path(request.url_rule.rule),
                           resp.status_code, resp.get_json())
            return resp
