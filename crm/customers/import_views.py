"""Customer import pages (on the customers blueprint): the upload page, the template, the job page with its
progress (htmx-polled) and result, and the rejected rows as .xlsx.

Small files (up to CRM_IMPORT_BACKGROUND_ROWS rows, default 5,000) are imported during the request; larger ones
in a background thread of this process, or, with Redis (CRM_REDIS_URL), on the job queue run by `crm worker`: the
uploaded file is then kept in Redis (`put_file`) for the worker to read, and deleted as soon as the job ends (it
holds personal data). Either way the upload is checked first, in the request (a refused file answers at once, 422,
and nothing changes), and the browser is sent on to the job's page (POST → redirect → GET).

A job (crm/jobs.py) is a small JSON file in the instance folder (`instance/imports/<id>.json`), with the rejected
rows next to it (`<id>-rejects.xlsx`), or both in Redis with CRM_REDIS_URL: the progress can be read by any worker
process (of the same machine; with Redis, of any), and a page reload finds it again. Only the user who ran an
import sees its page and downloads its rejected rows (anyone else: 404). Job files are deleted after `KEEP_HOURS`.
"""

from __future__ import annotations

import io
import os
import socket
import time
from pathlib import Path
from typing import Any

from flask import abort, current_app, has_app_context, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block

from crm import jobs, uploads
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
UPLOAD = "-upload"  # the uploaded file, kept in Redis while a queued import waits for and runs in a worker


# ---------------------------------------------------------------- the job store

def _process_started(pid: int) -> str | None:
    """When process `pid` of this machine started (Linux /proc, in clock ticks since boot: a pid is reused, a
    start time is not), or None if it is gone (or a zombie, or there is no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # after "pid (command)", which may hold spaces
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]  # field 22 of proc(5), starttime


def _runner() -> dict[str, Any]:
    """This process, as the one running an import: its machine, pid and start time."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "since": _process_started(os.getpid())}


def _runner_gone(runner: Any) -> bool:
    """Is the process that ran this import known to be gone? Only a process of this machine can be checked, and
    only with /proc; anything else is left to the heartbeat (STALE_SECONDS)."""
    if not isinstance(runner, dict) or not runner.get("since") or runner.get("host") != socket.gethostname():
        return False
    if not Path("/proc/self/stat").exists():
        return False
    return _process_started(int(runner.get("pid") or 0)) != runner["since"]


class _ImportJobs(jobs.JobStore):
    """An import runs during the upload's request (or in a thread of that process), so no worker holds a lease on
    it: had the process been killed (kill -9, out of memory, a redeploy), the job would read as running until
    STALE_SECONDS had passed, and its user could not import again until then. The job names the process running
    it (`runner`); once that process is gone, the job reads as interrupted at once, and the file can be imported
    again (it updates what the killed run had saved, see crm/customers/imports.py)."""

    def _interrupted(self, job: dict[str, Any], redis: Any) -> bool:
        if not job.get("queued_at") and not job.get("leased") and _runner_gone(job.get("runner")):
            return True
        return super()._interrupted(job, redis)

    # The registered work (`_queued_work`) reads the upload kept in Redis: it exists only where imports go to the
    # queue. Without it (no Redis, or CRM_JOBS_IN_PROCESS) an import runs in the thread of its request and there is
    # nothing to run again: the failed-jobs page offers no retry, the user uploads the file again, as before.
    @property  # type: ignore[override]
    def factory(self) -> jobs.Factory | None:
        return self._factory if has_app_context() and jobs.uses_queue() else None

    @factory.setter
    def factory(self, value: jobs.Factory | None) -> None:
        self._factory = value

    def put_upload(self, job_id: str, data: bytes) -> None:
        """Keep the uploaded file for the worker. At most until the job can no longer run (queued too long, or
        running past RQ's timeout), even if a killed worker never deletes it."""
        self.put_file(job_id, UPLOAD, data)
        redis = self._redis()
        if redis is not None:
            redis.expire(self._key(job_id, "file", UPLOAD), jobs.QUEUE_SECONDS + jobs.JOB_TIMEOUT)

    def drop_upload(self, job_id: str) -> None:
        redis = self._redis()
        if redis is not None:
            redis.delete(self._key(job_id, "file", UPLOAD))
        else:
            self.path(job_id, UPLOAD).unlink(missing_ok=True)


