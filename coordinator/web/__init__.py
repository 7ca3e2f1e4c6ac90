"""The operations-centre web UI: server-rendered page shells, plain ES modules, vendored libraries.

Pages are thin: the server renders the frame (navigation, labels in the operator's language,
the session's CSRF token) and each page's script talks to ``/api/v1`` like any integrator
would. Libraries come from npm at install time into ``static/vendor/`` (see ``vendor.py``).
"""

from __future__ import annotations

from flask import Flask

from .pages import DEFAULTS, bp


def init_app(app: Flask) -> None:
    """Register the ``web`` blueprint; its settings default here so ``VIGIE_*`` values win."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(bp)


__all__ = ["bp", "init_app"]
