"""Cross-field rules of request bodies written as JSON Schema, for the generated OpenAPI schemas.

The models check these rules in code (``model_validator``); publishing them in the schema too lets a
client, or a generator of test requests, know them without reading prose. Each helper returns a JSON
Schema fragment for ``ConfigDict(json_schema_extra=...)``; a "given" field is one present and not null.
"""

from __future__ import annotations

from typing import Any


def _given(*names: str, types: dict[str, str] | None = None) -> dict[str, Any]:
    kinds = types or {}
    return {"required": list(names), "properties": {n: {"not": {"type": "null"}} if n not in kinds
                                                    else {"type": kinds[n]} for n in names}}


def together(a: str, b: str) -> dict[str, Any]:
    """``a`` and ``b`` are given together or not at all."""
    return {"allOf": [{"if": _given(a), "then": _given(b)}, {"if": _given(b), "then": _given(a)}]}


def requires(field: str, *needed: str) -> dict[str, Any]:
    """When ``field`` is given, every one of ``needed`` is given too."""
    return {"if": _given(field), "then": _given(*needed)}


def exactly_one(*names: str) -> dict[str, Any]:
    """Exactly one of ``names`` is given."""
    return {"oneOf": [_given(n) for n in names]}


def when(field: str, value: str, then: dict[str, Any], otherwise: dict[str, Any] | None = None) -> dict[str, Any]:
    """``then`` applies when ``field`` equals ``value`` (and ``otherwise`` when it does not)."""
    rule: dict[str, Any] = {"if": {"required": [field], "properties": {field: {"const": value}}}, "then": then}
    if otherwise is not None:
        rule["else"] = otherwise
    return rule


def given(*names: str) -> dict[str, Any]:
    """Every one of ``names`` is given (for :func:`when`)."""
    return _given(*names)


def absent(name: str) -> dict[str, Any]:
    """``name`` is missing or null (for :func:`when`)."""
    return {"properties": {name: {"type": "null"}}}


def all_of(*rules: dict[str, Any]) -> dict[str, Any]:
    """Several rules on one schema."""
    return {"allOf": list(rules)}
