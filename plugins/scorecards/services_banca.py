"""Bancassurance services: policies recorded, imported and cancelled; KPIs, target progress and staffing alerts."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from crm import audit
from crm.access import can, scope_filter, scoped
from crm.extensions import db
from crm.models import DailyLog, Outlet, User
from crm.pagination import Page, by_id
from crm.roles import SCOPE_ALL, SCOPE_OWN
from crm.timeutil import today_local
from crm.validators import ValidationError, parse_amount
from crm.workdays import WorkdayCalendar
from plugins.scorecards import banca
from plugins.scorecards.imports import RowError as RejectedRow  # one (row, column, reason) record
from plugins.scorecards.models import COUNTER_TYPES, PAYMENT_MODES, POLICY_STATUSES, ScorecardPolicy
from plugins.scorecards.services import FormErrors, ServiceError, root_branch_id, scheme_params

P = "scorecards."
SCHEME_CODE = "000-bancassurance"
# Who is a bancassurance seller "on roll" (R-95 denominators): the posts that sell insurance at the counter or in
# the wealth room — low/high counter tellers (the bank seller of §2.7), wealth managers and personal RMs. Corporate
# RMs, lobby managers and the outlet's management refer rather than sell. Anyone who actually sold a policy in the
# period counts as on roll too, so 举绩率 never exceeds 100% (A-13).
SELLING_POSTS = ("low_counter_teller", "high_counter_teller", "wealth_manager", "personal_rm")
POLICY_NO = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_/]{0,39}")
MAX_PREMIUM = Decimal("1000000000000")  # 1万亿: anything larger is a typing error
PAGE_SIZE = 50
TEXT_LIMITS = {"insurer_name": (100, "保险公司"), "insurer_rm": (50, "保险公司客户经理"), "customer_name": (100, "客户姓名")}
EDIT_FIELDS = ("outlet_id", "policy_no", "seller_id", "insurer_name", "insurer_rm", "customer_name", "payment_mode",
               "premium", "fyc", "signed_on", "counter_type", "status", "status_changed_on")


def _require(actor: Any) -> None:
    if not can(P + "banca", actor):
        raise ServiceError(_("您的岗位没有登记银保保单的权限"))


def _label_key(text: Any) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text or ""))).lower()


def _choice(raw: Any, options: dict[str, Any]) -> str | None:
    """A code or its Chinese label ("趸交", "single") → the code; None when not one of them."""
    key = _label_key(raw)
    for code, label in options.items():
        if key in (code, _label_key(label)):
            return code
    return None


def _date(raw: Any) -> date | None:
    if isinstance(raw, date):
        return raw
    text = unicodedata.normalize("NFKC", str(raw or "")).strip().replace("/", "-").replace(".", "-")
    text = text.split(" ")[0].split("T")[0]
    try:
        parts = [int(p) for p in text.split("-")]
        return date(*parts) if len(parts) == 3 else None
    except (TypeError, ValueError):
        return None


def _amount(raw: Any, label: str, *, required: bool, minimum: Decimal) -> tuple[Decimal | None, str | None]:
    if isinstance(raw, Decimal):
        text: Any = raw
    else:
        text = str(raw if raw is not None else "").strip()
        if not text:
            return (None, _("请填写%(f)s", f=label)) if required else (Decimal(0), None)
    try:
        value = parse_amount(text, places=2, min_value=minimum, max_value=MAX_PREMIUM)
    except ValidationError as exc:
        return None, str(exc).replace("金额", label, 1)
    return value, None


def visible_outlets(user: Any) -> list[Any]:
    """The active outlets the user may record policies for and read KPIs of (an own-scope user: their outlet)."""
    if user.scope == SCOPE_OWN:
        stmt = select(Outlet.id, Outlet.name, Outlet.code, Outlet.root_branch_id).where(
            Outlet.id == (user.outlet_id or 0))
    else:
        stmt = scoped(Outlet, user).with_only_columns(Outlet.id, Outlet.name, Outlet.code, Outlet.root_branch_id)
    return list(db.session.execute(stmt.where(Outlet.active).order_by(Outlet.code, Outlet.id)).all())


def _outlet_in_scope(actor: Any, outlet_id: Any) -> Any | None:
    try:
        key = int(outlet_id)
    except (TypeError, ValueError):
        return None
    if actor.scope == SCOPE_OWN:
        return None  # recording is for the outlet's management and the branch
    return db.session.execute(scoped(Outlet, actor).where(Outlet.id == key, Outlet.active)).scalar_one_or_none()


def outlet_staff(outlet_ids: list[int]) -> list[Any]:
    """Active staff of the outlets (the seller picker)."""
    if not outlet_ids:
        return []
    return list(db.session.execute(select(User.id, User.name, User.login, User.post, User.outlet_id).where(
        User.outlet_id.in_(outlet_ids), User.active).order_by(User.outlet_id, User.name)).all())


def visible_policy(user: Any, policy_id: Any) -> ScorecardPolicy | None:
    try:
        key = int(policy_id)
    except (TypeError, ValueError):
        return None
    return db.session.execute(scoped(ScorecardPolicy, user).where(ScorecardPolicy.id == key)).scalar_one_or_none()


# ---------------------------------------------------------------- recording (spec §2.7)

def clean_policy(actor: Any, data: dict[str, Any], existing: ScorecardPolicy | None = None
                 ) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate one policy's fields (form or import row) → (clean values, {field: Chinese error}). Nothing written.
    The outlet must be in the actor's scope, the seller one of its active staff, the policy number unique in the
    分行; 契撤/退保 needs its date, on or after signing (R-95, A-13)."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    today = today_local()

    outlet = _outlet_in_scope(actor, data.get("outlet_id"))
    if outlet is None:
        errors["outlet_id"] = _("请选择您管辖范围内的网点")
    else:
        out["outlet_id"], out["branch_id"] = outlet.id, outlet.root_branch_id

    number = unicodedata.normalize("NFKC", str(data.get("policy_no") or "")).strip().upper()
    if not number:
        errors["policy_no"] = _("请填写保单号")
    elif not POLICY_NO.fullmatch(number):
        errors["policy_no"] = _("保单号只能由字母、数字和“-”“_”“/”组成，最长40位")
    else:
        out["policy_no"] = number
        if outlet is not None:
            clash = db.session.execute(select(ScorecardPolicy.id).where(
                ScorecardPolicy.branch_id == outlet.root_branch_id, ScorecardPolicy.policy_no == number,
                ScorecardPolicy.id != (existing.id if existing is not None else 0))).first()
            if clash is not None:
                errors["policy_no"] = _("保单号%(n)s已登记，同一分行内不能重复", n=number)

    seller = None
    try:
        seller = db.session.get(User, int(data.get("seller_id") or 0)) if str(data.get("seller_id") or "").strip() \
            else None
    except (TypeError, ValueError):
        seller = None
    if not str(data.get("seller_id") or "").strip():
        errors["seller_id"] = _("请选择销售人员")
    elif existing is not None and seller is not None and seller.id == existing.seller_id \
            and outlet is not None and outlet.id == existing.outlet_id:
        out["seller_id"] = seller.id  # a correction keeps the recorded seller even if they have moved on since
    elif seller is None or not seller.active or outlet is None or seller.outlet_id != outlet.id:
        errors["seller_id"] = _("销售人员须为该网点的在岗员工")
    else:
        out["seller_id"] = seller.id

    mode = _choice(data.get("payment_mode"), PAYMENT_MODES)
    if mode is None:
        errors["payment_mode"] = _("请选择缴费方式（趸交或期缴）")
    else:
        out["payment_mode"] = mode

    premium, err = _amount(data.get("premium"), "保费", required=True, minimum=Decimal("0.01"))
    if err:
        errors["premium"] = err
    else:
        out["premium"] = premium
    fyc, err = _amount(data.get("fyc"), "FYC", required=False, minimum=Decimal(0))
    if err:
        errors["fyc"] = err
    elif premium is not None and fyc is not None and fyc > premium:
        errors["fyc"] = _("FYC（首年佣金）不能大于保费")
    else:
        out["fyc"] = fyc

    raw_signed = data.get("signed_on")
    signed = _date(raw_signed)
    if not str(raw_signed or "").strip():
        errors["signed_on"] = _("请填写签单日期")
    elif signed is None:
        errors["signed_on"] = _("签单日期格式不正确，请填写如 2026-01-15 的日期")
    elif signed > today:
        errors["signed_on"] = _("签单日期不能晚于今天")
    elif signed.year < 2000:
        errors["signed_on"] = _("签单日期不正确")
    else:
        out["signed_on"] = signed

    raw_counter = str(data.get("counter_type") or "").strip()
    counter = _choice(raw_counter, COUNTER_TYPES) if raw_counter else None
    if raw_counter and counter is None:
        errors["counter_type"] = _("柜面类型应为高柜、低柜、理财室或其他")
    else:
        out["counter_type"] = counter

    for name, (limit, label) in TEXT_LIMITS.items():
        value = " ".join(str(data.get(name) or "").split())
        if len(value) > limit:
            errors[name] = _("%(f)s最多%(n)s个字", f=label, n=limit)
        else:
            out[name] = value or None

    # Status: a new policy is 有效 unless the row says otherwise (an import of last month's list); an edit keeps
    # the status unless given — 契撤/退保 of a recorded policy go through change_status.
    if "status" in data and str(data.get("status") or "").strip():
        status = _choice(data.get("status"), POLICY_STATUSES)
        if status is None:
            errors["status"] = _("保单状态应为有效、契撤或退保")
        elif existing is not None and existing.status != banca.ACTIVE and status != existing.status:
            errors["status"] = _("该保单已%(s)s，不能改为%(t)s", s=str(POLICY_STATUSES[existing.status]),
                                 t=str(POLICY_STATUSES[status]))
            status = None
    else:
        status = existing.status if existing is not None else banca.ACTIVE
    if status is not None:
        out["status"] = status
        changed = _date(data.get("status_changed_on")) if str(data.get("status_changed_on") or "").strip() else (
            existing.status_changed_on if existing is not None and status == existing.status else None)
        if status == banca.ACTIVE:
            out["status_changed_on"] = None
        elif str(data.get("status_changed_on") or "").strip() and changed is None:
            errors["status_changed_on"] = _("状态变更日期格式不正确，请填写如 2026-01-15 的日期")
        elif changed is None:
            errors["status_changed_on"] = _("契撤或退保的保单请填写状态变更日期")
        elif changed > today:
            errors["status_changed_on"] = _("状态变更日期不能晚于今天")
        elif signed is not None and changed < signed:
            errors["status_changed_on"] = _("状态变更日期不能早于签单日期")
        else:
            out["status_changed_on"] = changed
    return out, errors


def _changes(policy: ScorecardPolicy, values: dict[str, Any]) -> list[str]:
    return [k for k in EDIT_FIELDS if k in values and getattr(policy, k) != values[k]]


def save_policy(actor: Any, data: dict[str, Any], policy_id: int | None = None, *, commit: bool = True
                ) -> ScorecardPolicy:
    """Record a new policy or correct a recorded one (spec §2.7). Every field is checked; errors come back together
    as FormErrors (Chinese, per field) and nothing is written. A `version` in `data` guards against a stale form."""
    _require(actor)
    existing = None
    if policy_id is not None:
        existing = visible_policy(actor, policy_id)
        if existing is None:
            raise ServiceError(_("保单不存在"))
        version = str(data.get("version") or "").strip()
        # A form without its version is refused too: leaving it out must not overwrite a newer save (issue 8).
        if version != str(existing.version):
            raise ServiceError(_("该保单已被他人修改，请刷新页面后重新填写"))
    values, errors = clean_policy(actor, data, existing)
    if errors:
        raise FormErrors(errors)
    if existing is None:
        policy = ScorecardPolicy(created_by_id=actor.id, **values)
        db.session.add(policy)
        changes = list(EDIT_FIELDS)
    else:
        policy = existing
        changes = _changes(policy, values)
        for key in changes:
            setattr(policy, key, values[key])
        if "branch_id" in values:
            policy.branch_id = values["branch_id"]
    db.session.flush()
    if changes:
        audit.record(P + "policy_saved", target=("scorecards_policy", policy.id), actor=actor,
                     detail={"policy_no": policy.policy_no, "created": existing is None,
                             "fields": changes if existing is not None else []})
    if commit:
        db.session.commit()
    return policy


# 契撤 and 退保 end a policy's life: from 有效 only, once.
STATUS_CHANGES = {banca.CANCELLED, banca.SURRENDERED}


def change_status(actor: Any, policy_id: int, status: str, on: Any) -> ScorecardPolicy:
    """Record a 契撤 (free-look cancellation: the sale no longer counts anywhere, T-62) or a 退保 (surrender: the
    new business stays counted, banca.counts) with its date; audited as scorecards.policy_status."""
    _require(actor)
    policy = visible_policy(actor, policy_id)
    if policy is None:
        raise ServiceError(_("保单不存在"))
    errors: dict[str, str] = {}
    if status not in STATUS_CHANGES:
        errors["status"] = _("请选择契撤或退保")
    day = _date(on)
    if day is None:
        errors["on"] = _("请填写契撤或退保的日期") if not str(on or "").strip() else _("日期格式不正确")
    elif day > today_local():
        errors["on"] = _("日期不能晚于今天")
    elif day < policy.signed_on:
        errors["on"] = _("日期不能早于签单日期（%(d)s）", d=policy.signed_on.isoformat())
    if errors:
        raise FormErrors(errors)
    if policy.status != banca.ACTIVE:
        raise ServiceError(_("该保单已%(s)s，不能再变更状态", s=str(POLICY_STATUSES[policy.status])))
    policy.status, policy.status_changed_on = status, day
    db.session.flush()
    audit.record(P + "policy_status", target=("scorecards_policy", policy.id), actor=actor,
                 detail={"policy_no": policy.policy_no, "status": status, "on": day.isoformat()})
    db.session.commit()
    return policy


# ---------------------------------------------------------------- import

@dataclass(frozen=True)
class ImportColumn:
    key: str
    header: str
    aliases: tuple[str, ...]
    note: str


IMPORT_COLUMNS = (
    ImportColumn("policy_no", "保单号", ("保单号码", "保险单号"), "必填；同一分行内唯一，重复导入时按保单号更新"),
    ImportColumn("outlet", "网点", ("网点名称", "网点代码", "所属网点"), "必填；网点代码或名称，须在您的管辖范围内"),
    ImportColumn("seller", "销售人员", ("销售人员工号", "销售人员登录名", "出单人员", "柜员"),
                 "必填；该网点员工的登录名，或姓名（同名时请填登录名）"),
    ImportColumn("payment_mode", "缴费方式", ("交费方式",), "必填；趸交 或 期缴"),
    ImportColumn("premium", "保费", ("规模保费", "保费金额"), "必填；单位：元"),
    ImportColumn("fyc", "FYC", ("首年佣金",), "选填；单位：元，不大于保费"),
    ImportColumn("signed_on", "签单日期", ("承保日期", "投保日期"), "必填；如 2026-01-15"),
    ImportColumn("customer_name", "客户姓名", ("投保人", "客户名称"), "选填"),
    ImportColumn("insurer_name", "保险公司", (), "选填"),
    ImportColumn("insurer_rm", "保险公司客户经理", ("驻点客户经理",), "选填"),
    ImportColumn("counter_type", "柜面类型", ("渠道",), "选填；高柜、低柜、理财室或其他"),
    ImportColumn("status", "保单状态", ("状态",), "选填；有效（默认）、契撤或退保"),
    ImportColumn("status_changed_on", "状态变更日期", ("契撤退保日期",), "契撤或退保时必填"),
)
FIELD_COLUMN = {"outlet_id": "outlet", "seller_id": "seller"}


@dataclass
class ImportReport:
    filename: str
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return len({r.row for r in self.rejected})


def _header_index() -> dict[str, str]:
    from crm.customers.imports import header_key

    index: dict[str, str] = {}
    for col in IMPORT_COLUMNS:
        for name in (col.header, *col.aliases):
            index[header_key(name)] = col.key
    return index


def write_import_template(target: Any) -> None:
    """The import template: the columns with a note row above them (the header is found below the note)."""
    from crm.excel import Column, write_sheet

    note = _("银保保单导入模板：第二行为列名，请从第三行起每行填写一张保单；保单号、网点、销售人员、缴费方式、保费、签单日期必填。")
    write_sheet(target, _("银保保单"), [Column(c.header + ("*" if "必填" in c.note[:2] else ""), 16)
                                       for c in IMPORT_COLUMNS], [], note=note)


def import_policies(actor: Any, data: bytes, filename: str) -> ImportReport:
    """Import a list of policies (R-95, spec §2.7). The file is refused whole when it is not a safe spreadsheet or
    has no header (crm.excel_import); otherwise each row is checked alone: rejected rows are reported with row
    number, column and reason, the others are saved. Upsert by policy number: importing the same file again
    creates nothing new (unchanged rows are counted, changed ones updated). One audit row."""
    from crm.customers.imports import HEADER_SEARCH_ROWS, _lost_digits, cell_text, header_key
    from crm.excel_import import SpreadsheetError, read_table

    _require(actor)
    report = ImportReport(filename=filename)
    outlets = visible_outlets(actor) if actor.scope != SCOPE_OWN else []
    by_key: dict[str, int] = {}
    for o in outlets:
        by_key.setdefault(_label_key(o.name), o.id)
    for o in outlets:
        by_key[_label_key(o.code)] = o.id  # codes win over names
    staff: dict[int, list[Any]] = {}
    for s in outlet_staff([o.id for o in outlets]):
        staff.setdefault(s.outlet_id, []).append(s)
    table = read_table(data, filename)
    index = _header_index()
    seen: dict[str, int] = {}
    try:
        rows = table.rows()
        columns: dict[str, int] = {}
        headers: list[str] = []
        for _n in range(HEADER_SEARCH_ROWS):
            try:
                _number, cells = next(rows)
            except StopIteration:
                break
            keys = [index.get(header_key(c)) for c in cells]
            if "policy_no" in keys:
                headers = [cell_text(c).strip() for c in cells]
                for i, key in enumerate(keys):
                    if key is None:
                        if headers[i]:
                            report.ignored.append(headers[i])
                    elif key not in columns:
                        columns[key] = i
                break
        if not columns:
            raise SpreadsheetError(_("找不到表头：表格中应有“保单号”等列名（请使用导入模板）"))
        missing = [c.header for c in IMPORT_COLUMNS if c.key in ("outlet", "seller", "payment_mode", "premium",
                                                                  "signed_on") and c.key not in columns]
        if missing:
            raise SpreadsheetError(_("缺少必填列：%(c)s（请使用导入模板）", c="、".join(missing)))

        def title(key: str) -> str:
            key = FIELD_COLUMN.get(key, key)
            i = columns.get(key)
            return headers[i] if i is not None and headers[i] else next(
                (c.header for c in IMPORT_COLUMNS if c.key == key), key)

        for number, cells in rows:
            report.total += 1
            raw = {key: (cells[i] if i < len(cells) else None) for key, i in columns.items()}
            text = {key: cell_text(v).strip() for key, v in raw.items()}
            if _lost_digits(raw.get("policy_no")):
                report.rejected.append(RejectedRow(number, title("policy_no"),
                                                   _("保单号超过15位数字被Excel截断，请把该列设为文本格式后重新填写")))
                continue
            row: dict[str, Any] = {k: text.get(k, "") for k in ("policy_no", "payment_mode", "premium", "fyc",
                                                                 "signed_on", "customer_name", "insurer_name",
                                                                 "insurer_rm", "counter_type", "status",
                                                                 "status_changed_on")}
            for key in ("signed_on", "status_changed_on"):
                if isinstance(raw.get(key), date):
                    row[key] = raw[key]
            outlet_id = by_key.get(_label_key(text.get("outlet")))
            row["outlet_id"] = outlet_id
            seller_text = _label_key(text.get("seller"))
            candidates = [s for s in staff.get(outlet_id or 0, [])
                          if seller_text and seller_text in (_label_key(s.login), _label_key(s.name))]
            by_login = [s for s in candidates if _label_key(s.login) == seller_text]
            chosen = by_login or candidates
            if len(chosen) > 1:
                report.rejected.append(RejectedRow(number, title("seller"),
                                                   _("该网点有多名员工叫“%(n)s”，请填写登录名", n=text.get("seller"))))
                continue
            row["seller_id"] = str(chosen[0].id) if chosen else ("0" if seller_text else "")
            if not text.get("outlet"):
                report.rejected.append(RejectedRow(number, title("outlet"), _("请填写网点")))
                continue
            number_key = unicodedata.normalize("NFKC", str(row["policy_no"])).strip().upper()
            if number_key in seen:
                report.rejected.append(RejectedRow(number, title("policy_no"),
                                                   _("文件中保单号重复（与第%(r)s行相同）", r=seen[number_key])))
                continue
            existing = None
            if number_key and outlet_id is not None:
                branch = next(o.root_branch_id for o in outlets if o.id == outlet_id)
                found = db.session.execute(select(ScorecardPolicy).where(
                    ScorecardPolicy.branch_id == branch, ScorecardPolicy.policy_no == number_key)).scalar_one_or_none()
                if found is not None:
                    existing = visible_policy(actor, found.id)
                    if existing is None:
                        report.rejected.append(RejectedRow(number, title("policy_no"),
                                                           _("保单号已由您管辖范围以外的网点登记")))
                        continue
            values, errors = clean_policy(actor, row, existing)
            if errors:
                for key, reason in errors.items():
                    if key == "outlet_id" and text.get("outlet"):
                        reason = _("网点“%(n)s”不存在或不在您的管辖范围内", n=text.get("outlet"))
                    elif key == "seller_id" and text.get("seller") and not chosen:
                        reason = _("销售人员“%(n)s”不是该网点的在岗员工", n=text.get("seller"))
                    report.rejected.append(RejectedRow(number, title(key), reason))
                continue
            seen[number_key] = number
            if existing is None:
                db.session.add(ScorecardPolicy(created_by_id=actor.id, **values))
                report.created += 1
            else:
                changes = _changes(existing, values)
                if not changes:
                    report.unchanged += 1
                    continue
                for key in changes:
                    setattr(existing, key, values[key])
                report.updated += 1
            db.session.flush()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        table.close()
    audit.record(P + "policies_imported", actor=actor,
                 detail={"file": filename[:100], "rows": report.total, "created": report.created,
                         "updated": report.updated, "unchanged": report.unchanged,
                         "rejected": report.rejected_rows})
    db.session.commit()
    return report


# ---------------------------------------------------------------- lists

@dataclass(frozen=True)
class PolicyFilters:
    outlet: int | None = None
    payment_mode: str = ""
    status: str = ""
    q: str = ""
    start: date | None = None
    end: date | None = None


def _policy_select(user: Any, filters: PolicyFilters):
    stmt = (select(ScorecardPolicy.id, ScorecardPolicy.policy_no, ScorecardPolicy.signed_on,
                   ScorecardPolicy.payment_mode, ScorecardPolicy.premium, ScorecardPolicy.fyc,
                   ScorecardPolicy.status, ScorecardPolicy.status_changed_on, ScorecardPolicy.counter_type,
                   ScorecardPolicy.customer_name, ScorecardPolicy.insurer_name, ScorecardPolicy.insurer_rm,
                   Outlet.name.label("outlet_name"), User.name.label("seller_name"))
            .select_from(ScorecardPolicy).join(Outlet, Outlet.id == ScorecardPolicy.outlet_id)
            .outerjoin(User, User.id == ScorecardPolicy.seller_id).where(scope_filter(ScorecardPolicy, user)))
    if filters.outlet:
        stmt = stmt.where(ScorecardPolicy.outlet_id == filters.outlet)
    if filters.payment_mode:
        stmt = stmt.where(ScorecardPolicy.payment_mode == filters.payment_mode)
    if filters.status:
        stmt = stmt.where(ScorecardPolicy.status == filters.status)
    if filters.q:
        stmt = stmt.where(or_(ScorecardPolicy.policy_no.contains(filters.q.upper(), autoescape=True),
                              ScorecardPolicy.customer_name.contains(filters.q, autoescape=True)))
    if filters.start:
        stmt = stmt.where(ScorecardPolicy.signed_on >= filters.start)
    if filters.end:
        stmt = stmt.where(ScorecardPolicy.signed_on <= filters.end)
    return stmt


def policies_in_scope(user: Any, filters: PolicyFilters, cursor: int | None, size: int = PAGE_SIZE) -> Page:
    """One page of the user's policies, newest first (keyset on id; outlet and seller names joined)."""
    return by_id(_policy_select(user, filters), ScorecardPolicy.id, after=cursor, size=size, descending=True,
                 rows=True)


