"""Scorecards services: schemes as versioned data, periods (open → computed → reviewed → locked, corrections as new
revisions), actuals (entered, imported or taken from the CRM), set-based computation with the engine, standings.
No request objects here: the views, the CLI, the importer, the benchmark and the tests call the same functions."""

from __future__ import annotations

import copy
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, false, func, insert, or_, select, update

from crm import audit
from crm.access import can, scope_filter, scoped
from crm.errors import FormErrors, ServiceError  # noqa: F401 - raised here, caught by the views
from crm.extensions import db
from crm.models import Activity, Branch, Customer, CustomerClaim, Outlet, User
from crm.roles import SCOPE_ALL
from crm.timeutil import local_to_utc, utcnow
from plugins.scorecards import engine
from plugins.scorecards.default_schemes import DEFAULT_SCHEMES
from plugins.scorecards.models import (
    PERIOD_KINDS,
    ScorecardActual,
    ScorecardPeriod,
    ScorecardResult,
    ScorecardScheme,
)

P = "scorecards."
# The grade a 003(a) scheme names ("grade": "高级") → the stored grade codes it assesses (crm.roles GRADES).
GRADE_CODES = {"高级": ("a_senior",), "中级": ("a_middle",), "初级": ("a_junior",)}
# Actual keys the CRM fills by itself (source "crm"): key → the function below that computes them. Besides these,
# any item of a scheme may name its source ("source": "crm.visits") — the administrator decides what comes from
# the CRM.
CRM_KEYS = {"c3_visits.missed_visits": "missed_visits"}
CRM_SOURCES = {"crm.visits": "visits", "crm.contacts": "contacts", "crm.log_rate": "log_rate",
               "crm.claims": "claims", "crm.missed_visits": "missed_visits", "crm.li_cases": "li_cases",
               "crm.li_amount": "li_amount", "crm.campaign_attendees": "campaign_attendees"}
# What the scheme editor offers as an item's data source (source → label); "" is typed or imported.
SOURCE_LABELS = {"crm.visits": _l("系统：走访客户次数（上门走访、到店面谈）"), "crm.contacts": _l("系统：联系客户次数"),
                 "crm.log_rate": _l("系统：工作日志达标率（%）"), "crm.claims": _l("系统：认领或分配的客户数"),
                 "crm.missed_visits": _l("系统：管户客户缺少的周走访次数"),
                 "crm.li_cases": _l("系统：银保贷放款笔数（银保贷启用时）"),
                 "crm.li_amount": _l("系统：银保贷放款金额（万元，银保贷启用时）"),
                 "crm.campaign_attendees": _l("系统：邀约客户到场人数（营销活动启用时）")}
MAX_VALUE = Decimal("1e15")


def _require(permission: str, actor: Any) -> None:
    if not can(P + permission, actor):
        raise ServiceError(_("您的岗位没有此项权限"))


def root_branch_id(user: Any) -> int | None:
    return user.root_branch_id


# ---------------------------------------------------------------- schemes

def _applies(definition: dict[str, Any]) -> tuple[list[str], list[str]]:
    posts = list(definition.get("posts") or [])
    grades = list(definition.get("grades") or GRADE_CODES.get(definition.get("grade", ""), ()))
    return posts, grades


def _scheme_row(definition: dict[str, Any], *, branch_id: int | None, revision: int = 1,
                based_on_id: int | None = None, actor_id: int | None = None, note: str | None = None
                ) -> ScorecardScheme:
    posts, grades = _applies(definition)
    return ScorecardScheme(branch_id=branch_id, code=definition["code"], revision=revision, name=definition["name"],
                           kind=definition["kind"], subject=definition.get("subject", "staff"), posts=posts,
                           grades=grades, definition=definition, fingerprint=engine.scheme_fingerprint(definition),
                           based_on_id=based_on_id, current=True, active=True, created_by_id=actor_id, note=note)


def ensure_default_schemes() -> int:
    """The shipped schemes as the 全行 defaults (branch_id NULL), once; returns how many were added."""
    have = set(db.session.execute(select(ScorecardScheme.code).where(ScorecardScheme.branch_id.is_(None))).scalars())
    added = 0
    for definition in DEFAULT_SCHEMES:
        if definition["code"] not in have:
            db.session.add(_scheme_row(copy.deepcopy(definition), branch_id=None, note=_("系统预置")))
            added += 1
    if added:
        db.session.commit()
    return added


def current_schemes(branch_id: int | None, *, period: str | None = None, scored: bool | None = None,
                    include_inactive: bool = False) -> list[ScorecardScheme]:
    """The versions new computations use for a 分行: its own copy of a code wins over the 全行 default."""
    ensure_default_schemes()
    rows = db.session.execute(select(ScorecardScheme).where(
        ScorecardScheme.current.is_(True),
        ScorecardScheme.branch_id.is_(None) | (ScorecardScheme.branch_id == branch_id))
        .order_by(ScorecardScheme.branch_id.is_(None), ScorecardScheme.id)).scalars().all()
    chosen: dict[str, ScorecardScheme] = {}
    for row in rows:  # the 分行's own rows come first
        chosen.setdefault(row.code, row)
    out = []
    for row in chosen.values():
        if not include_inactive and not row.active:
            continue
        if period and row.definition.get("period") != period:
            continue
        if scored is not None and (row.kind in engine.SCORED_KINDS) != scored:
            continue
        out.append(row)
    order = {d["code"]: n for n, d in enumerate(DEFAULT_SCHEMES)}
    return sorted(out, key=lambda s: (order.get(s.code, 999), s.code))


def scheme_params(branch_id: int | None, code: str) -> dict[str, Any]:
    for scheme in current_schemes(branch_id, include_inactive=True):
        if scheme.code == code:
            return dict(scheme.definition.get("params") or {})
    raise ServiceError(_("考核方案不存在：%(c)s", c=code))


def visible_scheme(scheme_id: Any, user: Any) -> ScorecardScheme | None:
    try:
        key = int(scheme_id)
    except (TypeError, ValueError):
        return None
    return db.session.execute(select(ScorecardScheme).where(ScorecardScheme.id == key,
                                                            scope_filter(ScorecardScheme, user))).scalar_one_or_none()


