"""Certificate pages of the salon_events plugin (实习证明, R-30 step 4, T-10): the template editor with a live preview,
the 支行行长's signature and the seal, printing a round / a campaign / one child as ONE PDF, and the public
verification page the QR code opens.

A print of more than certificates.BACKGROUND_CERTIFICATES (30) certificates runs as a background job (crm/jobs.py,
kind "certificates", like the ledger): the POST validates (T-10, something to print) and sends the browser to the
job's page, which polls (htmx, every second) through the stages 排队 / 发证编号 / 排版 / 写入 and then offers the
one PDF. Issuing, print counts, the print record and the audit row are committed once, by the job, after the PDF
is complete; the PDF is written to a temporary file and renamed when complete. Only the user who started a job
sees it and its file (anyone else: 404); the file is deleted after KEEP_MINUTES.

Everything but the verification page is for marketing (salon_events.manage), inside the user's scope: another
分行's campaign, round or certificate answers 404. The verification page is public (no login), rate-limited, and
shows only the child's masked name; it lives on its own blueprint (`salon_events_verify`) because plugin
blueprints are gated by the logged-in user's 分行: it checks the plugin against the certificate's 分行 instead.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from crm import audit, jobs, pdf
from crm.access import get_or_404, policy, scoped
from crm.extensions import db, limiter
from crm.models import Branch, Outlet, User
from crm.timeutil import to_local, utcnow
from crm.web import toast
from plugins.salon_events import certificates as certs
from plugins.salon_events import uploads
from plugins.salon_events.models import (
    SalonCampaign,
    SalonCampaignOutlet,
    SalonCertificate,
    SalonCertPrint,
    SalonCertTemplate,
    SalonSession,
    SalonSignature,
)

bp = Blueprint("salon_events_cert", __name__, template_folder="templates", static_folder="static")
# Public: not returned to the plugin registry (whose gate needs a logged-in user of an enabled 分行); registered
# together with `bp`, under the plugin's URL prefix.
verify_bp = Blueprint("salon_events_verify", __name__, template_folder="templates", url_prefix="/p/salon-events")

MANAGE = "salon_events.manage"
VERIFY_LIMIT = "30 per minute"
PAGE_CERTIFICATES = 500

KEEP_MINUTES = 60  # a generated PDF holds children's names: it does not stay on the server for long
# A running job saves at every stage and twice a second while laying out, a queued one every 24 s: not saved for
# two minutes, it was interrupted (the server restarted).
STALE_SECONDS = 120
RENDERS_AT_ONCE = 1  # 500 certificates need ≈400 MB at the peak: one render per process, the others queue
STAGES = ("queued", "issuing", "rendering", "writing")
store = jobs.JobStore("certificates", keep_seconds=KEEP_MINUTES * 60, stale_seconds=STALE_SECONDS)


@bp.record_once
def _register_public(state) -> None:
    state.app.register_blueprint(verify_bp)


# ---------------------------------------------------------------- helpers

def _campaign(campaign_id: int) -> SalonCampaign:
    campaign = get_or_404(SalonCampaign, campaign_id)
    if campaign.kind not in certs.CERT_KINDS:
        abort(404)
    return campaign


def _sub_branches(campaign: SalonCampaign) -> list[Branch]:
    """The 支行 of the campaign's outlets that the user sees: where a signature can be recorded."""
    outlet_ids = select(SalonCampaignOutlet.outlet_id).where(SalonCampaignOutlet.campaign_id == campaign.id)
    branch_ids = scoped(Outlet).where(Outlet.id.in_(outlet_ids)).with_only_columns(Outlet.branch_id)
    return list(db.session.execute(select(Branch).where(Branch.id.in_(branch_ids)).order_by(Branch.code)).scalars())


def _presidents(branch_ids: list[int]) -> list[User]:
    if not branch_ids:
        return []
    return list(db.session.execute(select(User).where(
        User.branch_id.in_(branch_ids), User.post == certs.SIGNER_POST, User.active).order_by(User.name)).scalars())


