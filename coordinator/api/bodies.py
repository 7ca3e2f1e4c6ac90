"""Request bodies and query strings parsed into pydantic models, with precise 400 messages.

Every JSON body goes through :func:`read_json`: orjson (bounded recursion, no lone surrogates, ``NaN``
refused) instead of the standard parser, whose recursion ends in ``RecursionError`` on a deeply nested
body; then a depth limit and a check for NUL characters, which PostgreSQL cannot store in text. The body's
size is bounded before it is read (``MAX_CONTENT_LENGTH``, 413).
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from flask import request
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import MultiDict

from .errors import ApiError, bad_request

M = TypeVar("M", bound=BaseModel)
#: Deepest nesting of arrays and objects a JSON body may have (the deepest real body, a calendar, has 6).
MAX_JSON_DEPTH = 32


def json_problem(data: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why a decoded JSON value is refused (too deep, a NUL in a string or key), or None; iterative."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "strings may not contain NUL (\\u0000) characters"
        elif isinstance(value, dict | list):
            if depth > max_depth:
                return f"nested deeper than {max_depth} levels"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and "\x00" in key:
                    return "keys may not contain NUL (\\u0000) characters"
                stack.append((item, depth + 1))
    return None


def read_json() -> Any:
    """The request's JSON body, decoded and checked; 400 naming what is wrong."""
    raw = request.get_data(cache=True)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the body is not valid JSON: {exc}") from exc
    problem = json_problem(data)
    if problem is not None:
        raise bad_request(f"the body is refused: {problem}")
    return data


def _details(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"field": ".".join(str(p) for p in e["loc"]) or "(body)", "reason": e["msg"]} for e in exc.errors()]


def _message(details: list[dict[str, Any]]) -> str:
    return "; ".join(f"{d['field']}: {d['reason']}" for d in details)


def parse_body(model: type[M]) -> M:
    """The JSON body as ``model``; 415 when not JSON, 400 naming every bad field otherwise.

    Validated strictly, as JSON: ``0`` is not a boolean and ``"12"`` not a number, while strings still
    parse into times and arrays into tuples (query strings and forms, which are text, are converted).
    """
    if not request.is_json:
        raise ApiError(415, "expected a JSON body (Content-Type: application/json)")
    read_json()  # decodes and checks depth and characters; pydantic then reads the same bytes as JSON
    try:
        return model.model_validate_json(request.get_data(cache=True), strict=True)
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
        if "\x00" in key or "\x00" in values[0]:
            raise bad_request(f"{key!r}: NUL (%00) characters are not accepted")
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
