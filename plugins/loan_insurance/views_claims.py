"""银保贷 pages of a case after 受理: the R-61 documents (upload, download, 已收到), default events and measures
(R-66, R-67), the claim and recoveries (R-68–R-70) and the three printable attachments of the 办法 (R-71)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import Response, abort, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BuildError

from crm import audit
from crm.access import can, get_or_404, policy
from crm.extensions import db
from crm.timeutil import today_local
from crm.web import toast
from crm.workdays import coverage_warning
from plugins.loan_insurance import forms_pdf, services, uploads
from plugins.loan_insurance.models import DEFAULT_EVENTS, MEASURES, LoanCase, LoanDocument, LoanMeasure
from plugins.loan_insurance.services import FormErrors, ServiceError
from plugins.loan_insurance.views import bp

VIEW, PREPARE, POST_LOAN = "loan_insurance.view", "loan_insurance.prepare", "loan_insurance.post_loan"
DOC_STATUSES = ("accepted", "investigating", "reviewing")  # mark_document refuses other states


def _case(case_id: int) -> LoanCase:
    """The case through the scope: another outlet's id and an unknown id both answer 404 (and the first is
    audited as a denied access)."""
    return get_or_404(LoanCase, case_id)


def _day(values: dict[str, Any], key: str, label: str, errors: dict[str, str], *, required: bool = True
         ) -> date | None:
    return services.parse_date(values, key, errors, label, required=required)


def _disposition(name: str, fallback: str, inline: bool = False) -> str:
    safe = "".join(ch if ch not in '\\/:*?"<>|\r\n' else "_" for ch in name)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(safe, safe='')}"


# ---------------------------------------------------------------- template helpers

@bp.app_template_global("liw_link")
def link(endpoint: str, **values: Any) -> str | None:
    """A URL of another page of the plugin, or None while that page does not exist (the pages are built in
    parallel: a missing one must not break these)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None



@bp.app_template_global("liw_case_more")
def case_more(case: LoanCase) -> dict[str, Any]:
    """What `_case_more.html` shows on the case page: documents received / required, the claim and its flags."""
    docs = services.case_documents(case)
    required = [d for d in docs if d.required]
    claim = services.case_claim(case)
    flags = services.claim_flags(claim, today_local()) if claim else None
    return {"docs": len(docs), "required": len(required), "received": sum(1 for d in required if d.received),
            "files": sum(1 for d in docs if d.stored_name), "claim": claim, "flags": flags,
            "events": len(forms_pdf.default_events(case))}


# ---------------------------------------------------------------- documents

def _documents_page(case: LoanCase, status: int = 200, errors: dict[str, str] | None = None):
    docs = services.case_documents(case)
    missing = [d for d in docs if d.required and not d.received]
    return render_template("loan_insurance/documents.html", case=case, docs=docs, missing=missing,
                           errors=errors or {}, editable=case.status in DOC_STATUSES and can(PREPARE),
                           facts=forms_pdf.case_facts(current_user, case), max_mb=uploads.MAX_BYTES // (1024 * 1024)
                           ), status


def _doc_row(case: LoanCase, code: str) -> LoanDocument | None:
    return db.session.execute(select(LoanDocument).where(LoanDocument.case_id == case.id,
                                                         LoanDocument.code == code)).scalar_one_or_none()


@bp.route("/cases/<int:case_id>/documents")
@policy(permission=VIEW)
def documents(case_id: int):
    return _documents_page(_case(case_id))