def _sample_pages(campaign: SalonCampaign, signatures: list[SalonSignature]) -> tuple[list[certs.CertPage], dict]:
    """One certificate with sample values for the preview: the campaign's first round in scope (its outlet, date
    and signature), else its first outlet."""
    sessions = certs.sessions_in_scope(campaign, current_user)
    session = sessions[0] if sessions else None
    outlet = session.outlet if session else db.session.execute(
        scoped(Outlet).join(SalonCampaignOutlet, SalonCampaignOutlet.outlet_id == Outlet.id)
        .where(SalonCampaignOutlet.campaign_id == campaign.id).order_by(Outlet.code).limit(1)).scalar_one_or_none()
    # The design preview shows the 支行's latest signature whatever its time (the T-10 check is the rounds table's).
    own = [s for s in signatures if outlet is not None and s.sub_branch_id == outlet.branch_id]
    sig = own[-1] if own else None
    images = {}
    if sig is not None:
        images["sig"] = url_for(".signature_image", signature_id=sig.id, kind="image")
        if sig.seal:
            images["seal"] = url_for(".signature_image", signature_id=sig.id, kind="seal")
    page = certs.CertPage(
        number=f"{certs.number_prefix(campaign)}00001", child_name=_("王小明"),
        outlet_name=outlet.name if outlet else _("某某网点"),
        issuer=certs.issuer_name(outlet) if outlet else _("某某支行"), campaign_name=campaign.name,
        issued_on=session.starts_at.date() if session else (campaign.starts_on or date(campaign.year, 6, 1)),
        signer_name=sig.signer.name if sig else "", verify_url=certs.verify_url("0" * 32),
        signature="sig" if "sig" in images else None, seal="seal" if "seal" in images else None)
    return [page], images


def _page_context(campaign: SalonCampaign, **extra) -> dict:
    signatures = certs.campaign_signatures(campaign.id)
    row = db.session.get(SalonCertTemplate, campaign.id)
    text = certs.text_of(campaign.id)
    sub_branches = _sub_branches(campaign)
    visible_branch_ids = {b.id for b in sub_branches}
    rounds = certs.round_rows(campaign, current_user)
    session_ids = [r.session.id for r in rounds]
    issued = list(db.session.execute(
        select(SalonCertificate).where(SalonCertificate.campaign_id == campaign.id,
                                       SalonCertificate.session_id.in_(session_ids))
        .order_by(SalonCertificate.number).limit(PAGE_CERTIFICATES)).scalars()) if session_ids else []
    prints = list(db.session.execute(
        select(SalonCertPrint, User.name).outerjoin(User, User.id == SalonCertPrint.printed_by_id)
        .where(SalonCertPrint.campaign_id == campaign.id).order_by(SalonCertPrint.id.desc()).limit(20)).all())
    pages, images = _sample_pages(campaign, signatures)
    ctx = {
        "campaign": campaign, "text": extra.pop("text", text), "version": row.version if row else 0,
        "placeholders": certs.PLACEHOLDERS, "errors": {}, "rounds": rounds, "issued": issued,
        "sessions": {r.session.id: r.session for r in rounds},
        "signatures": [s for s in signatures if s.sub_branch_id in visible_branch_ids],
        "branch_names": {b.id: b.name for b in sub_branches}, "sub_branches": sub_branches,
        "presidents": _presidents(list(visible_branch_ids)), "prints": prints,
        "preview": certs.page_views(pages, extra.pop("preview_text", text)),
        "preview_images": images, "to_local": to_local, "back_url": _back_url(campaign),
        "sig_error": None, "sig_form": {}, "background": background_threshold(),
        "running_job": store.running_job_of(current_user.id),
    }
    ctx.update(extra)
    return ctx


def _back_url(campaign: SalonCampaign) -> str:
    for endpoint in ("salon_events.campaign", "salon_events.campaign_detail", "salon_events.detail"):
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint, campaign_id=campaign.id)
            except Exception:  # noqa: BLE001 - the core page's parameters may differ: fall back to the list
                break
    return url_for("salon_events.index") if "salon_events.index" in current_app.view_functions else "#"


