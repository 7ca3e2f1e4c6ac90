"""Routes of the web UI: login, then one page per task of the control post."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup

import vigie_wire as wire
from coordinator.api.security import session_principal
from coordinator.auth import Principal

from . import communes, i18n

P = ParamSpec("P")

#: Settings of the UI (``VIGIE_MAP_TILE_URL`` etc. override them).
DEFAULTS: dict[str, Any] = {
    # e.g. "https://tile.openstreetmap.org/{z}/{x}/{y}.png"; None draws devices on a plain background.
    "MAP_TILE_URL": None,
    "MAP_TILE_ATTRIBUTION": "",
    "MAP_TILE_MAX_ZOOM": 19,
}

#: (endpoint, label key) of the navigation, in order.
NAV: tuple[tuple[str, str], ...] = (
    ("web.map_page", "nav.map"),
    ("web.feed_page", "nav.feed"),
    ("web.interventions_page", "nav.interventions"),
    ("web.lighting_page", "nav.lighting"),
    ("web.energy_page", "nav.energy"),
    ("web.fleet_page", "nav.fleet"),
    ("web.requisitions_page", "nav.requisitions"),
    ("web.recording_page", "nav.recording"),
)

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")


@bp.before_request
def _language() -> None:
    g.lang = i18n.pick_language(request)


@bp.after_request
def _headers(resp: Response) -> Response:
    if "lang" in request.args and request.args["lang"] in i18n.LANGUAGES:
        resp.set_cookie(i18n.COOKIE, request.args["lang"], max_age=365 * 86400, samesite="Strict",
                        httponly=True)
    resp.headers.setdefault("Content-Security-Policy", _csp())
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    return resp


def _csp() -> str:
    """Everything from this origin; map tiles from their host when a tile URL is configured."""
    img = "'self' data:"
    tile_url = current_app.config.get("MAP_TILE_URL")
    if tile_url:
        parts = urlsplit(str(tile_url).replace("{s}", "a"))
        host = parts.netloc.replace("a.", "*.", 1) if "{s}" in str(tile_url) else parts.netloc
        img += f" {parts.scheme}://{host}"
    return (f"default-src 'self'; img-src {img}; style-src 'self' 'unsafe-inline'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def t(key: str, **params: object) -> str:
    return i18n.translate(str(g.get("lang", i18n.DEFAULT_LANGUAGE)), key, **params)


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"t": t, "lang": g.get("lang", i18n.DEFAULT_LANGUAGE), "languages": i18n.LANGUAGES, "nav": NAV,
            "boot_communes": communes.as_json()}


def _principal() -> Principal | None:
    return session_principal()


def login_required(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    """Pages need a browser session; without one, go to the login page and come back."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        principal = _principal()
        if principal is None:
            return redirect(url_for("web.login_page", next=request.path))
        g.web_user = principal
        return view(*args, **kwargs)

    return wrapper


def _boot(page: str, **extra: Any) -> Markup:
    """The JSON every page script starts from: who, which language, the CSRF token, the labels, the communes."""
    principal: Principal | None = g.get("web_user")
    data: dict[str, Any] = {
        "page": page,
        "lang": g.lang,
        "api": "/api/v1",
        "csrf": session.get("csrf"),
        "user": None if principal is None else {
            "username": principal.username, "role": principal.role, "commune": principal.commune},
        "labels": i18n.catalogue(g.lang),
        "communes": communes.as_json(),
        **extra,
    }
    # ``</`` cannot close the script element from inside a JSON string.
    return Markup(json.dumps(data, ensure_ascii=False).replace("</", "<\\/"))


def _page(template: str, page: str, title_key: str, **extra: Any) -> str:
    return render_template(template, page=page, title=t(title_key), boot=_boot(page, **extra))


@bp.get("/")
def index() -> ResponseReturnValue:
    return redirect(url_for("web.map_page"))


@bp.get("/login")
def login_page() -> ResponseReturnValue:
    nxt = request.args.get("next", "")
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = url_for("web.map_page")
    return render_template("login.html", page="login", title=t("login.title"), next=nxt,
                           boot=_boot("login", next=nxt))


@bp.get("/map")
@login_required
def map_page() -> ResponseReturnValue:
    cfg = current_app.config
    tiles = None
    if cfg.get("MAP_TILE_URL"):
        tiles = {"url": cfg["MAP_TILE_URL"], "attribution": cfg.get("MAP_TILE_ATTRIBUTION", ""),
                 "maxZoom": int(cfg.get("MAP_TILE_MAX_ZOOM", 19))}
    return _page("map.html", "map", "map.title", communes=communes.as_json(), tiles=tiles)


@bp.get("/feed")
@login_required
def feed_page() -> ResponseReturnValue:
    types = [cls.wire_name for _, cls in sorted(wire.EVENT_TYPES.items())]
    return render_template("feed.html", page="feed", title=t("feed.title"), boot=_boot("feed"), event_types=types)


@bp.get("/interventions")
@login_required
def interventions_page() -> ResponseReturnValue:
    return _page("interventions.html", "interventions", "iv.title", communes=communes.as_json())


@bp.get("/lighting")
@login_required
def lighting_page() -> ResponseReturnValue:
    return _page("lighting.html", "lighting", "light.title")


@bp.get("/energy")
@login_required
def energy_page() -> ResponseReturnValue:
    return _page("energy.html", "energy", "energy.title", communes=communes.as_json())


@bp.get("/fleet")
@login_required
def fleet_page() -> ResponseReturnValue:
    return _page("fleet.html", "fleet", "fleet.title")


@bp.get("/requisitions")
@login_required
def requisitions_page() -> ResponseReturnValue:
    return _page("requisitions.html", "requisitions", "req.title")


@bp.get("/enregistrements")
@login_required
def recording_page() -> ResponseReturnValue:
    return _page("recording.html", "recording", "rec.title")


@bp.get("/espace-autorite")
def authority_page() -> ResponseReturnValue:
    """The requesting authorities' page: no staff session; their bearer token stays in the page."""
    return _page("authority.html", "authority", "auth.title")
