"""银保贷 panel page (insurers, 合作协议, R-69 suspensions), the Excel export of the cases in scope and the
dashboard widget of claims due this week and overdue items."""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from io import BytesIO
from typing import Any

from flask import abort, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from crm import audit
from crm.access import can, policy, scoped
from crm.excel import Column, write_sheet
from crm.extensions import db
from crm.masking import mask_id_card
from crm.models import Branch, Outlet, User
from crm.roles import SCOPE_ALL
from crm.timeutil import to_local, today_local, utcnow
from crm.web import toast
from plugins.loan_insurance import forms_pdf, services
from plugins.loan_insurance.models import STATUSES, LoanAgreement, LoanCase, LoanClaim, LoanInsurer, LoanSuspension
from plugins.loan_insurance.services import FormErrors, ServiceError
from plugins.loan_insurance.views import bp
from plugins.loan_insurance.views_claims import _day

VIEW, PANEL = "loan_insurance.view", "loan_insurance.manage_panel"
PERCENT_FIELDS = (("premium_rate", _l("保险费率")), ("mortgage_rate", _l("抵押率")),
                  ("insurer_recovery_share", _l("保险公司追偿分配比例")))


@bp.app_template_filter("liw_pct")
def percent(value: Decimal | None) -> str:
    """A stored rate as the percent people type: Decimal('0.015') → '1.5%'."""
    if value is None:
        return ""
    text = format((Decimal(value) * 100).normalize(), "f")
    return f"{text}%"


# ---------------------------------------------------------------- panel

def _can_suspend() -> bool:
    return can(PANEL) or can("loan_insurance.approve")


def _insurers() -> list[LoanInsurer]:
    """Insurers of the user's 分行 panel and HQ-wide ones (the system administrator sees every 分行's)."""
    stmt = select(LoanInsurer).order_by(LoanInsurer.branch_id.is_(None).desc(), LoanInsurer.name, LoanInsurer.id)
    if current_user.scope != SCOPE_ALL:
        root = services._root_branch_id(current_user)
        stmt = stmt.where(LoanInsurer.branch_id.is_(None) | (LoanInsurer.branch_id == root))
    return list(db.session.execute(stmt).scalars())


def _suspensions() -> list[LoanSuspension]:
    stmt = select(LoanSuspension).order_by(LoanSuspension.starts_on.desc(), LoanSuspension.id.desc())
    if current_user.scope != SCOPE_ALL:
        stmt = stmt.where(LoanSuspension.branch_id == services._root_branch_id(current_user))
    return list(db.session.execute(stmt).scalars())


def _panel_page(status: int = 200, *, form: str | None = None, values: dict[str, Any] | None = None,
                errors: dict[str, str] | None = None):
    today = today_local()
    insurers = _insurers()
    suspensions = _suspensions()
    branch_names = forms_pdf.names_of(Branch, {i.branch_id for i in insurers} | {s.branch_id for s in suspensions})
    suspended = {s.insurer_id for s in suspensions if s.active_on(today)}
    is_admin = current_user.scope == SCOPE_ALL
    # The system administrator belongs to no 分行: a suspension names the handling 分行 explicitly.
    branch_options = [(b.id, b.name) for b in db.session.execute(
        select(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.code)).scalars()] if is_admin else []
    agreement_ids = [a.id for i in insurers for a in i.agreements]
    agreement_use = dict(db.session.execute(
        select(LoanCase.agreement_id, func.count(LoanCase.id)).where(LoanCase.agreement_id.in_(agreement_ids))
        .group_by(LoanCase.agreement_id)).all()) if agreement_ids else {}
    return render_template("loan_insurance/panel.html", insurers=insurers, suspensions=suspensions,
                           agreement_use=agreement_use,
                           suspended=suspended, branch_names=branch_names, today=today,
                           insurer_names={i.id: i.name for i in insurers},
                           insurer_options=[(i.id, i.name) for i in insurers], can_manage=can(PANEL),
                           can_suspend=_can_suspend(), is_admin=is_admin, branch_options=branch_options,
                           form=form, values=values or {}, errors=errors or {}), status