def _form_text() -> certs.CertText:
    return certs.CertText(request.form.get("title", "").strip(), request.form.get("body", ""),
                          request.form.get("footer", "").strip())


def _disposition(name: str, fallback: str) -> str:
    safe = "".join(ch if ch not in '\\/:*?"<>|\r\n' else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(safe, safe='')}"


def _pdf_response(printed: certs.Printed, fallback: str) -> Response:
    return Response(printed.data, mimetype="application/pdf", headers={
        "Content-Disposition": _disposition(printed.filename, fallback), "Content-Length": str(len(printed.data))})


# ---------------------------------------------------------------- the page

@bp.route("/certificates/campaign/<int:campaign_id>")
@policy(permission=MANAGE)
def page(campaign_id: int):
    campaign = _campaign(campaign_id)
    return render_template("salon_events/cert.html", **_page_context(campaign))


@bp.route("/certificates/campaign/<int:campaign_id>/preview", methods=["POST"])
@policy(permission=MANAGE)
def preview(campaign_id: int):
    """The live preview (htmx, as the text is typed): the certificate as HTML, nothing saved."""
    campaign = _campaign(campaign_id)
    text = _form_text()
    errors = certs.check_text(text.title, text.body, text.footer)
    signatures = certs.campaign_signatures(campaign.id)
    pages, images = _sample_pages(campaign, signatures)
    shown = text if not errors else certs.CertText(text.title or certs.DEFAULT_TITLE, text.body, text.footer)
    return render_block("salon_events/cert.html", "preview", preview=certs.page_views(pages, shown),
                        preview_images=images, errors=errors)


@bp.route("/certificates/campaign/<int:campaign_id>/template", methods=["POST"])
@policy(permission=MANAGE)
def save_template(campaign_id: int):
    campaign = _campaign(campaign_id)
    text = _form_text()
    errors = certs.check_text(text.title, text.body, text.footer)
    if errors:
        return render_template("salon_events/cert.html", **_page_context(
            campaign, text=text, preview_text=text, errors=errors)), 422
    row = db.session.get(SalonCertTemplate, campaign.id)
    seen = request.form.get("version", "0")
    if (row.version if row else 0) != (int(seen) if seen.isdigit() else -1):
        toast(_("证书模板已被他人修改，请刷新页面后再改。"), "warning")
        return render_template("salon_events/cert.html", **_page_context(campaign)), 409
    if row is None:
        row = SalonCertTemplate(campaign_id=campaign.id)
        db.session.add(row)
    row.title, row.body, row.footer = text.title, text.body.replace("\r\n", "\n").strip(), text.footer or None
    row.updated_by_id = current_user.id
    row.updated_at = utcnow()
    audit.record("salon_events.cert_template_saved", target=("salon_events_campaign", campaign.id))
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        toast(_("证书模板已被他人修改，请刷新页面后再改。"), "warning")
        return render_template("salon_events/cert.html", **_page_context(campaign)), 409
    toast(_("证书模板已保存。"))
    return redirect(url_for(".page", campaign_id=campaign.id), 303)


# ---------------------------------------------------------------- signatures and seal