@bp.route("/cases/<int:case_id>/documents/upload", methods=["POST"])
@policy(permission=PREPARE)
def document_upload(case_id: int):
    """Upload one file for a checklist line: checked by content, stored under a random name, the line marked 已收到
    (one audit row, by services.mark_document). A new upload replaces the line's previous file."""
    case = _case(case_id)
    code = request.form.get("code", "")
    upload = request.files.get("file")
    try:
        row = _doc_row(case, code)
        if row is None:
            return _documents_page(case, 422, {"_": _("材料清单中没有此项")})
        if case.status not in DOC_STATUSES:
            return _documents_page(case, 422, {code: _("案件处于“%(s)s”状态，不能修改材料", s=case.status_label)})
        try:
            stored = uploads.save_document(upload)
        except uploads.UploadError as exc:
            return _documents_page(case, 422, {code: str(exc)})
    finally:
        if upload is not None:
            upload.close()  # a large upload is spooled to a temporary file
    previous = row.stored_name
    row.stored_name = stored.stored_name
    try:
        services.mark_document(current_user, case.id, code, received=True, file_name=stored.download_name)
    except ServiceError as exc:
        db.session.rollback()
        uploads.delete_file(stored.stored_name)
        return _documents_page(_case(case_id), 422, {code: str(exc)})
    if previous and previous != stored.stored_name:
        uploads.delete_file(previous)
    toast(_("已上传“%(f)s”，该项材料已标记为已收到", f=stored.download_name))
    return redirect(url_for("loan_insurance.documents", case_id=case.id) + f"#doc-{row.id}")


@bp.route("/cases/<int:case_id>/documents/mark", methods=["POST"])
@policy(permission=PREPARE)
def document_mark(case_id: int):
    """Tick a line as received (paper original seen) or untick it, through services.mark_document."""
    case = _case(case_id)
    code = request.form.get("code", "")
    received = request.form.get("received") == "1"
    try:
        services.mark_document(current_user, case.id, code, received=received)
    except ServiceError as exc:
        db.session.rollback()
        case = _case(case_id)
        return _documents_page(case, 422, {code if _doc_row(case, code) else "_": str(exc)})
    toast(_("已标记为已收到") if received else _("已取消“已收到”标记"))
    return redirect(url_for("loan_insurance.documents", case_id=case.id))


@bp.route("/documents/<int:doc_id>")
@policy(permission=VIEW)
def document_file(doc_id: int):
    """A stored file, only through its case in scope (never a path the user chose); every download is audited."""
    row = db.session.get(LoanDocument, doc_id)
    if row is None:
        abort(404)
    case = _case(row.case_id)
    path = uploads.path_of(row.stored_name)
    if path is None:
        abort(404)
    audit.record("loan_insurance.document_downloaded", target=("loan_insurance_document", row.id),
                 detail={"case_id": case.id, "code": row.code})
    db.session.commit()
    ext = row.stored_name.rsplit(".", 1)[-1]
    resp = send_file(path, mimetype=uploads.mimetype_of(row.stored_name), max_age=0)
    resp.headers["Content-Disposition"] = _disposition(row.file_name or f"{row.code}.{ext}", f"document-{row.id}.{ext}")
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


# ---------------------------------------------------------------- default, claim, recovery

def _claim_page(case: LoanCase, status: int = 200, *, form: str | None = None,
                values: dict[str, Any] | None = None, errors: dict[str, str] | None = None):
    today = today_local()
    claim = services.case_claim(case)
    events = [(e, forms_pdf.event_label(e.event)) for e in forms_pdf.default_events(case)]
    measures = list(db.session.execute(select(LoanMeasure).where(LoanMeasure.case_id == case.id)
                                       .order_by(LoanMeasure.taken_on, LoanMeasure.id)).scalars())
    recoveries = services.case_recoveries(case)
    warning = None
    flags = None
    room = None
    if claim is not None:
        flags = services.claim_flags(claim, today)
        days = [claim.waiting_period_end, claim.deadline] + ([claim.insurer_deadline] if claim.insurer_deadline
                                                               else [])
        warning = coverage_warning(*days)
        if claim.paid_amount is not None:
            room = max(claim.paid_amount - (claim.insurer_recovered or Decimal(0)), Decimal(0))
    totals = {"amount": sum((r.amount for r in recoveries), Decimal(0)),
              "costs": sum((r.costs for r in recoveries), Decimal(0)),
              "net": sum((r.net for r in recoveries), Decimal(0)),
              "insurer": sum((r.insurer_share for r in recoveries), Decimal(0)),
              "bank": sum((r.bank_share for r in recoveries), Decimal(0))}
    return render_template(
        "loan_insurance/claim.html", case=case, claim=claim, events=events, measures=measures,
        measure_labels={k: str(v) for k, v in MEASURES.items()}, recoveries=recoveries, totals=totals, room=room,
        flags=flags, warning=warning, today=today, default_events=[str(e) for e in DEFAULT_EVENTS],
        offered=services.allowed_measures(1), facts=forms_pdf.case_facts(current_user, case),
        can_post=can(POST_LOAN), can_suspend=can("loan_insurance.manage_panel") or can("loan_insurance.approve"),
        form=form, values=values or {}, errors=errors or {}), status


