"""Safe image uploads (photos, signatures, seals): type checked by content, size capped, re-encoded, random names.

Files live in ``<instance>/uploads/salon_events/<32 hex>.<png|jpg>``; nothing a user typed ever becomes part of a
path, and the files are served only through scoped routes that look the row up by id.

    stored = save_image(request.files["photo"], kind="photo")   # raises UploadError with a Chinese message
    path = path_of(stored.stored_name)                           # None for anything not made by save_image
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flask_babel import gettext as _

from crm import uploads

MAX_BYTES = 8 * 1024 * 1024  # an upload larger than this is refused before decoding
MAX_PIXELS = 40_000_000  # decompression bombs: refuse instead of allocating gigabytes
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP"}
# Longest side after re-encoding, per kind: photos shrink, signatures and seals stay crisp.
MAX_SIDE = {"photo": 1600, "signature": 1200, "seal": 1200}
THUMB_SIDE = 320
_NAME_RE = re.compile(r"^[0-9a-f]{32}(?:_t)?\.(?:png|jpg)$")


class UploadError(ValueError):
    """The upload is refused; the message says why, in the user's language."""


@dataclass(frozen=True)
class StoredImage:
    stored_name: str
    thumb_name: str
    width: int
    height: int
    size_bytes: int


def upload_dir() -> Path:
    return uploads.upload_dir("salon_events")


def path_of(stored_name: str | None) -> Path | None:
    """The file of a name made by save_image; None for any other string (no traversal, no user paths)."""
    return uploads.stored_path("salon_events", stored_name, _NAME_RE)


def _read_capped(stream: IO[bytes], limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
        raise UploadError(_("图片过大：不能超过 %(size)s。", size=size))
    return data


def save_image(file: Any, kind: str = "photo", *, max_bytes: int | None = None) -> StoredImage:
    """Check, re-encode and store an uploaded image (a werkzeug FileStorage or a binary stream).

    The declared file name and content type are ignored: Pillow must recognise the bytes as one of the allowed
    formats. The image is decoded, EXIF-rotated, stripped of metadata, shrunk and saved as PNG (signatures and
    seals, which need transparency) or JPEG (photos), under a random name, with a thumbnail."""
    if file is None:
        raise UploadError(_("请选择要上传的图片。"))
    stream = getattr(file, "stream", file)
    data = _read_capped(stream, max_bytes or MAX_BYTES)
    if not data:
        raise UploadError(_("请选择要上传的图片。"))
    try:
        image, _fmt = uploads.decode_image(data, ALLOWED_FORMATS, MAX_PIXELS)
    except uploads.ImageRefused as exc:
        if exc.reason == "format":
            raise UploadError(_("只能上传 JPG、PNG 等图片文件。")) from exc
        if exc.reason == "pixels":
            raise UploadError(_("图片像素过大，请压缩后再上传。")) from exc
        raise UploadError(_("文件不是有效的图片。")) from exc
    side = MAX_SIDE.get(kind, MAX_SIDE["photo"])
    image.thumbnail((side, side))
    keep_alpha = kind in ("signature", "seal")
    if keep_alpha:
        image = image.convert("RGBA")
        ext, save_kw = "png", {"format": "PNG", "optimize": True}
    else:
        image = image.convert("RGB")
        ext, save_kw = "jpg", {"format": "JPEG", "quality": 85, "optimize": True}
    name = secrets.token_hex(16)
    folder = upload_dir()
    main_path = folder / f"{name}.{ext}"
    thumb_path = folder / f"{name}_t.{ext}"
    image.save(main_path, **save_kw)
    thumb = image.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    thumb.save(thumb_path, **save_kw)
    return StoredImage(main_path.name, thumb_path.name, image.width, image.height, main_path.stat().st_size)


def delete_files(*names: str | None) -> None:
    """Remove stored files (after the row is gone); unknown names are ignored."""
    for name in names:
        path = path_of(name)
        if path is not None:
            path.unlink(missing_ok=True)


def mimetype_of(stored_name: str) -> str:
    return "image/png" if stored_name.endswith(".png") else "image/jpeg"