@bp.route("/certificates/campaign/<int:campaign_id>/signatures", methods=["POST"])
@policy(permission=MANAGE)
def upload_signature(campaign_id: int):
    """Record the 支行行长's signature (and the seal) for a 支行 (A-10). The time of recording is what T-10 checks
    against each round's start; a later upload adds a new record and never backdates an earlier one."""
    campaign = _campaign(campaign_id)
    form = {"sub_branch": request.form.get("sub_branch", ""), "signer": request.form.get("signer", "")}
    allowed = {b.id: b for b in _sub_branches(campaign)}
    sub_branch = allowed.get(int(form["sub_branch"])) if form["sub_branch"].isdigit() else None

    def refuse(message: str):
        return render_template("salon_events/cert.html", **_page_context(
            campaign, sig_error=message, sig_form=form)), 422

    if sub_branch is None:
        return refuse(_("请选择参加活动的支行。"))
    signer = db.session.get(User, int(form["signer"])) if form["signer"].isdigit() else None
    try:
        certs.check_signer(signer, sub_branch.id)
    except certs.CertError as exc:
        audit.record("salon_events.signature_refused", target=("salon_events_campaign", campaign.id), result="denied",
                     detail={"sub_branch": sub_branch.id, "signer": signer.id if signer else None}, commit=True)
        return refuse(str(exc))
    image_file = request.files.get("image")
    seal_file = request.files.get("seal")
    if image_file is None or not image_file.filename:
        return refuse(_("请上传支行行长的签名图片。"))
    saved: list[str] = []
    try:
        image = uploads.save_image(image_file, kind="signature")
        saved += [image.stored_name, image.thumb_name]
        seal = None
        if seal_file is not None and seal_file.filename:
            seal = uploads.save_image(seal_file, kind="seal")
            saved += [seal.stored_name, seal.thumb_name]
        for name in saved:
            certs.clear_white_background(uploads.path_of(name))
    except uploads.UploadError as exc:
        uploads.delete_files(*saved)
        return refuse(str(exc))
    previous_seal = db.session.execute(
        select(SalonSignature.seal).where(SalonSignature.campaign_id == campaign.id,
                                          SalonSignature.sub_branch_id == sub_branch.id,
                                          SalonSignature.seal.is_not(None))
        .order_by(SalonSignature.recorded_at.desc(), SalonSignature.id.desc()).limit(1)).scalar_one_or_none()
    row = SalonSignature(campaign_id=campaign.id, sub_branch_id=sub_branch.id, signer_id=signer.id,
                         image=image.stored_name, seal=seal.stored_name if seal else previous_seal,
                         recorded_at=utcnow(), uploaded_by_id=current_user.id)
    db.session.add(row)
    db.session.flush()
    audit.record("salon_events.signature_recorded", target=("salon_events_signature", row.id),
                 detail={"campaign": campaign.id, "sub_branch": sub_branch.id, "signer": signer.id,
                         "seal": seal is not None})
    db.session.commit()
    toast(_("已登记%(sub)s支行行长%(name)s的签名。", sub=sub_branch.name, name=signer.name))
    return redirect(url_for(".page", campaign_id=campaign.id) + "#signatures", 303)


@bp.route("/certificates/signature/<int:signature_id>/<any(image, seal):kind>")
@policy(permission=MANAGE)
def signature_image(signature_id: int, kind: str):
    sig = get_or_404(SalonSignature, signature_id)
    if sig.sub_branch_id not in {b.id for b in _sub_branches(db.session.get(SalonCampaign, sig.campaign_id))}:
        abort(404)
    name = sig.image if kind == "image" else sig.seal
    path = uploads.path_of(name)
    if path is None:
        abort(404)
    # Read whole (a signature is a few dozen KB): no file handle stays open after the response.
    return Response(path.read_bytes(), mimetype=uploads.mimetype_of(name))


# ---------------------------------------------------------------- printing

def _refused(campaign: SalonCampaign, exc: certs.CertError) -> Response:
    db.session.rollback()
    audit.record("salon_events.certificates_refused", target=("salon_events_campaign", campaign.id),
                 result="fail", detail={"reason": str(exc)[:300]}, commit=True)
    for line in str(exc).splitlines():
        toast(line, "danger")
    return redirect(url_for(".page", campaign_id=campaign.id) + "#rounds", 303)


def _print(campaign: SalonCampaign, fallback: str, **kwargs) -> Response:
    try:
        printed = certs.print_certificates(campaign, current_user._get_current_object(), **kwargs)
    except certs.CertError as exc:
        return _refused(campaign, exc)
    return _pdf_response(printed, fallback)


def background_threshold() -> int:
    return int(current_app.config.get("SALON_EVENTS_CERT_BACKGROUND", certs.BACKGROUND_CERTIFICATES))


