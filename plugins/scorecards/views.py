"""scorecards blueprint, mounted under /p/scorecards: the routes live in one module per area."""

from __future__ import annotations

from flask import Blueprint

import plugins.scorecards.models  # noqa: F401 - the plugin's tables are registered with the app's metadata
import plugins.scorecards.models_grades  # noqa: F401 - the grade events
import plugins.scorecards.models_rewards  # noqa: F401 - the pay pools entered per period and outlet

bp = Blueprint("scorecards", __name__, template_folder="templates", static_folder="static")


# The pages, one module per area (each registers its routes on `bp`).
from plugins.scorecards import (  # noqa: E402, F401
    views_banca,
    views_grades,
    views_periods,
    views_rewards,
    views_rhythm,
    views_schemes,
)