def policies_for_export(user: Any, filters: PolicyFilters, limit: int = 100_000) -> list[Any]:
    return list(db.session.execute(_policy_select(user, filters).order_by(ScorecardPolicy.id.desc())
                                   .limit(limit)).all())


# ---------------------------------------------------------------- KPIs

def _to_policy(row: ScorecardPolicy) -> banca.Policy:
    return banca.Policy(row.id, row.outlet_id, row.seller_id, row.payment_mode, row.premium, row.fyc or Decimal(0),
                        row.signed_on, row.status, row.status_changed_on)


@dataclass(frozen=True)
class KpiReport:
    start: date
    end: date
    kpis: banca.BancaKpis
    outlets: int
    rms_on_roll: int
    attendance_days: int
    required_days: int
    contacts: int
    working_days: int
    cancelled: int
    surrendered: int
    premium: Decimal
    fyc: Decimal


def working_days(start: date, end: date) -> int:
    """Working days in [start, end] by the bank's calendar (crm.workdays)."""
    return WorkdayCalendar().workdays_between(start - timedelta(days=1), end) if end >= start else 0


def _scope_outlets(user: Any, outlet_id: int | None) -> list[int]:
    ids = [o.id for o in visible_outlets(user)]
    if outlet_id is not None:
        if outlet_id not in ids:
            raise ServiceError(_("请选择您管辖范围内的网点"))
        return [outlet_id]
    return ids