def scheme_history(scheme: ScorecardScheme) -> list[ScorecardScheme]:
    return db.session.execute(select(ScorecardScheme).where(
        ScorecardScheme.code == scheme.code,
        ScorecardScheme.branch_id.is_(None) if scheme.branch_id is None else ScorecardScheme.branch_id ==
        scheme.branch_id).order_by(ScorecardScheme.revision.desc())).scalars().all()


def save_scheme(actor: Any, scheme_id: int, definition: dict[str, Any], note: str | None = None, *,
                active: bool | None = None) -> ScorecardScheme:
    """A branch administrator edits a scheme: the edit is validated (a 200-point template summing to 190 is
    refused, T-61) and stored as a NEW version of the 分行's copy; the old version stays with the results it
    computed, so only future computations change. Editing a 全行 default makes the 分行's own copy. `active`
    switches the scheme on or off in the same new version (the definition may stay as it is)."""
    _require("schemes", actor)
    scheme = visible_scheme(scheme_id, actor)
    if scheme is None:
        raise ServiceError(_("考核方案不存在"))
    if scheme.branch_id is None and actor.scope == SCOPE_ALL:
        branch_id = None  # the system administrator edits the 全行 default itself
    else:
        branch_id = root_branch_id(actor)
        if branch_id is None:
            raise ServiceError(_("请以分行人员身份修改本分行的考核方案"))
    definition = copy.deepcopy(definition)
    definition["code"] = scheme.code  # the code names the scheme everywhere: it does not change
    errors = engine.validate_scheme(definition)
    if errors:
        raise ServiceError("；".join(errors))
    active = scheme.active if active is None else active
    if engine.scheme_fingerprint(definition) == scheme.fingerprint and scheme.branch_id == branch_id \
            and active == scheme.active:
        raise ServiceError(_("方案没有改动"))
    previous = db.session.execute(select(ScorecardScheme).where(
        ScorecardScheme.code == scheme.code, ScorecardScheme.current.is_(True),
        ScorecardScheme.branch_id.is_(None) if branch_id is None else ScorecardScheme.branch_id == branch_id)
    ).scalar_one_or_none()
    # A 分行's first copy of a 全行 default continues its numbering (default 第1版 → the copy 第2版).
    revision = scheme.revision + 1
    if previous is not None:
        previous.current = False
        revision = db.session.execute(select(func.max(ScorecardScheme.revision)).where(
            ScorecardScheme.code == scheme.code,
            ScorecardScheme.branch_id.is_(None) if branch_id is None else ScorecardScheme.branch_id == branch_id)
        ).scalar_one() + 1
    row = _scheme_row(definition, branch_id=branch_id, revision=revision, based_on_id=scheme.id,
                      actor_id=actor.id, note=(note or "").strip()[:300] or None)
    row.active = active
    db.session.add(row)
    db.session.flush()
    audit.record(P + "scheme_saved", target=("scorecards_scheme", row.id), actor=actor,
                 detail={"code": scheme.code, "revision": revision, "based_on": scheme.id,
                         "changes": describe_changes(scheme.definition, definition)})
    db.session.commit()
    return row


def set_scheme_active(actor: Any, scheme_id: int, active: bool) -> ScorecardScheme:
    """Switch a scheme off (not computed) or on for the 分行 — a new version of its copy, as any edit."""
    scheme = visible_scheme(scheme_id, actor)
    if scheme is None:
        raise ServiceError(_("考核方案不存在"))
    _require("schemes", actor)
    if scheme.active == active:
        return scheme
    return save_scheme(actor, scheme_id, scheme.definition, _("启用方案") if active else _("停用方案"),
                       active=active)


def describe_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What an edit changed, in words, for the audit log and the version list."""
    out: list[str] = []
    old_items = {i["code"]: i for i in old.get("items", [])}
    new_items = {i["code"]: i for i in new.get("items", [])}
    for code, item in new_items.items():
        before = old_items.get(code)
        if before is None:
            out.append(_("新增指标“%(n)s”", n=item.get("name", code)))
            continue
        for key in sorted(set(item) | set(before)):
            if item.get(key) != before.get(key) and key not in ("name", "label"):
                out.append(_("“%(n)s”的%(k)s：%(a)s → %(b)s", n=item.get("name", code), k=key,
                             a=_short(before.get(key)), b=_short(item.get(key))))
    for code in old_items.keys() - new_items.keys():
        out.append(_("删除指标“%(n)s”", n=old_items[code].get("name", code)))
    if old.get("warnings") != new.get("warnings"):
        out.append(_("预警规则有改动"))
    if old.get("params") != new.get("params"):
        for key in sorted(set(old.get("params") or {}) | set(new.get("params") or {})):
            a, b = (old.get("params") or {}).get(key), (new.get("params") or {}).get(key)
            if a != b:
                out.append(_("参数%(k)s：%(a)s → %(b)s", k=key, a=_short(a), b=_short(b)))
    for key in ("posts", "grades", "expected_total", "total", "name"):
        if old.get(key) != new.get(key):
            out.append(_("%(k)s：%(a)s → %(b)s", k=key, a=_short(old.get(key)), b=_short(new.get(key))))
    return out


def _short(value: Any) -> str:
    text = str(value) if value is not None else "—"
    return text if len(text) <= 60 else text[:57] + "…"


# ---------------------------------------------------------------- periods

def period_bounds(kind: str, day: date) -> tuple[date, date]:
    if kind == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    elif kind == "quarter":
        start = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
        end = (date(start.year + (start.month + 3 > 12), (start.month + 2) % 12 + 1, 1) - timedelta(days=1))
    elif kind == "year":
        start, end = date(day.year, 1, 1), date(day.year, 12, 31)
    else:
        raise ServiceError(_("考核期类型须为月度、季度或年度"))
    return start, end


def open_period(actor: Any, kind: str, day: date, *, branch_id: int | None = None) -> ScorecardPeriod:
    """Open the 分行's assessment period that contains `day` (one per kind and start; corrections are revisions)."""
    _require("manage", actor)
    if kind not in PERIOD_KINDS:
        raise ServiceError(_("考核期类型须为月度、季度或年度"))
    branch_id = branch_id if actor.scope == SCOPE_ALL and branch_id else root_branch_id(actor)
    if branch_id is None:
        raise ServiceError(_("请选择分行"))
    start, end = period_bounds(kind, day)
    exists = db.session.execute(select(ScorecardPeriod).where(
        ScorecardPeriod.branch_id == branch_id, ScorecardPeriod.kind == kind, ScorecardPeriod.starts_on == start)
    ).scalars().first()
    if exists is not None:
        raise ServiceError(_("%(p)s的考核期已存在", p=exists.label))
    period = ScorecardPeriod(branch_id=branch_id, kind=kind, starts_on=start, ends_on=end, status="open",
                             created_by_id=actor.id)
    db.session.add(period)
    db.session.flush()
    audit.record(P + "period_opened", target=("scorecards_period", period.id), actor=actor,
                 detail={"kind": kind, "starts_on": start.isoformat()})
    db.session.commit()
    return period


