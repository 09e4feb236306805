"""银保贷 services: panel, cases, documents, the maker-checker workflow, default, claim and recovery (R-49–R-71).

Plain functions, actor first. Each checks the permission and the case's scope first, validates, then writes, writes
one audit row and commits once. Status changes are guarded UPDATEs (``WHERE status = :from``): of two approvers
at the same moment exactly one moves the case; the other is told it was already handled."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from crm import audit
from crm.access import can, scoped
from crm.errors import FormErrors, ServiceError  # noqa: F401 - raised here, caught by the views
from crm.extensions import db
from crm.models import Customer, Outlet
from crm.money import format_yuan
from crm.roles import SCOPE_ALL
from crm.timeutil import today_local, utcnow
from crm.validators import ValidationError, parse_amount
from plugins.loan_insurance import rules
from plugins.loan_insurance.models import (
    BORROWER_TYPES,
    COLLATERAL_KINDS,
    DEFAULT_EVENTS,
    DESIGN_USES,
    DISBURSEMENT_ITEMS,
    GUARANTOR_KINDS,
    GUARANTOR_ROLES,
    INDUSTRY_KINDS,
    MEASURES,
    PRODUCTS,
    REVIEW_ITEMS,
    STATUSES,
    LoanAgreement,
    LoanCase,
    LoanClaim,
    LoanCollateral,
    LoanDefaultEvent,
    LoanDisbursementCheck,
    LoanDocument,
    LoanGuarantor,
    LoanInsurer,
    LoanMeasure,
    LoanOverride,
    LoanRecovery,
    LoanReviewAnswer,
    LoanShareholder,
    LoanSuspension,
    LoanTransition,
)

P = "loan_insurance."


# ---------------------------------------------------------------- helpers

def _require(permission: str, actor: Any) -> None:
    if not can(P + permission, actor):
        raise ServiceError(_("您的岗位没有此项权限"))


def _add_workdays(start: date, n: int) -> date:
    from crm.workdays import add_workdays  # lazily: the working-day calendar (PRC holidays, make-up days)

    return add_workdays(start, n)


def _root_branch_id(user: Any) -> int | None:
    if user.outlet is not None:
        return user.outlet.root_branch_id
    if user.branch is not None:
        return user.branch.root_id
    return None


def _text(raw: dict[str, Any], key: str, limit: int) -> str | None:
    value = unicodedata.normalize("NFKC", str(raw.get(key) or "")).strip()
    return value[:limit] or None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "on", "true", "yes", "y", "是")


def parse_date(raw: dict[str, Any], key: str, errors: dict[str, str], label: str, *, required: bool = False
               ) -> date | None:
    """A date field (YYYY-MM-DD, full-width digits too); a Chinese error under `key` when missing or invalid."""
    value = raw.get(key)
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    if not text:
        if required:
            errors[key] = _("请填写%(f)s", f=label)
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[key] = _("%(f)s不是有效日期（如 2024-07-15）", f=label)
        return None


def _amount(raw: dict[str, Any], key: str, errors: dict[str, str], label: str, *, required: bool = False,
            positive: bool = True) -> Decimal | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[key] = _("请填写%(f)s", f=label)
        return None
    try:
        amount = parse_amount(value, min_value=Decimal("0"))
    except ValidationError as exc:  # a float is a programming error (TypeError), not a user's typo
        errors[key] = _("%(f)s：%(m)s", f=label, m=exc.message)
        return None
    if positive and amount <= 0:
        errors[key] = _("%(f)s必须大于0", f=label)
        return None
    return amount


def _decimal(raw: dict[str, Any], key: str, errors: dict[str, str], label: str, *, low: Decimal, high: Decimal,
             required: bool = False) -> Decimal | None:
    value = raw.get(key)
    if isinstance(value, float):
        raise TypeError("no floats: pass str or Decimal")
    text = str(value if value is not None else "").strip().rstrip("%")
    if not text:
        if required:
            errors[key] = _("请填写%(f)s", f=label)
        return None
    try:
        number = Decimal(unicodedata.normalize("NFKC", text))
    except InvalidOperation:
        errors[key] = _("%(f)s不是有效数字", f=label)
        return None
    if not number.is_finite() or not low <= number <= high:
        errors[key] = _("%(f)s须在%(lo)s至%(hi)s之间", f=label, lo=low, hi=high)
        return None
    return number


def _case_or_error(case_id: Any, user: Any) -> LoanCase:
    case = visible_case(case_id, user)
    if case is None:
        raise ServiceError(_("案件不存在或不在您的管辖范围内"))
    return case


def _log(case: LoanCase, actor: Any, action: str, detail: dict[str, Any] | None = None) -> None:
    audit.record(P + action, target=("loan_insurance_case", case.id), detail=detail or {}, actor=actor)


# ---------------------------------------------------------------- scope

def visible_case(case_id: Any, user: Any) -> LoanCase | None:
    """The case if `user` may see it (permission + scope), else None — another outlet's id and an unknown id look
    the same. Collateral, guarantors, shareholders, agreement and overrides come loaded (what ``evaluate`` reads)."""
    try:
        key = int(case_id)
    except (TypeError, ValueError):
        return None
    if not can(P + "view", user):
        return None
    return db.session.execute(
        scoped(LoanCase, user).where(LoanCase.id == key).options(
            selectinload(LoanCase.collaterals), selectinload(LoanCase.guarantors),
            selectinload(LoanCase.shareholders), selectinload(LoanCase.overrides))
    ).scalar_one_or_none()


def visible_cases(user: Any, *, status: str | None = None) -> list[LoanCase]:
    """The cases of the user's scope, newest first."""
    if not can(P + "view", user):
        return []
    stmt = scoped(LoanCase, user).order_by(LoanCase.id.desc())
    if status:
        stmt = stmt.where(LoanCase.status == status)
    return list(db.session.execute(stmt).scalars())


def _visible_customer(actor: Any, customer_id: Any) -> Customer | None:
    try:
        key = int(customer_id)
    except (TypeError, ValueError):
        return None
    return db.session.execute(scoped(Customer, actor).where(Customer.id == key, Customer.kind == "corporate")
                              ).scalar_one_or_none()


# ---------------------------------------------------------------- panel: insurers, agreements, suspensions

def save_insurer(actor: Any, data: dict[str, Any], insurer_id: int | None = None) -> LoanInsurer:
    """Add (or rename / retire) a panel insurer of the actor's 分行; HQ-wide (``hq``) only for the administrator."""
    _require("manage_panel", actor)
    errors: dict[str, str] = {}
    name = _text(data, "name", 100)
    if not name:
        errors["name"] = _("请填写保险公司名称")
    hq = _bool(data.get("hq"))
    if hq and actor.scope != SCOPE_ALL:
        errors["hq"] = _("只有系统管理员可以维护总行入围保险公司")
    if errors:
        raise FormErrors(errors)
    if insurer_id is None:
        insurer = LoanInsurer(branch_id=None if hq else _root_branch_id(actor), name=name, created_by_id=actor.id)
        db.session.add(insurer)
    else:
        insurer = _panel_insurer(actor, insurer_id)
        insurer.name = name
    if "active" in data:
        insurer.active = _bool(data["active"])
    db.session.flush()
    audit.record(P + "insurer_saved", target=("loan_insurance_insurer", insurer.id),
                 detail={"name": name, "active": insurer.active}, actor=actor)
    db.session.commit()
    return insurer


class PanelNotFound(ServiceError):
    """A panel object (insurer, agreement, suspension) that does not exist or belongs to another 分行: the views
    answer 404 and audit the denial, as for any object out of scope (issue 8)."""

    def __init__(self, message: str, target: tuple[str, Any]):
        super().__init__(message)
        self.target = target


