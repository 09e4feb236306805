"""scorecards blueprint, mounted under /p/scorecards: the routes live in one module per area."""

from __future__ import annotations

import importlib
import importlib.util

from flask import Blueprint, current_app

import plugins.scorecards.models  # noqa: F401 - the plugin's tables are registered with the app's metadata

bp = Blueprint("scorecards", __name__, template_folder="templates", static_folder="static")


@bp.context_processor
def _section() -> dict:
    """The section tabs link only to pages that exist (`url_endpoints`)."""
    return {"url_endpoints": current_app.view_functions}


# The pages, one module per area (each registers its routes on `bp`).
for _name in ("views_periods", "views_schemes", "views_banca", "views_rhythm"):
    if importlib.util.find_spec(f"plugins.scorecards.{_name}") is not None:
        importlib.import_module(f"plugins.scorecards.{_name}")
