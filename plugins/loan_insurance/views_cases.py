"""银保贷 case pages: the pipeline, the case form, the case page (eligibility explained, R-63 review, R-64 checks,
workflow), the customer-page panel. Thin: parse the form, call services, render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from crm.access import can, get_or_404, policy, scope_filter, scoped
from crm.extensions import db
from crm.models import Customer, Outlet, User
from crm.money import round_half_up
from crm.pagination import by_id, cursor_arg
from crm.timeutil import today_local
from crm.web import toast
from plugins.loan_insurance import rules, services
from plugins.loan_insurance.models import (
    BORROWER_TYPES,
    COLLATERAL_KINDS,
    DESIGN_USES,
    DISBURSEMENT_ITEMS,
    GUARANTOR_KINDS,
    GUARANTOR_ROLES,
    INDUSTRY_KINDS,
    PRODUCTS,
    PROHIBITED,
    REVIEW_ITEMS,
    STATUSES,
    LoanCase,
    LoanClaim,
)
from plugins.loan_insurance.services import FormErrors, ServiceError
from plugins.loan_insurance.views import bp

P = "loan_insurance."
VIEW, PREPARE = P + "view", P + "prepare"
PAGE_SIZE = 50
WAN = Decimal(10000)

# Status badge colours (Tabler): open work blue, decisions orange, money out green, trouble red, ended grey.
STATUS_BADGES = {
    "accepted": "bg-secondary-lt", "investigating": "bg-azure-lt", "reviewing": "bg-blue-lt",
    "approving": "bg-orange-lt", "disbursement_check": "bg-yellow-lt", "disbursed": "bg-green-lt",
    "post_loan": "bg-teal-lt", "defaulted": "bg-red-lt", "claiming": "bg-pink-lt", "recovering": "bg-purple-lt",
    "settled": "bg-dark-lt", "rejected": "bg-dark-lt", "prohibited": "bg-red",
}
OUTCOME_BADGES = {rules.PASS: "bg-green-lt", rules.FAIL: "bg-red-lt", rules.CAUTION: "bg-yellow-lt",
                  rules.PROHIBITED: "bg-red", rules.PASS_EXCEPTION: "bg-teal-lt"}
# "prohibited first" (R-52 decides at once), then what blocks, what needs care, what passed.
OUTCOME_ORDER = {rules.PROHIBITED: 0, rules.FAIL: 1, rules.CAUTION: 2, rules.PASS_EXCEPTION: 3, rules.PASS: 4}

CASE_TEXT_FIELDS = ("application_date", "borrower_type", "industry_kind", "registered_on",
                    "main_shareholder_industry_years", "legal_rep_name", "prohibited_note", "use_of_funds", "product",
                    "amount", "term_start", "term_end", "margin_amount", "risk_rating", "agreement_id", "policy_no",
                    "insured_amount", "policy_start", "policy_end", "policy_issued_on")
# Row fields of the nested lists: (text/select fields, checkbox fields). A row whose text fields are all empty is a
# blank row and is dropped.
ROWS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # key: (fields that make a row non-blank, other selects, checkboxes)
    "collaterals": (("address", "build_year", "completed_on", "last_transfer_on", "appraised_value",
                     "appraisal_report_no"), ("kind", "design_use"),
                    ("clear_title", "county_urban_area", "owner_is_minor", "in_demolition_zone", "illegal_building",
                     "sealed_seized_supervised", "otherwise_non_mortgageable", "bank_sole_mortgagee")),
    "guarantors": (("name", "id_no", "spouse_name", "spouse_id_no"), ("kind", "role"),
                   ("married", "joint_liability")),
    "shareholders": (("name", "share_pct"), (), ("has_spouse",)),
}
MAX_ROWS = 20
# Ticked on a new row: most titles are clear (R-51 (2)), guarantors are jointly liable (R-51 (1)).
ROW_DEFAULTS = {"collaterals": ("clear_title",), "guarantors": ("joint_liability",)}


# ---------------------------------------------------------------- helpers

def wan(value: Decimal | None) -> str:
    """An amount in 万元 with thousands separators, half up to 2 places: 1,800,000 → "180.00"."""
    return f"{round_half_up((value or Decimal(0)) / WAN):,.2f}"


def _case_or_404(case_id: int) -> LoanCase:
    """The case with what evaluation reads; another outlet's id answers 404 (and the attempt is audited)."""
    case = services.visible_case(case_id, current_user)
    if case is None:
        get_or_404(LoanCase, case_id)  # audits an out-of-scope hit, aborts 404
        abort(404)
    return case