def kpi_report(user: Any, start: date, end: date, outlet_id: int | None = None) -> KpiReport:
    """R-95 over the policies IN SCOPE signed in [start, end] (契撤 excluded, 退保 counted: banca.counts, A-13):
    RMs on roll = active staff of the outlets in SELLING_POSTS plus whoever sold a policy there in the period;
    contacts = their 2511/511 daily logs' contacts; attendance = (person, working day) pairs with a daily log,
    out of RMs × working days. An own-scope user sees their own figures (one RM)."""
    if end < start:
        raise ServiceError(_("结束日期不能早于开始日期"))
    outlet_ids = _scope_outlets(user, outlet_id)
    stmt = scoped(ScorecardPolicy, user).where(ScorecardPolicy.signed_on.between(start, end))
    stmt = stmt.where(ScorecardPolicy.outlet_id.in_(outlet_ids or [0])) if user.scope != SCOPE_OWN or outlet_id \
        else stmt
    rows = db.session.execute(stmt).scalars().all()
    policies = [_to_policy(r) for r in rows]
    if user.scope == SCOPE_OWN:
        people = {user.id}
    else:
        people = set(db.session.execute(select(User.id).where(
            User.outlet_id.in_(outlet_ids or [0]), User.active, User.post.in_(SELLING_POSTS))).scalars())
        people |= {p.seller_id for p in policies if p.seller_id is not None and banca.counts(p)}
    days = working_days(start, end)
    cal = WorkdayCalendar()
    contacts = attendance = 0
    if people:
        logs = db.session.execute(select(DailyLog.user_id, DailyLog.day, func.sum(DailyLog.contacts)).where(
            DailyLog.user_id.in_(people), DailyLog.day.between(start, end))
            .group_by(DailyLog.user_id, DailyLog.day)).all()
        contacts = sum(int(n or 0) for _u, _d, n in logs)
        attendance = sum(1 for _u, day, _n in logs if cal.is_workday(day))
    result = banca.kpis(policies, rms_on_roll=len(people), attendance_days=attendance,
                        required_days=len(people) * days, contacts=contacts, working_days=days,
                        outlets=len(outlet_ids) if user.scope != SCOPE_OWN else 1)
    counted = [p for p in policies if banca.counts(p)]
    return KpiReport(start, end, result, len(outlet_ids), len(people), attendance, len(people) * days, contacts,
                     days, sum(1 for p in policies if p.status == banca.CANCELLED),
                     sum(1 for p in policies if p.status == banca.SURRENDERED),
                     sum((p.premium for p in counted), Decimal(0)), sum((p.fyc for p in counted), Decimal(0)))


