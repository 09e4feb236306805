"""Where plugins keep uploaded files: one folder per plugin under the instance folder, names the app made."""

from __future__ import annotations

import re
from pathlib import Path

from flask import current_app


def upload_dir(area: str) -> Path:
    """The folder of `area` (a plugin's name) under instance/uploads, created on first use."""
    folder = Path(current_app.instance_path) / "uploads" / area
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stored_path(area: str, stored_name: str | None, pattern: re.Pattern[str]) -> Path | None:
    """The file of a name the app generated (it matches `pattern`, e.g. 32 hex digits and an extension); None for
    any other string and for a file that is gone — so no user-chosen path and no traversal ever reaches the disk."""
    if not stored_name or not pattern.fullmatch(stored_name):
        return None
    path = upload_dir(area) / stored_name
    return path if path.is_file() else None
