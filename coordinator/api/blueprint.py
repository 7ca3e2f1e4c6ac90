"""The API blueprint every route module registers on."""

from __future__ import annotations

from flask import Blueprint

from .openapi import PREFIX

bp = Blueprint("api", __name__, url_prefix=PREFIX)
