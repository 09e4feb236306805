"""loan_insurance blueprint, mounted under /p/loan-insurance: the routes live in views_cases, views_panel, views_claims."""

from __future__ import annotations

from flask import Blueprint

import plugins.loan_insurance.models  # noqa: F401 - the plugin's tables are registered with the app's metadata

bp = Blueprint("loan_insurance", __name__, template_folder="templates")

# The pages, one module per area (each registers its routes on `bp`).
from plugins.loan_insurance import views_cases, views_claims, views_panel  # noqa: E402, F401