@bp.route("/panel")
@policy(permission=VIEW)
def panel():
    return _panel_page()


_PANEL_MODELS = {"loan_insurance_insurer": LoanInsurer, "loan_insurance_agreement": LoanAgreement,
                 "loan_insurance_suspension": LoanSuspension}


def _panel_action(form: str, call) -> Any:
    values = request.form.to_dict()
    errors: dict[str, str] = {}
    try:
        message = call(values, errors)
    except services.PanelNotFound as exc:
        # Another 分行's insurer, agreement or suspension: 404 like any object out of scope, the attempt audited.
        db.session.rollback()
        if exc.target[1] is not None and db.session.get(_PANEL_MODELS[exc.target[0]], int(exc.target[1])):
            audit.record("access.denied", target=exc.target, result="denied", commit=True)
        abort(404)
    except FormErrors as exc:
        db.session.rollback()
        found = {**errors, **exc.errors}
        if "hq" in found and current_user.scope != SCOPE_ALL:  # no HQ checkbox on their form: say it on top
            found["_"] = found.pop("hq")
        return _panel_page(422, form=form, values=values, errors=found)
    except ServiceError as exc:
        db.session.rollback()
        return _panel_page(422, form=form, values=values, errors={"_": str(exc)})
    toast(message)
    return redirect(url_for("loan_insurance.panel") + f"#{form}")


@bp.route("/panel/insurers", methods=["POST"])
@policy(permission=PANEL)
def panel_insurer_new():
    def call(values, errors):
        insurer = services.save_insurer(current_user, values)
        return _("已添加入围保险公司：%(n)s", n=insurer.name)
    return _panel_action("insurer-new", call)


@bp.route("/panel/insurers/<int:insurer_id>", methods=["POST"])
@policy(permission=PANEL)
def panel_insurer_edit(insurer_id: int):
    """Rename an insurer or take it off / back onto the panel (``active``)."""
    def call(values, errors):
        data = dict(values, active="1" if values.get("active") else "0")
        data.pop("hq", None)
        insurer = services.save_insurer(current_user, data, insurer_id)
        return _("已保存：%(n)s", n=insurer.name)
    return _panel_action(f"insurer-{insurer_id}", call)


def _percent(values: dict[str, Any], key: str, label: Any, errors: dict[str, str]) -> str | None:
    """Rates are typed as percent ("1.2" or "1.2%") and stored as a Decimal fraction (0.012)."""
    text = unicodedata.normalize("NFKC", str(values.get(key) or "")).strip().rstrip("%").strip()
    if not text:
        return None  # the service says "请填写…"
    try:
        number = Decimal(text)
    except InvalidOperation:
        errors[key] = _("%(f)s须为百分比数字，如 1.2", f=str(label))
        return None
    if not number.is_finite() or not Decimal(0) <= number <= Decimal(100):
        errors[key] = _("%(f)s须在0至100（%%）之间", f=str(label))
        return None
    if number.as_tuple().exponent < -4:  # stored with 6 decimals as a fraction (Numeric(9, 6))
        errors[key] = _("%(f)s最多保留4位小数", f=str(label))
        return None
    return str(number / 100)


@bp.route("/panel/insurers/<int:insurer_id>/agreements", methods=["POST"])
@policy(permission=PANEL)
def panel_agreement_new(insurer_id: int):
    """A new 合作协议 (A-15: its rates and periods); the rates are entered in percent."""
    def call(values, errors):
        data = dict(values)
        for key, label in PERCENT_FIELDS:
            data[key] = _percent(values, key, label, errors)
        if errors:
            raise FormErrors(errors)
        agreement = services.save_agreement(current_user, insurer_id, data)
        return _("已保存合作协议：%(n)s", n=agreement.agreement_no)
    return _panel_action(f"agreement-{insurer_id}", call)


