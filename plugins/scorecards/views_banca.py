"""Bancassurance pages: KPIs, targets and alerts; the policy list, form, 契撤/退保, Excel export and import."""

from __future__ import annotations

import io
import os
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import abort, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import audit
from crm.access import can, current_scope_label, get_or_404, policy
from crm.excel import Column, write_sheet
from crm.excel_import import MAX_BYTES, SpreadsheetError
from crm.extensions import db
from crm.money import round_half_up
from crm.pagination import cursor_arg
from crm.roles import SCOPE_OWN
from crm.timeutil import to_local, today_local, utcnow
from crm.web import toast
from plugins.scorecards import banca
from plugins.scorecards import services_banca as svc
from plugins.scorecards.models import COUNTER_TYPES, PAYMENT_MODES, POLICY_STATUSES, ScorecardPolicy
from plugins.scorecards.services import FormErrors, ServiceError
from plugins.scorecards.views import bp

VIEW, BANCA = "scorecards.view", "scorecards.banca"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WAN = Decimal(10000)
STATUS_BADGES = {"active": "bg-green-lt", "cancelled_cooling": "bg-red-lt", "surrendered": "bg-orange-lt"}
FORM_FIELDS = ("outlet_id", "policy_no", "seller_id", "insurer_name", "insurer_rm", "customer_name", "payment_mode",
               "premium", "fyc", "signed_on", "counter_type")


def wan(value: Decimal | None) -> str:
    """An amount in 万元, half up to two places: 500,000 → "50.00"."""
    return f"{round_half_up((value or Decimal(0)) / WAN):,.2f}"


def _need_banca() -> None:
    if not can(BANCA):
        abort(403)


def _month(raw: str | None, today: date) -> tuple[date, date]:
    try:
        year, month = (int(p) for p in (raw or "").split("-"))
        start = date(year, month, 1)
    except (TypeError, ValueError):
        start = today.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return start, end


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        return None


def _count(raw: str | None) -> int | None:
    text = (raw or "").strip()
    return int(text) if text.isdigit() and len(text) < 7 else None


# ---------------------------------------------------------------- the overview

@bp.route("/banca")
@policy(permission=VIEW)
def banca_index():
    """R-95 KPIs of a period (a month by default, or 开始/结束 dates), R-96 progress, R-97/R-98 alerts."""
    today = today_local()
    args = request.args
    start, end = _month(args.get("month"), today)
    custom_start, custom_end = _day(args.get("start")), _day(args.get("end"))
    if custom_start and custom_end and custom_start <= custom_end:
        start, end = custom_start, custom_end
    outlets = svc.visible_outlets(current_user)
    outlet_id = args.get("outlet", type=int)
    if outlet_id is not None and outlet_id not in {o.id for o in outlets}:
        outlet_id = None
    year = args.get("year", type=int) or end.year
    if not 2000 <= year <= today.year + 1:
        year = today.year
    as_of = min(today, date(year, 12, 31))
    hc = tuple(_count(args.get(k)) for k in ("hc_district", "hc_dept", "hc_rms"))
    headcount = hc if all(v is not None for v in hc) else None
    staff = _count(args.get("staff"))
    report = svc.kpi_report(current_user, start, end, outlet_id)
    targets = svc.progress(current_user, year, as_of, outlet_id=outlet_id)
    found = svc.alerts(current_user, start, end, outlet_id=outlet_id, headcount=headcount, effective_staff=staff)
    return render_template(
        "scorecards/banca.html", report=report, targets=targets, alerts=found, outlets=outlets, outlet_id=outlet_id,
        start=start, end=end, month=args.get("month") or start.strftime("%Y-%m"), year=year, as_of=as_of,
        hc=["" if v is None else v for v in hc], staff="" if staff is None else staff, modes=banca.PAYMENT_MODES,
        periods=banca.PERIODS, wan=wan, target_scope=current_scope_label(), own=current_user.scope == SCOPE_OWN, may_record=can(BANCA))


# ---------------------------------------------------------------- the list and its export

def _filters() -> svc.PolicyFilters:
    args = request.args
    return svc.PolicyFilters(
        outlet=args.get("outlet", type=int),
        payment_mode=args.get("payment_mode") if args.get("payment_mode") in PAYMENT_MODES else "",
        status=args.get("status") if args.get("status") in POLICY_STATUSES else "",
        q=(args.get("q") or "").strip()[:40], start=_day(args.get("start")), end=_day(args.get("end")))


