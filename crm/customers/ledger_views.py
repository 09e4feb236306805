"""包户包效客户台账 (R-09): the ledger page, printing (POST), the print job's page and its download.

Anyone with customers.view prints their own ledger (the customers they maintain). Another staff member's or an
outlet's ledger needs users.view, and the staff member / outlet must be in the actor's scope: otherwise 404, and
nothing is rendered or started.

Small ledgers (up to CRM_LEDGER_BACKGROUND_CUSTOMERS customers, default 30: a second or two) are rendered during
the request and downloaded at once: one click, about as soon as a job's page could say "done". Larger ones (up to
ledger.MAX_CUSTOMERS) become a job (crm/jobs.py): the browser goes to the job's page, which shows the stages and
the pages laid out so far (htmx polls every second) and then offers the download. Only the user who started a job
sees it and downloads its PDF (anyone else: 404); the file is deleted after KEEP_MINUTES. One process renders at
most CRM_LEDGER_RENDERS_AT_ONCE (default 1) ledgers at a time, each needing a few hundred MB: others wait their
turn, shown as queued. Every download of a ledger, direct or from a job, writes one audit row.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block

from crm import audit, jobs, pdf
from crm.access import can, get_or_404, policy, scoped
from crm.customers import ledger
from crm.customers.views import bp
from crm.extensions import db
from crm.models import Outlet, User
from crm.timeutil import to_local
from crm.web import toast

BACKGROUND_CUSTOMERS = 30  # up to this many customers (≈12 pages, 1–2 s) the PDF comes straight back
KEEP_MINUTES = 60  # a generated ledger holds customer data: it does not stay on the server for long
# A running job saves at every stage and twice a second while laying out, a queued one every 24 s: not saved for
# two minutes, it was interrupted (the server restarted).
STALE_SECONDS = 120
RENDERS_AT_ONCE = 1
STAGES = ("queued", "loading", "prepare", "layout", "writing")

store = jobs.JobStore("ledgers", keep_seconds=KEEP_MINUTES * 60, stale_seconds=STALE_SECONDS)
_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


class _OutOfScope(Exception):
    """The staff member or outlet left the actor's scope between the click and the job's start."""


def _deny(target: tuple[str, str]) -> None:
    """No right to print others' ledgers: answered like an unknown id (404), and audited."""
    audit.record("access.denied", target=target, result="denied", commit=True)
    abort(404)


def _int_field(name: str) -> int | None:
    raw = request.form.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        abort(404)


def _target(user_id: int | None, outlet_id: int | None) -> tuple[User | None, Outlet | None]:
    """(user, outlet) of the ledger asked for, checked against the current user's rights and scope (404)."""
    if user_id is not None and outlet_id is not None:
        abort(400)
    if outlet_id is not None:
        if not can("users.view"):
            _deny(("outlet", str(outlet_id)))
        return None, get_or_404(Outlet, outlet_id)
    if user_id is not None and user_id != current_user.id:
        if not can("users.view"):
            _deny(("user", str(user_id)))
        return get_or_404(User, user_id), None
    return current_user._get_current_object(), None


def _file_names(data: ledger.Ledger) -> tuple[str, str]:
    """(Chinese download name, ASCII fallback)."""
    name = f"{_UNSAFE_FILENAME.sub('_', data.subject).strip() or data.kind}_{data.title}_{data.period}.pdf"
    return name, f"ledger-{data.kind}-{data.target_id}-{data.period_key}.pdf"


def _disposition(name: str, fallback: str) -> str:
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _audit_print(kind: str, target_id: int, customers: int, pages: int) -> None:
    audit.record("customer.ledger_printed", target=(kind, target_id), detail={"customers": customers, "pages": pages})
    db.session.commit()


def _slots() -> threading.BoundedSemaphore:
    ext = current_app.extensions
    if "crm_ledger_slots" not in ext:
        ext.setdefault("crm_ledger_slots", threading.BoundedSemaphore(
            max(1, int(current_app.config.get("CRM_LEDGER_RENDERS_AT_ONCE", RENDERS_AT_ONCE)))))
    return ext["crm_ledger_slots"]


def _expires(job: dict[str, Any]) -> float | None:
    return job["finished"] + store.keep_seconds if job.get("finished") else None


def _job_page_context(job: dict[str, Any]) -> dict[str, Any]:
    expires = _expires(job)
    return {"job": job, "stages": STAGES, "keep_minutes": round(store.keep_seconds / 60),
            "expires_at": to_local(datetime.fromtimestamp(expires, UTC).replace(tzinfo=None)) if expires else None,
            "expired": expires is None or expires < time.time()}


def _to_job(job: dict[str, Any]):
    target = url_for("customers.ledger_job", job_id=job["id"])
    if request.headers.get("HX-Request"):
        return "", 204, {"HX-Redirect": target}  # a full page load: the address bar shows the job
    return redirect(target, 303)


# ---------------------------------------------------------------- pages

@bp.route("/ledger")
@policy(permission="customers.view")
def ledger_page():
    store.cleanup()
    mine = ledger.count_customers(current_user)
    ctx: dict = {"mine": mine, "max_customers": ledger.MAX_CUSTOMERS, "outlets": [], "staff": [],
                 "running": store.running_job_of(current_user.id)}
    if can("users.view"):
        ctx["outlets"] = db.session.execute(scoped(Outlet).where(Outlet.active).order_by(Outlet.code)).scalars().all()
        ctx["staff"] = db.session.execute(
            scoped(User).where(User.active, User.outlet_id.is_not(None)).order_by(User.outlet_id, User.name)
            .limit(2000)).scalars().all()
    return render_template("ledger/page.html", **ctx)