def _customer_name(customer_id: int) -> str:
    row = db.session.execute(scoped(Customer, current_user).with_only_columns(Customer.name)
                             .where(Customer.id == customer_id)).first()
    return row.name if row else "—"


def _user_names(ids: set[int | None]) -> dict[int, str]:
    keys = {i for i in ids if i}
    if not keys:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(keys))).all())


def _step_label(frm: str, to: str) -> str:
    if to == "rejected":
        return _("否决")
    if (frm, to) in services.BACKWARD or (frm == "defaulted" and to == "post_loan"):
        return _("退回至%(s)s", s=str(STATUSES[to])) if (frm, to) in services.BACKWARD else _("恢复贷后")
    return {"investigating": _("开始贷前调查"), "reviewing": _("提交审查"), "approving": _("提交审批"),
            "disbursement_check": _("审批通过"), "disbursed": _("放款"), "post_loan": _("转入贷后"),
            "settled": _("结清")}.get(to, str(STATUSES.get(to, to)))


@dataclass
class Step:
    to: str
    label: str
    needs_reason: bool
    style: str


def allowed_steps(case: LoanCase, user: Any) -> list[Step]:
    """The next steps the user may try from the case's state (the service still checks gates and maker-checker)."""
    out = []
    for to, perm in services.TRANSITIONS.get(case.status, {}).items():
        if not can(P + perm, user):
            continue
        back = (case.status, to) in services.BACKWARD
        needs = to == "rejected" or back
        style = "btn-outline-danger" if to == "rejected" else "btn-outline-secondary" if back else "btn-primary"
        out.append(Step(to, _step_label(case.status, to), needs, style))
    return out


# ---------------------------------------------------------------- pipeline

def _pipeline_filters() -> dict[str, Any]:
    args = request.args
    status = args.get("status") if args.get("status") in STATUSES else ""
    product = args.get("product") if args.get("product") in PRODUCTS else ""
    outlet = args.get("outlet", type=int)
    q = (args.get("q") or "").strip()[:50]
    return {"status": status, "product": product, "outlet": outlet, "q": q}


def pipeline_page(user: Any, filters: dict[str, Any], after: int | None, size: int = PAGE_SIZE):
    """One query for the page of cases (customer, outlet and RM names joined; nothing lazy-loaded) and one aggregate
    for the state cards. Customers are read through ``scoped(Customer)``."""
    cust = scoped(Customer, user).with_only_columns(Customer.id, Customer.name)
    if filters["q"]:
        cust = cust.where(Customer.name.contains(filters["q"], autoescape=True))
    cust = cust.subquery()
    rm = aliased(User)
    conds = [scope_filter(LoanCase, user)]
    if filters["product"]:
        conds.append(LoanCase.product == filters["product"])
    if filters["outlet"]:
        conds.append(LoanCase.outlet_id == filters["outlet"])
    join_customer = (lambda s: s.join(cust, cust.c.id == LoanCase.customer_id)) if filters["q"] else (
        lambda s: s.outerjoin(cust, cust.c.id == LoanCase.customer_id))
    stmt = join_customer(select(
        LoanCase.id, LoanCase.status, LoanCase.product, LoanCase.amount, LoanCase.insured_amount,
        LoanCase.created_at, LoanCase.term_end, LoanCase.customer_id, cust.c.name.label("customer_name"),
        Outlet.name.label("outlet_name"), rm.name.label("rm_name"), LoanClaim.deadline, LoanClaim.submitted_on,
        LoanClaim.insurer_deadline, LoanClaim.paid_on,
    ).select_from(LoanCase)).join(Outlet, Outlet.id == LoanCase.outlet_id).outerjoin(
        rm, rm.id == LoanCase.rm_id).outerjoin(LoanClaim, LoanClaim.case_id == LoanCase.id).where(*conds)
    if filters["status"]:
        stmt = stmt.where(LoanCase.status == filters["status"])
    page = by_id(stmt, LoanCase.id, after=after, size=size, descending=True, rows=True)
    agg = select(LoanCase.status, func.count(), func.sum(LoanCase.amount)).select_from(LoanCase)
    if filters["q"]:
        agg = join_customer(agg)
    totals = {status: (n, amount or Decimal(0)) for status, n, amount in
              db.session.execute(agg.where(*conds).group_by(LoanCase.status)).all()}
    return page, totals