@bp.route("/certificates/campaign/<int:campaign_id>/print", methods=["POST"])
@policy(permission=MANAGE)
def print_batch(campaign_id: int):
    """A round's (form field `session`) or the whole campaign's certificates as ONE PDF: straight back up to the
    background threshold, else through a job."""
    campaign = _campaign(campaign_id)
    raw = request.form.get("session", "")
    session_id = None
    session = None
    if raw:
        if not raw.isdigit():
            abort(404)
        session = get_or_404(SalonSession, raw)
        if session.campaign_id != campaign.id:
            abort(404)
        session_id = session.id
    fallback = f"certificates-{campaign.id}" + (f"-{session_id}" if session_id else "") + ".pdf"
    try:
        count = certs.count_printable(campaign, current_user, session_id=session_id)
    except certs.CertError as exc:
        return _refused(campaign, exc)
    if count <= background_threshold():
        return _print(campaign, fallback, session_id=session_id)
    store.cleanup()
    running = store.running_job_of(current_user.id)
    if running is not None:
        # A double click lands on the job already running (printed once); another print waits for it.
        if (running.get("campaign_id"), running.get("session_id")) != (campaign.id, session_id):
            toast(_("您的上一批证书还在生成中，请等它完成后再打印下一批。"), "warning")
        return _to_job(running)
    subject = campaign.name if session is None else _("%(campaign)s · %(outlet)s %(start)s 场次", campaign=campaign.name,
                                                     outlet=session.outlet.name,
                                                     start=session.starts_at.strftime("%Y-%m-%d %H:%M"))
    job = store.new(campaign_id=campaign.id, session_id=session_id, subject=subject, stage="queued", count=count,
                    pages=0, message=None, seconds=None, size=None, filename=None, fallback=fallback, reprint=None)
    store.save(job)
    _start(job)
    return _to_job(job)


class _OutOfScope(Exception):
    """The campaign or round left the user's scope (or the user was deactivated) before the job started."""


def _slots() -> threading.BoundedSemaphore:
    ext = current_app.extensions
    if "salon_events_cert_slots" not in ext:
        ext.setdefault("salon_events_cert_slots", threading.BoundedSemaphore(
            max(1, int(current_app.config.get("SALON_EVENTS_CERT_RENDERS_AT_ONCE", RENDERS_AT_ONCE)))))
    return ext["salon_events_cert_slots"]


_MARKER = "0" * 32


def _start(job: dict[str, Any]) -> None:
    # No request where the job runs (a thread or `crm worker`): the verification URL (scheme and host of this
    # request) is built here and kept in the job.
    job["verify_base"] = url_for("salon_events_verify.verify", token=_MARKER, _external=True)
    store.save(job)
    store.start(job)


def _work(job: dict[str, Any]) -> tuple[Any, Any]:
    """The job's work and failure message, built where it runs, from the job alone."""
    actor_id, slots = job["user_id"], _slots()
    save = jobs.throttled_saver(store, job)

    def url_of(token: str) -> str:
        return job["verify_base"].replace(_MARKER, token)

    def progress(stage: str, n: int) -> None:
        if stage == "issued":
            save(force=True, stage="rendering", count=n, pages=0)
        else:
            save(force=stage != job["stage"], stage=stage, pages=n)

    def work() -> None:
        while not slots.acquire(timeout=STALE_SECONDS / 5):
            save(force=True)  # queued, not dead
        try:
            save(force=True, stage="issuing")
            actor = db.session.get(User, actor_id)
            campaign = None if actor is None or not actor.active else db.session.execute(
                scoped(SalonCampaign, actor).where(SalonCampaign.id == job["campaign_id"])).scalar_one_or_none()
            if campaign is None:
                raise _OutOfScope
            if job["session_id"] is not None and not db.session.execute(scoped(SalonSession, actor).where(
                    SalonSession.id == job["session_id"], SalonSession.campaign_id == campaign.id)).first():
                raise _OutOfScope
            path = store.scratch(job["id"], ".pdf")  # published whole below: a killed job leaves no PDF to serve
            printed = certs.print_certificates(campaign, actor, session_id=job["session_id"], target=path,
                                               progress=progress, url_of=url_of)
            size = store.put_file(job["id"], ".pdf", path)
            job.update(state="done", stage="done", count=printed.count, pages=printed.pages, reprint=printed.reprint,
                       filename=printed.filename, size=size, finished=time.time())
            job["seconds"] = round(job["finished"] - job["started"])
            store.save(job)
        finally:
            pdf.release_memory()
            slots.release()

    def failed(exc: BaseException) -> dict[str, Any]:
        if isinstance(exc, certs.CertError):
            message = str(exc)
        elif isinstance(exc, _OutOfScope):
            message = _("无法生成：该活动或场次已不在您的负责范围内。")
        else:
            message = _("生成实习证明时出错，未能完成，证书没有记为已打印。请重新打印；如果仍然出错，请联系系统管理员。")
        return {"message": message}

    return work, failed