# ---------------------------------------------------------------- targets (R-96, A-14, T-62)

def branch_of(user: Any, outlet_id: int | None = None) -> int | None:
    branch = root_branch_id(user)
    if branch is None and outlet_id:
        outlet = db.session.get(Outlet, outlet_id)
        branch = outlet.root_branch_id if outlet is not None else None
    if branch is None and user.scope == SCOPE_ALL:
        branch = db.session.execute(select(Outlet.root_branch_id).order_by(Outlet.id).limit(1)).scalar()
    return branch


def _month_day(year: int, text: str, fallback: date) -> date:
    try:
        month, day = (int(p) for p in str(text).split("-"))
        return date(year, month, day)
    except (TypeError, ValueError):
        return fallback


def banca_params(branch_id: int | None) -> dict[str, Any]:
    try:
        return scheme_params(branch_id, SCHEME_CODE)
    except ServiceError:
        return {}


def progress(user: Any, year: int, as_of: date, *, outlet_id: int | None = None, branch_id: int | None = None
             ) -> dict[tuple[str, str], banca.Progress]:
    """R-96 progress of the policies in the user's scope against the 分行's targets (scheme 000-bancassurance):
    趸交/期缴 × 开门红/全年, as known on `as_of` (a 契撤 recorded later still counted then, T-62); 开门红 is a
    configurable window inside the year and counts toward the year (A-14)."""
    params = banca_params(branch_id or branch_of(user, outlet_id))
    start = _month_day(year, params.get("kaimenhong_start", "01-01"), date(year, 1, 1))
    end = _month_day(year, params.get("kaimenhong_end", "03-31"), date(year, 3, 31))
    targets: dict[tuple[str, str], Decimal] = {}
    for key, value in (params.get("targets") or {}).items():
        mode, _sep, period = key.partition("_")
        period = banca.FULL_YEAR if period == "full_year" else period
        if mode in banca.PAYMENT_MODES and period in banca.PERIODS:
            try:
                targets[(mode, period)] = Decimal(str(value))
            except ArithmeticError:
                continue
    stmt = scoped(ScorecardPolicy, user).where(ScorecardPolicy.signed_on.between(date(year, 1, 1),
                                                                                  date(year, 12, 31)))
    if outlet_id:
        stmt = stmt.where(ScorecardPolicy.outlet_id.in_(_scope_outlets(user, outlet_id)))
    policies = [_to_policy(r) for r in db.session.execute(stmt).scalars()]
    return banca.target_progress(policies, as_of=as_of, kaimenhong_start=start, kaimenhong_end=end,
                                 targets=targets)


