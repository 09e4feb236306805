"""The shared PDF service (design §6): WeasyPrint, a fetcher that serves only our own static files, CJK fonts.

- Templates are `.html`, so Jinja autoescapes whatever data they print.
- A batch is ONE multi-page document (one `render`), never separately rendered pages merged afterwards (§9).
- A missing CJK font still "works" (exit 0, boxes on paper, right text for pdftotext): `cjk_font_embedded`
  reads the fonts actually embedded, for tests and checks.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from flask import current_app, render_template
from markupsafe import Markup
from weasyprint import HTML
from weasyprint.urls import URLFetcher

__all__ = ["BASE_CSS", "Rendered", "SafeFetcher", "cjk_font_embedded", "render", "render_pdf", "safe_fetcher"]

FONT_FAMILY = '"Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", sans-serif'

# Every PDF starts from this (templates put `{{ pdf_base_css }}` first in their <style>, then their own rules).
BASE_CSS = Markup("""
@page {
  size: A4;
  margin: 18mm 15mm 18mm 15mm;
  font-family: $FONT;
  @bottom-center { content: "第 " counter(page) " 页 / 共 " counter(pages) " 页"; font-size: 8.5pt; color: #555; }
}
html { font-family: $FONT; font-size: 10pt; line-height: 1.45; color: #111; }
body { margin: 0; }
table { border-collapse: collapse; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
""".replace("$FONT", FONT_FAMILY))


class SafeFetcher(URLFetcher):
    """Serves the app's own static files and data: URLs; refuses everything else (http, https, ftp, file:// of
    any other path) with ValueError, which WeasyPrint logs and renders the document without that resource."""

    def __init__(self, static_root: str | Path, **kwargs) -> None:
        super().__init__(allowed_protocols=("file", "data"), allow_redirects=False, **kwargs)
        self.static_root = Path(static_root).resolve()

    def fetch(self, url: str, headers: dict | None = None):
        scheme = urlsplit(url).scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme != "file":
            raise ValueError(f"PDF 渲染不允许访问外部资源：{url[:200]}")
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"PDF 渲染不允许访问该文件：{url[:200]}")
        try:
            path = Path(url2pathname(unquote(parts.path))).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            raise ValueError(f"PDF 渲染不允许访问该文件：{url[:200]}") from None
        if not path.is_relative_to(self.static_root) or not path.is_file():
            raise ValueError(f"PDF 渲染不允许访问该文件：{url[:200]}")
        # Our own URL, built from the checked path (no query, fragment, host or '..' left over).
        return super().fetch(path.as_uri(), headers)


def static_root() -> Path:
    return Path(current_app.static_folder or Path(current_app.root_path) / "static").resolve()


def safe_fetcher(url: str):
    """Fetch `url` as a PDF may: only files under the app's static folder (and data: URLs)."""
    return SafeFetcher(static_root()).fetch(url)


@dataclass(frozen=True)
class Rendered:
    data: bytes
    pages: int


def render(template: str, **context) -> Rendered:
    """Render a template to one PDF document; returns the bytes and the page count."""
    root = static_root()
    html = render_template(template, pdf_base_css=BASE_CSS, **context)
    document = HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=SafeFetcher(root)).render()
    return Rendered(document.write_pdf(), len(document.pages))


def render_pdf(template: str, **context) -> bytes:
    return render(template, **context).data


# ---------------------------------------------------------------- font check

_CJK_FONT = re.compile(r"CJK|SourceHan|HanSans|HanSerif|WenQuanYi|SimSun|SimHei|DroidSansFallback", re.I)


def cjk_font_embedded(pdf: bytes) -> list[str]:
    """Names of the CJK fonts embedded in `pdf` (e.g. 'ABCDEF+NotoSansCJKsc-Regular'), read with `pdffonts`.
    Raises RuntimeError when poppler-utils is not installed: a font check must never pass silently."""
    exe = shutil.which("pdffonts")
    if exe is None:
        raise RuntimeError("pdffonts not found: install poppler-utils (Debian: apt-get install poppler-utils)")
    with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
        fh.write(pdf)
        fh.flush()
        out = subprocess.run([exe, fh.name], capture_output=True, text=True, check=True, timeout=60).stdout
    names = []
    for line in out.splitlines()[2:]:  # two header lines: titles and dashes
        cols = line.split()
        # name type... encoding emb sub uni object-number generation: read 'emb' from the right.
        if len(cols) >= 7 and cols[-5] == "yes" and _CJK_FONT.search(cols[0]):
            names.append(cols[0])
    return names
