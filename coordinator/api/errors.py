"""API errors: one exception type, rendered as one JSON shape with the right status.

Body: ``{"error": {"status": 400, "code": "bad_request", "message": "...", "details": [...]}}``.
Routes raise :class:`ApiError`; Werkzeug's own HTTP errors (404 for unknown URLs, 405, 413...) are
rendered the same way so clients parse one format, keeping the headers they carry (``Allow`` on a 405).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 410: "gone", 413: "too_large", 415: "unsupported_media_type",
         422: "unprocessable", 429: "too_many_requests", 500: "internal_error"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []


def bad_request(message: str, details: list[dict[str, Any]] | None = None) -> ApiError:
    return ApiError(400, message, details)


def not_found(what: str, ident: object) -> ApiError:
    return ApiError(404, f"{what} {ident!r} not found")


def forbidden(message: str) -> ApiError:
    return ApiError(403, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


def error_response(status: int, message: str, details: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"status": status, "code": CODES.get(status, "error"), "message": message}
    if details:
        body["details"] = details
    resp = jsonify({"error": body})
    resp.status_code = status
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="vigie"'
    return resp


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = exc.description or CODES.get(status, "error")
        if status == 413:
            message = f"the request body is larger than the {app.config['MAX_CONTENT_LENGTH']} bytes accepted"
        resp = error_response(status, message)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                resp.headers[name] = value
        return resp