# ---------------------------------------------------------------- headcount and staffing

@dataclass(frozen=True)
class Alerts:
    staffing: banca.StaffingResult
    effective_staff: int
    outlets: int
    headcount: banca.HeadcountReport | None
    bank: list[banca.UnitAlert]


def alerts(user: Any, start: date, end: date, *, outlet_id: int | None = None,
           headcount: tuple[int, int, int] | None = None, effective_staff: int | None = None) -> Alerts:
    """R-98 staffing: outlets in scope vs effective bancassurance staff — by default the insurer's RMs (insurer_rm)
    with at least one counted policy in the period (有效人力), unless the user enters the figure; norm from the
    scheme (2 per outlet). R-97 headcount: the insurer team's counts (营业区经理, 营业部经理, 客户经理) are not held
    by the CRM, so they are computed only when given. Bank side (R-98): every outlet is treated as a combined
    outlet needing ≥1 corporate RM (the settlement department is not an outlet and is not checked here)."""
    outlet_ids = _scope_outlets(user, outlet_id) if user.scope != SCOPE_OWN else []
    params = banca_params(branch_of(user, outlet_id))
    norm = int(params.get("staffing_norm", 2))
    if effective_staff is None:
        stmt = scoped(ScorecardPolicy, user).where(ScorecardPolicy.signed_on.between(start, end),
                                                   ScorecardPolicy.outlet_id.in_(outlet_ids or [0]),
                                                   ScorecardPolicy.insurer_rm.is_not(None))
        rows = db.session.execute(stmt).scalars().all()
        effective_staff = len({_label_key(r.insurer_rm) for r in rows if banca.counts(_to_policy(r))})
    staffing = banca.staffing_alert(len(outlet_ids), effective_staff, norm)
    report = None
    if headcount is not None:
        want = params.get("headcount") or {}
        targets = (int(want.get("district_managers", 4)), int(want.get("dept_managers", 12)), int(want.get("rms", 48)))
        report = banca.headcount_alerts(*headcount, targets=targets)
    bank: list[banca.UnitAlert] = []
    if outlet_ids:
        corporate = dict(db.session.execute(select(User.outlet_id, func.count()).where(
            User.outlet_id.in_(outlet_ids), User.active, User.post == "corporate_rm").group_by(User.outlet_id)).all())
        names = {o.id: o.name for o in visible_outlets(user)}
        bank = banca.bank_staffing_alerts((names.get(i, str(i)), "combined_outlet", int(corporate.get(i, 0)))
                                          for i in outlet_ids)
    return Alerts(staffing, effective_staff, len(outlet_ids), report, bank)