def _panel_insurer(actor: Any, insurer_id: Any) -> LoanInsurer:
    insurer = db.session.get(LoanInsurer, int(insurer_id))
    if insurer is None or (actor.scope != SCOPE_ALL and insurer.branch_id not in (None, _root_branch_id(actor))):
        raise PanelNotFound(_("保险公司不存在"), ("loan_insurance_insurer", insurer_id))
    return insurer


AGREEMENT_TERMS = ("valid_from", "premium_rate", "mortgage_rate", "waiting_days", "collection_fee",
                   "insurer_recovery_share")


def _term_text(value: Any) -> str:
    """An agreement term as the audit log shows it: 0.600000 and 0.6 are the same rate."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value.isoformat() if isinstance(value, date) else str(value)


def save_agreement(actor: Any, insurer_id: int, data: dict[str, Any], agreement_id: int | None = None
                   ) -> LoanAgreement:
    """A 合作协议 with its validity (inclusive) and rates (A-15: configurable per agreement).

    With `agreement_id` the agreement is corrected. Once a case uses it, its terms are what that case was priced
    and judged on: they stay as they are (a change of terms is a new agreement), only the number and the end date
    may change, and the end date not before any using case's application or credit start (R-60)."""
    _require("manage_panel", actor)
    insurer = _panel_insurer(actor, insurer_id)
    if insurer.branch_id is None and actor.scope != SCOPE_ALL:
        raise ServiceError(_("只有系统管理员可以维护总行入围保险公司的协议"))
    agreement = None
    if agreement_id is not None:
        agreement = db.session.get(LoanAgreement, int(agreement_id))
        if agreement is None or agreement.insurer_id != insurer.id:
            raise PanelNotFound(_("合作协议不存在"), ("loan_insurance_agreement", agreement_id))
    errors: dict[str, str] = {}
    no = _text(data, "agreement_no", 50)
    if not no:
        errors["agreement_no"] = _("请填写协议编号")
    valid_from = parse_date(data, "valid_from", errors, _("协议生效日"), required=True)
    valid_to = parse_date(data, "valid_to", errors, _("协议到期日"), required=True)
    if valid_from and valid_to and valid_to < valid_from:
        errors["valid_to"] = _("协议到期日不能早于生效日")
    premium_rate = _decimal(data, "premium_rate", errors, _("保险费率"), low=Decimal(0), high=Decimal(1),
                            required=True)
    mortgage_rate = _decimal(data, "mortgage_rate", errors, _("抵押率"), low=Decimal(0), high=Decimal(1),
                             required=True)
    share = _decimal(data, "insurer_recovery_share", errors, _("保险公司追偿分配比例"), low=Decimal(0),
                     high=Decimal(1), required=True)
    waiting = _decimal(data, "waiting_days", errors, _("赔款等待期（天）"), low=Decimal(0), high=Decimal(3650),
                       required=True)
    if waiting is not None and waiting != waiting.to_integral_value():
        errors["waiting_days"] = _("赔款等待期须为整数天")
    fee = _amount(data, "collection_fee", errors, _("代收手续费"), positive=False) or Decimal("0")
    terms = {"valid_from": valid_from, "premium_rate": premium_rate, "mortgage_rate": mortgage_rate,
             "waiting_days": int(waiting) if waiting is not None and "waiting_days" not in errors else None,
             "collection_fee": fee, "insurer_recovery_share": share}
    if agreement is not None and not errors:
        used = db.session.execute(
            select(func.count(LoanCase.id), func.max(LoanCase.application_date), func.max(LoanCase.term_start))
            .where(LoanCase.agreement_id == agreement.id)).one()
        if used[0]:
            for key in AGREEMENT_TERMS:
                if terms[key] != getattr(agreement, key):
                    errors[key] = _("已有%(n)d笔案件按本协议办理，条款不能修改；条款变更请新增一份协议", n=used[0])
            last = max(d for d in used[1:] if d is not None)
            if valid_to and valid_to < last:
                errors["valid_to"] = _("已有案件在%(d)s按本协议办理，到期日不能早于该日", d=last.isoformat())
    if errors:
        raise FormErrors(errors)
    if agreement is None:
        agreement = LoanAgreement(insurer_id=insurer.id, created_by_id=actor.id)
        db.session.add(agreement)
        action = "agreement_saved"
        before = None
    else:
        action = "agreement_updated"
        before = {"agreement_no": agreement.agreement_no, "valid_to": agreement.valid_to.isoformat(),
                  **{k: _term_text(getattr(agreement, k)) for k in AGREEMENT_TERMS}}
    agreement.agreement_no = no
    agreement.valid_to = valid_to
    for key, value in terms.items():
        setattr(agreement, key, value)
    db.session.flush()
    detail = {"insurer": insurer.name, "agreement_no": no, "valid_from": valid_from.isoformat(),
              "valid_to": valid_to.isoformat()}
    if before is not None:
        after = {"agreement_no": no, "valid_to": valid_to.isoformat(),
                 **{k: _term_text(getattr(agreement, k)) for k in AGREEMENT_TERMS}}
        detail["changed"] = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    audit.record(P + action, target=("loan_insurance_agreement", agreement.id), detail=detail, actor=actor)
    db.session.commit()
    return agreement


def panel_agreements(user: Any, on: date) -> list[LoanAgreement]:
    """Agreements valid on `on` with active insurers of the user's 分行 panel or HQ-wide (what a case may choose)."""
    branch_id = _root_branch_id(user)
    stmt = (select(LoanAgreement).join(LoanInsurer).where(
        LoanInsurer.active.is_(True), LoanAgreement.valid_from <= on, LoanAgreement.valid_to >= on,
        (LoanInsurer.branch_id.is_(None)) | (LoanInsurer.branch_id == branch_id)).order_by(LoanInsurer.name))
    return list(db.session.execute(stmt).scalars())