def visible_period(period_id: Any, user: Any) -> ScorecardPeriod | None:
    try:
        key = int(period_id)
    except (TypeError, ValueError):
        return None
    return db.session.execute(select(ScorecardPeriod).where(ScorecardPeriod.id == key,
                                                            scope_filter(ScorecardPeriod, user))).scalar_one_or_none()


def periods_for(user: Any, *, limit: int = 60) -> list[ScorecardPeriod]:
    return db.session.execute(select(ScorecardPeriod).where(scope_filter(ScorecardPeriod, user))
                              .order_by(ScorecardPeriod.starts_on.desc(), ScorecardPeriod.kind,
                                        ScorecardPeriod.revision.desc()).limit(limit)).scalars().all()


def _editable(period: ScorecardPeriod) -> None:
    if period.locked:
        raise ServiceError(_("%(p)s已锁定，不能修改；如需更正请发起更正（生成新版本）", p=period.label))
    if period.superseded:
        raise ServiceError(_("%(p)s已被更正版本取代，不能修改", p=period.label))


# ---------------------------------------------------------------- subjects

@dataclass(frozen=True)
class Subject:
    kind: str  # staff | outlet
    id: int
    name: str
    user_id: int | None
    outlet_id: int | None
    branch_id: int | None
    post: str | None = None
    grade: str | None = None
    outlet_name: str = ""


def branch_subjects(branch_id: int, *, user_id: int | None = None, outlet_id: int | None = None
                    ) -> tuple[list[Subject], list[Subject]]:
    """Active staff and outlets of a 分行 (one query each); with `user_id` / `outlet_id` only that one (a cell of
    the grid needs one person, not the 分行's ten thousand)."""
    outlet_stmt = select(Outlet.id, Outlet.name, Outlet.branch_id).where(
        Outlet.root_branch_id == branch_id, Outlet.active)
    if user_id is not None or outlet_id is not None:
        outlet_stmt = outlet_stmt.where(Outlet.id == outlet_id)
    outlets = db.session.execute(outlet_stmt.order_by(Outlet.code, Outlet.id)).all()
    node = db.session.get(Branch, branch_id)
    branch_ids = select(Branch.id).where(Branch.path.like((node.path if node else "/none/") + "%"))
    staff_stmt = (select(User.id, User.name, User.post, User.grade, User.outlet_id, User.branch_id, Outlet.name)
                  .outerjoin(Outlet, Outlet.id == User.outlet_id)
                  .where(User.active, or_(Outlet.root_branch_id == branch_id,
                                          and_(User.outlet_id.is_(None), User.branch_id.in_(branch_ids)))))
    if outlet_id is not None or user_id is not None:
        staff_stmt = staff_stmt.where(User.id == user_id)
    staff = db.session.execute(staff_stmt.order_by(User.id)).all()
    people = [Subject("staff", u[0], u[1], u[0], u[4], None if u[4] else u[5], u[2], u[3], u[6] or "")
              for u in staff]
    return people, [Subject("outlet", o.id, o.name, None, o.id, None, outlet_name=o.name) for o in outlets]


def assessed_by(scheme: ScorecardScheme, people: list[Subject], outlets: list[Subject]) -> list[Subject]:
    if scheme.subject == "outlet":
        return outlets
    posts, grades = set(scheme.posts or ()), set(scheme.grades or ())
    if not posts:
        return []
    return [p for p in people if p.post in posts and (not grades or p.grade in grades)]


# ---------------------------------------------------------------- inputs and actuals

@dataclass(frozen=True)
class InputField:
    """One value a person (or outlet) needs for a scheme: an actual key, its label and kind."""

    key: str  # the stored actual code: "deposits", "c3_visits.missed_visits", "corp_loan_avg.target" …
    label: str
    kind: str  # number | count | bool | series
    unit: str = ""
    scheme_code: str = ""
    item_code: str = ""
    crm: bool = False
    source: str = ""  # the CRM function that fills it (crm fields only)


def scheme_inputs(scheme: ScorecardScheme | dict[str, Any]) -> list[InputField]:
    definition = scheme.definition if isinstance(scheme, ScorecardScheme) else scheme
    code = definition["code"]
    sources = {i["code"]: CRM_SOURCES.get(i.get("source", "")) for i in definition.get("items", [])}
    out: list[InputField] = []
    for need in engine.required_inputs(definition):
        key, label, unit = need["key"], need["label"], need.get("unit", "")
        if need["source"] == "item":
            if need["type"] == "deductions":
                for f in need.get("fields", []):
                    k = f"{key}.{f['key']}"
                    out.append(InputField(k, f"{label}：{f['label']}", "bool" if f.get("kind") == "bool" else "count",
                                          f.get("unit", ""), code, key, k in CRM_KEYS, CRM_KEYS.get(k, "")))
            elif sources.get(key):
                out.append(InputField(key, label, "number", unit, code, key, True, sources[key]))
            else:
                out.append(InputField(key, label, "number", unit, code, key))
                if need.get("target_required"):
                    out.append(InputField(f"{key}.target", _("%(l)s目标", l=label), "number", unit, code, key))
        elif need["source"] == "input":
            out.append(InputField(key, label, "bool" if need["type"] == "bool" else "number", unit, code))
        elif need["source"] == "series":
            for m in range(1, 13):
                out.append(InputField(f"{key}.m{m:02d}", _("%(l)s（%(m)d月）", l=label, m=m), "number", "元", code))
            out.append(InputField(f"{key}.base", _("%(l)s基数", l=label), "number", "元", code))
    return out


