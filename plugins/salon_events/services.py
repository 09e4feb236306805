"""salon_events services: campaigns, rounds (R-30/R-31), study-tour routes (R-29), invitations, registrations
(S-15, T-11), check-in, the steps of the day (R-30/R-32, T-12), photos, outcomes and results. No request object.

Every write checks permission and scope first, validates everything, then writes and commits once. Seats are
taken by a guarded UPDATE (``seats_taken < capacity``), never by check-then-insert: two registrations for the
last seat give exactly one registered and one wait-listed (T-10's capacity under concurrency)."""

from __future__ import annotations

import hashlib
import math
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, delete, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from crm import audit
from crm.access import can, scoped
from crm.errors import FormErrors, ServiceError  # noqa: F401 - raised here, caught by the views
from crm.extensions import db
from crm.models import Customer, FamilyMember, Outlet, User
from crm.models.customers import SCHOOL_GRADES
from crm.timeutil import local_to_utc, to_local, today_local, utcnow
from crm.validators import ValidationError, parse_amount
from plugins.salon_events.models import (
    CLOSING_RESULTS,
    KINDS,
    SalonCampaign,
    SalonCampaignOutlet,
    SalonCertificate,
    SalonInvitation,
    SalonPhoto,
    SalonRegistration,
    SalonRoute,
    SalonSession,
    SalonSessionStep,
)

# R-30 / T-10: a kids round takes at most 10 children and lasts at most 3 hours.
KIDS_MAX_CHILDREN = 10
KIDS_MAX_MINUTES = 180
# S-15 / T-11: children aged 1–15 (inclusive) for 宝贝银行家; study tours 小六至高三 by school grade.
KIDS_MIN_AGE, KIDS_MAX_AGE = 1, 15
TOUR_GRADES = ("p6", "m1", "m2", "m3", "h1", "h2", "h3")
GRADE_ORDER = list(SCHOOL_GRADES)
# R-31 (3): a product seminar is held in the evening; before this hour the page warns (T-12: 19:00 ok, 10:00 warns).
EVENING_FROM = time(18, 0)
ROUND_KINDS = ("kids", "salon", "seminar", "lecture")  # campaigns run in outlet rounds; study tours use routes

# the five steps of the intern day; R-32: the six steps of a seminar/salon.
# The steps of the day, in order, each with what it means (R-30 five steps of the intern day; R-32 six steps of a
# product seminar). Names and hints are translatable; a logged step is stored by its number, never by its name.
KIDS_STEP_TEXTS = (
    (_l("开场欢迎"), _l("大堂经理介绍活动并欢迎，支行行长致简短欢迎词")),
    (_l("参观讲解"), _l("参观业务办理区、自助区、大堂经理区，讲解开卡、存取款与密码安全")),
    (_l("互动体验"), _l("识别假币、玩具价格竞猜、理财经理分享储蓄小秘诀")),
    (_l("颁发证书与合影"), _l("支行行长提前签好实习证明，现场颁发；为每组亲子拍照")),
    (_l("营销引导"), _l("展示儿童卡样卡与办理流程，引导开卡，宣布活动结束")),
)
SEMINAR_STEP_TEXTS = (
    (_l("客户市场细化"), _l("筛选网点长期客户，尤其是贷款客户")),
    (_l("前期拜访宣导"), _l("上门或电话拜访，宣导活动")),
    (_l("预约客户"), _l("确认到场人数与时间")),
    (_l("集中开会"), _l("产品说明会现场")),
    (_l("一对一促成"), _l("会后一对一沟通促成")),
    (_l("后期跟踪"), _l("对未成交客户持续跟进")),
)


def _step_texts(kind: str) -> tuple[tuple[Any, Any], ...]:
    return KIDS_STEP_TEXTS if kind == "kids" else SEMINAR_STEP_TEXTS if kind in ROUND_KINDS else ()


def steps_of(kind: str) -> tuple[str, ...]:
    """The names of the campaign kind's steps, in order, in the user's language."""
    return tuple(str(name) for name, _hint in _step_texts(kind))


def step_hints(kind: str) -> dict[str, str]:
    """Step name → what it means, for the step list."""
    return {str(name): str(hint) for name, hint in _step_texts(kind)}


def _require(permission: str, actor: Any) -> None:
    if not can(permission, actor):
        raise ServiceError(_("您的岗位没有此项权限"))


def _text(raw: dict[str, Any], key: str, limit: int) -> str | None:
    value = unicodedata.normalize("NFKC", str(raw.get(key) or "")).strip()
    return value[:limit] or None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None


def _datetime(day: Any, clock: Any) -> datetime | None:
    d = _date(day)
    try:
        t = time.fromisoformat(str(clock or "").strip())
    except ValueError:
        return None
    return datetime.combine(d, t) if d else None


def now_local() -> datetime:
    """The bank's wall-clock time, naive (rounds are planned and stored in local time)."""
    return to_local(utcnow()).replace(tzinfo=None)


# ---------------------------------------------------------------- campaigns

def branch_outlets(branch_id: int) -> list[Outlet]:
    """Active outlets of a 分行 (the choices of participating outlets)."""
    return list(db.session.execute(select(Outlet).where(
        Outlet.root_branch_id == branch_id, Outlet.active.is_(True)).order_by(Outlet.code)).scalars())


def _campaign_values(raw: dict[str, Any], branch_id: int) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "name": _text(raw, "name", 100), "kind": raw.get("kind") or "", "audience": _text(raw, "audience", 200),
        "goal": _text(raw, "goal", 500), "core_products": _text(raw, "core_products", 300),
        "partner": _text(raw, "partner", 100), "code": (_text(raw, "code", 20) or "").upper(),
    }
    if not values["name"]:
        errors["name"] = _("请填写活动名称")
    if values["kind"] not in KINDS:
        errors["kind"] = _("请选择活动类型")
    if not values["code"] or not values["code"].replace("-", "").isalnum() or not values["code"].isascii():
        errors["code"] = _("活动代码只能由字母、数字组成，用于证书编号，如 BBYH")
    year = _int(raw.get("year"))
    if year is None or not 2000 <= year <= 2100:
        errors["year"] = _("请填写活动年度，如 2026")
    values["year"] = year
    values["starts_on"], values["ends_on"] = _date(raw.get("starts_on")), _date(raw.get("ends_on"))
    if raw.get("starts_on") and values["starts_on"] is None:
        errors["starts_on"] = _("开始日期格式不正确")
    if raw.get("ends_on") and values["ends_on"] is None:
        errors["ends_on"] = _("结束日期格式不正确")
    if values["starts_on"] and values["ends_on"] and values["ends_on"] < values["starts_on"]:
        errors["ends_on"] = _("结束日期不能早于开始日期")
    cap = (str(raw.get("premium_cap") or "")).strip()
    values["premium_cap"] = None
    if cap:
        try:
            values["premium_cap"] = parse_amount(cap, min_value=Decimal("0.01"))
        except ValidationError as exc:
            errors["premium_cap"] = _("单户预约保费上限：%(msg)s", msg=exc.message)
    allowed = {o.id for o in branch_outlets(branch_id)}
    chosen = []
    for v in raw.get("outlets") or []:
        oid = _int(v)
        if oid not in allowed:
            errors["outlets"] = _("只能选择本分行的网点")
            break
        chosen.append(oid)
    values["outlets"] = sorted(set(chosen))
    if errors:
        raise FormErrors(errors)
    return values


def create_campaign(actor: Any, raw: dict[str, Any]) -> SalonCampaign:
    """Marketing creates a campaign of their 分行, in draft."""
    _require("salon_events.manage", actor)
    branch_id = actor.root_branch_id if actor.root_branch_id is not None else _int(raw.get("branch"))
    if branch_id is None:
        raise ServiceError(_("请选择分行"))
    values = _campaign_values(raw, branch_id)
    outlets = values.pop("outlets")
    campaign = SalonCampaign(branch_id=branch_id, status="draft", created_by_id=actor.id, **values)
    campaign.outlets = [SalonCampaignOutlet(outlet_id=o) for o in outlets]
    db.session.add(campaign)
    db.session.flush()
    audit.record("salon_events.campaign_created", target=("salon_events_campaign", campaign.id),
                 detail={"name": campaign.name, "kind": campaign.kind}, actor=actor)
    db.session.commit()
    return campaign