@bp.route("/cases/<int:case_id>/claim")
@policy(permission=VIEW)
def claim_page(case_id: int):
    return _claim_page(_case(case_id))


def _claim_action(case_id: int, form: str, call) -> Any:
    """Run one claim-page action: parse, call the service (which audits and commits), or re-render with the Chinese
    errors (422, nothing saved)."""
    case = _case(case_id)
    values = request.form.to_dict()
    errors: dict[str, str] = {}
    try:
        message = call(case, values, errors)
    except FormErrors as exc:
        db.session.rollback()
        return _claim_page(_case(case_id), 422, form=form, values=values, errors={**errors, **exc.errors})
    except ServiceError as exc:
        db.session.rollback()
        return _claim_page(_case(case_id), 422, form=form, values=values, errors={"_": str(exc)})
    toast(message)
    return redirect(url_for("loan_insurance.claim_page", case_id=case_id) + f"#{form}")


def _stop(errors: dict[str, str]) -> None:
    if errors:
        raise FormErrors(errors)


@bp.route("/cases/<int:case_id>/claim/events", methods=["POST"])
@policy(permission=POST_LOAN)
def claim_event(case_id: int):
    """R-66: one of the seven default events; the answer lists the five measures (R-67, T-27)."""
    def call(case, values, errors):
        event = request.form.get("event", type=int)
        if event is None or not 1 <= event <= len(DEFAULT_EVENTS):
            errors["event"] = _("请选择第二十四条所列违约事件")
        day = _day(values, "occurred_on", _("发生日期"), errors)
        _stop(errors)
        _row, offered = services.record_default_event(current_user, case.id, event, day, values.get("note"))
        return _("已登记违约事件。可采取的措施：%(m)s", m="、".join(label for _c, label in offered))
    return _claim_action(case_id, "events", call)


@bp.route("/cases/<int:case_id>/claim/measures", methods=["POST"])
@policy(permission=POST_LOAN)
def claim_measure(case_id: int):
    def call(case, values, errors):
        day = _day(values, "taken_on", _("采取日期"), errors)
        if values.get("measure") not in MEASURES:
            errors["measure"] = _("请选择第二十五条所列措施")
        _stop(errors)
        services.record_measure(current_user, case.id, values["measure"], day, values.get("note"),
                                request.form.get("default_event_id", type=int))
        return _("已登记措施：%(m)s", m=str(MEASURES[values["measure"]]))
    return _claim_action(case_id, "measures", call)


@bp.route("/cases/<int:case_id>/claim/open", methods=["POST"])
@policy(permission=POST_LOAN)
def claim_open(case_id: int):
    def call(case, values, errors):
        end = _day(values, "waiting_period_end", _("赔款等待期届满日"), errors, required=False)
        _stop(errors)
        claim = services.open_claim(current_user, case.id, waiting_period_end=end)
        return _("已发起索赔：须于%(d)s前递交《索赔申请书》", d=claim.deadline.isoformat())
    return _claim_action(case_id, "claim", call)