def parse_value(field_: InputField, raw: Any) -> Decimal:
    """A typed value → Decimal (bools as 1/0). Raises ServiceError with a Chinese reason."""
    if isinstance(raw, bool):
        return Decimal(int(raw))
    if isinstance(raw, Decimal | int):
        value = Decimal(raw)
    else:
        text = unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip().replace(",", "")
        if field_.kind == "bool":
            if text in ("是", "有", "1", "Y", "y", "yes", "true", "√"):
                return Decimal(1)
            if text in ("否", "无", "0", "N", "n", "no", "false", ""):
                return Decimal(0)
            raise ServiceError(_("%(f)s请填“是”或“否”", f=field_.label))
        text = text.rstrip("%").strip()
        if text.endswith("万"):
            text, scale = text[:-1], Decimal(10000)
        else:
            scale = Decimal(1)
        if not text:
            raise ServiceError(_("%(f)s不能为空", f=field_.label))
        try:
            value = Decimal(text) * scale
        except InvalidOperation:
            raise ServiceError(_("%(f)s须为数字（当前：%(v)s）", f=field_.label, v=str(raw)[:30])) from None
    if not value.is_finite() or abs(value) >= MAX_VALUE:
        raise ServiceError(_("%(f)s数值超出范围", f=field_.label))
    if field_.kind == "bool" and value not in (0, 1):
        raise ServiceError(_("%(f)s请填“是”或“否”", f=field_.label))
    if field_.kind == "count":
        if value < 0:
            raise ServiceError(_("%(f)s不能为负数", f=field_.label))
        if value != value.to_integral_value() and field_.unit != "分":
            raise ServiceError(_("%(f)s须为整数", f=field_.label))
    if value.as_tuple().exponent < -6:
        raise ServiceError(_("%(f)s最多保留6位小数", f=field_.label))
    return value


def period_inputs(period: ScorecardPeriod) -> dict[str, InputField]:
    """Every input of the schemes this period computes, by key (one key may serve several schemes)."""
    out: dict[str, InputField] = {}
    for scheme in current_schemes(period.branch_id, period=period.kind, scored=True):
        for f in scheme_inputs(scheme):
            out.setdefault(f.key, f)
    return out


def scope_checker(actor: Any) -> Callable[[Subject], bool]:
    """Whether `actor` may enter figures for a person/outlet: branch posts their subtree, outlet management their
    outlet, the administrator everyone; nobody their own. The subtree is read once, whatever the number of people
    checked (the grid and the import check thousands)."""
    from crm.access import subtree_branch_ids, subtree_outlet_ids
    from crm.roles import SCOPE_BRANCH, SCOPE_OUTLET

    outlets: set[int] = set()
    branches: set[int] = set()
    if actor.scope == SCOPE_BRANCH:
        outlets = set(db.session.execute(subtree_outlet_ids(actor)).scalars())
        branches = set(db.session.execute(subtree_branch_ids(actor)).scalars())
    elif actor.scope == SCOPE_OUTLET and actor.outlet_id is not None:
        outlets = {actor.outlet_id}

    def allowed(subject: Subject) -> bool:
        if subject.kind == "staff" and subject.user_id == actor.id:
            return False
        return actor.scope == SCOPE_ALL or subject.outlet_id in outlets or subject.branch_id in branches

    return allowed


def subject_in_scope(actor: Any, subject: Subject) -> bool:
    return scope_checker(actor)(subject)


def find_subject(period: ScorecardPeriod, kind: str, subject_id: int) -> Subject | None:
    people, outlets = branch_subjects(period.branch_id, **({"user_id": subject_id} if kind == "staff"
                                                           else {"outlet_id": subject_id}))
    found = people if kind == "staff" else outlets
    return found[0] if found else None


def set_actual(actor: Any, period: ScorecardPeriod, subject: Subject, key: str, raw: Any, *,
               source: str = "entry", commit: bool = True) -> ScorecardActual | None:
    """Enter one figure (an empty value clears it). Refused for locked periods, for keys the period does not use,
    for figures the CRM fills itself and for people outside the actor's scope."""
    _require("enter", actor)
    _editable(period)
    fields = period_inputs(period)
    field_ = fields.get(key)
    if field_ is None:
        raise ServiceError(_("本考核期没有此项指标：%(k)s", k=key))
    if field_.crm and source != "crm":
        raise ServiceError(_("%(f)s由系统自动取数，不能手工录入", f=field_.label))
    if not subject_in_scope(actor, subject):
        raise ServiceError(_("只能录入您管辖范围内人员的考核数据（本人数据由上级录入）"))
    existing = db.session.execute(select(ScorecardActual).where(
        ScorecardActual.period_id == period.id, ScorecardActual.subject == subject.kind,
        ScorecardActual.subject_id == subject.id, ScorecardActual.code == key)).scalar_one_or_none()
    text = "" if raw is None else str(raw).strip()
    if text == "" and field_.kind != "bool" and not isinstance(raw, bool):
        if existing is not None:
            db.session.delete(existing)
        row = None
    else:
        value = parse_value(field_, raw)
        if existing is None:
            existing = ScorecardActual(period_id=period.id, subject=subject.kind, subject_id=subject.id,
                                       user_id=subject.user_id, outlet_id=subject.outlet_id,
                                       branch_id=subject.branch_id, code=key, value=value)
            db.session.add(existing)
        existing.value, existing.source, existing.updated_by_id = value, source, actor.id
        existing.updated_at = utcnow()
        row = existing
    _stale(period)
    audit.record(P + "actual_saved", target=("scorecards_period", period.id), actor=actor,
                 detail={"subject": subject.kind, "subject_id": subject.id, "key": key,
                         "value": None if row is None else str(row.value)})
    if commit:
        db.session.commit()
    return row


def _stale(period: ScorecardPeriod) -> None:
    """A figure changed after computing: the scores must be computed (and reviewed) again."""
    if period.status in ("computed", "reviewed"):
        period.status = "open"
        period.reviewed_at = period.reviewed_by_id = None


def actuals_of(period_id: int, subjects: Iterable[Subject] | None = None) -> dict[tuple[str, int], dict[str, Decimal]]:
    """The period's figures by (subject, id) — all of them (computing), or only those of `subjects` (a page)."""
    out: dict[tuple[str, int], dict[str, Decimal]] = defaultdict(dict)
    stmt = select(ScorecardActual.subject, ScorecardActual.subject_id, ScorecardActual.code,
                  ScorecardActual.value).where(ScorecardActual.period_id == period_id)
    if subjects is not None:
        wanted = list(subjects)
        kinds = {s.kind for s in wanted}
        stmt = stmt.where(ScorecardActual.subject.in_(kinds) if kinds else false(),
                          ScorecardActual.subject_id.in_({s.id for s in wanted}))
    for subject, subject_id, code, value in db.session.execute(stmt):
        out[(subject, subject_id)][code] = value
    return out