def update_campaign(actor: Any, campaign: SalonCampaign, raw: dict[str, Any], version: int | None) -> SalonCampaign:
    _require("salon_events.manage", actor)
    if version is not None and version != campaign.version:
        raise ServiceError(_("该活动已被他人修改，请刷新后重试"))
    values = _campaign_values(raw, campaign.branch_id)
    outlets = values.pop("outlets")
    if values["kind"] != campaign.kind and _has_rows(campaign.id):
        raise FormErrors({"kind": _("活动已有场次或报名，不能再修改类型")})
    removed = {o.outlet_id for o in campaign.outlets} - set(outlets)
    if removed and db.session.execute(select(SalonSession.id).where(
            SalonSession.campaign_id == campaign.id, SalonSession.outlet_id.in_(removed)).limit(1)).first():
        raise FormErrors({"outlets": _("已安排场次的网点不能移出活动")})
    for key, value in values.items():
        setattr(campaign, key, value)
    campaign.outlets = [o for o in campaign.outlets if o.outlet_id in outlets] + [
        SalonCampaignOutlet(outlet_id=o) for o in outlets if o not in {x.outlet_id for x in campaign.outlets}]
    audit.record("salon_events.campaign_updated", target=("salon_events_campaign", campaign.id), actor=actor)
    db.session.commit()
    return campaign


def _has_rows(campaign_id: int) -> bool:
    return db.session.execute(select(or_(
        select(SalonSession.id).where(SalonSession.campaign_id == campaign_id).exists(),
        select(SalonRoute.id).where(SalonRoute.campaign_id == campaign_id).exists()))).scalar()


NEXT_STATUS = {"draft": "open", "open": "closed"}


def advance_status(actor: Any, campaign: SalonCampaign, target: str) -> None:
    """draft → open → closed, one way. Closing a campaign closes its rounds (no new registrations)."""
    _require("salon_events.manage", actor)
    if NEXT_STATUS.get(campaign.status) != target:
        raise ServiceError(_("活动状态只能按 草稿 → 进行中 → 已结束 依次推进"))
    if target == "open" and not campaign.outlets:
        raise ServiceError(_("请先选择参与网点，再开始活动"))
    old = campaign.status
    campaign.status = target
    if target == "closed":
        db.session.execute(update(SalonSession).where(SalonSession.campaign_id == campaign.id)
                           .values(status="closed").execution_options(synchronize_session=False))
    audit.record("salon_events.campaign_status", target=("salon_events_campaign", campaign.id),
                 detail={"from": old, "to": target}, actor=actor)
    db.session.commit()


def campaigns(actor: Any, status: str = "") -> list[SalonCampaign]:
    stmt = scoped(SalonCampaign, actor).order_by(SalonCampaign.id.desc())
    if status:
        stmt = stmt.where(SalonCampaign.status == status)
    return list(db.session.execute(stmt.limit(200)).scalars())


def outlets_in_scope(actor: Any, campaign: SalonCampaign) -> list[Outlet]:
    """Participating outlets the actor may schedule for."""
    return list(db.session.execute(scoped(Outlet, actor).join(
        SalonCampaignOutlet, and_(SalonCampaignOutlet.outlet_id == Outlet.id,
                                  SalonCampaignOutlet.campaign_id == campaign.id)).order_by(Outlet.code)).scalars())


# ---------------------------------------------------------------- rounds