store = _ImportJobs("imports", keep_seconds=KEEP_HOURS * 3600, stale_seconds=STALE_SECONDS)
load_job = store.load
_save = store.save
wait = store.wait  # join a background import (tests, the CLI)


def _path(job_id: str, suffix: str = ".json") -> Path:
    return store.path(job_id, suffix)


def _new_job(filename: str, total: int, background: bool) -> dict[str, Any]:
    return store.new(filename=filename, background=background, done=0, total=total, message=None, counts=None,
                     ignored=[], rejects=[], has_rejects=False, seconds=None, fmt=None, encoding=None,
                     runner=_runner())  # this process runs it (in the request, or in a thread: see _start_background)


def _finish(job: dict[str, Any], report: imports.ImportReport) -> None:
    if report.rejected:
        scratch = store.scratch(job["id"], "-rejects.xlsx")
        imports.write_rejects(str(scratch), report, tmpdir=str(scratch.parent))
        store.put_file(job["id"], "-rejects.xlsx", scratch)  # whole or not at all, where every server sees it
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


class UploadGone(imports.ImportRefused):
    """The uploaded file is no longer kept (the job ended, or expired): only a new upload can run it."""


@store.runs(retries=1, final=(imports.ImportRefused, SpreadsheetError))
def _queued_work(job: dict[str, Any]) -> tuple[jobs.Work, jobs.Failed]:
    """An import run by `crm worker`, from the job alone: the upload kept in Redis, the user by id. Running it again
    is safe (RQ retries once after an unexpected error): the rows a first run saved are matched and updated, not
    added twice (crm/customers/imports.py). The upload is deleted when the job ends, done or failed for good; not
    before a retry."""
    held: dict[str, imports.CustomerImport] = {}

    def work() -> None:
        job["runner"] = _runner()
        data = store.open_file(job["id"], UPLOAD)
        if data is None:
            raise UploadGone(_("上传的文件已不在服务器上（已过期或已处理），请重新导入该文件。"))
        actor = db.session.get(User, job["user_id"])
        if actor is None or not actor.active:
            raise imports.ImportRefused(_("您没有新建客户的权限"))
        importer = held["importer"] = imports.CustomerImport(actor)
        importer.open(data, job["filename"])  # the user's rights are checked again, as of now
        del data
        importer.progress = _progress(job)
        _finish(job, importer.process())
        store.drop_upload(job["id"])

    def failed(exc: BaseException) -> dict[str, Any]:
        store.drop_upload(job["id"])  # called once the job has failed for good (never before RQ's retry)
        if isinstance(exc, (imports.ImportRefused, SpreadsheetError)):
            return {"message": exc.message, "counts": None}
        report = held["importer"].report if "importer" in held else None
        return {"counts": report.counts() if report else None, "message": _failed_message()}

    return work, failed


def _start_background(job: dict[str, Any], importer: imports.CustomerImport, data: bytes) -> None:
    if jobs.uses_queue():
        # Any worker may run it: the file goes to Redis, the work is built there from the job (_queued_work).
        importer.close()
        store.put_upload(job["id"], data)
        store.start(job)
        return
    user_id = current_user.id

    def work() -> None:
        job["runner"] = _runner()  # whichever process runs the work
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
    filename = uploads.client_filename(upload.filename)  # a label only: no path, no control characters
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
        _start_background(job, importer, data)
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
    data = store.open_file(job["id"], "-rejects.xlsx") if job.get("has_rejects") else None
    if data is None:
        abort(404)
    stem = os.path.splitext(job["filename"])[0][:80] or "import"
    return send_file(io.BytesIO(data), mimetype=imports.XLSX_MIME, as_attachment=True,
                     download_name=f"{stem}-未导入的行.xlsx")