# ---------------------------------------------------------------- figures from the CRM

def _week_keys(start: date, end: date) -> list[date]:
    """The Mondays of the weeks that belong to the period: a week belongs to the month holding its Thursday (ISO)."""
    monday = start - timedelta(days=start.weekday())
    out = []
    while monday <= end:
        if start <= monday + timedelta(days=3) <= end:
            out.append(monday)
        monday += timedelta(days=7)
    return out


def missed_visits(actor: Any, period: ScorecardPeriod, user_ids: list[int]) -> dict[int, Decimal]:
    """R-83 item 3: every customer a manager maintains is visited at least once a week. Missed visits = for each
    maintained customer, the weeks of the period without a visit (上门走访 or 到店面谈) by that manager. Customers
    are read through the actor's scope (the person computing the period)."""
    weeks = _week_keys(period.starts_on, period.ends_on)
    if not weeks or not user_ids:
        return {}
    held = dict(db.session.execute(
        scoped(Customer, actor).with_only_columns(Customer.maintainer_id, func.count())
        .where(Customer.maintainer_id.in_(user_ids)).group_by(Customer.maintainer_id)).all())
    first, last = weeks[0], weeks[-1] + timedelta(days=7)
    since = local_to_utc(datetime.combine(first, time.min))
    until = local_to_utc(datetime.combine(last, time.min))
    seen: dict[int, set[tuple[int, date]]] = defaultdict(set)
    rows = db.session.execute(
        select(Activity.user_id, Activity.customer_id, Activity.occurred_at)
        .join(Customer, Customer.id == Activity.customer_id)
        .where(Activity.user_id.in_(user_ids), Activity.kind.in_(("visit", "meeting")),
               Activity.occurred_at >= since, Activity.occurred_at < until,
               Customer.maintainer_id == Activity.user_id, scope_filter(Customer, actor)))
    from crm.timeutil import to_local

    week_set = set(weeks)
    for user_id, customer_id, at in rows:
        local = to_local(at).date()
        monday = local - timedelta(days=local.weekday())
        if monday in week_set:
            seen[user_id].add((customer_id, monday))
    return {u: Decimal(held.get(u, 0) * len(weeks) - len(seen.get(u, ()))) for u in user_ids}


def _utc_range(period: ScorecardPeriod) -> tuple[datetime, datetime]:
    return (local_to_utc(datetime.combine(period.starts_on, time.min)),
            local_to_utc(datetime.combine(period.ends_on + timedelta(days=1), time.min)))


def _counts(stmt) -> dict[int, Decimal]:
    return {u: Decimal(n) for u, n in db.session.execute(stmt)}


def visits(actor: Any, period: ScorecardPeriod, user_ids: list[int]) -> dict[int, Decimal]:
    """上门走访 and 到店面谈 recorded by each person in the period (activity log)."""
    since, until = _utc_range(period)
    return _counts(select(Activity.user_id, func.count()).where(
        Activity.user_id.in_(user_ids), Activity.kind.in_(("visit", "meeting")), Activity.occurred_at >= since,
        Activity.occurred_at < until).group_by(Activity.user_id))


def contacts(actor: Any, period: ScorecardPeriod, user_ids: list[int]) -> dict[int, Decimal]:
    """Every contact with a customer (visits, calls, messages …) recorded by each person in the period."""
    since, until = _utc_range(period)
    return _counts(select(Activity.user_id, func.count()).where(
        Activity.user_id.in_(user_ids), Activity.occurred_at >= since, Activity.occurred_at < until)
        .group_by(Activity.user_id))


def claims(actor: Any, period: ScorecardPeriod, user_ids: list[int]) -> dict[int, Decimal]:
    """Customers a person won by claim or was allocated in the period (包户包效, R-07–R-15)."""
    since, until = _utc_range(period)
    return _counts(select(CustomerClaim.user_id, func.count(func.distinct(CustomerClaim.customer_id))).where(
        CustomerClaim.user_id.in_(user_ids), CustomerClaim.state.in_(("won", "confirmed", "done")),
        CustomerClaim.kind.in_(("claim", "allocation", "resolution")), CustomerClaim.created_at >= since,
        CustomerClaim.created_at < until).group_by(CustomerClaim.user_id))


def log_rate(actor: Any, period: ScorecardPeriod, user_ids: list[int]) -> dict[int, Decimal]:
    """R-35/R-36/R-39: the share (%) of the period's working days — up to yesterday while the period runs — with a
    compliant 2511 or 511 log (either model complies, A-12). Two queries whatever the number of people."""
    from sqlalchemy.orm import selectinload

    from crm.activity.services import compliance
    from crm.models import DailyLog
    from crm.timeutil import today_local
    from crm.workdays import WorkdayCalendar

    last = min(period.ends_on, today_local() - timedelta(days=1))
    calendar = WorkdayCalendar() if last >= period.starts_on else None
    days = [d for d in (period.starts_on + timedelta(n) for n in range((last - period.starts_on).days + 1))
            if calendar and calendar.is_workday(d)]
    if not days:
        return {}
    good: dict[int, set[date]] = defaultdict(set)
    for log in db.session.execute(select(DailyLog).options(selectinload(DailyLog.entries)).where(
            DailyLog.user_id.in_(user_ids), DailyLog.day >= days[0], DailyLog.day <= days[-1])).scalars():
        if log.day in days and compliance(log).ok:
            good[log.user_id].add(log.day)
    return {u: (Decimal(len(good.get(u, ()))) * 100 / len(days)).quantize(Decimal("0.01")) for u in user_ids}


# Sources that need a plugin installed (they read its tables).
SOURCE_PLUGINS = {"crm.li_cases": "loan_insurance", "crm.li_amount": "loan_insurance",
                  "crm.campaign_attendees": "salon_events"}


def available_sources() -> dict[str, Any]:
    """The sources the scheme editor offers here: those whose plugin is installed."""
    from flask import current_app

    installed = current_app.extensions["crm"].plugins
    return {k: v for k, v in SOURCE_LABELS.items() if SOURCE_PLUGINS.get(k, "scorecards") in installed}


