"""loan_insurance blueprint: mounted under /p/loan_insurance; the pages come in a later issue (no routes yet)."""

from __future__ import annotations

from flask import Blueprint

import plugins.loan_insurance.models  # noqa: F401 - the plugin's tables are registered with the app's metadata

bp = Blueprint("loan_insurance", __name__, template_folder="templates")
