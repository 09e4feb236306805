"""Customer import pages (on the customers blueprint): the upload page, the template, the job page with its
progress (htmx-polled) and result, and the rejected rows as .xlsx.

Small files (up to CRM_IMPORT_BACKGROUND_ROWS rows, default 5,000) are imported during the request; larger ones
in a background thread of this process. Either way the upload is checked first, in the request (a refused file
answers at once, 422, and nothing changes), and the browser is sent on to the job's page (POST → redirect → GET).

A job (crm/jobs.py) is a small JSON file in the instance folder (`instance/imports/<id>.json`), with the rejected
rows next to it (`<id>-rejects.xlsx`): the progress can be read by any worker process of the same machine, and a
page reload finds it again. Only the user who ran an import sees its page and downloads its rejected rows (anyone
else: 404). Job files are deleted after `KEEP_HOURS`.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

from flask import abort, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block

from crm import jobs
from crm.access import policy
from crm.customers import imports
from crm.customers.views import bp
from crm.excel_import import MAX_BYTES, MAX_ROWS, SpreadsheetError
from crm.extensions import db
from crm.models import User

BACKGROUND_ROWS = 5_000
KEEP_HOURS = 24
STALE_SECONDS = 300  # a running job not heard of for this long was interrupted (the server restarted)
PREVIEW = 200  # rejected rows listed on the page; all of them are in the download


# ---------------------------------------------------------------- the job store

store = jobs.JobStore("imports", keep_seconds=KEEP_HOURS * 3600, stale_seconds=STALE_SECONDS)
load_job = store.load
_save = store.save
wait = store.wait  # join a background import (tests, the CLI)


def _path(job_id: str, suffix: str = ".json") -> Path:
    return store.path(job_id, suffix)


def _new_job(filename: str, total: int, background: bool) -> dict[str, Any]:
    return store.new(filename=filename, background=background, done=0, total=total, message=None, counts=None,
                     ignored=[], rejects=[], has_rejects=False, seconds=None, fmt=None, encoding=None)


def _finish(job: dict[str, Any], report: imports.ImportReport) -> None:
    if report.rejected:
        imports.write_rejects(str(_path(job["id"], "-rejects.xlsx")), report)
    job.update(state="done", finished=time.time(), counts=report.counts(), ignored=report.ignored,
               has_rejects=bool(report.rejected), seconds=report.seconds, fmt=report.fmt, encoding=report.encoding,
               done=report.total, total=max(report.total, 1),
               rejects=[[r.row, r.columns, r.reasons] for r in report.rejected[:PREVIEW]])
    _save(job)


def _progress(job: dict[str, Any]):
    last = [0.0]

    def tick(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 or done >= total:
            last[0] = now
            job.update(done=done, total=total)
            _save(job)

    return tick


def _failed_message() -> str:
    return _("导入过程中出错，已中止。此前已保存的批次（见下方数字）保留；请检查文件后重新导入（重复导入不会产生重复客户）。")


def _start_background(job: dict[str, Any], importer: imports.CustomerImport) -> None:
    user_id = current_user.id

    def work() -> None:
        importer.actor = db.session.get(User, user_id)
        importer.progress = _progress(job)
        _finish(job, importer.process())

    def failed(exc: BaseException) -> dict[str, Any]:
        report = importer.report
        return {"counts": report.counts() if report else None, "message": _failed_message()}

    store.start(job, work, failed)


# ---------------------------------------------------------------- pages

def _page(error: str | None = None, status: int = 200):
    return render_template("customers/import.html", error=error, max_mb=MAX_BYTES // 1024 // 1024, max_rows=MAX_ROWS,
                           columns=imports.COLUMNS), status


@bp.route("/import", methods=["GET", "POST"])
@policy(permission="customers.edit")
def import_page():
    if request.method == "GET":
        return _page()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(_("请选择要导入的文件"), 422)
    store.cleanup()
    if store.running_job_of(current_user.id) is not None:
        return _page(_("您有一个导入正在进行中，请等它完成后再导入下一个文件"), 422)
    data = upload.read(MAX_BYTES + 1)
    filename = os.path.basename(upload.filename.replace("\\", "/"))[:200]
    importer = imports.CustomerImport(current_user._get_current_object())
    try:
        importer.open(data, filename)
    except (SpreadsheetError, imports.ImportRefused) as exc:
        return _page(exc.message, 422)
    rows = importer.estimated_rows
    background = rows > current_app.config.get("CRM_IMPORT_BACKGROUND_ROWS", BACKGROUND_ROWS)
    job = _new_job(filename, rows, background)
    _save(job)
    if background:
        _start_background(job, importer)
    else:
        importer.progress = _progress(job)
        try:
            _finish(job, importer.process())
        except Exception:
            db.session.rollback()
            job.update(state="failed", finished=time.time(),
                       counts=importer.report.counts() if importer.report else None, message=_failed_message())
            _save(job)
            raise
    target = url_for("customers.import_job", job_id=job["id"])
    if request.headers.get("HX-Request"):
        return "", 204, {"HX-Redirect": target}  # a full page load: the address bar shows the job
    return redirect(target, 303)


@bp.route("/import/template.xlsx")
@policy(permission="customers.edit")
def import_template():
    out = io.BytesIO()
    imports.write_template(out, current_user)
    out.seek(0)
    return send_file(out, mimetype=imports.XLSX_MIME, as_attachment=True, download_name="客户导入模板.xlsx")


@bp.route("/import/<job_id>")
@policy(permission="customers.edit")
def import_job(job_id: str):
    return render_template("customers/import_job.html", job=store.own(job_id), preview=PREVIEW)


@bp.route("/import/<job_id>/progress")
@policy(permission="customers.edit")
def import_progress(job_id: str):
    """The fragment htmx polls every second while the job runs; once it is over, the result replaces it."""
    job = store.own(job_id)
    return render_block("customers/import_job.html", "status", job=job, preview=PREVIEW)


@bp.route("/import/<job_id>/rejects.xlsx")
@policy(permission="customers.edit")
def import_rejects(job_id: str):
    job = store.own(job_id)
    path = _path(job["id"], "-rejects.xlsx")
    if not job.get("has_rejects") or not path.exists():
        abort(404)
    stem = os.path.splitext(job["filename"])[0][:80] or "import"
    return send_file(io.BytesIO(path.read_bytes()), mimetype=imports.XLSX_MIME, as_attachment=True,
                     download_name=f"{stem}-未导入的行.xlsx")
