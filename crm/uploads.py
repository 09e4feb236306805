"""Where plugins keep uploaded files: one folder per plugin under the instance folder, names the app made."""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from collections.abc import Collection
from pathlib import Path, PurePath

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

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


class ImageRefused(ValueError):
    """Why uploaded bytes are not a picture to keep: `reason` is "format" (not one of the allowed formats), "pixels"
    (over the caller's pixel cap), "bomb" (over Pillow's own limit, caught before the size can be checked) or
    "broken" (unreadable). Each caller words it for its users."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_image(data: bytes, formats: Collection[str], max_pixels: int) -> tuple[Image.Image, str]:
    """Uploaded bytes decoded for re-encoding, never stored as sent: (the picture loaded and turned upright by its
    EXIF orientation, Pillow's format name). The format is read from the content, the pixel count is checked before
    any decoding (Pillow's decompression-bomb warning counts as a refusal too) and the structure is verified.
    Raises ImageRefused."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                if fmt not in formats:
                    raise ImageRefused("format")
                if probe.width * probe.height > max_pixels:
                    raise ImageRefused("pixels")
                probe.verify()  # structural check; the image must be reopened after verify()
            image = Image.open(io.BytesIO(data))
            image.load()
            return ImageOps.exif_transpose(image), fmt
    except ImageRefused:
        raise
    except Image.DecompressionBombWarning as exc:
        raise ImageRefused("bomb") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageRefused("broken") from exc