def _filter_args(f: svc.PolicyFilters) -> dict[str, Any]:
    out = {"outlet": f.outlet, "payment_mode": f.payment_mode, "status": f.status, "q": f.q,
           "start": f.start.isoformat() if f.start else "", "end": f.end.isoformat() if f.end else ""}
    return {k: v for k, v in out.items() if v}


@bp.route("/banca/policies")
@policy(permission=VIEW)
def banca_policies():
    filters = _filters()
    page = svc.policies_in_scope(current_user, filters, cursor_arg(request.args.get("after")))
    return render_template("scorecards/banca_policies.html", page=page, filters=filters, args=_filter_args(filters),
                           outlets=svc.visible_outlets(current_user), modes=PAYMENT_MODES, statuses=POLICY_STATUSES,
                           counters=COUNTER_TYPES, badges=STATUS_BADGES, may_record=can(BANCA))


@bp.route("/banca/policies/export")
@policy(permission=VIEW)
def banca_export():
    """The filtered policies as .xlsx: every text cell a string (a customer called "=1+1" stays text), policy
    numbers as text; one audit row."""
    filters = _filters()
    rows = svc.policies_for_export(current_user, filters)
    columns = [Column(_("保单号"), 20), Column(_("网点"), 18, "plain"), Column(_("销售人员"), 10, "plain"),
               Column(_("客户姓名"), 12, "plain"), Column(_("保险公司"), 14, "plain"),
               Column(_("保险公司客户经理"), 12, "plain"), Column(_("缴费方式"), 8, "plain"),
               Column(_("保费（元）"), 16, "money"), Column(_("FYC（元）"), 14, "money"),
               Column(_("签单日期"), 11, "date"), Column(_("柜面类型"), 8, "plain"), Column(_("状态"), 8, "plain"),
               Column(_("状态变更日期"), 12, "date")]

    def cells():
        for r in rows:
            yield [r.policy_no, r.outlet_name, r.seller_name or "", r.customer_name or "", r.insurer_name or "",
                   r.insurer_rm or "", str(PAYMENT_MODES[r.payment_mode]), r.premium, r.fyc, r.signed_on,
                   str(COUNTER_TYPES.get(r.counter_type, "")) if r.counter_type else "",
                   str(POLICY_STATUSES.get(r.status, r.status)), r.status_changed_on]

    buffer = io.BytesIO()
    n = write_sheet(buffer, _("银保保单"), columns, cells(), note=_("银保保单清单（契撤保单不计入业绩）"))
    buffer.seek(0)
    audit.record("scorecards.exported", detail={"what": "banca_policies", "rows": n})
    db.session.commit()
    stamp = to_local(utcnow()).strftime("%Y%m%d-%H%M")
    return send_file(buffer, as_attachment=True, download_name=f"银保保单-{stamp}.xlsx", max_age=0, mimetype=XLSX_MIME)


# ---------------------------------------------------------------- the form

def _values(p: ScorecardPolicy) -> dict[str, str]:
    out = {}
    for name in FORM_FIELDS:
        value = getattr(p, name)
        out[name] = "" if value is None else value.isoformat() if isinstance(value, date) else str(value)
    out["version"] = str(p.version)
    return out


def _render_form(p: ScorecardPolicy | None, values: dict[str, str], errors: dict[str, str] | None = None,
                 status: int = 200, alert: str | None = None, status_form: dict[str, str] | None = None,
                 status_errors: dict[str, str] | None = None):
    outlets = svc.visible_outlets(current_user)
    staff = svc.outlet_staff([o.id for o in outlets])
    seller_name = outlet_name = None
    if p is not None:
        from crm.models import Outlet, User

        seller = db.session.get(User, p.seller_id) if p.seller_id else None
        seller_name = seller.name if seller is not None else None
        outlet = db.session.get(Outlet, p.outlet_id)
        outlet_name = outlet.name if outlet is not None else None
    return render_template(
        "scorecards/banca_policy.html", p=p, values=values, errors=errors or {}, alert=alert, outlets=outlets,
        staff=staff, modes=PAYMENT_MODES, counters=COUNTER_TYPES, statuses=POLICY_STATUSES, badges=STATUS_BADGES,
        may_record=can(BANCA), seller_name=seller_name, outlet_name=outlet_name, today=today_local(),
        status_form=status_form or {}, status_errors=status_errors or {},
        status_choices={k: v for k, v in POLICY_STATUSES.items() if k in svc.STATUS_CHANGES}), status


