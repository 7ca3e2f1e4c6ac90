"""Prometheus metrics of the HTTP API, served at ``/metrics`` to the bearer of the metrics token.

Each app has its own registry (several apps live in one test process); the label is the
route's rule, not the raw path, so ids in URLs do not explode the series count. The metrics
say who logs in how often and which routes fail: not for the public. Without ``METRICS_TOKEN``
the route answers 404; with it, only ``Authorization: Bearer <METRICS_TOKEN>`` reads them.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from coordinator.auth.secrets import same_secret

from .errors import error_response

_KEY = "vigie.metrics"


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("vigie_api_requests", "HTTP API requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("vigie_api_request_seconds", "HTTP API request duration", ["method", "route"],
                                 registry=self.registry)
        self.logins = Counter("vigie_auth_logins", "Login attempts by result (success, failure, throttled)",
                              ["result"], registry=self.registry)
        self.lockouts = Counter("vigie_auth_lockouts", "Account names or client addresses locked by failed logins",
                                ["scope"], registry=self.registry)


def get_metrics(app: Flask) -> ApiMetrics:
    m: ApiMetrics = app.extensions[_KEY]
    return m


def init_app(app: Flask) -> None:
    metrics = ApiMetrics()
    app.extensions[_KEY] = metrics

    @app.before_request
    def _start() -> None:
        g.t0 = time.perf_counter()

    @app.after_request
    def _observe(resp: Response) -> Response:
        route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
        metrics.requests.labels(request.method, route, str(resp.status_code)).inc()
        t0 = g.get("t0")
        if t0 is not None:
            metrics.latency.labels(request.method, route).observe(time.perf_counter() - t0)
        return resp

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        token = app.config.get("METRICS_TOKEN")
        if not token:
            return error_response(404, "metrics are not served: no metrics token is configured")
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not same_secret(sent.strip(), str(token)):
            return error_response(401, "metrics need 'Authorization: Bearer <metrics token>'")
        return Response(generate_latest(metrics.registry), mimetype=CONTENT_TYPE_LATEST)
