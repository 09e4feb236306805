"""The shared PDF service (design §6): WeasyPrint, a fetcher that serves only our own static files, CJK fonts.

- Templates are `.html`, so Jinja autoescapes whatever data they print.
- A batch is ONE multi-page document (one `render`), never separately rendered pages merged afterwards (§9).
- A missing CJK font still "works" (exit 0, boxes on paper, right text for pdftotext): `cjk_font_embedded`
  reads the fonts actually embedded, for tests and checks.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import re
import shutil
import subprocess  # nosec B404  # only pdffonts, fixed argv, no shell (see cjk_font_embedded)
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from flask import current_app, render_template
from markupsafe import Markup
from weasyprint import HTML
from weasyprint.urls import URLFetcher

__all__ = ["BASE_CSS", "Rendered", "SafeFetcher", "cjk_font_embedded", "gc_paused", "pages_laid_out", "release_memory",
           "render", "render_pdf", "safe_fetcher"]

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
""".replace("$FONT", FONT_FAMILY))  # nosec B704  # constant CSS written here, no user input


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
        out = subprocess.run(  # nosec B603  # argv: pdffonts from PATH + our own temp file; no shell
            [exe, fh.name], capture_output=True, text=True, check=True, timeout=60).stdout
    names = []
    for line in out.splitlines()[2:]:  # two header lines: titles and dashes
        cols = line.split()
        # name type... encoding emb sub uni object-number generation: read 'emb' from the right.
        if len(cols) >= 7 and cols[-5] == "yes" and _CJK_FONT.search(cols[0]):
            names.append(cols[0])
    return names


# ---------------------------------------------------------------- big renders (the ledger, certificate batches)

_gc_lock = threading.Lock()
_gc_pause = {"renders": 0, "was_enabled": False}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No automatic garbage collection while WeasyPrint lays out. As the document grows, Python runs a full
    collection at every 25 % of growth; each one walks every box so far and frees next to nothing (the boxes are
    alive until the layout is done): 500 customers, about 20 collections and a fifth of the layout's CPU. One
    collection afterwards (gc.collect() before writing, `release_memory` after) frees what there is to free. The
    switch is process-wide, so other threads' cyclic garbage waits for the end of the render too; concurrent renders
    share one pause."""
    with _gc_lock:
        if _gc_pause["renders"] == 0:
            _gc_pause["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_pause["renders"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pause["renders"] -= 1
            if _gc_pause["renders"] == 0 and _gc_pause["was_enabled"]:
                gc.enable()


def release_memory() -> None:
    """Collect garbage and hand freed memory back to the system, so a web worker that rendered a big PDF does not
    keep its peak size (glibc keeps freed memory in its arenas otherwise; elsewhere only the collection runs).
    A full collection after a big render takes a second or two: call it once the user is no longer waiting."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


# WeasyPrint renders in one call, but its documented `weasyprint.progress` logger names every step, and every page
# when it is laid out ("Step 5 - Creating layout - Page %d"). A handler on it counts this thread's pages (another
# thread may be rendering another PDF meanwhile). Should a later WeasyPrint word this differently, the count only
# stays at 0: the stages around it are ours.
_PROGRESS_LOG = logging.getLogger("weasyprint.progress")
_LAYOUT_PAGE = "Step 5 - Creating layout - Page"
_tap_lock = threading.Lock()
_tap: dict[str, Any] = {"users": 0, "saved": None}


class _PageCounter(logging.Handler):
    def __init__(self, report: Callable[[str, int], None]) -> None:
        super().__init__(logging.INFO)
        self.thread = threading.get_ident()
        self.report = report
        self.pages = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread or not isinstance(record.msg, str) or not record.msg.startswith(_LAYOUT_PAGE):
            return
        if "up-to-date" in record.msg or not record.args:
            return
        try:
            page = int(record.args[0])  # type: ignore[index]
        except (TypeError, ValueError, IndexError):
            return
        # A second pass (for "page x of y" and the contents' page numbers) re-lays out from page 1: keep the most.
        if page > self.pages:
            self.pages = page
            self.report("layout", page)


@contextlib.contextmanager
def pages_laid_out(report: Callable[[str, int], None]) -> Iterator[None]:
    """Calls report("layout", n) as WeasyPrint lays out page n of this thread's render (see above)."""
    handler = _PageCounter(report)
    with _tap_lock:
        if _tap["users"] == 0:
            _tap["saved"] = (_PROGRESS_LOG.level, _PROGRESS_LOG.propagate, _PROGRESS_LOG.disabled)
            if not _PROGRESS_LOG.isEnabledFor(logging.INFO):
                # Nobody asked for these records: let them reach our handler only, not the application's log.
                _PROGRESS_LOG.setLevel(logging.INFO)
                _PROGRESS_LOG.propagate = False
            # logging.config.fileConfig (Alembic's env.py runs it) disables every logger that exists by then.
            _PROGRESS_LOG.disabled = False
        _tap["users"] += 1
        _PROGRESS_LOG.addHandler(handler)
    try:
        yield
    finally:
        with _tap_lock:
            _PROGRESS_LOG.removeHandler(handler)
            _tap["users"] -= 1
            if _tap["users"] == 0:
                _PROGRESS_LOG.setLevel(_tap["saved"][0])
                _PROGRESS_LOG.propagate, _PROGRESS_LOG.disabled = _tap["saved"][1:]
                _tap["saved"] = None
