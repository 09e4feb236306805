"""银保贷 document uploads (R-61): PDF, JPEG or PNG only — checked by content, never by name — at most 10 MB, stored
under ``<instance>/uploads/loan_insurance/`` with random names; a user's file name never becomes a path.

A picture is never stored as sent: it is decoded, turned upright by its EXIF orientation and saved afresh (PNG stays
PNG, JPEG stays JPEG, same pixel size), so bytes after the image (an HTML or script tail), EXIF (GPS position, phone
model), comments and other metadata are gone. A PDF is stored byte for byte once its header and end marker check."""

from __future__ import annotations

import io
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flask_babel import gettext as _
from PIL import Image

from crm import uploads

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # decompression bombs: refuse instead of allocating gigabytes (as salon_events' uploads)
JPEG_QUALITY = 92  # scans of licences and certificates: small print must stay legible
# (magic bytes, extension, MIME type): the only kinds a 银保贷 file may be.
_KINDS = ((b"%PDF-", "pdf", "application/pdf"), (b"\xff\xd8\xff", "jpg", "image/jpeg"),
          (b"\x89PNG\r\n\x1a\n", "png", "image/png"))
_MIME = {ext: mime for _m, ext, mime in _KINDS}
_NAME_RE = re.compile(r"^[0-9a-f]{32}\.(?:pdf|jpg|png)$")
_BAD_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]')


class UploadError(ValueError):
    """The upload is refused; the message says why, in Chinese."""


@dataclass(frozen=True)
class StoredFile:
    stored_name: str  # 32 hex + extension, under upload_dir()
    download_name: str  # the user's name, cleaned, with the extension of what the content really is
    size_bytes: int
    ext: str


def upload_dir() -> Path:
    return uploads.upload_dir("loan_insurance")


def path_of(stored_name: str | None) -> Path | None:
    """The file of a name made by save_document; None for any other string (no traversal, no user paths)."""
    return uploads.stored_path("loan_insurance", stored_name, _NAME_RE)


def mimetype_of(stored_name: str) -> str:
    return _MIME.get(stored_name.rsplit(".", 1)[-1], "application/octet-stream")


def sniff(data: bytes) -> str | None:
    """The extension of what `data` is (pdf, jpg, png), or None."""
    for magic, ext, _mime in _KINDS:
        if data.startswith(magic):
            return ext
    return None


def clean_name(name: str | None, ext: str) -> str:
    """The file name to show and to download as: no directories or control characters, the true extension."""
    base = unicodedata.normalize("NFKC", str(name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    stem = _BAD_NAME_CHARS.sub("_", base.rsplit(".", 1)[0] if "." in base else base).strip(" .")[:120]
    return f"{stem or _('材料')}.{ext}"


def _read_capped(stream: IO[bytes]) -> bytes:
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        size = f"{MAX_BYTES // (1024 * 1024)} MB" if MAX_BYTES >= 1024 * 1024 else f"{MAX_BYTES // 1024} KB"
        raise UploadError(_("文件过大：不能超过 %(size)s。", size=size))
    return data


def save_document(file: Any) -> StoredFile:
    """Check and store an uploaded file (a werkzeug FileStorage). The declared name and content type are ignored:
    the bytes must be a PDF (header and end marker, stored as sent), a JPEG or a PNG that Pillow can read (stored
    re-encoded, see _reencode)."""
    if file is None or not getattr(file, "filename", "x"):
        raise UploadError(_("请选择要上传的文件。"))
    data = _read_capped(getattr(file, "stream", file))
    if not data:
        raise UploadError(_("请选择要上传的文件。"))
    ext = sniff(data)
    if ext is None:
        raise UploadError(_("只能上传 PDF、JPG 或 PNG 文件（按文件内容检查，改扩展名无效）。"))
    if ext == "pdf":
        if b"%%EOF" not in data[-2048:]:
            raise UploadError(_("PDF 文件不完整或已损坏。"))
    else:
        ext, data = _reencode(data)
    stored = f"{secrets.token_hex(16)}.{ext}"
    (upload_dir() / stored).write_bytes(data)
    return StoredFile(stored, clean_name(getattr(file, "filename", None), ext), len(data), ext)


def _reencode(data: bytes) -> tuple[str, bytes]:
    """A JPEG or PNG decoded and saved afresh: (extension, new bytes). Only the pixels survive — upright, at the
    same size; no trailer, EXIF, ICC profile, text chunk or comment. Raises UploadError for anything else."""
    try:
        # Phones write JPEGs with a second (depth or preview) picture, which Pillow reads as MPO.
        upright, fmt = uploads.decode_image(data, ("JPEG", "MPO", "PNG"), MAX_PIXELS)
    except uploads.ImageRefused as exc:
        if exc.reason == "format":
            raise UploadError(_("只能上传 PDF、JPG 或 PNG 文件（按文件内容检查，改扩展名无效）。")) from exc
        if exc.reason in ("pixels", "bomb"):
            raise UploadError(_("图片像素过大，请压缩后再上传。")) from exc
        # Over twice Pillow's limit a PNG bomb is refused before its size can be read: the general reason.
        raise UploadError(_("图片文件已损坏，无法读取。")) from exc
    png = fmt == "PNG"
    if png:
        has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
        if has_alpha:
            upright = upright.convert("RGBA")
        elif upright.mode not in ("1", "L", "I;16", "RGB"):  # I;16: 16-bit grey scans, kept (L would clip them)
            upright = upright.convert("RGB")
    elif upright.mode not in ("L", "RGB"):
        upright = upright.convert("RGB")  # CMYK and the rest: what every browser and viewer shows alike
    clean = Image.new(upright.mode, upright.size)  # a new image: nothing of the upload's info dict comes along
    clean.paste(upright)
    out = io.BytesIO()
    if png:
        clean.save(out, format="PNG", optimize=True)
    else:
        clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return ("png" if png else "jpg"), out.getvalue()


def delete_file(stored_name: str | None) -> None:
    """Remove a stored file (a replaced upload, or one whose row was not saved); other names are ignored."""
    path = path_of(stored_name)
    if path is not None:
        path.unlink(missing_ok=True)