def _plugin_on(name: str, period: ScorecardPeriod) -> bool:
    from flask import current_app

    registry = current_app.extensions["crm"]
    return name in registry.plugins and name in registry.enabled_names(period.branch_id)


def li_cases(actor: Any, period: ScorecardPeriod, user_ids: list[int]) -> dict[int, Decimal]:
    """银保贷 cases a customer manager handles that were disbursed (放款) in the period; none while the plugin is off
    for the 分行."""
    return _li(period, user_ids, amount=False)


def li_amount(actor: Any, period: ScorecardPeriod, user_ids: list[int]) -> dict[int, Decimal]:
    """The credit amount (万元, two decimals) of those cases."""
    return _li(period, user_ids, amount=True)


def _li(period: ScorecardPeriod, user_ids: list[int], *, amount: bool) -> dict[int, Decimal]:
    if not _plugin_on("loan_insurance", period):
        return {}
    from plugins.loan_insurance.models import LoanCase, LoanTransition

    since, until = _utc_range(period)
    disbursed = select(LoanTransition.case_id).where(LoanTransition.to_status == "disbursed",
                                                     LoanTransition.at >= since, LoanTransition.at < until)
    measure = func.sum(LoanCase.amount) if amount else func.count(LoanCase.id)
    rows = db.session.execute(select(LoanCase.rm_id, measure).where(
        LoanCase.rm_id.in_(user_ids), LoanCase.id.in_(disbursed)).group_by(LoanCase.rm_id)).all()
    if amount:
        return {u: (Decimal(v or 0) / 10000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) for u, v in rows}
    return {u: Decimal(v) for u, v in rows}


def campaign_attendees(actor: Any, period: ScorecardPeriod, user_ids: list[int]) -> dict[int, Decimal]:
    """Campaign outcomes (R-28–R-34): guests a person invited who checked in at a 宝贝银行家, 理财沙龙 or 产说会
    round in the period; none while the plugin is off for the 分行."""
    if not _plugin_on("salon_events", period):
        return {}
    from plugins.salon_events.models import SalonRegistration

    since, until = _utc_range(period)
    return _counts(select(SalonRegistration.invited_by_id, func.count()).where(
        SalonRegistration.invited_by_id.in_(user_ids), SalonRegistration.attended.is_(True),
        SalonRegistration.checked_in_at >= since, SalonRegistration.checked_in_at < until)
        .group_by(SalonRegistration.invited_by_id))


CRM_FUNCTIONS = {"missed_visits": missed_visits, "visits": visits, "contacts": contacts, "claims": claims,
                 "log_rate": log_rate, "li_cases": li_cases, "li_amount": li_amount,
                 "campaign_attendees": campaign_attendees}


def pull_crm_actuals(actor: Any, period: ScorecardPeriod) -> int:
    """Fill the figures the CRM has for everyone the period assesses; returns rows written."""
    _require("manage", actor)
    _editable(period)
    fields = period_inputs(period)
    keys = [k for k, f in fields.items() if f.crm]
    if not keys:
        return 0
    people, outlets = branch_subjects(period.branch_id)
    schemes = {s.code: s for s in current_schemes(period.branch_id, period=period.kind)}
    written = 0
    for key in keys:
        subjects = assessed_by(schemes[fields[key].scheme_code], people, outlets)
        values = CRM_FUNCTIONS[fields[key].source](actor, period, [s.id for s in subjects])
        db.session.execute(delete(ScorecardActual).where(ScorecardActual.period_id == period.id,
                                                         ScorecardActual.code == key))
        now = utcnow()
        rows = [{"period_id": period.id, "subject": s.kind, "subject_id": s.id, "user_id": s.user_id,
                 "outlet_id": s.outlet_id, "branch_id": s.branch_id, "code": key, "value": values.get(s.id, 0),
                 "source": "crm", "updated_by_id": actor.id, "updated_at": now} for s in subjects]
        if rows:
            db.session.execute(insert(ScorecardActual), rows)
        written += len(rows)
    _stale(period)
    audit.record(P + "crm_actuals", target=("scorecards_period", period.id), actor=actor,
                 detail={"keys": keys, "rows": written})
    db.session.commit()
    return written


# ---------------------------------------------------------------- computing

def assemble(definition: dict[str, Any], flat: dict[str, Decimal]) -> dict[str, Any]:
    """Stored flat figures → the actuals the engine takes (deduction fields as a dict, per-person targets, bools)."""
    out: dict[str, Any] = {}
    for item in definition.get("items", []):
        code = item["code"]
        if item["type"] == "deductions":
            values: dict[str, Any] = {}
            complete = True
            for f in item.get("fields", []):
                raw = flat.get(f"{code}.{f['key']}")
                if raw is None:
                    if f.get("kind") == "bool":
                        raw = Decimal(0)  # a box nobody ticked is "否"
                    else:
                        complete = False
                        break
                values[f["key"]] = bool(raw) if f.get("kind") == "bool" else raw
            if complete:
                out[code] = values
        elif code in flat:
            target = flat.get(f"{code}.target")
            out[code] = {"value": flat[code], "target": target} if target is not None else flat[code]
    for w in definition.get("warnings", []):
        if w.get("metric") == "input":
            raw = flat.get(w["key"])
            if w.get("op") in engine.BOOL_OPS:
                out[w["key"]] = bool(raw) if raw is not None else False
            elif raw is not None:
                out[w["key"]] = raw
    return out


def _series(definition: dict[str, Any], flat: dict[str, Decimal], period: ScorecardPeriod) -> dict[str, Any]:
    series: dict[str, list[dict[str, Any]]] = {}
    for w in definition.get("warnings", []):
        if w.get("metric") != "run":
            continue
        key = w["series"]
        base = flat.get(f"{key}.base")
        rows = []
        last = period.ends_on.month if period.kind == "year" else 12
        for m in range(1, last + 1):
            value = flat.get(f"{key}.m{m:02d}")
            if value is not None and base is not None:
                rows.append({"period": f"{m}月", "value": value, "base": base})
        if rows:  # nothing entered: the engine reports the series as missing (no silent "no warning")
            series[key] = rows
    return series


@dataclass
class ComputeReport:
    scored: int = 0
    missing: int = 0
    warnings: int = 0
    by_scheme: dict[str, tuple[int, int]] = field(default_factory=dict)