@bp.route("/panel/insurers/<int:insurer_id>/agreements/<int:agreement_id>", methods=["POST"])
@policy(permission=PANEL)
def panel_agreement_edit(insurer_id: int, agreement_id: int):
    """Correct an agreement: everything while no case uses it; afterwards only its number and end date."""
    def call(values, errors):
        data = dict(values)
        for key, label in PERCENT_FIELDS:
            data[key] = _percent(values, key, label, errors)
        if errors:
            raise FormErrors(errors)
        agreement = services.save_agreement(current_user, insurer_id, data, agreement_id)
        return _("已修改合作协议：%(n)s", n=agreement.agreement_no)
    return _panel_action(f"agreement-{insurer_id}-{agreement_id}", call)


@bp.route("/panel/suspensions", methods=["POST"])
@policy(permission=VIEW)
def panel_suspend():
    """R-69: suspend an insurer's approvals of NEW customers in the user's 分行, with a reason."""
    if not _can_suspend():
        abort(403)

    def call(values, errors):
        starts = _day(values, "starts_on", _("暂停开始日期"), errors)
        ends = _day(values, "ends_on", _("暂停结束日期"), errors, required=False)
        insurer_id = request.form.get("insurer_id", type=int)
        if insurer_id is None:
            errors["insurer_id"] = _("请选择保险公司")
        if errors:
            raise FormErrors(errors)
        services.suspend_insurer(current_user, insurer_id, starts, values.get("reason") or "", ends_on=ends,
                                 branch_id=request.form.get("branch_id", type=int))
        return _("已暂停该保险公司的新增客户审批")
    return _panel_action("suspend", call)


@bp.route("/panel/suspensions/<int:suspension_id>/lift", methods=["POST"])
@policy(permission=VIEW)
def panel_lift(suspension_id: int):
    if not _can_suspend():
        abort(403)

    def call(values, errors):
        # Scope before the form: another 分行's suspension answers 404, not a 422 about its date (access matrix).
        row = db.session.get(LoanSuspension, suspension_id)
        if row is None or (current_user.scope != SCOPE_ALL and row.branch_id != services._root_branch_id(current_user)):
            raise services.PanelNotFound(_("暂停记录不存在"), ("loan_insurance_suspension", suspension_id))
        ends = _day(values, "ends_on", _("暂停结束日期"), errors)
        if errors:
            raise FormErrors(errors)
        services.lift_suspension(current_user, suspension_id, ends)
        return _("已解除暂停（%(d)s起恢复审批）", d=(ends + timedelta(days=1)).isoformat())
    return _panel_action(f"lift-{suspension_id}", call)


# ---------------------------------------------------------------- Excel export of the cases in scope

