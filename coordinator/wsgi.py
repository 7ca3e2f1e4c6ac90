"""WSGI entry point for gunicorn: ``gunicorn 'coordinator.wsgi:app'`` (settings from ``VIGIE_*``)."""

from __future__ import annotations

from . import create_app

app = create_app()