def next_deadline(row: Any) -> tuple[date | None, str]:
    """What is due next for a case of the list: the claim (R-68) while claiming, else the credit's end date."""
    if row.deadline is not None and row.submitted_on is None:
        return row.deadline, _("索赔申请")
    if row.insurer_deadline is not None and row.paid_on is None:
        return row.insurer_deadline, _("保险公司赔付")
    if row.status in ("disbursed", "post_loan", "defaulted") and row.term_end is not None:
        return row.term_end, _("授信到期")
    return None, ""


@bp.route("/")
@policy(permission=VIEW)
def index():
    filters = _pipeline_filters()
    page, totals = pipeline_page(current_user, filters, cursor_arg(request.args.get("after")))
    outlets = list(db.session.execute(scoped(Outlet, current_user).with_only_columns(Outlet.id, Outlet.name)
                                      .order_by(Outlet.code).limit(500)).all())
    args = {k: v for k, v in filters.items() if v}
    return render_template("loan_insurance/index.html", page=page, totals=totals, filters=filters, args=args,
                           outlets=outlets, statuses=STATUSES, products=PRODUCTS, badges=STATUS_BADGES, wan=wan,
                           deadline=next_deadline, today=today_local(),
                           total_count=sum(n for n, _a in totals.values()),
                           total_amount=sum((a for _n, a in totals.values()), Decimal(0)))


# ---------------------------------------------------------------- the case form

def _flat_form() -> dict[str, str]:
    return {k: request.form.get(k, "") for k in request.form if k != "csrf_token"}


def _row_indices(raw: dict[str, str], key: str) -> list[int]:
    found = set()
    for name in raw:
        if name.startswith(key + "."):
            part = name.split(".", 2)[1]
            if part.isdigit() and int(part) < MAX_ROWS:
                found.add(int(part))
    return sorted(found)


