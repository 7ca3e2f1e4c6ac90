"""Request bodies and query strings parsed into pydantic models, with precise 400 messages."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import MultiDict

from .errors import ApiError, bad_request

M = TypeVar("M", bound=BaseModel)


def _details(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"field": ".".join(str(p) for p in e["loc"]) or "(body)", "reason": e["msg"]} for e in exc.errors()]


def _message(details: list[dict[str, Any]]) -> str:
    return "; ".join(f"{d['field']}: {d['reason']}" for d in details)


def parse_body(model: type[M]) -> M:
    """The JSON body as ``model``; 415 when not JSON, 400 naming every bad field otherwise."""
    if not request.is_json:
        raise ApiError(415, "expected a JSON body (Content-Type: application/json)")
    data = request.get_json(silent=True)
    if data is None:
        raise bad_request("the body is not valid JSON")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = _details(exc)
        raise bad_request(_message(details), details) from exc


def _single_values(params: MultiDict[str, str]) -> dict[str, Any]:
    """Each parameter once: a repeated one is an error, not a silent pick of the first."""
    data: dict[str, Any] = {}
    for key in params:
        values = params.getlist(key)
        if len(values) > 1:
            raise bad_request(f"{key}: given {len(values)} times, expected once")
        data[key] = values[0]
    return data


def _validate(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = _details(exc)
        raise bad_request(_message(details), details) from exc


def parse_query(model: type[M]) -> M:
    """The query string as ``model`` (each parameter once); 400 naming every bad parameter."""
    return _validate(model, _single_values(request.args))


def parse_form(model: type[M]) -> M:
    """A url-encoded form body as ``model`` (each field once); 400 naming every bad field."""
    return _validate(model, _single_values(request.form))