def suspend_insurer(actor: Any, insurer_id: int, starts_on: date, reason: str, *, ends_on: date | None = None,
                    claim_id: int | None = None, branch_id: int | None = None) -> LoanSuspension:
    """R-69 / A-15: the handling 分行 suspends approvals of NEW customers with this insurer (e.g. it paid a claim
    late). Held by the panel administrators and the approving authority; applies to the actor's own 分行."""
    if not (can(P + "manage_panel", actor) or can(P + "approve", actor)):
        raise ServiceError(_("您的岗位没有此项权限"))
    insurer = _panel_insurer(actor, insurer_id)
    reason = (reason or "").strip()
    if not reason:
        raise FormErrors({"reason": _("请填写暂停原因")})
    branch = branch_id if actor.scope == SCOPE_ALL and branch_id else _root_branch_id(actor)
    if branch is None:
        raise FormErrors({"branch_id": _("请选择经办分行")})
    if ends_on is not None and ends_on < starts_on:
        raise FormErrors({"ends_on": _("结束日期不能早于开始日期")})
    row = LoanSuspension(insurer_id=insurer.id, branch_id=branch, starts_on=starts_on, ends_on=ends_on,
                         reason=reason[:500], claim_id=claim_id, created_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    audit.record(P + "insurer_suspended", target=("loan_insurance_insurer", insurer.id),
                 detail={"branch_id": branch, "starts_on": starts_on.isoformat(), "reason": reason}, actor=actor)
    db.session.commit()
    return row


def suspend_for_late_claim(actor: Any, case_id: int, today: date) -> LoanSuspension:
    """R-69: the insurer of this case did not pay within 5 working days of complete materials — suspend its
    new-customer approvals in the case's 分行 from `today`, linked to the claim. Refused if the insurer is not late."""
    if not (can(P + "manage_panel", actor) or can(P + "approve", actor)):
        raise ServiceError(_("您的岗位没有此项权限"))
    case = _case_or_error(case_id, actor)
    claim = case_claim(case)
    if claim is None or not claim_flags(claim, today).insurer_late:
        raise ServiceError(_("保险公司未逾期赔付，不能据此暂停审批"))
    if _root_branch_id(actor) != case.branch_id and actor.scope != SCOPE_ALL:
        raise ServiceError(_("只能暂停本分行的审批"))
    reason = _("案件#%(id)s：资料齐全后应于%(d)s前赔付，保险公司未按时赔付", id=case.id,
               d=claim.insurer_deadline.isoformat())
    return suspend_insurer(actor, case.agreement.insurer_id, today, reason, claim_id=claim.id,
                           branch_id=case.branch_id)


def lift_suspension(actor: Any, suspension_id: int, ends_on: date) -> LoanSuspension:
    if not (can(P + "manage_panel", actor) or can(P + "approve", actor)):
        raise ServiceError(_("您的岗位没有此项权限"))
    row = db.session.get(LoanSuspension, suspension_id)
    if row is None or (actor.scope != SCOPE_ALL and row.branch_id != _root_branch_id(actor)):
        raise PanelNotFound(_("暂停记录不存在"), ("loan_insurance_suspension", suspension_id))
    if ends_on < row.starts_on:
        raise FormErrors({"ends_on": _("结束日期不能早于开始日期")})
    row.ends_on = ends_on
    audit.record(P + "suspension_lifted", target=("loan_insurance_insurer", row.insurer_id),
                 detail={"branch_id": row.branch_id, "ends_on": ends_on.isoformat()}, actor=actor)
    db.session.commit()
    return row


# ---------------------------------------------------------------- cases

CASE_FLAGS = ("has_account_at_outlet", "registered_with_aic", "clear_business_no_bad_record",
              "controller_no_bad_habits", "use_is_working_capital", "bank_sole_beneficiary",
              *(f"prohibited_{i}" for i in range(1, 11)))
EDITABLE = {"accepted": "prepare", "investigating": "prepare", "reviewing": "review"}
PRE_DECISION = ("accepted", "investigating", "reviewing", "approving")


@dataclass
class _Parsed:
    values: dict[str, Any]
    collaterals: list[dict[str, Any]] | None
    guarantors: list[dict[str, Any]] | None
    shareholders: list[dict[str, Any]] | None


def _parse_case(data: dict[str, Any], case: LoanCase | None, branch_id: int) -> _Parsed:
    errors: dict[str, str] = {}
    v: dict[str, Any] = {}
    new = case is None

    def has(key: str) -> bool:
        return new or key in data

    if has("borrower_type"):
        v["borrower_type"] = data.get("borrower_type")
        if v["borrower_type"] not in BORROWER_TYPES:
            errors["borrower_type"] = _("请选择借款人类型：企业法人或个体工商户")
    if has("product"):
        v["product"] = data.get("product")
        if v["product"] not in PRODUCTS:
            errors["product"] = _("请选择业务品种：流动资金贷款或银行承兑")
    if has("amount"):
        v["amount"] = _amount(data, "amount", errors, _("授信金额"), required=True)
    if has("application_date"):
        v["application_date"] = parse_date(data, "application_date", errors, _("申请日期")) or today_local()
    for key, label, required in (("term_start", _("授信起始日"), True), ("term_end", _("授信到期日"), True),
                                 ("registered_on", _("注册日期"), False), ("policy_start", _("保单起始日"), False),
                                 ("policy_end", _("保单到期日"), False), ("policy_issued_on", _("保单签发日"), False)):
        if has(key):
            v[key] = parse_date(data, key, errors, label, required=required)
    if has("margin_amount"):
        v["margin_amount"] = _amount(data, "margin_amount", errors, _("保证金金额"), positive=False)
    if has("insured_amount"):
        v["insured_amount"] = _amount(data, "insured_amount", errors, _("保险金额"), positive=False)
    if has("main_shareholder_industry_years"):
        v["main_shareholder_industry_years"] = _decimal(data, "main_shareholder_industry_years", errors,
                                                        _("主要股东从业年限"), low=Decimal(0), high=Decimal(99))
    if has("industry_kind"):
        v["industry_kind"] = data.get("industry_kind") or "other"
        if v["industry_kind"] not in INDUSTRY_KINDS:
            errors["industry_kind"] = _("请选择行业类别")
    for key, limit in (("legal_rep_name", 50), ("prohibited_note", 1000), ("use_of_funds", 300),
                       ("risk_rating", 20), ("policy_no", 50)):
        if has(key):
            v[key] = _text(data, key, limit)
    for key in CASE_FLAGS:
        if key in data:
            v[key] = _bool(data[key])
        elif new and key == "use_is_working_capital":
            v[key] = True
    if has("agreement_id"):
        raw = data.get("agreement_id")
        if raw in (None, ""):
            v["agreement_id"] = None
        else:
            agreement = db.session.get(LoanAgreement, int(raw)) if str(raw).isdigit() else None
            if agreement is None or agreement.insurer.branch_id not in (None, branch_id):
                errors["agreement_id"] = _("请选择本分行入围保险公司的合作协议")
            else:
                v["agreement_id"] = agreement.id
    start = v.get("term_start", case.term_start if case else None)
    end = v.get("term_end", case.term_end if case else None)
    if start and end and end < start and "term_end" not in errors:
        errors["term_end"] = _("授信到期日不能早于起始日")
    pstart = v.get("policy_start", case.policy_start if case else None)
    pend = v.get("policy_end", case.policy_end if case else None)
    if pstart and pend and pend < pstart and "policy_end" not in errors:
        errors["policy_end"] = _("保单到期日不能早于起始日")
    product = v.get("product", case.product if case else None)
    if product == "acceptance" and v.get("margin_amount", case.margin_amount if case else None) is None \
            and "margin_amount" not in errors:
        errors["margin_amount"] = _("银行承兑须填写保证金金额")
    on = v.get("application_date") or (case.application_date if case else today_local())
    collaterals = _parse_rows(data, "collaterals", errors, lambda r, e, p: _parse_collateral(r, e, p, on))
    guarantors = _parse_rows(data, "guarantors", errors, _parse_guarantor)
    shareholders = _parse_rows(data, "shareholders", errors, _parse_shareholder)
    if shareholders and sum(s["share_pct"] for s in shareholders) > 100:
        errors["shareholders"] = _("股东持股比例合计超过100%")
    if errors:
        raise FormErrors(errors)
    return _Parsed(v, collaterals, guarantors, shareholders)


def _parse_rows(data: dict[str, Any], key: str, errors: dict[str, str], parse) -> list[dict[str, Any]] | None:
    if key not in data:
        return None
    rows = []
    for i, raw in enumerate(data.get(key) or []):
        rows.append(parse(raw, errors, f"{key}.{i}."))
    return rows


def _parse_collateral(raw: dict[str, Any], errors: dict[str, str], prefix: str, on: date) -> dict[str, Any]:
    e: dict[str, str] = {}
    row: dict[str, Any] = {"kind": raw.get("kind") or "building"}
    if row["kind"] not in COLLATERAL_KINDS:
        e["kind"] = _("抵押物类型须为建筑物或土地")
    row["design_use"] = raw.get("design_use") or None
    if row["design_use"] is not None and row["design_use"] not in DESIGN_USES:
        e["design_use"] = _("设计用途须为住宅、商用、工业或其他")
    row["address"] = _text(raw, "address", 200)
    year = str(raw.get("build_year") or "").strip()
    row["build_year"] = None
    if year:
        if not year.isdigit() or not 1900 <= int(year) <= on.year:
            e["build_year"] = _("建成年份须在1900年至%(y)s年之间", y=on.year)
        else:
            row["build_year"] = int(year)
    elif row["kind"] == "building" and not raw.get("completed_on"):
        e["build_year"] = _("请填写房屋建成年份")
    row["completed_on"] = parse_date(raw, "completed_on", e, _("竣工日期"))
    row["last_transfer_on"] = parse_date(raw, "last_transfer_on", e, _("最近过户日期"))
    row["appraised_value"] = _amount(raw, "appraised_value", e, _("评估价值"), required=True)
    row["appraisal_report_no"] = _text(raw, "appraisal_report_no", 50)
    for key in ("clear_title", "county_urban_area", "owner_is_minor", "in_demolition_zone", "illegal_building",
                "sealed_seized_supervised", "otherwise_non_mortgageable", "bank_sole_mortgagee"):
        row[key] = _bool(raw.get(key, key == "clear_title"))
    errors.update({prefix + k: m for k, m in e.items()})
    return row


def _parse_guarantor(raw: dict[str, Any], errors: dict[str, str], prefix: str) -> dict[str, Any]:
    e: dict[str, str] = {}
    row: dict[str, Any] = {"kind": raw.get("kind") or "person", "role": raw.get("role") or "other"}
    if row["kind"] not in GUARANTOR_KINDS:
        e["kind"] = _("担保人类型须为自然人或企业")
    if row["role"] not in GUARANTOR_ROLES:
        e["role"] = _("请选择担保人身份")
    row["name"] = _text(raw, "name", 100)
    if not row["name"]:
        e["name"] = _("请填写担保人名称")
    row["id_no"] = _text(raw, "id_no", 18)
    row["married"] = _bool(raw.get("married"))
    row["spouse_name"] = _text(raw, "spouse_name", 50)
    row["spouse_id_no"] = _text(raw, "spouse_id_no", 18)
    if row["kind"] == "person" and row["married"] and not row["spouse_name"]:
        e["spouse_name"] = _("已婚自然人担保人须填写配偶姓名")
    row["joint_liability"] = _bool(raw.get("joint_liability", True))
    errors.update({prefix + k: m for k, m in e.items()})
    return row


def _parse_shareholder(raw: dict[str, Any], errors: dict[str, str], prefix: str) -> dict[str, Any]:
    e: dict[str, str] = {}
    row: dict[str, Any] = {"name": _text(raw, "name", 100), "has_spouse": _bool(raw.get("has_spouse"))}
    if not row["name"]:
        e["name"] = _("请填写股东名称")
    row["share_pct"] = _decimal(raw, "share_pct", e, _("持股比例"), low=Decimal(0), high=Decimal(100),
                                required=True) or Decimal(0)
    errors.update({prefix + k: m for k, m in e.items()})
    return row


def _apply(case: LoanCase, parsed: _Parsed) -> None:
    for key, value in parsed.values.items():
        setattr(case, key, value)
    if parsed.collaterals is not None:
        case.collaterals = _merge_rows(case.collaterals, parsed.collaterals, LoanCollateral)
    if parsed.guarantors is not None:
        case.guarantors = _merge_rows(case.guarantors, parsed.guarantors, LoanGuarantor)
    if parsed.shareholders is not None:
        case.shareholders = _merge_rows(case.shareholders, parsed.shareholders, LoanShareholder)
    _price(case)


def _merge_rows(current: list[Any], rows: list[dict[str, Any]], model: type) -> list[Any]:
    """Update nested rows in place (R-61): checklist codes are keyed by row id (`04.sh.<id>`, `13.<id>.ids`), so a
    row keeps its id and its received documents across edits. A row whose name is unchanged keeps its own record
    (removing 甲 of 甲、乙 leaves 乙 its id); the others take the remaining records by position (same number of
    rows → same ids, changed values written); extra rows are added, records left over are deleted (delete-orphan)."""
    free = list(current)
    matched: list[Any] = [None] * len(rows)
    for i, row in enumerate(rows):
        name = row.get("name")
        hit = next((o for o in free if name and getattr(o, "name", None) == name), None)
        if hit is not None:
            matched[i] = hit
            free.remove(hit)
    out = []
    for obj, row in zip(matched, rows, strict=True):
        if obj is None and free:
            obj = free.pop(0)
        if obj is None:
            obj = model(**row)
        else:
            for key, value in row.items():
                setattr(obj, key, value)
        out.append(obj)
    return out


def _price(case: LoanCase) -> None:
    """R-59: premium = insured amount × premium rate (half up, to the fen); transferred to the insurer the day
    before the policy issue date — a calendar day (A-15)."""
    agreement = db.session.get(LoanAgreement, case.agreement_id) if case.agreement_id else None
    if agreement is not None and case.insured_amount is not None:
        case.premium = rules.premium_for(case.insured_amount, agreement.premium_rate)
    else:
        case.premium = None
    case.premium_transfer_on = premium_transfer_date(case.policy_issued_on)


def premium_transfer_date(issued_on: date | None) -> date | None:
    """The day before the policy issue date, a calendar day (A-15): issued 2024-05-06 (Monday) → 2024-05-05."""
    return issued_on - timedelta(days=1) if issued_on else None


def create_case(actor: Any, data: dict[str, Any]) -> LoanCase:
    """受理 (R-60): a corporate customer in the actor's scope applies at its outlet (or ``outlet_id`` in scope).
    Nested ``collaterals`` / ``guarantors`` / ``shareholders`` lists of dicts are saved with it."""
    _require("prepare", actor)
    customer = _visible_customer(actor, data.get("customer_id"))
    if customer is None:
        raise FormErrors({"customer_id": _("请选择您管辖范围内的对公客户")})
    outlet_id = data.get("outlet_id") or customer.outlet_id
    outlet = None
    if str(outlet_id).isdigit():
        key = int(outlet_id)
        # Customer managers (own scope) handle cases at their own outlet; heads and branch posts within their scope.
        outlet = (db.session.get(Outlet, key) if key == actor.outlet_id else
                  db.session.execute(scoped(Outlet, actor).where(Outlet.id == key)).scalar_one_or_none())
    if outlet is None:
        raise FormErrors({"outlet_id": _("请选择您管辖范围内的经办网点")})
    data = {"registered_on": customer.registered_on, "legal_rep_name": customer.legal_rep, **data}
    parsed = _parse_case(data, None, outlet.root_branch_id)
    rm_id = actor.id if actor.post == "corporate_rm" else (customer.maintainer_id or actor.id)
    case = LoanCase(customer_id=customer.id, outlet_id=outlet.id, branch_id=outlet.root_branch_id, rm_id=rm_id,
                    status="accepted", created_by_id=actor.id)
    _apply(case, parsed)
    db.session.add(case)
    db.session.flush()
    db.session.add(LoanTransition(case_id=case.id, from_status=None, to_status="accepted", actor_id=actor.id,
                                  reason=_("受理")))
    _sync_documents(case)
    _log(case, actor, "case_created", {"customer_id": customer.id, "amount": str(case.amount),
                                       "product": case.product})
    _auto_prohibit(case, actor)
    db.session.commit()
    return case


def update_case(actor: Any, case_id: int, data: dict[str, Any], *, version: int | None = None) -> LoanCase:
    """Edit a case's facts while it is being prepared (受理/贷前调查: prepare) or reviewed (审查: review). A stale
    `version` (someone saved in between) is refused instead of overwriting."""
    case = _case_or_error(case_id, actor)
    needed = EDITABLE.get(case.status)
    if needed is None:
        raise ServiceError(_("案件处于“%(s)s”状态，不能修改", s=case.status_label))
    _require(needed, actor)
    if version is not None and int(version) != case.version:
        raise ServiceError(_("该案件已被他人修改，请刷新后重试"))
    parsed = _parse_case(data, case, case.branch_id)
    _apply(case, parsed)
    db.session.flush()
    _sync_documents(case)
    _log(case, actor, "case_updated", {"fields": sorted(parsed.values)})
    _auto_prohibit(case, actor)
    db.session.commit()
    return case


def _auto_prohibit(case: LoanCase, actor: Any) -> None:
    """R-52, T-57: a case with any of the ten prohibited situations is "禁止" at once and can never be approved."""
    if any(case.prohibited_flags) and case.status in PRE_DECISION:
        found = "、".join(f"（{rules.CN_NUM[i]}）" for i, f in enumerate(case.prohibited_flags, 1) if f)
        _move(case, actor, case.status, "prohibited", _("存在第八条%(x)s严禁授信情形", x=found))


# ---------------------------------------------------------------- evaluation in context

def is_new_customer(case: LoanCase) -> bool:
    """R-69: a customer is "new" to 银保贷 when none of its other cases has reached 放款."""
    started = ("disbursed", "post_loan", "defaulted", "claiming", "recovering", "settled")
    other = db.session.execute(select(LoanCase.id).where(
        LoanCase.customer_id == case.customer_id, LoanCase.id != case.id, LoanCase.status.in_(started)).limit(1)
    ).first()
    return other is None


def evaluate_case(case: LoanCase, on: date | None = None, *, decided_on: date | None = None
                  ) -> list[rules.RuleResult]:
    """``rules.evaluate`` with the case's 分行 suspensions and new-customer status loaded (two small queries).
    `decided_on` (default today) is the day the R-69 suspension is checked on (the approval day)."""
    suspensions = list(db.session.execute(select(LoanSuspension).where(LoanSuspension.branch_id == case.branch_id)
                                          ).scalars())
    new = is_new_customer(case)
    results = rules.evaluate(case, on or case.application_date, suspensions=suspensions, new_customer=new)
    # R-69 concerns approvals: the suspension is checked on the decision day.
    fixed = rules.evaluate_suspension(case, decided_on or today_local(), suspensions, new)
    return [fixed if r.rule_id == "R-69" else r for r in results]


# ---------------------------------------------------------------- documents

@dataclass(frozen=True)
class DocItem:
    code: str
    label: str
    required: bool = True


def document_checklist(case: Any, on: date | None = None) -> list[DocItem]:
    """The R-61 (第十九条) checklist adapted to the case (T-24).

    (4) IDs of the legal representative and of shareholders holding 10% or more (10% included, 9% not) and their
    spouses; (6) statements by the company's age on the application date: founded in the application year → the
    latest 6 months; younger than 3 years → since founding and recent; otherwise the last three years and the
    latest period; (8) trade/service and manufacturing enterprises: vouchers of at least 3 months; (13) per
    guarantor: a natural person gives both spouses' IDs, the marriage certificate and a personal credit report, an
    enterprise the materials of items 1–12."""
    on = on or case.application_date
    items = [
        DocItem("01", _("有效的营业执照（正副本）、组织机构代码证书（正副本）复印件")),
        DocItem("02", _("有效的税务登记证复印件；近两年纳税证明（有则提供）")),
        DocItem("03", _("基本账户开户许可证、最新验资报告、公司章程、中征码（原贷款卡号）")),
        DocItem("04.legal_rep", _("法定代表人%(n)s身份证及个人履历", n=case.legal_rep_name or "")),
    ]
    for s in case.shareholders:
        if s.share_pct >= Decimal(10):
            key = s.id if getattr(s, "id", None) else s.name
            items.append(DocItem(f"04.sh.{key}", _("股东%(n)s（持股%(p)s%%）身份证", n=s.name, p=s.share_pct)))
            if s.has_spouse:
                items.append(DocItem(f"04.sp.{key}", _("股东%(n)s之配偶身份证", n=s.name)))
    items.append(DocItem("05", _("关于申请授信的股东决议或董事会决议")))
    founded = case.registered_on
    if founded is not None and founded.year == on.year:
        items.append(DocItem("06", _("最近6个月财务报表（申请当年成立）")))
    elif founded is not None and on < rules.add_years(founded, 3):
        items.append(DocItem("06", _("自成立以来及近期财务报表（成立不足三年）")))
    else:
        items.append(DocItem("06", _("近三年财务报表及最近一期财务报表")))
    items.append(DocItem("07", _("银行账户对账单（不少于3个月）、个人账户流水（近3个月）")))
    if case.industry_kind in ("trade_service", "manufacturing"):
        items.append(DocItem("08", _("近期水、电、租金及纳税等凭证（%(k)s企业不少于3个月）",
                                     k=str(INDUSTRY_KINDS[case.industry_kind]))))
    else:
        items.append(DocItem("08", _("近期水、电、租金及纳税等凭证")))
    items += [DocItem("09", _("已签订和正在执行的采购合同、销售合同及订单等资料复印件")),
              DocItem("10", _("借款人的应收账款明细")),
              DocItem("11", _("国有土地使用权证、房产证等抵押物权证复印件")),
              DocItem("12", _("第三方评估机构出具的抵押物评估报告复印件"))]
    for g in case.guarantors:
        key = g.id if getattr(g, "id", None) else g.name
        if g.kind == "person":
            if g.married:
                items.append(DocItem(f"13.{key}.ids", _("担保人%(n)s夫妻双方有效身份证件", n=g.name)))
                items.append(DocItem(f"13.{key}.marriage", _("担保人%(n)s结婚证复印件", n=g.name)))
            else:
                items.append(DocItem(f"13.{key}.ids", _("担保人%(n)s有效身份证件", n=g.name)))
            items.append(DocItem(f"13.{key}.credit", _("担保人%(n)s个人征信查询资料", n=g.name)))
        else:
            items.append(DocItem(f"13.{key}.corp", _("担保企业%(n)s相关材料（参照第十九条第1—12项）", n=g.name)))
    items.append(DocItem("14", _("银行及保险公司要求提供的其他材料"), required=False))
    return items


def _sync_documents(case: LoanCase) -> None:
    """Keep the stored checklist equal to the adapted one: new lines added, lines no longer needed made optional
    (a received document is never deleted)."""
    wanted = {d.code: d for d in document_checklist(case)}
    have = {d.code: d for d in db.session.execute(select(LoanDocument).where(LoanDocument.case_id == case.id)
                                                   ).scalars()}
    for code, item in wanted.items():
        row = have.get(code)
        if row is None:
            db.session.add(LoanDocument(case_id=case.id, code=code, label=item.label[:300], required=item.required))
        else:
            row.label, row.required = item.label[:300], item.required
    for code, row in have.items():
        if code not in wanted:
            if row.received:
                row.required = False
            else:
                db.session.delete(row)
    db.session.flush()


def case_documents(case: LoanCase) -> list[LoanDocument]:
    return list(db.session.execute(select(LoanDocument).where(LoanDocument.case_id == case.id)
                                   .order_by(LoanDocument.code)).scalars())


def missing_documents(case: LoanCase) -> list[LoanDocument]:
    return [d for d in case_documents(case) if d.required and not d.received]


def mark_document(actor: Any, case_id: int, code: str, *, received: bool = True,
                  file_name: str | None = None) -> LoanDocument:
    """Tick (or untick) one checklist line as received, with who and when."""
    _require("prepare", actor)
    case = _case_or_error(case_id, actor)
    if case.status not in ("accepted", "investigating", "reviewing"):
        raise ServiceError(_("案件处于“%(s)s”状态，不能修改材料", s=case.status_label))
    row = db.session.execute(select(LoanDocument).where(LoanDocument.case_id == case.id,
                                                        LoanDocument.code == code)).scalar_one_or_none()
    if row is None:
        raise ServiceError(_("材料清单中没有此项"))
    row.received = received
    row.received_by_id = actor.id if received else None
    row.received_at = utcnow() if received else None
    if file_name is not None:
        row.file_name = file_name[:200]
    _log(case, actor, "document", {"code": code, "received": received})
    db.session.commit()
    return row


# ---------------------------------------------------------------- review and disbursement checks

def _makers(case: LoanCase, upto: str) -> set[int]:
    """Who acted on the case before the checker step `upto` (maker-checker: none of them may perform it)."""
    order = ("created_by_id", "prepared_by_id", "reviewed_by_id", "approved_by_id")
    stop = {"review": 2, "approve": 3, "disburse_check": 4, "override": 2}[upto]
    return {getattr(case, col) for col in order[:stop] if getattr(case, col) is not None}


def _not_maker(case: LoanCase, actor: Any, step: str) -> None:
    if actor.id in _makers(case, step):
        raise ServiceError(_("双人复核：您已经办过本案件的前序环节（受理、调查提交、审查或审批），不能再办理此环节"))


def answer_review(actor: Any, case_id: int, answers: dict[int, tuple[bool, str | None]]) -> list[LoanReviewAnswer]:
    """Answer review items (R-63, 1–10) yes/no with a note; a "否" needs a note. Maker-checker: not by the case's
    creator or the one who submitted it to review."""
    _require("review", actor)
    case = _case_or_error(case_id, actor)
    if case.status != "reviewing":
        raise ServiceError(_("只有处于“审查”状态的案件可以填写审查意见"))
    _not_maker(case, actor, "review")
    errors = {}
    for item, (answer, note) in answers.items():
        if not 1 <= int(item) <= len(REVIEW_ITEMS):
            errors[f"item{item}"] = _("审查事项编号须为1至10")
        elif not answer and not (note or "").strip():
            errors[f"item{item}"] = _("第%(n)s项答“否”时须说明情况", n=item)
    if errors:
        raise FormErrors(errors)
    have = {a.item: a for a in db.session.execute(select(LoanReviewAnswer).where(
        LoanReviewAnswer.case_id == case.id)).scalars()}
    out = []
    for item, (answer, note) in sorted(answers.items()):
        row = have.get(int(item)) or LoanReviewAnswer(case_id=case.id, item=int(item))
        row.answer, row.note = bool(answer), (note or "").strip()[:500] or None
        row.answered_by_id, row.answered_at = actor.id, utcnow()
        db.session.add(row)
        out.append(row)
    _log(case, actor, "review", {"items": sorted(int(i) for i in answers)})
    db.session.commit()
    return out


def review_answers(case: LoanCase) -> list[LoanReviewAnswer]:
    return list(db.session.execute(select(LoanReviewAnswer).where(LoanReviewAnswer.case_id == case.id)
                                   .order_by(LoanReviewAnswer.item)).scalars())


def record_disbursement_checks(actor: Any, case_id: int, checks: dict[int, tuple[bool, str | None]]
                               ) -> list[LoanDisbursementCheck]:
    """The 放款审核岗 ticks the seven points of R-64 (1–7). Maker-checker: not by anyone who prepared, reviewed or
    approved the case."""
    _require("disburse_check", actor)
    case = _case_or_error(case_id, actor)
    if case.status != "disbursement_check":
        raise ServiceError(_("只有处于“放款审核”状态的案件可以填写放款审核要点"))
    _not_maker(case, actor, "disburse_check")
    bad = [i for i in checks if not 1 <= int(i) <= len(DISBURSEMENT_ITEMS)]
    if bad:
        raise FormErrors({"items": _("放款审核要点编号须为1至7")})
    have = {c.item: c for c in db.session.execute(select(LoanDisbursementCheck).where(
        LoanDisbursementCheck.case_id == case.id)).scalars()}
    out = []
    for item, (passed, note) in sorted(checks.items()):
        row = have.get(int(item)) or LoanDisbursementCheck(case_id=case.id, item=int(item))
        row.passed, row.note = bool(passed), (note or "").strip()[:500] or None
        row.checked_by_id, row.checked_at = actor.id, utcnow()
        db.session.add(row)
        out.append(row)
    _log(case, actor, "disbursement_check", {"items": sorted(int(i) for i in checks)})
    db.session.commit()
    return out


def disbursement_checks(case: LoanCase) -> list[LoanDisbursementCheck]:
    return list(db.session.execute(select(LoanDisbursementCheck).where(LoanDisbursementCheck.case_id == case.id)
                                   .order_by(LoanDisbursementCheck.item)).scalars())


# ---------------------------------------------------------------- overrides ("原则上", A-15)

def record_override(actor: Any, case_id: int, rule_id: str, reason: str) -> LoanOverride:
    """Accept an exception to a "原则上" rule (R-51 (2) transfer < 3 months, R-57 margin < 40%): only with the
    override permission AND a non-empty reason; never for prohibited situations or hard rules. Maker-checker: not
    by the case's creator or preparer."""
    _require("override", actor)
    case = _case_or_error(case_id, actor)
    reason = unicodedata.normalize("NFKC", reason or "").strip()
    if not reason:
        raise FormErrors({"reason": _("例外放行须填写理由")})
    if rule_id not in rules.OVERRIDABLE:
        raise ServiceError(_("规则%(r)s不是“原则上”条款，不能例外放行", r=rule_id))
    if case.status not in PRE_DECISION:
        raise ServiceError(_("案件处于“%(s)s”状态，不能例外放行", s=case.status_label))
    _not_maker(case, actor, "override")
    row = LoanOverride(case_id=case.id, rule_id=rule_id, reason=reason[:500], actor_id=actor.id)
    case.overrides.append(row)
    db.session.flush()
    _log(case, actor, "override", {"rule_id": rule_id, "reason": reason})
    db.session.commit()
    return row


# ---------------------------------------------------------------- workflow

# from → {to: permission}. 退回 (back) and 否决 need a reason; 禁止 is set by the system.
TRANSITIONS: dict[str, dict[str, str]] = {
    "accepted": {"investigating": "prepare", "rejected": "prepare"},
    "investigating": {"reviewing": "prepare", "rejected": "prepare"},
    "reviewing": {"approving": "review", "investigating": "review", "rejected": "review"},
    "approving": {"disbursement_check": "approve", "reviewing": "approve", "rejected": "approve"},
    "disbursement_check": {"disbursed": "disburse_check", "approving": "disburse_check"},
    "disbursed": {"post_loan": "post_loan", "settled": "post_loan"},
    "post_loan": {"settled": "post_loan"},
    "defaulted": {"post_loan": "post_loan", "settled": "post_loan"},
    "claiming": {"settled": "post_loan"},
    "recovering": {"settled": "post_loan"},
}
FORWARD = {("investigating", "reviewing"), ("reviewing", "approving"), ("approving", "disbursement_check"),
           ("disbursement_check", "disbursed")}
BACKWARD = {("reviewing", "investigating"), ("approving", "reviewing"), ("disbursement_check", "approving")}
STAMP = {"reviewing": "prepared_by_id", "approving": "reviewed_by_id", "disbursement_check": "approved_by_id",
         "disbursed": "checked_by_id"}


def transition(actor: Any, case_id: int, to: str, reason: str | None = None, *, on: date | None = None
               ) -> LoanCase:
    """Move a case along the workflow 受理 → 贷前调查 → 审查 → 审批 → 放款审核 → 放款 → 贷后 → 结清, with the gates:

    - to 审查: every required R-61 document received;
    - to 审批 (by the reviewer): all ten R-63 items answered and no prohibited situation (T-57);
    - 审批 → 放款审核 (approval): no blocking eligibility rule (fail without a recorded exception, prohibited), the
      insurer not suspended for a new customer (R-69); the insured part is fixed for check R-64 (3);
    - to 放款: all seven R-64 points ticked as passed and the computable ones recomputed (5 and 6, T-20);
    - maker-checker: review, approval and disbursement check are each done by someone who did none of the earlier
      steps of this case (creator, preparer, reviewer, approver — four different people at least for the checks).
    Backward moves (退回) and 否决 need a reason."""
    case = _case_or_error(case_id, actor)
    allowed = TRANSITIONS.get(case.status, {})
    if to == case.status:  # someone did it a moment ago
        raise ServiceError(_("该案件已被他人处理，请刷新后查看"))
    if to not in allowed:
        raise ServiceError(_("案件不能从“%(a)s”转为“%(b)s”", a=case.status_label, b=str(STATUSES.get(to, to))))
    _require(allowed[to], actor)
    reason = unicodedata.normalize("NFKC", reason or "").strip() or None
    forward = (case.status, to) in FORWARD
    if (to == "rejected" or (case.status, to) in BACKWARD) and not reason:
        raise FormErrors({"reason": _("退回或否决须填写理由")})
    on = on or today_local()
    step = {"approving": "review", "disbursement_check": "approve", "disbursed": "disburse_check"}.get(to)
    if forward and step:
        _not_maker(case, actor, step)
    if forward:
        _gate(case, to, on)
    extra: dict[str, Any] = {}
    if forward:
        extra[STAMP[to]] = actor.id
    if to == "disbursement_check":
        extra["approved_insured_amount"] = rules.insured_part(case)
    _move(case, actor, case.status, to, reason, extra)
    db.session.commit()
    return case


def _gate(case: LoanCase, to: str, on: date) -> None:
    if any(case.prohibited_flags):
        raise ServiceError(_("存在第八条严禁授信情形，不能继续办理"))
    if to == "reviewing":
        _sync_documents(case)
        missing = missing_documents(case)
        if missing:
            raise ServiceError(_("以下必备材料尚未收齐：%(x)s", x="；".join(d.label for d in missing)))
    elif to == "approving":
        answered = {a.item for a in review_answers(case)}
        left = [str(i) for i in range(1, len(REVIEW_ITEMS) + 1) if i not in answered]
        if left:
            raise ServiceError(_("审查事项第%(x)s项尚未填写", x="、".join(left)))
    elif to == "disbursement_check":
        answered = {a.item for a in review_answers(case)}
        if len(answered) < len(REVIEW_ITEMS):
            raise ServiceError(_("十项审查事项未全部填写，不能审批"))
        blocking = [r for r in evaluate_case(case, decided_on=on) if r.blocking]
        if blocking:
            raise ServiceError(_("不符合准入条件：%(x)s", x="；".join(f"{r.article} {r.reason}" for r in blocking)))
    elif to == "disbursed":
        ticked = {c.item: c for c in disbursement_checks(case)}
        left = [str(i) for i in range(1, len(DISBURSEMENT_ITEMS) + 1) if i not in ticked or not ticked[i].passed]
        if left:
            raise ServiceError(_("放款审核要点第%(x)s项未通过或未填写", x="、".join(left)))
        failed = [r for r in rules.disbursement_rules(case) if r.blocking]
        if failed:
            raise ServiceError(_("放款审核复算未通过：%(x)s", x="；".join(f"{r.article} {r.reason}" for r in failed)))


def _move(case: LoanCase, actor: Any, frm: str, to: str, reason: str | None, extra: dict[str, Any] | None = None
          ) -> None:
    """The guarded status UPDATE (WHERE status = :from): losing a race raises instead of overwriting. One
    transition row and one audit row."""
    values = {"status": to, "version": LoanCase.version + 1, "updated_at": utcnow(), **(extra or {})}
    db.session.flush()
    result = db.session.execute(update(LoanCase).where(LoanCase.id == case.id, LoanCase.status == frm)
                                .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise ServiceError(_("该案件已被他人处理，请刷新后查看"))
    db.session.add(LoanTransition(case_id=case.id, from_status=frm, to_status=to, actor_id=actor.id,
                                  reason=(reason or "")[:500] or None))
    _log(case, actor, "transition", {"from": frm, "to": to, "reason": reason or ""})
    db.session.flush()
    db.session.expire(case)


def transitions(case: LoanCase) -> list[LoanTransition]:
    return list(db.session.execute(select(LoanTransition).where(LoanTransition.case_id == case.id)
                                   .order_by(LoanTransition.id)).scalars())


# ---------------------------------------------------------------- default events and measures

def allowed_measures(event: int) -> list[tuple[str, str]]:
    """R-67, T-27: after any default event the lender may take these measures, alone or combined."""
    if not 1 <= int(event) <= len(DEFAULT_EVENTS):
        return []
    return [(code, str(label)) for code, label in MEASURES.items()]


def record_default_event(actor: Any, case_id: int, event: int, occurred_on: date, note: str | None = None
                         ) -> tuple[LoanDefaultEvent, list[tuple[str, str]]]:
    """Record one of the seven default events (R-66) of a disbursed case; the case becomes 违约. Returns the row
    and the measures the lender may take (T-27)."""
    _require("post_loan", actor)
    case = _case_or_error(case_id, actor)
    if case.status not in ("disbursed", "post_loan", "defaulted", "claiming", "recovering"):
        raise ServiceError(_("只有已放款的案件可以登记违约事件"))
    if not 1 <= int(event) <= len(DEFAULT_EVENTS):
        raise FormErrors({"event": _("违约事件须为第二十四条所列七种之一")})
    row = LoanDefaultEvent(case_id=case.id, event=int(event), occurred_on=occurred_on,
                           note=(note or "").strip()[:500] or None, recorded_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    _log(case, actor, "default_event", {"event": int(event), "occurred_on": occurred_on.isoformat()})
    if case.status in ("disbursed", "post_loan"):
        _move(case, actor, case.status, "defaulted", str(DEFAULT_EVENTS[int(event) - 1]))
    db.session.commit()
    return row, allowed_measures(event)


def record_measure(actor: Any, case_id: int, measure: str, taken_on: date, note: str | None = None,
                   default_event_id: int | None = None) -> LoanMeasure:
    _require("post_loan", actor)
    case = _case_or_error(case_id, actor)
    if measure not in MEASURES:
        raise FormErrors({"measure": _("请选择第二十五条所列措施")})
    events = db.session.execute(select(LoanDefaultEvent.id).where(LoanDefaultEvent.case_id == case.id)
                                ).scalars().all()
    if not events:
        raise ServiceError(_("尚未登记违约事件"))
    if default_event_id is not None and default_event_id not in events:
        raise FormErrors({"default_event_id": _("违约事件不属于本案件")})
    row = LoanMeasure(case_id=case.id, default_event_id=default_event_id, measure=measure, taken_on=taken_on,
                      note=(note or "").strip()[:500] or None, recorded_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    _log(case, actor, "measure", {"measure": measure, "taken_on": taken_on.isoformat()})
    db.session.commit()
    return row


# ---------------------------------------------------------------- claims

def case_claim(case: LoanCase) -> LoanClaim | None:
    return db.session.execute(select(LoanClaim).where(LoanClaim.case_id == case.id)).scalar_one_or_none()


def open_claim(actor: Any, case_id: int, *, waiting_period_end: date | None = None) -> LoanClaim:
    """Open the claim of a defaulted case: the waiting period ends `waiting_days` calendar days (agreement) after
    the first default event unless given; the 《索赔申请书》 is due within 3 working days after (R-68)."""
    _require("post_loan", actor)
    case = _case_or_error(case_id, actor)
    if case.status != "defaulted":
        raise ServiceError(_("只有违约状态的案件可以发起索赔"))
    if case_claim(case) is not None:
        raise ServiceError(_("本案件已发起索赔"))
    if waiting_period_end is None:
        first = db.session.execute(select(LoanDefaultEvent.occurred_on).where(LoanDefaultEvent.case_id == case.id)
                                   .order_by(LoanDefaultEvent.occurred_on)).scalars().first()
        waiting_period_end = first + timedelta(days=case.agreement.waiting_days if case.agreement else 0)
    claim = LoanClaim(case_id=case.id, waiting_period_end=waiting_period_end,
                      deadline=_add_workdays(waiting_period_end, 3), created_by_id=actor.id)
    db.session.add(claim)
    db.session.flush()
    _log(case, actor, "claim_opened", {"waiting_period_end": waiting_period_end.isoformat(),
                                       "deadline": claim.deadline.isoformat()})
    db.session.commit()
    return claim


def _claim_of(actor: Any, case_id: int) -> tuple[LoanCase, LoanClaim]:
    _require("post_loan", actor)
    case = _case_or_error(case_id, actor)
    claim = case_claim(case)
    if claim is None:
        raise ServiceError(_("本案件尚未发起索赔"))
    return case, claim


def submit_claim(actor: Any, case_id: int, submitted_on: date) -> LoanClaim:
    """The 《索赔申请书》 went to the insurer on `submitted_on`; the case is 索赔. Late submissions are recorded."""
    case, claim = _claim_of(actor, case_id)
    if claim.submitted_on is not None:
        raise ServiceError(_("索赔申请已递交"))
    if submitted_on < claim.waiting_period_end:
        raise FormErrors({"submitted_on": _("赔款等待期%(d)s结束后方可递交索赔申请", d=claim.waiting_period_end.isoformat())})
    claim.submitted_on = submitted_on
    late = submitted_on > claim.deadline
    _log(case, actor, "claim_submitted", {"submitted_on": submitted_on.isoformat(), "late": late})
    _move(case, actor, "defaulted", "claiming",
          _("递交索赔申请（逾期，应于%(d)s前递交）", d=claim.deadline.isoformat()) if late else _("递交索赔申请"))
    db.session.commit()
    return claim


def claim_docs_complete(actor: Any, case_id: int, on: date) -> LoanClaim:
    """The insurer has complete materials on `on`: it must pay within 5 working days (R-68)."""
    case, claim = _claim_of(actor, case_id)
    if claim.submitted_on is None or on < claim.submitted_on:
        raise FormErrors({"on": _("资料齐全日期不能早于索赔申请递交日期")})
    claim.docs_complete_on = on
    claim.insurer_deadline = _add_workdays(on, 5)
    _log(case, actor, "claim_docs_complete", {"on": on.isoformat(), "insurer_deadline":
                                              claim.insurer_deadline.isoformat()})
    db.session.commit()
    return claim


def record_claim_payment(actor: Any, case_id: int, paid_on: date, amount: Any) -> LoanClaim:
    """The insurer paid: the case moves to 追偿 (R-69/R-70). Payment after the insurer deadline is flagged late."""
    case, claim = _claim_of(actor, case_id)
    if claim.docs_complete_on is None:
        raise ServiceError(_("请先登记索赔资料齐全日期"))
    if claim.paid_on is not None:
        raise ServiceError(_("赔款已登记"))
    errors: dict[str, str] = {}
    paid = _amount({"amount": amount}, "amount", errors, _("赔付金额"), required=True)
    if errors:
        raise FormErrors(errors)
    claim.paid_on, claim.paid_amount = paid_on, paid
    late = claim.insurer_deadline is not None and paid_on > claim.insurer_deadline
    _log(case, actor, "claim_paid", {"paid_on": paid_on.isoformat(), "amount": str(paid), "late": late})
    _move(case, actor, "claiming", "recovering", _("保险公司赔付%(a)s", a=format_yuan(paid)))
    db.session.commit()
    return claim


@dataclass(frozen=True)
class ClaimFlags:
    bank_late: bool  # the 索赔申请书 not (or not in time) submitted
    insurer_late: bool  # the insurer did not pay within 5 working days of complete materials (R-69 may suspend)


def claim_flags(claim: LoanClaim, today: date) -> ClaimFlags:
    """Late flags on `today`: a claim not submitted after its deadline (or submitted late), an insurer that has
    not paid after its deadline (or paid late)."""
    bank_late = (claim.submitted_on or today) > claim.deadline
    insurer_late = claim.insurer_deadline is not None and (claim.paid_on or today) > claim.insurer_deadline
    return ClaimFlags(bank_late, insurer_late)


def late_insurer_claims(user: Any, today: date) -> list[tuple[LoanCase, LoanClaim]]:
    """Claims of the user's scope the insurer has not paid in time — the cases for which the 分行 may suspend the
    insurer's new-customer approvals (R-69)."""
    if not can(P + "view", user):
        return []
    visible = scoped(LoanCase, user).with_only_columns(LoanCase.id)
    rows = db.session.execute(select(LoanCase, LoanClaim).join(LoanClaim, LoanClaim.case_id == LoanCase.id).where(
        LoanCase.id.in_(visible), LoanClaim.insurer_deadline.is_not(None), LoanClaim.insurer_deadline < today,
        LoanClaim.paid_on.is_(None))).all()
    return [(c, cl) for c, cl in rows]


# ---------------------------------------------------------------- recoveries

def split_recovery(net: Decimal, share: Decimal, paid: Decimal, already: Decimal) -> tuple[Decimal, Decimal, bool]:
    """R-70, T-26: net proceeds are shared per the agreement; the insurer's cumulative recovery never exceeds what
    it paid — what would exceed is capped and goes to the bank. Returns (insurer, bank, capped)."""
    insurer = rules.round_half_up(net * share)
    room = max(paid - already, Decimal(0))
    capped = insurer > room
    if capped:
        insurer = room
    return insurer, net - insurer, capped


def record_recovery(actor: Any, case_id: int, recovered_on: date, amount: Any, costs: Any = "0") -> LoanRecovery:
    """Record a recovery: proceeds minus recovery costs, shared between insurer and bank (R-70, T-26: 250,000 −
    30,000 = 220,000 net). The claim's cumulative insurer recovery moves by a guarded UPDATE, so two recoveries at
    once cannot both fill the same room under the cap."""
    case, claim = _claim_of(actor, case_id)
    if case.status != "recovering" or claim.paid_amount is None:
        raise ServiceError(_("保险公司赔付后方可登记追偿"))
    errors: dict[str, str] = {}
    gross = _amount({"amount": amount}, "amount", errors, _("追偿所得"), required=True)
    cost = _amount({"costs": costs}, "costs", errors, _("追偿费用"), positive=False) or Decimal(0)
    if gross is not None and cost > gross:
        errors["costs"] = _("追偿费用不能大于追偿所得")
    if errors:
        raise FormErrors(errors)
    net = gross - cost
    already = claim.insurer_recovered
    insurer, bank, capped = split_recovery(net, case.agreement.insurer_recovery_share, claim.paid_amount, already)
    result = db.session.execute(update(LoanClaim).where(LoanClaim.id == claim.id,
                                                        LoanClaim.insurer_recovered == already)
                                .values(insurer_recovered=already + insurer, version=LoanClaim.version + 1)
                                .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise ServiceError(_("追偿记录已被他人更新，请刷新后重试"))
    row = LoanRecovery(case_id=case.id, claim_id=claim.id, recovered_on=recovered_on, amount=gross, costs=cost,
                       insurer_share=insurer, bank_share=bank, capped=capped, recorded_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    _log(case, actor, "recovery", {"amount": str(gross), "costs": str(cost), "insurer_share": str(insurer),
                                   "bank_share": str(bank), "capped": capped})
    db.session.commit()
    db.session.expire(claim)
    return row


def case_recoveries(case: LoanCase) -> list[LoanRecovery]:
    return list(db.session.execute(select(LoanRecovery).where(LoanRecovery.case_id == case.id)
                                   .order_by(LoanRecovery.id)).scalars())

