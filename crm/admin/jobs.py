"""Administration: background jobs that failed or were interrupted, with 重试 / 删除 (system administrator only).

The page lists, for every job store of the core and the plugins, the jobs that ended with an unexpected error (after
RQ's retries) or whose worker died (kill, OOM, restart). It shows what an administrator needs to act and nothing
of the job's content: the kind, who started it, when, the stage reached and the error's class name (an exception's
text can hold customer data; the full traceback is in the worker's log). Retrying runs the job's registered work
again for the user who started it, their rights checked again; deleting drops the job and its files. Both are
audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm import audit, jobs
from crm.access import policy
from crm.admin.views import bp
from crm.extensions import db
from crm.models import User
from crm.web import toast

PERMISSION = "jobs.manage"
KIND_LABELS = {
    "imports": _l("客户导入"),
    "ledgers": _l("台账打印"),
    "certificates": _l("实习证明打印"),
    "target_map_imports": _l("金融生态图企业名录导入"),
    "segmentation_recompute": _l("客户分层重算"),
}
STAGE_LABELS = {
    "queued": _l("排队中"), "loading": _l("读取数据"), "prepare": _l("准备"), "layout": _l("排版"),
    "writing": _l("写入文件"), "issuing": _l("签发证书"), "rendering": _l("生成证书"), "done": _l("完成"),
    "tiers": _l("重新分层"), "segments": _l("计算分群"), "counting": _l("统计客户数"),
}


def _is_listed(job: dict[str, Any]) -> bool:
    """Failed with an unexpected error, or interrupted: what an administrator may have to act on. A job refused for
    the user's own reasons (too large, out of scope, a bad file) is answered on the user's page and not listed."""
    return job.get("state") == "interrupted" or (job.get("state") == "failed" and bool(job.get("error")))


def _when(ts: float | None) -> datetime | None:
    """Naive UTC, as the database keeps times (the template shows them in local time)."""
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None) if ts else None


def _rows() -> list[dict[str, Any]]:
    rows = []
    for store in jobs.stores():
        store.cleanup()
        for job in store.all():
            if _is_listed(job):
                rows.append({"kind": store.kind, "label": KIND_LABELS.get(store.kind, store.kind), "id": job["id"],
                             "user_id": job.get("user_id"), "state": job["state"],
                             "started": _when(job.get("started")),
                             "ended": _when(job.get("finished") or job.get("heartbeat")),
                             "stage": STAGE_LABELS.get(job.get("stage") or "", ""),
                             "error": job.get("error") or "", "attempts": job.get("attempts", 1),
                             "retry": store.factory is not None,
                             "at": job.get("finished") or job.get("heartbeat") or 0})
    users = {u.id: u for u in db.session.execute(
        select(User).where(User.id.in_({r["user_id"] for r in rows if r["user_id"]}))).scalars()}
    for row in rows:
        row["user"] = users.get(row["user_id"])
    rows.sort(key=lambda r: r["at"], reverse=True)
    return rows


def _job(kind: str, job_id: str) -> tuple[jobs.JobStore, dict[str, Any]]:
    store = jobs.store_of(kind)
    job = store.load(job_id) if store is not None else None
    if store is None or job is None or not _is_listed(job):
        abort(404)
    return store, job


@bp.route("/jobs")
@policy(permission=PERMISSION)
def failed_jobs():
    return render_template("admin/jobs.html", rows=_rows(), queue=jobs.uses_queue())


@bp.route("/jobs/<kind>/<job_id>/retry", methods=["POST"])
@policy(permission=PERMISSION)
def failed_job_retry(kind: str, job_id: str):
    store, job = _job(kind, job_id)
    if store.factory is None:
        abort(404)  # work that cannot run without its request (an uploaded file): the user starts it again
    jobs.forget_rq_job(job)
    job.update(state="running", finished=None, message=None, error=None, attempts=job.get("attempts", 1) + 1,
               leased=False, queued_at=None)
    if "stage" in job:
        job["stage"] = "queued"
    store.save(job)
    audit.record("job.retried", target=("job", f"{kind}:{job_id}"), detail={"kind": kind})
    db.session.commit()
    store.start(job)
    toast(_("已重新提交该任务；完成后发起人可在原任务页面下载结果。"))
    return redirect(url_for("admin.failed_jobs"), 303)


@bp.route("/jobs/<kind>/<job_id>/delete", methods=["POST"])
@policy(permission=PERMISSION)
def failed_job_delete(kind: str, job_id: str):
    store, job = _job(kind, job_id)
    jobs.forget_rq_job(job)
    store.delete(job_id)
    audit.record("job.deleted", target=("job", f"{kind}:{job_id}"), detail={"kind": kind})
    db.session.commit()
    toast(_("已删除该任务及其文件。"))
    return redirect(url_for("admin.failed_jobs"), 303)
