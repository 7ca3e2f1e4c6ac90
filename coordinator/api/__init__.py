"""HTTP API ``/api/v1``: one blueprint, one module per resource under ``routes/``."""

from __future__ import annotations

from flask import Flask

from . import errors, login_guard, metrics, openapi, security
from .blueprint import bp
from .params import Id32Converter, IdConverter, TextConverter
from .routes import ROUTE_MODULES
from .routes import rules as rule_routes


def init_app(app: Flask) -> None:
    app.url_map.converters.update(id=IdConverter, id32=Id32Converter, default=TextConverter, string=TextConverter)
    for module in ROUTE_MODULES:  # importing a module registers its routes on ``bp``
        assert module.__name__
    security.init_app(app)
    login_guard.init_app(app)
    rule_routes.init_app(app)
    app.register_blueprint(bp)
    errors.register(app)
    metrics.init_app(app)
    openapi.init_app(app)
