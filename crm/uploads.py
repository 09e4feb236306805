"""Where plugins keep uploaded files: one folder per plugin under the instance folder, names the app made."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path, PurePath

from flask import current_app

MAX_NAME = 200  # characters of a client's file name kept for display
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def client_filename(name: str | None) -> str:
    """The name an uploaded file is shown and recorded under: the last part of whatever path the browser sent
    (old browsers send C:\\fakepath\\x.xlsx), without control characters (a NUL could hide ".exe" behind
    ".xlsx"), at most `MAX_NAME` characters with the extension kept. Only ever a label: never part of a path."""
    base = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    base = _CONTROL.sub("", base).strip()
    if base in (".", ".."):
        return ""
    if len(base) > MAX_NAME:
        ext = PurePath(base).suffix[:16]
        base = base[:MAX_NAME - len(ext)] + ext
    return base


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