@bp.route("/ledger/print", methods=["POST"])
@policy(permission="customers.view")
def ledger_print():
    user, outlet = _target(_int_field("user"), _int_field("outlet"))
    count = ledger.count_customers(current_user, user=user, outlet=outlet)
    if count > ledger.MAX_CUSTOMERS:
        toast(ledger.LedgerTooLarge(count).message, "danger")
        return redirect(url_for("customers.ledger_page"), 303)
    if count <= current_app.config.get("CRM_LEDGER_BACKGROUND_CUSTOMERS", BACKGROUND_CUSTOMERS):
        return _print_now(user, outlet)
    kind, target_id = ("outlet", outlet.id) if outlet is not None else ("user", user.id)
    store.cleanup()
    running = store.running_job_of(current_user.id)
    if running is not None:
        # A double click lands on the job already running; another ledger waits until this one is done.
        if (running.get("kind"), running.get("target_id")) != (kind, target_id):
            toast(_("您的上一份台账还在生成中，请等它完成后再打印下一份。"), "warning")
        return _to_job(running)
    job = store.new(kind=kind, target_id=target_id, subject=(outlet or user).name, stage="queued", customers=count,
                    contacts=None, pages=0, message=None, seconds=None, size=None, filename=None, fallback=None)
    store.save(job)
    store.start(job)  # the work below: on the queue with Redis (crm worker), else in a thread of this process
    return _to_job(job)


def _print_now(user: User | None, outlet: Outlet | None) -> Response:
    try:
        data = ledger.gather(current_user, user=user, outlet=outlet)
    except ledger.LedgerTooLarge as exc:  # customers were added since the count
        toast(exc.message, "danger")
        return redirect(url_for("customers.ledger_page"), 303)
    rendered = ledger.render_bytes(data)
    _audit_print(data.kind, data.target_id, data.count, rendered.pages)
    name, fallback = _file_names(data)
    return Response(rendered.data, mimetype="application/pdf", headers={
        "Content-Disposition": _disposition(name, fallback), "Content-Length": str(len(rendered.data))})


def _work(job: dict[str, Any]) -> tuple[Any, Any]:
    """The job's work and failure message, built where it runs (a worker has no request: all from the job)."""
    actor_id, slots = job["user_id"], _slots()
    save = jobs.throttled_saver(store, job)

    def progress(stage: str, pages: int) -> None:
        save(force=stage != job["stage"], stage=stage, pages=pages)

    def work() -> None:
        # Waiting for a render slot, the job is saved now and then: a queued job is not a dead one.
        while not slots.acquire(timeout=STALE_SECONDS / 5):
            save(force=True)
        try:
            save(force=True, stage="loading")
            actor = db.session.get(User, actor_id)
            model = Outlet if job["kind"] == "outlet" else User
            target = None if actor is None else db.session.execute(
                scoped(model, actor).where(model.id == job["target_id"])).scalar_one_or_none()
            if target is None:
                raise _OutOfScope
            data = ledger.gather(actor, user=target if job["kind"] == "user" else None,
                                 outlet=target if job["kind"] == "outlet" else None)
            db.session.close()  # no transaction stays open during the render
            name, fallback = _file_names(data)
            save(force=True, customers=data.count, contacts=data.contact_count, filename=name, fallback=fallback)
            path = store.scratch(job["id"], ".pdf")  # published whole below: a killed job leaves no PDF to serve
            pages = ledger.render_to_file(data, path, progress)
            size = store.put_file(job["id"], ".pdf", path)
            job.update(state="done", stage="done", pages=pages, size=size, finished=time.time())
            job["seconds"] = round(job["finished"] - job["started"])
            store.save(job)
        finally:
            data = None
            pdf.release_memory()  # before the next render starts, and after the page already says "done"
            slots.release()

    def failed(exc: BaseException) -> dict[str, Any]:
        if isinstance(exc, ledger.LedgerTooLarge):
            message = exc.message
        elif isinstance(exc, _OutOfScope):
            message = _("无法生成：该员工或网点已不在您的查看范围内。")
        else:
            message = _("生成台账时出错，未能完成。请重新打印；如果仍然出错，请联系系统管理员。")
        return {"message": message}

    return work, failed


# A ledger may be rendered again after an unexpected error (nothing is recorded until it is downloaded).
store.runs(retries=2, final=(ledger.LedgerTooLarge, _OutOfScope))(_work)


@bp.route("/ledger/jobs/<job_id>")
@policy(permission="customers.view")
def ledger_job(job_id: str):
    store.cleanup()
    return render_template("ledger/job.html", **_job_page_context(store.own(job_id)))


@bp.route("/ledger/jobs/<job_id>/progress")
@policy(permission="customers.view")
def ledger_job_progress(job_id: str):
    """The fragment htmx polls every second while the job runs; once it is over, the result replaces it."""
    return render_block("ledger/job.html", "status", **_job_page_context(store.own(job_id)))


@bp.route("/ledger/jobs/<job_id>/ledger.pdf")
@policy(permission="customers.view")
def ledger_download(job_id: str):
    job = store.own(job_id)
    expires = _expires(job)
    body = store.open_file(job["id"], ".pdf") if job.get("state") == "done" else None
    if expires is None or expires < time.time() or body is None:
        abort(404)
    # The rights are checked again: the PDF holds what the user could see when it was made, not necessarily now.
    if job["kind"] == "outlet":
        _target(None, job["target_id"])
    else:
        _target(job["target_id"], None)
    _audit_print(job["kind"], job["target_id"], job["customers"], job["pages"])
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": _disposition(job["filename"], job["fallback"]), "Content-Length": str(len(body))})
