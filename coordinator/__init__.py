"""Vigie coordinator: ingest, fleet, lighting, interventions, and the HTTP API and web UI.

``create_app`` is the Flask application factory; ingest workers are separate processes
(``vigie-coordinator ingest``) that share the database, not the Flask app.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from . import settings
from .api import init_app as init_api
from .register.page import bp as register_page
from .storage import flask as storage_flask
from .web import init_app as init_web


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``VIGIE_*`` environment, then ``test_config``."""
    app = Flask(__name__)
    app.config.from_mapping(settings.DEFAULTS)
    app.config.from_prefixed_env("VIGIE")
    if test_config:
        app.config.update(test_config)
    settings.finalise(app.config)
    storage_flask.init_app(app)
    init_api(app)
    init_web(app)
    app.register_blueprint(register_page)
    return app