@dataclass
class RoundCheck:
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def check_round(campaign: SalonCampaign, outlet: Outlet | None, starts_at: datetime | None,
                ends_at: datetime | None, capacity: int | None, check_past: bool = True) -> RoundCheck:
    """The rules of a round. Errors block; warnings are shown and the round is saved anyway.

    T-10: a kids round with 11 children is rejected; 09:00–12:30 (210 min) is rejected, 09:00–12:00 accepted; only
    outlets with reception conditions host. T-12: a seminar at 19:00 is fine, at 10:00 it warns (R-31 evening)."""
    chk = RoundCheck()
    if campaign.kind not in ROUND_KINDS:
        chk.errors["campaign"] = _("游学活动按线路报名，不安排网点场次")
        return chk
    if outlet is None:
        chk.errors["outlet"] = _("请选择参与本活动的网点")
    if starts_at is None or ends_at is None:
        chk.errors["time"] = _("请填写场次日期和起止时间")
    elif ends_at <= starts_at:
        chk.errors["time"] = _("结束时间必须晚于开始时间")
    if capacity is None or capacity < 1:
        chk.errors["capacity"] = _("请填写每场名额（至少1人）")
    if campaign.kind == "kids":
        if outlet is not None and not outlet.has_reception_conditions:
            chk.errors["outlet"] = _("%(outlet)s 未登记具备接待条件，不能承办宝贝银行家活动", outlet=outlet.name)
        if capacity is not None and capacity > KIDS_MAX_CHILDREN:
            chk.errors["capacity"] = _("宝贝银行家每场最多 %(n)s 名儿童，请拆分为多场", n=KIDS_MAX_CHILDREN)
        if starts_at and ends_at and ends_at > starts_at:
            minutes = int((ends_at - starts_at).total_seconds() // 60)
            if minutes > KIDS_MAX_MINUTES:
                chk.errors["time"] = _("每场不超过3小时：本场 %(m)s 分钟，超出 %(x)s 分钟",
                                       m=minutes, x=minutes - KIDS_MAX_MINUTES)
    elif starts_at is not None and campaign.kind in ("seminar", "salon", "lecture") and starts_at.time() < EVENING_FROM:
        chk.warnings.append(_("产说会/沙龙宜安排在晚上（%(t)s 开始不是晚间），请确认客户方便到场",
                              t=starts_at.strftime("%H:%M")))
    if check_past and starts_at is not None and starts_at < now_local():
        chk.errors.setdefault("time", _("场次开始时间已过"))
    return chk


# The staff roles of a round (R-30: 大堂经理 hosts the day, the RM and the wealth manager present, the 支行行长 or
# 零售主管行长 of the outlet's 支行 welcomes and signs). Each dropdown offers only these posts; the server checks again.
STAFF_ROLES: dict[str, tuple[str, ...]] = {
    "lobby_manager_id": ("lobby_manager",),
    "rm_id": ("corporate_rm", "personal_rm"),
    "president_id": ("sub_branch_president", "retail_vp"),
    "wealth_manager_id": ("wealth_manager",),
}
OUTLET_ROLE_POSTS = tuple(p for k, posts in STAFF_ROLES.items() if k != "president_id" for p in posts)


def staff_choices(outlet: Outlet | None) -> dict[str, list[User]]:
    """Who may fill each staff role of a round at `outlet` (one query): active staff of the outlet in the role's
    posts, and the 支行行长/零售主管行长 of the outlet's 支行. The outlet itself was read through the actor's scope."""
    choices: dict[str, list[User]] = {key: [] for key in STAFF_ROLES}
    if outlet is None:
        return choices
    users = db.session.execute(select(User).where(User.active.is_(True), or_(
        and_(User.outlet_id == outlet.id, User.post.in_(OUTLET_ROLE_POSTS)),
        and_(User.outlet_id.is_(None), User.branch_id == outlet.branch_id,
             User.post.in_(STAFF_ROLES["president_id"])))).order_by(User.name, User.id)).scalars()
    for u in users:
        for key, posts in STAFF_ROLES.items():
            if u.post in posts:
                choices[key].append(u)
    return choices


def _staff_values(outlet: Outlet | None, raw: dict[str, Any], errors: dict[str, str]) -> dict[str, int | None]:
    """The four staff ids of the form, each checked against the role's choices (a forged id is refused)."""
    choices = staff_choices(outlet)
    staff: dict[str, int | None] = {}
    for key in STAFF_ROLES:
        uid = _int(raw.get(key))
        staff[key] = uid
        if uid is None or outlet is None or uid in {u.id for u in choices[key]}:
            continue
        if key == "president_id":
            errors[key] = _("支行行长一栏只能选择%(b)s的支行行长或零售主管行长", b=outlet.branch.name)
        elif key == "rm_id":
            errors[key] = _("客户经理一栏只能选择%(o)s在岗的法人或个人客户经理", o=outlet.name)
        elif key == "lobby_manager_id":
            errors[key] = _("大堂经理一栏只能选择%(o)s在岗的大堂经理", o=outlet.name)
        else:
            errors[key] = _("理财经理一栏只能选择%(o)s在岗的理财经理", o=outlet.name)
    return staff


def _round_values(actor: Any, campaign: SalonCampaign, raw: dict[str, Any]) -> tuple[dict[str, Any], RoundCheck]:
    outlet_id = _int(raw.get("outlet_id"))
    outlet = next((o for o in outlets_in_scope(actor, campaign) if o.id == outlet_id), None)
    starts_at = _datetime(raw.get("day"), raw.get("start"))
    ends_at = _datetime(raw.get("day"), raw.get("end"))
    capacity = _int(raw.get("capacity"))
    chk = check_round(campaign, outlet, starts_at, ends_at, capacity)
    staff = _staff_values(outlet, raw, chk.errors)
    values = dict(outlet_id=outlet.id if outlet else None, starts_at=starts_at, ends_at=ends_at, capacity=capacity,
                  partner_teacher=_text(raw, "partner_teacher", 100), note=_text(raw, "note", 300), **staff)
    return values, chk


def create_round(actor: Any, campaign: SalonCampaign, raw: dict[str, Any]) -> tuple[SalonSession, list[str]]:
    """An outlet schedules a round. Returns the round and the warnings to show."""
    _require("salon_events.run", actor)
    if campaign.status == "closed":
        raise ServiceError(_("活动已结束，不能再安排场次"))
    values, chk = _round_values(actor, campaign, raw)
    if chk.errors:
        raise FormErrors(chk.errors)
    session = SalonSession(campaign_id=campaign.id, status="open", created_by_id=actor.id, **values)
    db.session.add(session)
    db.session.flush()
    audit.record("salon_events.round_created", target=("salon_events_session", session.id),
                 detail={"campaign": campaign.id, "outlet": session.outlet_id, "capacity": session.capacity},
                 actor=actor)
    db.session.commit()
    return session, chk.warnings


def split_sizes(total: int, per_round: int = KIDS_MAX_CHILDREN) -> list[int]:
    """按人数拆分场次 (R-30 "run several rounds"): T-10 23 children → [10, 10, 3]."""
    if total < 1:
        return []
    rounds = math.ceil(total / per_round)
    return [per_round] * (rounds - 1) + [total - per_round * (rounds - 1)]


def split_rounds(actor: Any, campaign: SalonCampaign, raw: dict[str, Any]) -> tuple[list[SalonSession], list[str]]:
    """Create as many rounds as `total` children need (≤10 each): the first at day/start–end, the next ones
    `gap_days` days later each (0: the same day, one after another with `gap_minutes` between them)."""
    _require("salon_events.run", actor)
    if campaign.status == "closed":
        raise ServiceError(_("活动已结束，不能再安排场次"))
    total = _int(raw.get("total"))
    if total is None or total < 1:
        raise FormErrors({"total": _("请填写参加的儿童总人数")})
    if total > 200:
        raise FormErrors({"total": _("一次最多拆分200人")})
    per_round = KIDS_MAX_CHILDREN if campaign.kind == "kids" else (_int(raw.get("capacity")) or 30)
    sizes = split_sizes(total, per_round)
    gap_days = _int(raw.get("gap_days"))
    gap_days = 1 if gap_days is None else max(gap_days, 0)
    gap_minutes = max(_int(raw.get("gap_minutes")) or 0, 0)
    plans, warnings = [], []
    values, chk = _round_values(actor, campaign, {**raw, "capacity": sizes[0]})
    if chk.errors:
        raise FormErrors(chk.errors)
    length = values["ends_at"] - values["starts_at"]
    for i, size in enumerate(sizes):
        shift = timedelta(days=gap_days * i) if gap_days else (length + timedelta(minutes=gap_minutes)) * i
        start = values["starts_at"] + shift
        end = start + length
        outlet = db.session.get(Outlet, values["outlet_id"])
        c = check_round(campaign, outlet, start, end, size)
        if c.errors:
            raise FormErrors({k: _("第%(i)s场：%(msg)s", i=i + 1, msg=v) for k, v in c.errors.items()})
        warnings += [w for w in c.warnings if w not in warnings]
        plans.append({**values, "starts_at": start, "ends_at": end, "capacity": size})
    rows = [SalonSession(campaign_id=campaign.id, status="open", created_by_id=actor.id, **p) for p in plans]
    db.session.add_all(rows)
    db.session.flush()
    audit.record("salon_events.rounds_split", target=("salon_events_campaign", campaign.id),
                 detail={"total": total, "sizes": sizes, "outlet": values["outlet_id"]}, actor=actor)
    db.session.commit()
    return rows, warnings


def set_round_status(actor: Any, session: SalonSession, status: str) -> None:
    """Close a round (no new registrations) or reopen it while the campaign is open and the round not over."""
    _require("salon_events.run", actor)
    if status not in ("open", "closed"):
        raise ServiceError(_("无效的场次状态"))
    if status == session.status:
        raise ServiceError(_("场次已是“%(s)s”状态", s=session.status_label))
    if status == "open" and session.campaign.status == "closed":
        raise ServiceError(_("活动已结束，场次不能重新开放"))
    if status == "open" and session.ends_at < now_local():
        raise ServiceError(_("场次已结束，不能重新开放报名"))
    session.status = status
    audit.record("salon_events.round_" + status, target=("salon_events_session", session.id), actor=actor)
    db.session.commit()


# The fields a round edit changes; round_version() digests them for the edit form's optimistic lock.
EDIT_FIELDS = ("starts_at", "ends_at", "capacity", "lobby_manager_id", "rm_id", "president_id", "wealth_manager_id",
               "partner_teacher", "note")


def round_version(session: SalonSession) -> str:
    """The round's edit token: a digest of its editable fields. The round table has no version column, so the edit
    compares this token (stale form → refused) and then writes with an UPDATE guarded on every value it read."""
    return hashlib.sha256(repr([getattr(session, f) for f in EDIT_FIELDS]).encode()).hexdigest()[:16]


def round_started(session_id: int) -> bool:
    """Check-in or steps of the day already logged."""
    return bool(db.session.execute(select(or_(
        select(SalonRegistration.id).where(SalonRegistration.session_id == session_id,
                                           SalonRegistration.attended.is_(True)).exists(),
        select(SalonSessionStep.id).where(SalonSessionStep.session_id == session_id).exists()))).scalar())


@dataclass
class RoundEdit:
    changes: dict[str, list[Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    promoted: int = 0


def update_round(actor: Any, session: SalonSession, raw: dict[str, Any], version: str | None) -> RoundEdit:
    """Edit a round's time, capacity, staff, partner teacher and note with the rules of creation (R-30 ≤10 children,
    ≤180 minutes, reception conditions; R-31 evening warning). The capacity never goes below the registered count;
    raised capacity seats the wait-list in order. Optimistic lock: a stale form or a change in between is refused."""
    _require("salon_events.run", actor)
    campaign = session.campaign
    if campaign.status == "closed":
        raise ServiceError(_("活动已结束，场次不能再修改"))
    if not version or version != round_version(session):
        raise ServiceError(_("该场次已被他人修改，请刷新后重试"))
    outlet = session.outlet
    starts_at = _datetime(raw.get("day"), raw.get("start"))
    ends_at = _datetime(raw.get("day"), raw.get("end"))
    capacity = _int(raw.get("capacity"))
    time_changed = (starts_at, ends_at) != (session.starts_at, session.ends_at)
    # A round already under way may still get its staff or teacher corrected: the "start has passed" rule applies
    # only to a new time.
    chk = check_round(campaign, outlet, starts_at, ends_at, capacity, check_past=time_changed)
    if time_changed and "time" not in chk.errors and round_started(session.id):
        chk.errors["time"] = _("本场已开始签到或登记流程，不能再修改时间")
    registered = session.seats_taken
    if capacity is not None and "capacity" not in chk.errors and capacity < registered:
        chk.errors["capacity"] = _("本场已有 %(n)s 人报名，名额不能少于 %(n)s；如需减少，请先取消部分报名",
                                   n=registered)
    staff = _staff_values(outlet, raw, chk.errors)
    ages: dict[int, int] = {}
    if time_changed and starts_at is not None and "time" not in chk.errors:
        ages = _ages_on_new_day(session, starts_at, chk)
    if chk.errors:
        raise FormErrors(chk.errors)
    new = dict(starts_at=starts_at, ends_at=ends_at, capacity=capacity, partner_teacher=_text(raw, "partner_teacher",
               100), note=_text(raw, "note", 300), **staff)
    old = {f: getattr(session, f) for f in EDIT_FIELDS}
    result = RoundEdit(warnings=chk.warnings)
    result.changes = {f: [_plain(old[f]), _plain(new[f])] for f in EDIT_FIELDS if old[f] != new[f]}
    if not result.changes:
        return result
    sid = session.id
    audit_actor = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor
    db.session.commit()  # end the read transaction: the guarded write starts its own (SQLite WAL)
    guard = [SalonSession.id == sid, SalonSession.seats_taken <= capacity]
    for f in EDIT_FIELDS:
        column = getattr(SalonSession, f)
        guard.append(column.is_(None) if old[f] is None else column == old[f])
    n = db.session.execute(update(SalonSession).where(*guard).values(**new)
                           .execution_options(synchronize_session=False)).rowcount
    if n != 1:
        db.session.rollback()
        taken = db.session.execute(select(SalonSession.seats_taken).where(SalonSession.id == sid)).scalar()
        if taken is not None and taken > capacity:
            raise FormErrors({"capacity": _("本场已有 %(n)s 人报名，名额不能少于 %(n)s；如需减少，请先取消部分报名",
                                            n=taken)})
        raise ServiceError(_("该场次已被他人修改，请刷新后重试"))
    if capacity > old["capacity"]:
        # More seats: the wait-list moves up in registration order (the round row is locked by the UPDATE above).
        taken = db.session.execute(select(SalonSession.seats_taken).where(SalonSession.id == sid)).scalar()
        waiting = list(db.session.execute(select(SalonRegistration).where(
            SalonRegistration.session_id == sid, SalonRegistration.status == "waitlisted")
            .order_by(SalonRegistration.id).limit(max(capacity - taken, 0))).scalars())
        for reg in waiting:
            reg.status = "registered"
        if waiting:
            db.session.execute(update(SalonSession).where(SalonSession.id == sid)
                               .values(seats_taken=SalonSession.seats_taken + len(waiting))
                               .execution_options(synchronize_session=False))
        result.promoted = len(waiting)
    for reg_id, age in ages.items():  # ages follow the new date (S-15), as the registration form computed them
        db.session.execute(update(SalonRegistration).where(SalonRegistration.id == reg_id).values(child_age=age)
                           .execution_options(synchronize_session=False))
    if ages:
        result.changes["child_age"] = [None, len(ages)]
    audit.record("salon_events.round_updated", target=("salon_events_session", sid),
                 detail={"changes": result.changes, "promoted": result.promoted}, actor=audit_actor)
    db.session.commit()
    return result


def _ages_on_new_day(session: SalonSession, starts_at: datetime, chk: Any) -> dict[int, int]:
    """A kids round moved to another day: the children's ages are those on the new day (S-15, T-11). A child whose
    birthday is on file and who would be outside 1–15 then refuses the move (naming the child); the others' ages
    are returned to be stored. Also warns when the 支行行长's signature, recorded before the old start, is not
    before the new one (T-10: certificates of the round could not be printed until it is recorded again)."""
    from plugins.salon_events.certificates import campaign_signatures, signature_for

    if session.campaign.kind != "kids":
        return {}
    rows = db.session.execute(
        select(SalonRegistration.id, SalonRegistration.child_name, SalonRegistration.child_age, FamilyMember)
        .join(FamilyMember, FamilyMember.id == SalonRegistration.family_member_id)
        .where(SalonRegistration.session_id == session.id, SalonRegistration.status.in_(("registered", "waitlisted")),
               FamilyMember.birthday.is_not(None))).all()
    ages: dict[int, int] = {}
    out: list[str] = []
    for reg_id, name, old_age, member in rows:
        age = member.age_on(starts_at.date())
        if age is None:
            continue
        if not KIDS_MIN_AGE <= age <= KIDS_MAX_AGE:
            out.append(_("%(name)s（%(age)s岁）", name=name, age=age))
        elif age != old_age:
            ages[reg_id] = age
    if out:
        chk.errors["time"] = _("改到 %(day)s 后，%(names)s 不符合宝贝银行家1至15岁的要求；请另选日期，或先取消其报名",
                               day=starts_at.date().isoformat(), names="、".join(out))
    signatures = campaign_signatures(session.campaign_id)
    if signature_for(session, signatures) is not None:
        moved = SimpleNamespace(outlet=session.outlet, starts_at=starts_at)  # the round as it would be
        if signature_for(moved, signatures) is None:  # type: ignore[arg-type]
            chk.warnings.append(_("支行行长签名登记于新的开始时间之后：打印本场实习证明前，须在开场前重新登记签名（T-10）"))
    return ages


def _plain(value: Any) -> Any:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else value


def round_delete_blocker(session_id: int) -> str | None:
    """Why a round cannot be deleted (registrations of any status, steps or photos), or None."""
    n = db.session.execute(select(func.count()).where(SalonRegistration.session_id == session_id)).scalar()
    if n:
        return _("本场已有 %(n)s 条报名记录，不能删除；如不再举办，请“截止报名”", n=n)
    if db.session.execute(select(or_(
            select(SalonSessionStep.id).where(SalonSessionStep.session_id == session_id).exists(),
            select(SalonPhoto.id).where(SalonPhoto.session_id == session_id).exists()))).scalar():
        return _("本场已有流程登记或照片，不能删除；如不再举办，请“截止报名”")
    return None


def delete_round(actor: Any, session: SalonSession) -> None:
    """Delete a round that nobody registered for (otherwise refused: close it instead). The round row is locked
    first and the DELETE is guarded, so a registration arriving meanwhile keeps the round."""
    _require("salon_events.run", actor)
    blocker = round_delete_blocker(session.id)
    if blocker:
        raise ServiceError(blocker)
    sid, campaign_id = session.id, session.campaign_id
    detail = {"campaign": campaign_id, "outlet": session.outlet_id, "starts_at": _plain(session.starts_at),
              "capacity": session.capacity}
    audit_actor = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor
    db.session.commit()
    db.session.execute(select(SalonSession.id).where(SalonSession.id == sid).with_for_update())
    n = db.session.execute(delete(SalonSession).where(
        SalonSession.id == sid,
        ~select(SalonRegistration.id).where(SalonRegistration.session_id == sid).exists(),
        ~select(SalonSessionStep.id).where(SalonSessionStep.session_id == sid).exists(),
        ~select(SalonPhoto.id).where(SalonPhoto.session_id == sid).exists())
        .execution_options(synchronize_session=False)).rowcount
    if n != 1:
        db.session.rollback()
        raise ServiceError(round_delete_blocker(sid) or _("该场次已被他人修改，请刷新后重试"))
    audit.record("salon_events.round_deleted", target=("salon_events_session", sid), detail=detail,
                 actor=audit_actor)
    db.session.commit()


def rounds(actor: Any, campaign_id: int | None = None, upcoming: bool = False, limit: int = 200) -> list[Any]:
    """Rounds in scope with their registered/wait-listed/attended counts (one grouped query)."""
    counts = (select(SalonRegistration.session_id,
                     func.sum(case((SalonRegistration.status == "registered", 1), else_=0)).label("registered"),
                     func.sum(case((SalonRegistration.status == "waitlisted", 1), else_=0)).label("waitlisted"),
                     func.sum(case((SalonRegistration.attended.is_(True), 1), else_=0)).label("attended"))
              .where(SalonRegistration.session_id.is_not(None)).group_by(SalonRegistration.session_id).subquery())
    stmt = (scoped(SalonSession, actor)
            .add_columns(func.coalesce(counts.c.registered, 0), func.coalesce(counts.c.waitlisted, 0),
                         func.coalesce(counts.c.attended, 0))
            .outerjoin(counts, counts.c.session_id == SalonSession.id)
            .options(selectinload(SalonSession.campaign), selectinload(SalonSession.outlet)))
    if campaign_id is not None:
        stmt = stmt.where(SalonSession.campaign_id == campaign_id).order_by(SalonSession.starts_at)
    if upcoming:
        stmt = stmt.where(SalonSession.ends_at >= now_local()).order_by(SalonSession.starts_at)
    return list(db.session.execute(stmt.limit(limit)).all())


# ---------------------------------------------------------------- study-tour routes (R-29, T-09)

def _route_values(raw: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"name": _text(raw, "name", 100), "departure_city": _text(raw, "departure_city", 50),
                              "hotline": _text(raw, "hotline", 100)}
    if not values["name"]:
        errors["name"] = _("请填写线路名称")
    for key, label in (("market_price", _("市场价")), ("member_price", _("会员专享价"))):
        try:
            values[key] = parse_amount(str(raw.get(key) or ""), min_value=Decimal("0"))
        except ValidationError as exc:
            errors[key] = f"{label}：{exc.message}"
    if "market_price" in values and "member_price" in values and values["member_price"] > values["market_price"]:
        errors["member_price"] = _("会员专享价不能高于市场价")
    for key, label in (("depart_on", _("出发日期")), ("return_on", _("返回日期")), ("deadline", _("报名截止日期"))):
        values[key] = _date(raw.get(key))
        if values[key] is None:
            errors[key] = _("请填写%(label)s", label=label)
    if values["depart_on"] and values["return_on"] and values["return_on"] < values["depart_on"]:
        errors["return_on"] = _("返回日期不能早于出发日期")
    if values["depart_on"] and values["deadline"] and values["deadline"] > values["depart_on"]:
        errors["deadline"] = _("报名截止日期不能晚于出发日期")
    values["group_size"] = _int(raw.get("group_size"))
    if values["group_size"] is None or values["group_size"] < 1:
        errors["group_size"] = _("请填写成团人数")
    g_from, g_to = raw.get("grade_from") or "p6", raw.get("grade_to") or "h3"
    if g_from not in TOUR_GRADES or g_to not in TOUR_GRADES or TOUR_GRADES.index(g_from) > TOUR_GRADES.index(g_to):
        errors["grade_from"] = _("适龄年级须在小学六年级至高三之间")
    values["grade_from"], values["grade_to"] = g_from, g_to
    if errors:
        raise FormErrors(errors)
    return values


def save_route(actor: Any, campaign: SalonCampaign, raw: dict[str, Any], route: SalonRoute | None = None) -> SalonRoute:
    _require("salon_events.manage", actor)
    if campaign.kind != "study_tour":
        raise ServiceError(_("只有游学活动才有线路"))
    values = _route_values(raw)
    if route is None:
        position = db.session.execute(select(func.count()).where(SalonRoute.campaign_id == campaign.id)).scalar()
        route = SalonRoute(campaign_id=campaign.id, position=position, seats_taken=0)
        db.session.add(route)
    elif values["group_size"] < route.seats_taken:
        raise FormErrors({"group_size": _("已有 %(n)s 人报名，成团人数不能少于已报名人数", n=route.seats_taken)})
    for key, value in values.items():
        setattr(route, key, value)
    db.session.flush()
    audit.record("salon_events.route_saved", target=("salon_events_route", route.id), actor=actor)
    db.session.commit()
    return route


def routes(actor: Any, campaign_id: int) -> list[Any]:
    """Routes with their wait-list counts."""
    waiting = (select(SalonRegistration.route_id, func.count().label("n"))
               .where(SalonRegistration.status == "waitlisted", SalonRegistration.route_id.is_not(None))
               .group_by(SalonRegistration.route_id).subquery())
    return list(db.session.execute(
        scoped(SalonRoute, actor).add_columns(func.coalesce(waiting.c.n, 0))
        .outerjoin(waiting, waiting.c.route_id == SalonRoute.id)
        .where(SalonRoute.campaign_id == campaign_id).order_by(SalonRoute.position, SalonRoute.id)).all())


def grade_label(code: str | None) -> str:
    return str(SCHOOL_GRADES.get(code or "", code or ""))


# ---------------------------------------------------------------- invitations (R-33 ①)

def _participating(campaign_id: int):
    return select(SalonCampaignOutlet.outlet_id).where(SalonCampaignOutlet.campaign_id == campaign_id)


def search_customers(actor: Any, campaign: SalonCampaign, q: str, limit: int = 20) -> list[Any]:
    """Personal customers in scope, of participating outlets, matching the search box (name, pinyin, phone end)."""
    from crm.customers import search

    cond = search.condition(q)
    if cond is None:
        return []
    stmt = (scoped(Customer, actor).where(cond, Customer.kind == "personal",
                                          Customer.outlet_id.in_(_participating(campaign.id)))
            .order_by(Customer.name_pinyin, Customer.id).limit(limit))
    return list(db.session.execute(stmt).scalars())


def _invite_from(actor: Any, campaign: SalonCampaign, customers: Any, source: str, list_id: int | None,
                 session_id: int | None) -> int:
    """One INSERT … SELECT of the given scoped customer query, skipping those already invited."""
    already = select(SalonInvitation.customer_id).where(SalonInvitation.campaign_id == campaign.id)
    rows = (customers.where(Customer.outlet_id.in_(_participating(campaign.id)), Customer.id.not_in(already))
            .with_only_columns(literal(campaign.id), literal(session_id), Customer.id, Customer.outlet_id,
                               literal(actor.id), literal(utcnow()), literal(source), literal(list_id),
                               literal("invited")))
    count = select(func.count()).select_from(SalonInvitation).where(SalonInvitation.campaign_id == campaign.id)
    before = db.session.execute(count).scalar()
    db.session.execute(insert(SalonInvitation.__table__).from_select(
        ["campaign_id", "session_id", "customer_id", "outlet_id", "invited_by_id", "invited_at", "source",
         "list_id", "status"], rows))
    # Counted, not rowcount: SQLAlchemy reports -1 for an INSERT … SELECT on psycopg.
    return db.session.execute(count).scalar() - before


def _check_can_invite(actor: Any, campaign: SalonCampaign) -> None:
    _require("salon_events.run", actor)
    if campaign.status == "closed":
        raise ServiceError(_("活动已结束，不能再邀约"))


def invite_customers(actor: Any, campaign: SalonCampaign, customer_ids: list[int],
                     session_id: int | None = None) -> int:
    """Invite customers found by search. Only customers in the actor's scope are invited (others are ignored)."""
    _check_can_invite(actor, campaign)
    ids = [i for i in (_int(x) for x in customer_ids) if i is not None][:500]
    if not ids:
        raise ServiceError(_("请选择要邀约的客户"))
    n = _invite_from(actor, campaign, scoped(Customer, actor).where(Customer.id.in_(ids)), "search", None, session_id)
    audit.record("salon_events.invited", target=("salon_events_campaign", campaign.id),
                 detail={"count": n, "source": "search"}, actor=actor)
    db.session.commit()
    return n


def segment_lists(actor: Any) -> list[Any]:
    """Saved segment lists of the actor's 分行, when the segmentation plugin is on for it (else none)."""
    if not can("segmentation.view", actor):
        return []
    from plugins.segmentation.models import SegmentationList

    return list(db.session.execute(select(SegmentationList).where(
        SegmentationList.branch_id == actor.root_branch_id).order_by(SegmentationList.id.desc()).limit(50)).scalars())


def invite_list(actor: Any, campaign: SalonCampaign, list_id: int, session_id: int | None = None) -> int:
    """Invite every customer of a saved segment list that the actor sees (segmentation plugin on)."""
    _check_can_invite(actor, campaign)
    if not can("segmentation.view", actor):
        raise ServiceError(_("本分行未启用客户分层/分群，不能按名单邀约"))
    from plugins.segmentation.services import customers_of_list

    try:
        customers = customers_of_list(list_id, actor)
    except LookupError:
        raise ServiceError(_("找不到该客户名单")) from None
    n = _invite_from(actor, campaign, customers, "list", list_id, session_id)
    audit.record("salon_events.invited", target=("salon_events_campaign", campaign.id),
                 detail={"count": n, "source": "list", "list": list_id}, actor=actor)
    db.session.commit()
    return n


def _live_registration(campaign_id: Any, customer_id: Any):
    return select(SalonRegistration.id).where(SalonRegistration.campaign_id == campaign_id,
                                              SalonRegistration.customer_id == customer_id,
                                              SalonRegistration.status != "cancelled").exists()


def remove_invitation(actor: Any, invitation: SalonInvitation) -> None:
    """Remove an invitation made by mistake — only while the customer has not registered (a cancelled registration
    does not count). Guarded DELETE: a registration arriving meanwhile keeps the invitation."""
    _require("salon_events.run", actor)
    campaign = db.session.get(SalonCampaign, invitation.campaign_id)
    if campaign.status == "closed":
        raise ServiceError(_("活动已结束，邀约记录不能删除"))
    refused = _("该客户已报名本活动，不能删除邀约；如客户不能到场，请先取消报名")
    if db.session.execute(select(_live_registration(campaign.id, invitation.customer_id))).scalar():
        raise ServiceError(refused)
    iid, detail = invitation.id, {"campaign": campaign.id, "customer": invitation.customer_id,
                                  "status": invitation.status}
    audit_actor = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor
    db.session.commit()
    n = db.session.execute(delete(SalonInvitation).where(
        SalonInvitation.id == iid, ~_live_registration(SalonInvitation.campaign_id, SalonInvitation.customer_id))
        .execution_options(synchronize_session=False)).rowcount
    if n != 1:
        db.session.rollback()
        raise ServiceError(refused)
    audit.record("salon_events.invitation_removed", target=("salon_events_invitation", iid), detail=detail,
                 actor=audit_actor)
    db.session.commit()


def set_invitation_status(actor: Any, invitation: SalonInvitation, status: str) -> None:
    _require("salon_events.run", actor)
    if status not in ("invited", "confirmed", "declined"):
        raise ServiceError(_("无效的邀约状态"))
    invitation.status = status
    db.session.commit()


def invitations(actor: Any, campaign_id: int, limit: int = 200) -> list[Any]:
    customer_name = scoped(Customer, actor).where(Customer.id == SalonInvitation.customer_id).with_only_columns(
        Customer.name).scalar_subquery()
    registered = _live_registration(SalonInvitation.campaign_id, SalonInvitation.customer_id)
    return list(db.session.execute(
        scoped(SalonInvitation, actor).add_columns(customer_name, Outlet.name, registered)
        .join(Outlet, Outlet.id == SalonInvitation.outlet_id)
        .where(SalonInvitation.campaign_id == campaign_id).order_by(SalonInvitation.id.desc()).limit(limit)).all())


# ---------------------------------------------------------------- registrations (S-15, T-11, R-33 ②)

def _dedupe_key(customer_id: int, child_name: str | None) -> str:
    name = unicodedata.normalize("NFKC", child_name or "").replace(" ", "").lower()
    return f"{customer_id}:{name}"[:80]


@dataclass
class RegistrationInput:
    customer_id: int
    family_member_id: int | None = None
    child_name: str | None = None
    child_age: int | None = None
    school_grade: str | None = None
    invited_by_id: int | None = None


def parse_registration(raw: dict[str, Any]) -> RegistrationInput:
    cid = _int(raw.get("customer_id"))
    if cid is None:
        raise FormErrors({"customer_id": _("请选择家长（客户）")})
    return RegistrationInput(customer_id=cid, family_member_id=_int(raw.get("family_member_id")),
                             child_name=_text(raw, "child_name", 50), child_age=_int(raw.get("child_age")),
                             school_grade=(raw.get("school_grade") or None), invited_by_id=_int(raw.get("invited_by_id")))


def register(actor: Any, target: SalonSession | SalonRoute, data: RegistrationInput) -> SalonRegistration:
    """Register a child (kids round, study-tour route) or a guest (salon/seminar round).

    Refused: closed round or campaign, route past its (inclusive) deadline, a kids child outside 1–15 (T-11: 15 ok,
    16 refused), a tour child outside 小六–高三, the same child twice in a campaign. When the round or route is full
    the registration is wait-listed: the seat is taken by ONE guarded UPDATE (seats_taken < capacity)."""
    _require("salon_events.run", actor)
    is_round = isinstance(target, SalonSession)
    campaign = target.campaign if is_round else db.session.get(SalonCampaign, target.campaign_id)
    errors: dict[str, str] = {}
    if campaign.status != "open":
        raise ServiceError(_("活动未开始或已结束，不能报名"))
    if is_round and (target.status != "open" or target.ends_at < now_local()):
        raise ServiceError(_("该场次已截止报名"))
    if not is_round and today_local() > target.deadline:
        raise ServiceError(_("报名已于 %(d)s 截止", d=target.deadline.isoformat()))
    parent = db.session.execute(scoped(Customer, actor).where(Customer.id == data.customer_id)).scalar_one_or_none()
    if parent is None:
        raise FormErrors({"customer_id": _("找不到该客户，或不在您的管辖范围内")})
    member = None
    if data.family_member_id is not None:
        member = db.session.execute(scoped(FamilyMember, actor).where(
            FamilyMember.id == data.family_member_id, FamilyMember.customer_id == parent.id)).scalar_one_or_none()
        if member is None:
            errors["family_member_id"] = _("所选子女不是该客户的家庭成员")
    needs_child = campaign.kind in ("kids", "study_tour")
    typed = unicodedata.normalize("NFKC", data.child_name or "").strip()[:50] or None
    child_name = (member.name if member else typed) if needs_child else typed
    age, grade = data.child_age, data.school_grade
    if campaign.kind == "kids":
        if member is not None and member.birthday is not None:
            age = member.age_on(target.starts_at.date())
        if not child_name:
            errors["child_name"] = _("请填写孩子姓名或从家庭成员中选择")
        if age is None:
            errors["child_age"] = _("请填写孩子年龄")
        elif not KIDS_MIN_AGE <= age <= KIDS_MAX_AGE:
            errors["child_age"] = _("宝贝银行家面向1至15岁儿童，%(name)s %(age)s岁不符合", name=child_name or "",
                                    age=age)
    elif campaign.kind == "study_tour":
        if member is not None and member.school_grade:
            grade = member.school_grade
        if not child_name:
            errors["child_name"] = _("请填写孩子姓名或从家庭成员中选择")
        lo, hi = GRADE_ORDER.index(target.grade_from), GRADE_ORDER.index(target.grade_to)
        if grade not in GRADE_ORDER:
            errors["school_grade"] = _("游学按年级报名，请选择孩子的年级")
        elif not lo <= GRADE_ORDER.index(grade) <= hi:
            errors["school_grade"] = _("该线路适合%(a)s至%(b)s，%(g)s不符合", a=grade_label(target.grade_from),
                                       b=grade_label(target.grade_to), g=grade_label(grade))
    invited_by = data.invited_by_id
    if invited_by is not None and not db.session.execute(
            scoped(User, actor).where(User.id == invited_by).with_only_columns(User.id)).first():
        errors["invited_by_id"] = _("邀约人不在您的管辖范围内")
    if invited_by is None:
        invited_by = db.session.execute(select(SalonInvitation.invited_by_id).where(
            SalonInvitation.campaign_id == campaign.id, SalonInvitation.customer_id == parent.id)).scalar()
    key = _dedupe_key(parent.id, child_name if needs_child else "")
    if not errors and db.session.execute(select(SalonRegistration.id).where(
            SalonRegistration.campaign_id == campaign.id, SalonRegistration.dedupe_key == key)).first():
        errors["child_name"] = _("%(name)s 已报名本活动，不能重复报名", name=child_name or parent.name)
    if errors:
        raise FormErrors(errors)
    # Plain values only from here: the read transaction ends so the write starts its own (SQLite WAL, see claims).
    values = dict(campaign_id=campaign.id, session_id=target.id if is_round else None,
                  route_id=None if is_round else target.id,
                  outlet_id=target.outlet_id if is_round else parent.outlet_id, customer_id=parent.id,
                  family_member_id=member.id if member else None, child_name=child_name,
                  child_age=age if campaign.kind == "kids" else None,
                  school_grade=grade if campaign.kind == "study_tour" else None, dedupe_key=key,
                  invited_by_id=invited_by or actor.id, created_by_id=actor.id)
    model, target_id = (SalonSession, target.id) if is_round else (SalonRoute, target.id)
    limit = SalonSession.capacity if is_round else SalonRoute.group_size
    audit_actor = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor
    db.session.commit()
    guard = [model.id == target_id, model.seats_taken < limit]
    if is_round:
        guard.append(SalonSession.status == "open")
    seated = db.session.execute(update(model).where(*guard).values(seats_taken=model.seats_taken + 1)
                                .execution_options(synchronize_session=False)).rowcount == 1
    reg = SalonRegistration(status="registered" if seated else "waitlisted", **values)
    db.session.add(reg)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()  # the seat goes back with the failed insert
        raise FormErrors({"child_name": _("%(name)s 已报名本活动，不能重复报名",
                                          name=values["child_name"] or "")}) from None
    audit.record("salon_events.registered", target=("salon_events_registration", reg.id),
                 detail={"status": reg.status, "campaign": values["campaign_id"]}, actor=audit_actor)
    db.session.commit()
    return reg


def cancel_registration(actor: Any, reg: SalonRegistration) -> SalonRegistration | None:
    """Cancel; a freed seat goes to the first wait-listed registration. Returns the promoted one, if any."""
    _require("salon_events.run", actor)
    if reg.status == "cancelled":
        raise ServiceError(_("该报名已取消"))
    if reg.attended:
        raise ServiceError(_("已签到的报名不能取消"))
    was_seated = reg.status == "registered"
    reg.status, reg.dedupe_key = "cancelled", None
    promoted = None
    if was_seated:
        column = SalonRegistration.session_id if reg.session_id else SalonRegistration.route_id
        target_id = reg.session_id or reg.route_id
        promoted = db.session.execute(select(SalonRegistration).where(
            column == target_id, SalonRegistration.status == "waitlisted").order_by(SalonRegistration.id)
            .limit(1)).scalar_one_or_none()
        if promoted is not None:
            promoted.status = "registered"
        else:
            model = SalonSession if reg.session_id else SalonRoute
            db.session.execute(update(model).where(model.id == target_id, model.seats_taken > 0)
                               .values(seats_taken=model.seats_taken - 1).execution_options(synchronize_session=False))
    audit.record("salon_events.registration_cancelled", target=("salon_events_registration", reg.id),
                 detail={"promoted": promoted.id if promoted else None}, actor=actor)
    db.session.commit()
    return promoted


def mark_contact(actor: Any, reg: SalonRegistration, what: str) -> None:
    """R-33 ② "how to make sure they come": the confirmation call and the reminder the day before."""
    _require("salon_events.run", actor)
    if what not in ("confirmed", "reminded"):
        raise ServiceError(_("无效的操作"))
    column = "confirmed_at" if what == "confirmed" else "reminded_at"
    setattr(reg, column, None if getattr(reg, column) else utcnow())
    db.session.commit()


def registrations(actor: Any, *, session_id: int | None = None, route_id: int | None = None,
                  campaign_id: int | None = None, limit: int = 500) -> list[Any]:
    """Registrations in scope with the parent's name (scoped customer subquery) — one query."""
    parent = scoped(Customer, actor).where(Customer.id == SalonRegistration.customer_id).with_only_columns(
        Customer.name).scalar_subquery()
    stmt = (scoped(SalonRegistration, actor).add_columns(parent.label("parent_name"))
            .options(selectinload(SalonRegistration.invited_by)))
    if session_id is not None:
        stmt = stmt.where(SalonRegistration.session_id == session_id)
    if route_id is not None:
        stmt = stmt.where(SalonRegistration.route_id == route_id)
    if campaign_id is not None:
        stmt = stmt.where(SalonRegistration.campaign_id == campaign_id)
    order = case((SalonRegistration.status == "registered", 0), (SalonRegistration.status == "waitlisted", 1),
                 else_=2)
    return list(db.session.execute(stmt.order_by(order, SalonRegistration.id).limit(limit)).all())


def children_of(actor: Any, customer_id: int) -> list[FamilyMember]:
    return list(db.session.execute(scoped(FamilyMember, actor).where(
        FamilyMember.customer_id == customer_id, FamilyMember.relation.in_(("child", "grandchild")))
        .order_by(FamilyMember.id)).scalars())


# ---------------------------------------------------------------- the day: check-in, steps, photos, outcomes

def check_in(actor: Any, reg: SalonRegistration, present: bool = True) -> None:
    """Attendance on the day. Only a registered (seated) registration checks in; an issued certificate keeps it."""
    _require("salon_events.run", actor)
    if reg.status != "registered":
        raise ServiceError(_("候补或已取消的报名不能签到"))
    if reg.session_id is None:
        raise ServiceError(_("游学报名无需现场签到"))
    if present and reg.session.starts_at.date() > today_local():
        raise ServiceError(_("活动当天才能签到"))
    if not present and db.session.execute(select(SalonCertificate.id).where(
            SalonCertificate.registration_id == reg.id, SalonCertificate.revoked.is_(False))).first():
        raise ServiceError(_("已出具实习证明，不能撤销签到"))
    if bool(reg.attended) == present:  # a double tap or a second tablet: keep who and when, add no audit row
        return
    reg.attended = present
    reg.checked_in_at = utcnow() if present else None
    reg.checked_in_by_id = actor.id if present else None
    audit.record("salon_events.checked_in" if present else "salon_events.check_in_undone",
                 target=("salon_events_registration", reg.id), actor=actor)
    db.session.commit()


def steps_done(session_id: int) -> list[SalonSessionStep]:
    return list(db.session.execute(select(SalonSessionStep).where(SalonSessionStep.session_id == session_id)
                                   .order_by(SalonSessionStep.step)).scalars())


def log_step(actor: Any, session: SalonSession, step: int, note: str | None = None) -> None:
    """Tick off step `step` (1-based). Strictly in order (R-30, R-32; T-12: 一对一促成 not before 集中开会): the
    INSERT … SELECT writes the row only when exactly step-1 steps are logged, so no race skips a step."""
    _require("salon_events.run", actor)
    names = steps_of(session.campaign.kind)
    if not 1 <= step <= len(names):
        raise ServiceError(_("无效的步骤"))
    done = db.session.execute(select(func.count()).where(SalonSessionStep.session_id == session.id)).scalar()
    if step <= done:
        raise ServiceError(_("「%(s)s」已登记", s=names[step - 1]))
    if step > done + 1:
        raise ServiceError(_("「%(s)s」不能在「%(p)s」之前登记，请按顺序完成", s=names[step - 1], p=names[step - 2]))
    session_id, actor_id = session.id, actor.id
    audit_actor = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor
    db.session.commit()
    logged = select(func.count()).where(SalonSessionStep.session_id == session_id).scalar_subquery()
    rows = select(literal(session_id), literal(step), literal(utcnow()), literal(actor_id),
                  literal((note or "")[:300] or None)).where(logged == step - 1)
    try:
        # RETURNING, not rowcount: SQLAlchemy reports -1 for an INSERT … SELECT on psycopg.
        table = SalonSessionStep.__table__
        n = len(db.session.execute(insert(table).from_select(
            ["session_id", "step", "done_at", "done_by_id", "note"], rows).returning(table.c.id)).all())
    except IntegrityError:
        db.session.rollback()
        n = 0
    if n != 1:
        db.session.rollback()
        raise ServiceError(_("步骤已被他人更新，请刷新后重试"))
    audit.record("salon_events.step_logged", target=("salon_events_session", session_id),
                 detail={"step": step, "name": names[step - 1]}, actor=audit_actor)
    db.session.commit()


def add_photo(actor: Any, session: SalonSession, registration_id: int | None, file: Any) -> SalonPhoto:
    """A photo of a child–parent group (R-30 step 4). One per registration: a new one replaces the old."""
    from plugins.salon_events import uploads

    _require("salon_events.run", actor)
    reg = None
    if registration_id is not None:
        reg = db.session.execute(scoped(SalonRegistration, actor).where(
            SalonRegistration.id == registration_id, SalonRegistration.session_id == session.id)).scalar_one_or_none()
        if reg is None:
            raise ServiceError(_("找不到该报名"))
    try:
        stored = uploads.save_image(file, "photo")
    except uploads.UploadError as exc:
        raise ServiceError(str(exc)) from None
    old = []
    if reg is not None:
        old = list(db.session.execute(select(SalonPhoto).where(SalonPhoto.registration_id == reg.id)).scalars())
    photo = SalonPhoto(session_id=session.id, registration_id=reg.id if reg else None, outlet_id=session.outlet_id,
                       stored_name=stored.stored_name, thumb_name=stored.thumb_name, width=stored.width,
                       height=stored.height, size_bytes=stored.size_bytes, uploaded_by_id=actor.id)
    db.session.add(photo)
    for p in old:
        db.session.delete(p)
    db.session.flush()
    audit.record("salon_events.photo_uploaded", target=("salon_events_session", session.id),
                 detail={"photo": photo.id, "registration": registration_id}, actor=actor)
    db.session.commit()
    uploads.delete_files(*[n for p in old for n in (p.stored_name, p.thumb_name)])
    return photo


def photos(actor: Any, session_id: int) -> list[SalonPhoto]:
    return list(db.session.execute(scoped(SalonPhoto, actor).where(SalonPhoto.session_id == session_id)
                                   .order_by(SalonPhoto.id)).scalars())


def record_outcome(actor: Any, reg: SalonRegistration, raw: dict[str, Any]) -> list[str]:
    """Outcomes of the day: card opened, policies, booked premium, one-to-one closing result, follow-up.
    Returns warnings: booked premium above the campaign's cap (R-31 (2), T-12: "不宜贪大求高")."""
    _require("salon_events.run", actor)
    if reg.status != "registered":
        raise ServiceError(_("候补或已取消的报名不能登记成效"))
    errors: dict[str, str] = {}
    policies = _int(raw.get("policies") or 0)
    if policies is None or not 0 <= policies <= 99:
        errors["policies"] = _("保单件数应为0至99的整数")
    premium = None
    text = str(raw.get("booked_premium") or "").strip()
    if text:
        try:
            premium = parse_amount(text, min_value=Decimal("0"))
        except ValidationError as exc:
            errors["booked_premium"] = _("预约保费：%(msg)s", msg=exc.message)
    closing = raw.get("closing_result") or None
    if closing is not None and closing not in CLOSING_RESULTS:
        errors["closing_result"] = _("请选择促成结果")
    follow_on = _date(raw.get("follow_up_on")) if raw.get("follow_up_on") else None
    if raw.get("follow_up_on") and follow_on is None:
        errors["follow_up_on"] = _("跟进日期格式不正确")
    if errors:
        raise FormErrors(errors)
    reg.card_opened = bool(raw.get("card_opened"))
    reg.policies = policies or 0
    reg.booked_premium = premium
    reg.closing_result = closing
    reg.follow_up = _text(raw, "follow_up", 300)
    reg.follow_up_on = follow_on
    audit.record("salon_events.outcome", target=("salon_events_registration", reg.id),
                 detail={"card": reg.card_opened, "policies": reg.policies,
                         "premium": str(premium) if premium is not None else None}, actor=actor)
    db.session.commit()
    return premium_warnings(reg.campaign, premium)


def premium_warnings(campaign: SalonCampaign, premium: Decimal | None) -> list[str]:
    if premium is not None and campaign.premium_cap is not None and premium > campaign.premium_cap:
        booked, cap = format(premium, ",.2f"), format(campaign.premium_cap, ",.2f")
        return [_("预约保费 %(p)s 元高于本活动单户上限 %(c)s 元：预约保费不宜贪大求高", p=booked, c=cap)]
    return []


# ---------------------------------------------------------------- results

@dataclass
class Funnel:
    invited: int = 0
    registered: int = 0
    waitlisted: int = 0
    attended: int = 0
    converted: int = 0
    cards: int = 0
    policies: int = 0
    premium: Decimal = Decimal("0")


def results(actor: Any, campaign: SalonCampaign) -> tuple[Funnel, list[tuple[Outlet, Funnel]]]:
    """Invited → registered → attended → converted, per outlet and in total, in the actor's scope. Three grouped
    queries whatever the number of registrations. A customer registered without an invitation counts as invited."""
    reg = scoped(SalonRegistration, actor).where(SalonRegistration.campaign_id == campaign.id).subquery()
    converted = or_(reg.c.card_opened.is_(True), reg.c.policies > 0, reg.c.closing_result == "closed")
    rows = db.session.execute(
        select(reg.c.outlet_id,
               func.sum(case((reg.c.status == "registered", 1), else_=0)),
               func.sum(case((reg.c.status == "waitlisted", 1), else_=0)),
               func.sum(case((and_(reg.c.status == "registered", reg.c.attended.is_(True)), 1), else_=0)),
               func.sum(case((and_(reg.c.status == "registered", converted), 1), else_=0)),
               func.sum(case((and_(reg.c.status == "registered", reg.c.card_opened.is_(True)), 1), else_=0)),
               func.coalesce(func.sum(case((reg.c.status == "registered", reg.c.policies), else_=0)), 0),
               func.coalesce(func.sum(case((reg.c.status == "registered", reg.c.booked_premium), else_=None)), 0))
        .group_by(reg.c.outlet_id)).all()
    inv = scoped(SalonInvitation, actor).where(SalonInvitation.campaign_id == campaign.id).subquery()
    invited = dict(db.session.execute(select(inv.c.outlet_id, func.count()).group_by(inv.c.outlet_id)).all())
    # A customer registered without an invitation row (walked in, registered directly) was invited all the same.
    uninvited = select(SalonInvitation.id).where(SalonInvitation.campaign_id == campaign.id,
                                                 SalonInvitation.customer_id == reg.c.customer_id).exists()
    for oid, n in db.session.execute(select(reg.c.outlet_id, func.count(func.distinct(reg.c.customer_id)))
                                     .where(reg.c.status != "cancelled", ~uninvited).group_by(reg.c.outlet_id)):
        invited[oid] = invited.get(oid, 0) + n
    per: dict[int, Funnel] = {}
    for oid, r, w, a, c, cards, pol, prem in rows:
        per[oid] = Funnel(registered=int(r or 0), waitlisted=int(w or 0), attended=int(a or 0), converted=int(c or 0),
                          cards=int(cards or 0), policies=int(pol or 0), premium=Decimal(str(prem or 0)))
    for oid, n in invited.items():
        per.setdefault(oid, Funnel()).invited = int(n)
    outlets = {o.id: o for o in db.session.execute(select(Outlet).where(Outlet.id.in_(list(per)))).scalars()}
    total = Funnel()
    for f in per.values():
        for key in ("invited", "registered", "waitlisted", "attended", "converted", "cards", "policies", "premium"):
            setattr(total, key, getattr(total, key) + getattr(f, key))
    ordered = sorted(((outlets[oid], f) for oid, f in per.items()), key=lambda x: x[0].code)
    return total, ordered


def export_registrations(actor: Any, campaign: SalonCampaign):
    """The campaign's registrations in scope as .xlsx (core export conventions: formula-safe, masked per post,
    audited). Returns (BytesIO, rows)."""
    from io import BytesIO

    from crm.excel import Column, write_sheet
    from crm.masking import mask_mobile

    _require("salon_events.view", actor)
    full = can("customers.reveal", actor)
    parent = scoped(Customer, actor).where(Customer.id == SalonRegistration.customer_id)
    stmt = (scoped(SalonRegistration, actor)
            .with_only_columns(parent.with_only_columns(Customer.name).scalar_subquery(),
                               parent.with_only_columns(Customer.phone).scalar_subquery(),
                               SalonRegistration.child_name, SalonRegistration.child_age,
                               SalonRegistration.school_grade, Outlet.name, SalonSession.starts_at, SalonRoute.name,
                               SalonRegistration.status, SalonRegistration.attended, SalonRegistration.card_opened,
                               SalonRegistration.policies, SalonRegistration.booked_premium,
                               SalonRegistration.closing_result, SalonRegistration.follow_up,
                               User.name)
            .join(Outlet, Outlet.id == SalonRegistration.outlet_id)
            .outerjoin(SalonSession, SalonSession.id == SalonRegistration.session_id)
            .outerjoin(SalonRoute, SalonRoute.id == SalonRegistration.route_id)
            .outerjoin(User, User.id == SalonRegistration.invited_by_id)
            .where(SalonRegistration.campaign_id == campaign.id)
            .order_by(Outlet.code, SalonSession.starts_at, SalonRegistration.id))
    from plugins.salon_events.models import REGISTRATION_STATUSES

    statuses = {k: str(v) for k, v in REGISTRATION_STATUSES.items()}
    closings = {k: str(v) for k, v in CLOSING_RESULTS.items()}
    yes, no = _("是"), _("否")

    def rows():
        for (pname, phone, child, age, grade, outlet, starts, route, status, attended, card, pol, prem, closing,
             follow, inviter) in db.session.execute(stmt):
            yield [pname, phone if full else mask_mobile(phone), child, age, grade_label(grade) if grade else None,
                   outlet, starts.strftime("%Y-%m-%d %H:%M") if starts else route, statuses.get(status, status),
                   yes if attended else no, yes if card else no, pol, prem, closings.get(closing or "", ""), follow,
                   inviter]

    buffer = BytesIO()
    columns = [Column(_("家长/客户"), 14, "plain"), Column(_("手机号码"), 14), Column(_("孩子姓名"), 12, "plain"),
               Column(_("年龄"), 6, "int"), Column(_("年级"), 10, "plain"), Column(_("网点"), 18, "plain"),
               Column(_("场次/线路"), 22, "plain"), Column(_("状态"), 8, "plain"), Column(_("到场"), 6, "plain"),
               Column(_("开卡"), 6, "plain"), Column(_("保单件数"), 8, "int"), Column(_("预约保费（元）"), 14, "money"),
               Column(_("促成结果"), 10, "plain"), Column(_("后续跟进"), 30, "plain"), Column(_("邀约人"), 10, "plain")]
    n = write_sheet(buffer, _("报名名单"), columns, rows(), note=f"{campaign.name}（{campaign.kind_label}）")
    buffer.seek(0)
    audit.record("salon_events.exported", target=("salon_events_campaign", campaign.id),
                 detail={"rows": n, "full": full}, actor=actor)
    db.session.commit()
    return buffer, n


def upcoming(actor: Any, limit: int = 8) -> list[Any]:
    """Upcoming rounds in scope for the dashboard widget."""
    return rounds(actor, upcoming=True, limit=limit)


def round_utc_start(session: SalonSession) -> datetime:
    """The round's start as stored UTC (signatures must be recorded before it, T-10)."""
    return local_to_utc(session.starts_at)