def _form_data() -> dict[str, str]:
    return {k: (request.form.get(k) or "")[:200] for k in (*FORM_FIELDS, "version")}


@bp.route("/banca/policies/new", methods=["GET", "POST"])
@policy(permission=VIEW)
def banca_policy_new():
    _need_banca()
    if request.method == "GET":
        outlets = svc.visible_outlets(current_user)
        chosen = current_user.outlet_id or (outlets[0].id if len(outlets) == 1 else "")
        return _render_form(None, {"signed_on": today_local().isoformat(), "payment_mode": "single",
                                   "outlet_id": str(chosen or "")})
    values = _form_data()
    try:
        p = svc.save_policy(current_user, values)
    except FormErrors as exc:
        db.session.rollback()
        return _render_form(None, values, exc.errors, 422, _("请更正标红的项目后再保存"))
    except ServiceError as exc:
        db.session.rollback()
        return _render_form(None, values, {}, 422, str(exc))
    toast(_("保单%(n)s已登记", n=p.policy_no))
    return redirect(url_for("scorecards.banca_policy", policy_id=p.id))


@bp.route("/banca/policies/<int:policy_id>", methods=["GET", "POST"])
@policy(permission=VIEW)
def banca_policy(policy_id: int):
    p = get_or_404(ScorecardPolicy, policy_id)
    if request.method == "GET":
        return _render_form(p, _values(p))
    _need_banca()
    values = _form_data()
    try:
        svc.save_policy(current_user, values, policy_id=p.id)
    except FormErrors as exc:
        db.session.rollback()
        return _render_form(get_or_404(ScorecardPolicy, policy_id), values, exc.errors, 422,
                            _("请更正标红的项目后再保存"))
    except ServiceError as exc:
        db.session.rollback()
        return _render_form(get_or_404(ScorecardPolicy, policy_id), values, {}, 409, str(exc))
    toast(_("保单已保存"))
    return redirect(url_for("scorecards.banca_policy", policy_id=policy_id))


@bp.route("/banca/policies/<int:policy_id>/status", methods=["POST"])
@policy(permission=VIEW)
def banca_policy_status(policy_id: int):
    """契撤 or 退保 with its date (A-13: a 契撤 leaves every KPI and target from that date)."""
    p = get_or_404(ScorecardPolicy, policy_id)
    _need_banca()
    form = {"status": request.form.get("status", ""), "on": request.form.get("on", "")}
    try:
        svc.change_status(current_user, p.id, form["status"], form["on"])
    except FormErrors as exc:
        db.session.rollback()
        p = get_or_404(ScorecardPolicy, policy_id)
        return _render_form(p, _values(p), status=422, status_form=form, status_errors=exc.errors)
    except ServiceError as exc:
        db.session.rollback()
        p = get_or_404(ScorecardPolicy, policy_id)
        return _render_form(p, _values(p), status=422, alert=str(exc), status_form=form)
    toast(_("已登记%(s)s", s=str(POLICY_STATUSES[form["status"]])))
    return redirect(url_for("scorecards.banca_policy", policy_id=policy_id))


# ---------------------------------------------------------------- import

def _import_page(report: svc.ImportReport | None = None, error: str | None = None, status: int = 200):
    return render_template("scorecards/banca_import.html", report=report, error=error, columns=svc.IMPORT_COLUMNS,
                           max_mb=MAX_BYTES // 1024 // 1024), status


@bp.route("/banca/import", methods=["GET", "POST"])
@policy(permission=VIEW)
def banca_import():
    _need_banca()
    if request.method == "GET":
        return _import_page()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_page(error=_("请选择要导入的文件"), status=422)
    data = upload.read(MAX_BYTES + 1)
    filename = os.path.basename(upload.filename.replace("\\", "/"))[:200]
    try:
        report = svc.import_policies(current_user, data, filename)
    except SpreadsheetError as exc:
        db.session.rollback()
        return _import_page(error=exc.message, status=422)
    except ServiceError as exc:
        db.session.rollback()
        return _import_page(error=str(exc), status=422)
    return _import_page(report)


@bp.route("/banca/import/template.xlsx")
@policy(permission=VIEW)
def banca_import_template():
    _need_banca()
    out = io.BytesIO()
    svc.write_import_template(out)
    out.seek(0)
    return send_file(out, mimetype=XLSX_MIME, as_attachment=True, download_name="银保保单导入模板.xlsx", max_age=0)