@bp.route("/export.xlsx")
@policy(permission=VIEW)
def export():
    """The pipeline's cases in the user's scope (``?status=`` narrows it): formula-safe, the 统一社会信用代码
    masked for posts without customers.reveal, one audit row."""
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    cases = services.visible_cases(current_user, status=status)
    full = can("customers.reveal")
    customers = forms_pdf.customers_of(current_user, {c.customer_id for c in cases})
    outlets = forms_pdf.names_of(Outlet, {c.outlet_id for c in cases})
    staff = forms_pdf.names_of(User, {c.rm_id for c in cases})
    claims = {cl.case_id: cl for cl in db.session.execute(
        select(LoanClaim).where(LoanClaim.case_id.in_([c.id for c in cases] or [0]))).scalars()}
    from plugins.loan_insurance.models import PRODUCTS

    def rows():
        for c in cases:
            cust = customers.get(c.customer_id)
            cert = (cust.cert_no or "") if cust else ""
            claim = claims.get(c.id)
            yield [str(c.id), cust.name if cust else "—", cert if full else mask_id_card(cert),
                   c.legal_rep_name or "", outlets.get(c.outlet_id, ""), staff.get(c.rm_id, ""),
                   str(PRODUCTS.get(c.product, c.product)), c.amount, c.insured_amount, c.premium,
                   c.agreement.insurer.name if c.agreement else "", c.policy_no or "", c.application_date,
                   c.term_start, c.term_end, c.status_label,
                   claim.deadline if claim else None, claim.paid_amount if claim else None]

    columns = [Column(_("案件编号"), 8), Column(_("借款人"), 26, "plain"), Column(_("统一社会信用代码"), 22),
               Column(_("法定代表人"), 10, "plain"), Column(_("经办网点"), 16, "plain"),
               Column(_("客户经理"), 10, "plain"), Column(_("产品"), 12, "plain"),
               Column(_("授信金额（元）"), 16, "money"), Column(_("保险金额（元）"), 16, "money"),
               Column(_("保费（元）"), 12, "money"), Column(_("保险公司"), 14, "plain"), Column(_("保单号"), 14),
               Column(_("申请日期"), 11, "date"), Column(_("授信起始日"), 11, "date"),
               Column(_("授信到期日"), 11, "date"), Column(_("状态"), 8, "plain"),
               Column(_("索赔申请截止日"), 13, "date"), Column(_("已获赔付（元）"), 16, "money")]
    buffer = BytesIO()
    note = _("银保贷案件清单（%(s)s）", s=str(STATUSES[status])) if status else _("银保贷案件清单")
    n = write_sheet(buffer, _("银保贷案件"), columns, rows(), note=note)
    buffer.seek(0)
    audit.record("loan_insurance.exported", detail={"rows": n, "masked": not full, "status": status or ""})
    db.session.commit()
    stamp = to_local(utcnow()).strftime("%Y%m%d-%H%M")
    return send_file(buffer, as_attachment=True, download_name=f"银保贷案件-{stamp}.xlsx", max_age=0,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# ---------------------------------------------------------------- dashboard widget

def widget_rows(user: Any, today: date) -> dict[str, list[tuple[LoanCase, LoanClaim]]]:
    """Claims of the user's scope: 《索赔申请书》 due this week (Monday–Sunday, not yet submitted, not overdue),
    insurer payments due this week, submissions overdue (R-68: 3 working days after the waiting period) and insurer payments overdue (5 working
    days after complete materials; R-69 allows a suspension)."""
    monday = today - timedelta(days=today.weekday())
    sunday = monday + timedelta(days=6)
    visible = scoped(LoanCase, user).with_only_columns(LoanCase.id)
    pending = db.session.execute(
        select(LoanCase, LoanClaim).join(LoanClaim, LoanClaim.case_id == LoanCase.id)
        .where(LoanCase.id.in_(visible), LoanClaim.submitted_on.is_(None), LoanClaim.deadline <= sunday)
        .order_by(LoanClaim.deadline, LoanCase.id)).all()
    due = [(c, cl) for c, cl in pending if today <= cl.deadline]
    late = [(c, cl) for c, cl in pending if cl.deadline < today]
    paying = db.session.execute(
        select(LoanCase, LoanClaim).join(LoanClaim, LoanClaim.case_id == LoanCase.id)
        .where(LoanCase.id.in_(visible), LoanClaim.paid_on.is_(None), LoanClaim.insurer_deadline >= today,
               LoanClaim.insurer_deadline <= sunday)
        .order_by(LoanClaim.insurer_deadline, LoanCase.id)).all()
    insurer = sorted(services.late_insurer_claims(user, today), key=lambda p: (p[1].insurer_deadline, p[0].id))
    return {"due": due, "paying": [(c, cl) for c, cl in paying], "late": late, "insurer": insurer}


@bp.route("/widget")
@policy(permission=VIEW)
def widget():
    today = today_local()
    rows = widget_rows(current_user, today)
    ids = {c.customer_id for group in rows.values() for c, _cl in group}
    names = {k: v.name for k, v in forms_pdf.customers_of(current_user, ids).items()}
    return render_template("loan_insurance/_widget.html", rows=rows, names=names, today=today)
