"""The register's printable page (French): the filtered entries as one table, hashes included.

Server-rendered without script so that printing it (or saving it as PDF from the browser) shows
exactly what the database holds; the state of the chain is checked at rendering and shown on top.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import ValidationError

from coordinator.api.routes.register import RegisterFilter
from coordinator.api.security import session_principal
from coordinator.storage import register as register_store
from coordinator.storage.flask import get_engine

from .csv_export import utc

bp = Blueprint("register_page", __name__, template_folder="templates")

#: Entries one printed page shows at most (narrow the filter for more).
PRINT_LIMIT = 5000

LABELS = {
    "recording_started": "Début d'enregistrement", "recording_stopped": "Fin d'enregistrement",
    "viewing": "Visionnage", "extraction": "Extraction", "requisition_created": "Réquisition reçue",
    "requisition_approved": "Réquisition approuvée", "requisition_refused": "Réquisition refusée",
    "transmission": "Transmission", "download": "Téléchargement", "download_refused": "Téléchargement refusé",
    "destruction": "Destruction", "legal_hold_set": "Conservation judiciaire", "legal_hold_released":
    "Fin de conservation judiciaire", "analytics_mode_changed": "Changement du mode d'analyse",
}


@bp.get("/registre")
def print_register() -> ResponseReturnValue:
    principal = session_principal()
    if principal is None:
        return redirect(url_for("web.login_page", next=request.full_path))
    if not principal.can("supervisor"):
        abort(403)
    try:
        f = RegisterFilter.model_validate({k: v for k, v in request.args.items() if v})
    except ValidationError as exc:
        return render_template("register_print.html", error=str(exc.errors()[0]["msg"]), entries=[], labels=LABELS,
                               utc=utc, args=request.args, broken=None, count=0, truncated=False), 400
    with get_engine().connect() as conn:
        entries = register_store.page(conn, f.store_filter(), PRINT_LIMIT + 1)
        count, broken = register_store.verify(conn)
    return render_template("register_print.html", error=None, entries=entries[:PRINT_LIMIT], labels=LABELS, utc=utc,
                           args=request.args, broken=broken, count=count, truncated=len(entries) > PRINT_LIMIT)