@bp.route("/cases/<int:case_id>/claim/submit", methods=["POST"])
@policy(permission=POST_LOAN)
def claim_submit(case_id: int):
    def call(case, values, errors):
        day = _day(values, "submitted_on", _("递交日期"), errors)
        _stop(errors)
        claim = services.submit_claim(current_user, case.id, day)
        if day > claim.deadline:
            return _("已登记递交索赔申请（逾期：应于%(d)s前递交）", d=claim.deadline.isoformat())
        return _("已登记递交索赔申请")
    return _claim_action(case_id, "claim", call)


@bp.route("/cases/<int:case_id>/claim/docs-complete", methods=["POST"])
@policy(permission=POST_LOAN)
def claim_docs(case_id: int):
    def call(case, values, errors):
        day = _day(values, "on", _("资料齐全日期"), errors)
        _stop(errors)
        claim = services.claim_docs_complete(current_user, case.id, day)
        return _("已登记资料齐全：保险公司须于%(d)s前赔付", d=claim.insurer_deadline.isoformat())
    return _claim_action(case_id, "claim", call)


@bp.route("/cases/<int:case_id>/claim/payment", methods=["POST"])
@policy(permission=POST_LOAN)
def claim_payment(case_id: int):
    def call(case, values, errors):
        day = _day(values, "paid_on", _("赔付日期"), errors)
        if not (values.get("amount") or "").strip():
            errors["amount"] = _("请填写赔付金额")
        _stop(errors)
        services.record_claim_payment(current_user, case.id, day, values["amount"])
        return _("已登记保险公司赔付，案件转入追偿")
    return _claim_action(case_id, "payment", call)


@bp.route("/cases/<int:case_id>/claim/recoveries", methods=["POST"])
@policy(permission=POST_LOAN)
def claim_recovery(case_id: int):
    def call(case, values, errors):
        day = _day(values, "recovered_on", _("追偿日期"), errors)
        if not (values.get("amount") or "").strip():
            errors["amount"] = _("请填写追偿所得")
        _stop(errors)
        row = services.record_recovery(current_user, case.id, day, values["amount"], values.get("costs") or "0")
        net, insurer, bank = (format(v, ",.2f") for v in (row.net, row.insurer_share, row.bank_share))
        return _("已登记追偿：净额%(n)s，保险公司%(i)s，本行%(b)s", n=net, i=insurer, b=bank)
    return _claim_action(case_id, "recoveries", call)


@bp.route("/cases/<int:case_id>/claim/suspend", methods=["POST"])
@policy(permission=VIEW)
def claim_suspend(case_id: int):
    """R-69: the insurer did not pay in time — suspend its new-customer approvals in the case's 分行."""
    if not (can("loan_insurance.manage_panel") or can("loan_insurance.approve")):
        abort(403)

    def call(case, values, errors):
        services.suspend_for_late_claim(current_user, case.id, today_local())
        return _("已暂停该保险公司在本分行的新增客户审批")
    return _claim_action(case_id, "claim", call)


# ---------------------------------------------------------------- the attachments of the 办法

@bp.route("/cases/<int:case_id>/forms/<any(claim,overdue,assignment):form>.pdf")
@policy(permission=POST_LOAN)
def form_pdf(case_id: int, form: str):
    case = _case(case_id)
    today = today_local()
    try:
        rendered, filename = forms_pdf.render_form(current_user, case, form, today)
    except forms_pdf.FormRefused as exc:
        toast(str(exc), "danger")
        return redirect(url_for("loan_insurance.claim_page", case_id=case_id))
    audit.record("loan_insurance.form_printed", target=("loan_insurance_case", case.id),
                 detail={"form": form, "pages": rendered.pages})
    db.session.commit()
    return Response(rendered.data, mimetype="application/pdf", headers={
        "Content-Disposition": _disposition(filename, f"{form}-{case.id}.pdf", inline=True),
        "Content-Length": str(len(rendered.data)), "Cache-Control": "private, no-store"})