def _history(period: ScorecardPeriod, scheme_codes: Iterable[str]) -> dict[tuple[str, int, str], list[dict]]:
    """Earlier locked periods of the same kind: {(subject, id, scheme code): [{"period", "actions"}], oldest first}."""
    earlier = db.session.execute(select(ScorecardPeriod).where(
        ScorecardPeriod.branch_id == period.branch_id, ScorecardPeriod.kind == period.kind,
        ScorecardPeriod.starts_on < period.starts_on, ScorecardPeriod.status == "locked",
        ScorecardPeriod.superseded.is_(False)).order_by(ScorecardPeriod.starts_on)).scalars().all()
    out: dict[tuple[str, int, str], list[dict]] = defaultdict(list)
    if not earlier:
        return out
    labels = {p.id: p.label for p in earlier}
    order = {p.id: n for n, p in enumerate(earlier)}
    rows = db.session.execute(
        select(ScorecardResult.period_id, ScorecardResult.subject, ScorecardResult.subject_id,
               ScorecardScheme.code, ScorecardResult.warnings)
        .join(ScorecardScheme, ScorecardScheme.id == ScorecardResult.scheme_id)
        .where(ScorecardResult.period_id.in_(labels), ScorecardScheme.code.in_(list(scheme_codes)))).all()
    for period_id, subject, subject_id, code, warnings in sorted(rows, key=lambda r: order[r[0]]):
        out[(subject, subject_id, code)].append({"period": labels[period_id],
                                                 "actions": [w["action"] for w in warnings or []]})
    return out


def compute_period(actor: Any, period: ScorecardPeriod) -> ComputeReport:
    """Score everyone the period's schemes assess, set-based: one read of the figures, the engine per person and
    scheme, one bulk write of the results, ranks per scheme. People with figures missing get a result row that
    lists what is missing (never a silent 0). Figures the CRM has are taken afresh first."""
    _require("manage", actor)
    _editable(period)
    pull_crm_actuals(actor, period)  # the CRM's own figures (visits …) as of now, so nobody computes on stale ones
    schemes = current_schemes(period.branch_id, period=period.kind, scored=True)
    people, outlets = branch_subjects(period.branch_id)
    figures = actuals_of(period.id)
    history = _history(period, [s.code for s in schemes])
    now = utcnow()
    report = ComputeReport()
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for scheme in schemes:
        definition = scheme.definition
        valid = engine.validate_scheme(definition)
        if valid:
            raise ServiceError(_("考核方案“%(n)s”不合规：%(e)s", n=scheme.name, e="；".join(valid)))
        uses_history = any(w.get("metric") == "repeat" for w in definition.get("warnings", []))
        scored = missing = 0
        scheme_rows = []
        for s in assessed_by(scheme, people, outlets):
            flat = figures.get((s.kind, s.id), {})
            context: dict[str, Any] = {"period": period.label, "series": _series(definition, flat, period)}
            if uses_history:
                context["history"] = history.get((s.kind, s.id, scheme.code), [])
            row = {"period_id": period.id, "scheme_id": scheme.id, "subject": s.kind, "subject_id": s.id,
                   "user_id": s.user_id, "outlet_id": s.outlet_id, "branch_id": s.branch_id, "computed_at": now,
                   "rank": None}
            try:
                score = engine.score_scheme(definition, assemble(definition, flat), context=context, checked=True,
                                            fingerprint=scheme.fingerprint)
            except engine.MissingActualsError as exc:
                row.update(total=None, items=[], warnings=[], action="keep", missing=exc.missing)
                missing += 1
            except engine.SchemeError as exc:
                row.update(total=None, items=[], warnings=[], action="keep", missing=[str(exc)])
                missing += 1
            else:
                row.update(total=score.total, items=[i.to_dict() for i in score.items],
                           warnings=[w.to_dict() for w in score.warnings], action=score.action, missing=[])
                scored += 1
                report.warnings += len(score.warnings)
            scheme_rows.append(row)
        _rank(scheme_rows)
        rows.extend(scheme_rows)
        summary[str(scheme.id)] = {"n": len(scheme_rows), "scored": scored,
                                   "flagged": sum(1 for r in scheme_rows if r["action"] != "keep"),
                                   "pk": outlet_pk(scheme_rows)}
        report.by_scheme[scheme.code] = (scored, missing)
        report.scored += scored
        report.missing += missing
    db.session.execute(delete(ScorecardResult).where(ScorecardResult.period_id == period.id))
    for start in range(0, len(rows), 2000):
        db.session.execute(insert(ScorecardResult), rows[start:start + 2000])
    period.status = "computed"
    period.summary = summary
    period.computed_at, period.computed_by_id = now, actor.id
    period.reviewed_at = period.reviewed_by_id = None
    audit.record(P + "computed", target=("scorecards_period", period.id), actor=actor,
                 detail={"scored": report.scored, "missing": report.missing, "warnings": report.warnings,
                         "schemes": {c: list(v) for c, v in report.by_scheme.items()}})
    db.session.commit()
    return report


def _rank(rows: list[dict[str, Any]]) -> None:
    """Competition ranking (1, 2, 2, 4) by total, highest first; unscored rows have no rank."""
    scored = sorted((r for r in rows if r["total"] is not None), key=lambda r: r["total"], reverse=True)
    previous, rank = None, 0
    for n, row in enumerate(scored, start=1):
        if row["total"] != previous:
            rank, previous = n, row["total"]
        row["rank"] = rank