# Printing again after an unexpected error reprints the same certificates (nothing new is issued twice).
store.runs(retries=2, final=(certs.CertError, _OutOfScope))(_work)


def _to_job(job: dict[str, Any]):
    target = url_for(".print_job", job_id=job["id"])
    if request.headers.get("HX-Request"):
        return "", 204, {"HX-Redirect": target}
    return redirect(target, 303)


def _expires(job: dict[str, Any]) -> float | None:
    return job["finished"] + store.keep_seconds if job.get("finished") else None


def _job_context(job: dict[str, Any]) -> dict[str, Any]:
    expires = _expires(job)
    return {"job": job, "stages": STAGES, "keep_minutes": round(store.keep_seconds / 60),
            "expires_at": to_local(datetime.fromtimestamp(expires, UTC).replace(tzinfo=None)) if expires else None,
            "expired": expires is None or expires < time.time(),
            "back_url": url_for(".page", campaign_id=job["campaign_id"]) + "#rounds"}


@bp.route("/certificates/jobs/<job_id>")
@policy(permission=MANAGE)
def print_job(job_id: str):
    store.cleanup()
    return render_template("salon_events/cert_job.html", **_job_context(store.own(job_id)))


@bp.route("/certificates/jobs/<job_id>/progress")
@policy(permission=MANAGE)
def print_job_progress(job_id: str):
    """The fragment htmx polls every second while the job runs; once it is over, the result replaces it."""
    return render_block("salon_events/cert_job.html", "status", **_job_context(store.own(job_id)))


@bp.route("/certificates/jobs/<job_id>/certificates.pdf")
@policy(permission=MANAGE)
def print_job_download(job_id: str):
    """The finished PDF, for the user who started the job only. Printing was recorded (and audited) once, when
    the job finished; downloading the same file again is not another print."""
    job = store.own(job_id)
    expires = _expires(job)
    body = store.open_file(job["id"], ".pdf") if job.get("state") == "done" else None
    if expires is None or expires < time.time() or body is None:
        abort(404)
    _campaign(job["campaign_id"])  # still in scope (404 otherwise)
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": _disposition(job["filename"], job["fallback"]), "Content-Length": str(len(body))})


@bp.route("/certificates/<int:certificate_id>/print", methods=["POST"])
@policy(permission=MANAGE)
def print_one(certificate_id: int):
    cert = get_or_404(SalonCertificate, certificate_id)
    campaign = _campaign(cert.campaign_id)
    return _print(campaign, f"certificate-{cert.id}.pdf", certificate=cert)


# ---------------------------------------------------------------- public verification

@verify_bp.route("/verify/<token>")
@limiter.limit(lambda: current_app.config.get("SALON_EVENTS_VERIFY_LIMIT", VERIFY_LIMIT))
@policy("public")
def verify(token: str):
    """What the QR code opens: genuine or not, campaign, outlet, date and the child's masked name only."""
    result = certs.verify(token)
    if result is None:
        return render_template("salon_events/verify.html", result=None), 404
    return render_template("salon_events/verify.html", result=result, issued_on=certs.cn_date(result.issued_on))