def form_to_data(raw: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The flat form (``collaterals.0.address`` …) → the services' dict with nested lists, and the flat values to
    re-render: the filled rows first, renumbered as the service numbers them (so that error keys such as
    ``collaterals.1.appraised_value`` match the fields), then the blank rows; removed rows are dropped. Every
    checkbox is sent explicitly: unticked means False, also on edit."""
    data: dict[str, Any] = {k: raw.get(k, "") for k in CASE_TEXT_FIELDS}
    for flag in services.CASE_FLAGS:
        data[flag] = bool(raw.get(flag))
    values = {k: v for k, v in raw.items() if "." not in k}
    for key, (texts, selects, checks) in ROWS.items():
        filled: list[dict[str, Any]] = []
        blank: list[dict[str, Any]] = []
        for i in _row_indices(raw, key):
            pre = f"{key}.{i}."
            if raw.get(pre + "_remove"):
                continue
            row: dict[str, Any] = {f: raw.get(pre + f, "") for f in (*texts, *selects)}
            row.update({f: bool(raw.get(pre + f)) for f in checks})
            (filled if any((row[f] or "").strip() for f in texts) else blank).append(row)
        for n, row in enumerate(filled + blank):
            for f in (*texts, *selects):
                values[f"{key}.{n}.{f}"] = row[f]
            for f in checks:
                if row[f]:
                    values[f"{key}.{n}.{f}"] = "on"
        data[key] = filled
        values[f"_n_{key}"] = str(len(filled) + len(blank))
    return data, values


def text(v: Any) -> str:
    """A stored value as the form shows it."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "on" if v else ""
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def unchanged_rows(case: LoanCase, key: str, rows: list[dict[str, Any]]) -> bool:
    """Did the form send back the case's own rows untouched? Then they are not rewritten: the service replaces
    nested rows wholesale (new ids), which would re-key the R-61 checklist lines of shareholders and guarantors
    (``04.sh.<id>``, ``13.<id>.ids``) and make received documents look missing again."""
    texts, selects, checks = ROWS[key]
    current = [{**{f: text(getattr(item, f)) for f in (*texts, *selects)},
                **{f: bool(getattr(item, f)) for f in checks}} for item in getattr(case, key)]
    sent = [{**{f: (row.get(f) or "").strip() for f in (*texts, *selects)}, **{f: bool(row.get(f)) for f in checks}}
            for row in rows]
    return current == sent


def case_values(case: LoanCase) -> dict[str, str]:
    """A case as the form's flat values."""
    values = {k: text(getattr(case, k)) for k in CASE_TEXT_FIELDS}
    values.update({k: text(getattr(case, k)) for k in services.CASE_FLAGS})
    for key, (texts, selects, checks) in ROWS.items():
        items = getattr(case, key)
        for n, item in enumerate(items):
            for f in (*texts, *selects, *checks):
                values[f"{key}.{n}.{f}"] = text(getattr(item, f))
        values[f"_n_{key}"] = str(len(items))
    values["version"] = str(case.version)
    return values


def _customer_choices(q: str = "", chosen: int | None = None, limit: int = 20) -> list[Any]:
    """Corporate customers of the user's scope, by name (for the case form's picker)."""
    base = scoped(Customer, current_user).with_only_columns(Customer.id, Customer.name, Customer.outlet_id).where(
        Customer.kind == "corporate")
    rows = []
    if chosen:
        rows = list(db.session.execute(base.where(Customer.id == chosen)).all())
    stmt = base.order_by(Customer.name).limit(limit)
    if q:
        stmt = stmt.where(Customer.name.contains(q, autoescape=True))
    rows += [r for r in db.session.execute(stmt).all() if not rows or r.id != rows[0].id]
    return rows


def _render_form(case: LoanCase | None, values: dict[str, str], errors: dict[str, str] | None = None,
                 status: int = 200, alert: str | None = None):
    on = today_local()
    agreements = services.panel_agreements(current_user, on)
    if case is not None and case.agreement is not None and case.agreement.id not in {a.id for a in agreements}:
        agreements.append(case.agreement)
    chosen = int(values["customer_id"]) if str(values.get("customer_id") or "").isdigit() else None
    counts = {key: int(values.get(f"_n_{key}") or 0) for key in ROWS}
    add = values.pop("_add", None)
    for key in ROWS:  # at least one row to fill in; "增加一行" adds a blank one, with the usual ticks
        shown = counts[key]
        counts[key] = min(max(shown + (1 if add == key else 0), 1), MAX_ROWS)
        for i in range(shown, counts[key]):
            for f in ROW_DEFAULTS.get(key, ()):
                values.setdefault(f"{key}.{i}.{f}", "on")
    return render_template(
        "loan_insurance/case_form.html", case=case, values=values, errors=errors or {}, alert=alert,
        customers=[] if case is not None else _customer_choices(chosen=chosen), chosen=chosen, agreements=agreements,
        counts=counts, borrower_types=BORROWER_TYPES, products=PRODUCTS, industry_kinds=INDUSTRY_KINDS,
        collateral_kinds=COLLATERAL_KINDS, design_uses=DESIGN_USES, guarantor_kinds=GUARANTOR_KINDS,
        guarantor_roles=GUARANTOR_ROLES, prohibited=PROHIBITED,
        customer_name=_customer_name(case.customer_id) if case is not None else None), status


@bp.route("/cases/customers")
@policy(permission=PREPARE)
def case_customers():
    """htmx: the customer choices of the case form, narrowed as the user types a name."""
    q = (request.args.get("q") or "").strip()[:50]
    return render_template("loan_insurance/_case_customer_options.html", customers=_customer_choices(q),
                           chosen=request.args.get("customer_id", type=int))


@bp.route("/cases/new", methods=["GET", "POST"])
@policy(permission=PREPARE)
def case_new():
    if request.method == "GET":
        values: dict[str, str] = {"application_date": today_local().isoformat(), "borrower_type": "enterprise",
                                  "product": "working_capital", "use_is_working_capital": "on"}
        chosen = request.args.get("customer_id", type=int)
        if chosen:
            customer = db.session.execute(scoped(Customer, current_user).where(
                Customer.id == chosen, Customer.kind == "corporate")).scalar_one_or_none()
            if customer is not None:
                values.update(customer_id=str(customer.id), legal_rep_name=customer.legal_rep or "",
                              registered_on=customer.registered_on.isoformat() if customer.registered_on else "")
        agreements = services.panel_agreements(current_user, today_local())
        if len(agreements) == 1:
            values["agreement_id"] = str(agreements[0].id)
        return _render_form(None, values)
    raw = _flat_form()
    data, values = form_to_data(raw)
    values["customer_id"] = raw.get("customer_id", "")
    if raw.get("_add"):
        values["_add"] = raw["_add"]
        return _render_form(None, values)
    data["customer_id"] = raw.get("customer_id")
    try:
        case = services.create_case(current_user, data)
    except FormErrors as exc:
        db.session.rollback()
        return _render_form(None, values, exc.errors, 422, alert=_("请更正标红的项目后再保存"))
    except ServiceError as exc:
        db.session.rollback()
        return _render_form(None, values, {}, 422, alert=str(exc))
    toast(_("案件已受理：%(s)s", s=case.status_label) if case.status != "prohibited"
          else _("案件存在严禁授信情形，已自动标记为“禁止”"), "success" if case.status != "prohibited" else "danger")
    return redirect(url_for("loan_insurance.case_page", case_id=case.id))


@bp.route("/cases/<int:case_id>/edit", methods=["GET", "POST"])
@policy(permission=VIEW)
def case_edit(case_id: int):
    case = _case_or_404(case_id)
    needed = services.EDITABLE.get(case.status)
    if needed is None or not can(P + needed):
        abort(403)
    if request.method == "GET":
        return _render_form(case, case_values(case))
    raw = _flat_form()
    data, values = form_to_data(raw)
    values["version"] = raw.get("version", "")
    if raw.get("_add"):
        values["_add"] = raw["_add"]
        return _render_form(case, values)
    for key in ROWS:
        if unchanged_rows(case, key, data[key]):
            del data[key]
    try:
        services.update_case(current_user, case.id, data, version=request.form.get("version", type=int))
    except FormErrors as exc:
        db.session.rollback()
        return _render_form(_case_or_404(case_id), values, exc.errors, 422, alert=_("请更正标红的项目后再保存"))
    except ServiceError as exc:  # a stale version, or the case moved on meanwhile
        db.session.rollback()
        return _render_form(_case_or_404(case_id), values, {}, 409, alert=str(exc))
    toast(_("案件已保存"))
    return redirect(url_for("loan_insurance.case_page", case_id=case_id))


# ---------------------------------------------------------------- the case page

def _perm(user: Any) -> dict[str, bool]:
    return {name: can(P + name, user) for name in ("view", "prepare", "review", "approve", "disburse_check",
                                                    "override", "post_loan", "manage_panel")}


def case_context(case: LoanCase) -> dict[str, Any]:
    results = sorted(services.evaluate_case(case), key=lambda r: OUTCOME_ORDER.get(r.outcome, 9))
    answers = {a.item: a for a in services.review_answers(case)}
    checks = {c.item: c for c in services.disbursement_checks(case)}
    computed = {int(r.rule_id.rsplit(".", 1)[1]): r for r in rules.disbursement_rules(case)}
    history = services.transitions(case)
    names = _user_names({case.rm_id, case.created_by_id, case.prepared_by_id, case.reviewed_by_id,
                         case.approved_by_id, case.checked_by_id, *(t.actor_id for t in history),
                         *(o.actor_id for o in case.overrides), *(a.answered_by_id for a in answers.values()),
                         *(c.checked_by_id for c in checks.values())})
    outlet = db.session.get(Outlet, case.outlet_id)
    appraised = rules.total_appraised(case)
    pure = rules.pure_mortgage_amount(case)
    counts = {o: sum(1 for r in results if r.outcome == o) for o in OUTCOME_ORDER}
    return dict(
        case=case, customer_name=_customer_name(case.customer_id), outlet_name=outlet.name if outlet else "—",
        names=names, results=results, counts=counts, outcome_badges=OUTCOME_BADGES, badges=STATUS_BADGES,
        answers=answers, checks=checks, computed=computed, history=history, steps=allowed_steps(case, current_user),
        review_items=REVIEW_ITEMS, disbursement_items=DISBURSEMENT_ITEMS, prohibited=PROHIBITED,
        statuses=STATUSES, products=PRODUCTS, borrower_types=BORROWER_TYPES, industry_kinds=INDUSTRY_KINDS,
        collateral_kinds=COLLATERAL_KINDS, design_uses=DESIGN_USES, guarantor_kinds=GUARANTOR_KINDS,
        guarantor_roles=GUARANTOR_ROLES, appraised=appraised, pure=pure, insured_part=case.amount - pure,
        mortgage_rate=case.agreement.mortgage_rate if case.agreement is not None else None,
        perm=_perm(current_user), editable=(services.EDITABLE.get(case.status) is not None
                                            and can(P + services.EDITABLE[case.status])),
        wan=wan)


def _case_page(case: LoanCase, status: int = 200, **extra: Any):
    ctx = case_context(case)
    ctx.update(alert=extra.pop("alert", None), errors=extra.pop("errors", {}), form=extra.pop("form", {}),
               error_rule=extra.pop("error_rule", None))
    return render_template("loan_insurance/case.html", **ctx), status


@bp.route("/cases/<int:case_id>")
@policy(permission=VIEW)
def case_page(case_id: int):
    return _case_page(_case_or_404(case_id))


def _refused(case_id: int, exc: ServiceError, **extra: Any):
    """Re-render the case page with the service's Chinese message (422): nothing was saved."""
    db.session.rollback()
    errors = exc.errors if isinstance(exc, FormErrors) else {}
    alert = None if errors and not extra.get("alert_always") else str(exc)
    extra.pop("alert_always", None)
    return _case_page(_case_or_404(case_id), 422, alert=alert, errors=errors, **extra)


@bp.route("/cases/<int:case_id>/transition", methods=["POST"])
@policy(permission=VIEW)
def case_transition(case_id: int):
    case = _case_or_404(case_id)
    to = request.form.get("to", "")
    reason = request.form.get("reason", "")
    try:
        services.transition(current_user, case.id, to, reason)
    except ServiceError as exc:
        return _refused(case_id, exc, form={"to": to, "reason": reason}, alert_always=True)
    db.session.expire_all()
    moved = services.visible_case(case_id, current_user)
    toast(_("案件已转为“%(s)s”", s=moved.status_label if moved else str(STATUSES.get(to, to))))
    return redirect(url_for("loan_insurance.case_page", case_id=case_id))


def _yes_no(prefix: str, note_prefix: str, count: int) -> tuple[dict[int, tuple[bool, str | None]], dict[str, str]]:
    out: dict[int, tuple[bool, str | None]] = {}
    form: dict[str, str] = {}
    for i in range(1, count + 1):
        answer = request.form.get(f"{prefix}{i}", "")
        note = (request.form.get(f"{note_prefix}{i}") or "").strip()
        form[f"{prefix}{i}"], form[f"{note_prefix}{i}"] = answer, note
        if answer in ("yes", "no"):
            out[i] = (answer == "yes", note or None)
    return out, form


@bp.route("/cases/<int:case_id>/review", methods=["POST"])
@policy(permission=P + "review")
def case_review(case_id: int):
    """R-63: the ten review items answered 是/否 with a note (a 否 needs one)."""
    case = _case_or_404(case_id)
    answers, form = _yes_no("item", "note", len(REVIEW_ITEMS))
    if not answers:
        return _case_page(case, 422, alert=_("请至少填写一项审查意见"), form=form)
    try:
        services.answer_review(current_user, case.id, answers)
    except ServiceError as exc:
        return _refused(case_id, exc, form=form)
    toast(_("审查意见已保存（%(n)s项）", n=len(answers)))
    return redirect(url_for("loan_insurance.case_page", case_id=case_id) + "#review")


@bp.route("/cases/<int:case_id>/checks", methods=["POST"])
@policy(permission=P + "disburse_check")
def case_checks(case_id: int):
    """R-64: the seven disbursement checks ticked 通过/不通过 by the 放款审核岗."""
    case = _case_or_404(case_id)
    checks, form = _yes_no("check", "cnote", len(DISBURSEMENT_ITEMS))
    if not checks:
        return _case_page(case, 422, alert=_("请至少填写一项放款审核要点"), form=form)
    try:
        services.record_disbursement_checks(current_user, case.id, checks)
    except ServiceError as exc:
        return _refused(case_id, exc, form=form, alert_always=True)
    toast(_("放款审核要点已保存（%(n)s项）", n=len(checks)))
    return redirect(url_for("loan_insurance.case_page", case_id=case_id) + "#checks")


@bp.route("/cases/<int:case_id>/override", methods=["POST"])
@policy(permission=P + "override")
def case_override(case_id: int):
    """A-15: accept a "原则上" exception (transfer < 3 months, margin < 40%) with a reason."""
    case = _case_or_404(case_id)
    rule_id = request.form.get("rule_id", "")
    reason = request.form.get("reason", "")
    try:
        services.record_override(current_user, case.id, rule_id, reason)
    except ServiceError as exc:
        return _refused(case_id, exc, form={"reason": reason}, error_rule=rule_id)
    toast(_("已例外放行：%(r)s", r=rule_id))
    return redirect(url_for("loan_insurance.case_page", case_id=case_id) + "#eligibility")


# ---------------------------------------------------------------- the customer page panel

@bp.route("/customers/<int:customer_id>/panel")
@policy(permission=VIEW)
def panel_customer(customer_id: int):
    """The 银保贷 box of a corporate customer's page: its cases in the user's scope, and "发起银保贷"."""
    customer = get_or_404(Customer, customer_id)
    if customer.kind != "corporate":
        return ""
    cases = list(db.session.execute(
        scoped(LoanCase, current_user).with_only_columns(LoanCase.id, LoanCase.status, LoanCase.amount,
                                                         LoanCase.product, LoanCase.application_date)
        .where(LoanCase.customer_id == customer.id).order_by(LoanCase.id.desc()).limit(20)).all())
    return render_template("loan_insurance/_panel.html", customer=customer, cases=cases, statuses=STATUSES,
                           products=PRODUCTS, badges=STATUS_BADGES, may_prepare=can(PREPARE))