def outlet_pk(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """网点组合PK赛: outlets ranked by their people's average score (two decimals, half up), competition ranking.
    Rows: [outlet id, average, people, best, rank] as JSON-ready strings/ints."""
    totals: dict[int, list[Decimal]] = defaultdict(list)
    for r in rows:
        if r["total"] is not None and r["outlet_id"] is not None:
            totals[r["outlet_id"]].append(r["total"])
    averages = sorted(((o, (sum(v) / len(v)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), len(v), max(v))
                       for o, v in totals.items()), key=lambda x: (-x[1], x[0]))
    out: list[list[Any]] = []
    previous, rank = None, 0
    for n, (outlet_id, average, people, best) in enumerate(averages, start=1):
        if average != previous:
            rank, previous = n, average
        out.append([outlet_id, str(average), people, str(best), rank])
    return out


def sees_whole_branch(user: Any, period: ScorecardPeriod) -> bool:
    """The administrator, and branch posts of the period's 分行 itself (not of one 支行), see every row of it."""
    from crm.roles import SCOPE_BRANCH

    return user.scope == SCOPE_ALL or (user.scope == SCOPE_BRANCH and user.branch_id == period.branch_id)


def review_period(actor: Any, period: ScorecardPeriod) -> ScorecardPeriod:
    """A second person checks the computed scores (maker-checker: not the one who computed them)."""
    _require("review", actor)
    _editable(period)
    if period.status != "computed":
        raise ServiceError(_("只有“已计算”的考核期可以复核（当前：%(s)s）", s=str(period_status_label(period))))
    if period.computed_by_id == actor.id:
        raise ServiceError(_("计算人不能复核自己计算的结果，请由另一位有复核权限的人员复核"))
    period.status = "reviewed"
    period.reviewed_at, period.reviewed_by_id = utcnow(), actor.id
    audit.record(P + "reviewed", target=("scorecards_period", period.id), actor=actor)
    db.session.commit()
    return period


def lock_period(actor: Any, period: ScorecardPeriod) -> ScorecardPeriod:
    """Final: the period and its figures and results never change again."""
    _require("manage", actor)
    _editable(period)
    if period.status != "reviewed":
        raise ServiceError(_("考核结果复核后才能锁定"))
    period.status = "locked"
    period.locked_at, period.locked_by_id = utcnow(), actor.id
    audit.record(P + "locked", target=("scorecards_period", period.id), actor=actor)
    db.session.commit()
    return period


def correct_period(actor: Any, period: ScorecardPeriod, reason: str) -> ScorecardPeriod:
    """A locked period is corrected by a NEW revision: its figures copied, open for entry, the old one kept as it
    was (superseded). The reason is required and audited."""
    _require("manage", actor)
    reason = (reason or "").strip()
    if not reason:
        raise FormErrors({"reason": _("请填写更正原因")})
    if not period.locked or period.superseded:
        raise ServiceError(_("只能更正已锁定且未被取代的考核期"))
    revision = db.session.execute(select(func.max(ScorecardPeriod.revision)).where(
        ScorecardPeriod.branch_id == period.branch_id, ScorecardPeriod.kind == period.kind,
        ScorecardPeriod.starts_on == period.starts_on)).scalar_one() + 1
    new = ScorecardPeriod(branch_id=period.branch_id, kind=period.kind, starts_on=period.starts_on,
                          ends_on=period.ends_on, revision=revision, supersedes_id=period.id, status="open",
                          correction_reason=reason[:500], created_by_id=actor.id)
    db.session.add(new)
    db.session.flush()
    # The old period row is locked: only its `superseded` flag moves (an UPDATE that touches nothing else).
    db.session.execute(update(ScorecardPeriod).where(ScorecardPeriod.id == period.id)
                       .values(superseded=True, version=ScorecardPeriod.version + 1))
    cols = ScorecardActual.__table__.c
    db.session.execute(insert(ScorecardActual).from_select(
        ["period_id", "subject", "subject_id", "user_id", "outlet_id", "branch_id", "code", "value", "source",
         "updated_by_id", "updated_at"],
        select(db.literal(new.id), cols.subject, cols.subject_id, cols.user_id, cols.outlet_id, cols.branch_id,
               cols.code, cols.value, cols.source, cols.updated_by_id, cols.updated_at)
        .where(cols.period_id == period.id)))
    from plugins.scorecards.models_rewards import ScorecardPool

    pools = ScorecardPool.__table__.c  # the pay pools entered for the period travel with the correction too
    db.session.execute(insert(ScorecardPool).from_select(
        ["period_id", "outlet_id", "kind", "amount", "data", "updated_by_id", "updated_at"],
        select(db.literal(new.id), pools.outlet_id, pools.kind, pools.amount, pools.data, pools.updated_by_id,
               pools.updated_at).where(pools.period_id == period.id)))
    audit.record(P + "corrected", target=("scorecards_period", new.id), actor=actor,
                 detail={"supersedes": period.id, "reason": reason[:500]})
    db.session.commit()
    db.session.expire(period)
    return new


def period_status_label(period: ScorecardPeriod) -> str:
    from plugins.scorecards.models import PERIOD_STATUSES

    return str(PERIOD_STATUSES.get(period.status, period.status))


# ---------------------------------------------------------------- reading results

def results_query(user: Any, period: ScorecardPeriod, scheme_id: int | None = None):
    stmt = select(ScorecardResult).where(ScorecardResult.period_id == period.id,
                                         scope_filter(ScorecardResult, user))
    if scheme_id is not None:
        stmt = stmt.where(ScorecardResult.scheme_id == scheme_id)
    return stmt


def subject_names(rows: Iterable[ScorecardResult]) -> dict[tuple[str, int], str]:
    rows = list(rows)
    users = {r.subject_id for r in rows if r.subject == "staff"}
    outlets = {r.subject_id for r in rows if r.subject == "outlet"} | {r.outlet_id for r in rows if r.outlet_id}
    out: dict[tuple[str, int], str] = {}
    if users:
        out.update({("staff", i): n for i, n in db.session.execute(
            select(User.id, User.name).where(User.id.in_(users)))})
    if outlets:
        out.update({("outlet", i): n for i, n in db.session.execute(
            select(Outlet.id, Outlet.name).where(Outlet.id.in_(outlets)))})
    return out


@dataclass(frozen=True)
class Standing:
    period: ScorecardPeriod
    scheme: ScorecardScheme
    total: Decimal | None
    rank: int | None
    of: int
    action: str
    missing: list[str]


def standings_of(user: Any, *, limit: int = 3) -> list[Standing]:
    """The user's own results in the latest periods of their 分行 (for the dashboard): rank among everyone the
    scheme assessed — a count only, no one else's figures."""
    rows = db.session.execute(
        select(ScorecardResult, ScorecardPeriod).join(ScorecardPeriod, ScorecardPeriod.id == ScorecardResult.period_id)
        .where(ScorecardResult.subject == "staff", ScorecardResult.subject_id == user.id,
               ScorecardPeriod.superseded.is_(False))
        .order_by(ScorecardPeriod.starts_on.desc(), ScorecardResult.id).limit(limit)).all()
    out = []
    for result, period in rows:
        of = (period.summary or {}).get(str(result.scheme_id), {}).get("scored", 0)
        out.append(Standing(period, result.scheme, result.total, result.rank, of, result.action, result.missing))
    return out
