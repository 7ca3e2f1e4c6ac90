"""Prometheus metrics of the HTTP API, served at ``/metrics``.

Each app has its own registry (several apps live in one test process); the label is the
route's rule, not the raw path, so ids in URLs do not explode the series count.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

_KEY = "vigie.metrics"


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("vigie_api_requests", "HTTP API requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("vigie_api_request_seconds", "HTTP API request duration", ["method", "route"],
                                 registry=self.registry)


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
        return Response(generate_latest(metrics.registry), mimetype=CONTENT_TYPE_LATEST)
