"""Outreach work of the 金融生态图: Gantt tasks and visit records (R-18, T-07), group marketing plans (R-20, T-53)
and the three-week rollout checklist (R-27, T-54). Plain functions over the session: views, tests and the CLI share
them. Every write checks permission and scope first, validates everything, then writes and commits once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql import Select

from crm import audit
from crm.access import can, scope_filter, scoped, subtree_outlet_ids
from crm.extensions import db
from crm.models import Customer, Outlet, User
from crm.roles import SCOPE_ALL, SCOPE_BRANCH, SCOPE_OUTLET
from crm.timeutil import today_local, utcnow
from plugins.target_map.models import TargetMapEntry
from plugins.target_map.models_plans import (
    CHANNELS,
    GROUP_BASES,
    GROUP_CUSTOMER_KINDS,
    GROUP_MODULES,
    INFO_SOURCES,
    TargetMapGroupPlan,
    TargetMapRollout,
    TargetMapRolloutItem,
    TargetMapTask,
    TargetMapVisit,
)

PLUGIN = "target_map"
DATE_MIN = date(2000, 1, 1)
FUTURE_DAYS = 730  # plans reach at most two years ahead
GANTT_LIMIT = 200  # bars on one Gantt page; filters narrow it down
OUTLET_POSTS_WHO_PLAN_ALL = ("outlet_head", "outlet_deputy")  # edit every task of their outlet
OUTLET_PLAN_POSTS = ("outlet_head", "outlet_deputy", "corporate_rm", "personal_rm")  # may own a task
TEXT_LIMIT = 2000


class PlanError(ValueError):
    """Field → message errors (422). `conflict`: someone else changed the row since it was read (409);
    `forbidden`: the user may see the row but not change it (403)."""

    def __init__(self, errors: dict[str, str], conflict: bool = False, forbidden: bool = False) -> None:
        super().__init__("; ".join(str(v) for v in errors.values()))
        self.errors = errors
        self.conflict = conflict
        self.forbidden = forbidden

    @property
    def status(self) -> int:
        return 409 if self.conflict else 403 if self.forbidden else 422

    @property
    def message(self) -> str:
        return next(iter(self.errors.values()))


def _stale() -> str:
    return _("该记录已被他人修改，请刷新页面后重试（您的修改未保存）")


def _commit() -> None:
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise PlanError({"_": _stale()}, conflict=True) from exc


def _check_version(row: Any, version: Any) -> None:
    try:
        given = int(version)
    except (TypeError, ValueError):
        given = None
    if given != row.version:
        raise PlanError({"_": _stale()}, conflict=True)


def _text(raw: dict[str, Any], name: str, limit: int, errors: dict[str, str]) -> str | None:
    value = (raw.get(name) or "").strip()
    if len(value) > limit:
        errors[name] = _("不能超过%(n)d个字", n=limit)
    return value or None


def parse_date(value: Any) -> date | None:
    """'2024-05-06' → date; anything else → None."""
    value = (value or "").strip() if isinstance(value, str) else value
    if isinstance(value, date):
        return value
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None


def _date(raw: dict[str, Any], name: str, errors: dict[str, str], *, required: bool, label: str,
          today: date) -> date | None:
    value = (raw.get(name) or "").strip()
    if not value:
        if required:
            errors[name] = _("请填写%(label)s", label=label)
        return None
    parsed = parse_date(value)
    if parsed is None:
        errors[name] = _("%(label)s格式应为 年-月-日，例如 2024-05-06", label=label)
        return None
    latest = today + timedelta(days=FUTURE_DAYS)
    if not DATE_MIN <= parsed <= latest:
        errors[name] = _("%(label)s超出允许范围（%(lo)s 至 %(hi)s）", label=label, lo=DATE_MIN.isoformat(),
                         hi=latest.isoformat())
        return None
    return parsed


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def percent(done: int, total: int) -> int:
    """Whole percent, rounded half up (四舍五入)."""
    if not total:
        return 0
    return int((Decimal(done) * 100 / Decimal(total)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------- outlets and people

def _enabled_root_branches() -> set[int] | None:
    """分行 ids where the plugin is on; None when every 分行 counts (used for the system administrator's picker)."""
    from crm.models import Branch

    registry = current_app.extensions["crm"]
    roots = db.session.execute(select(Branch.id).where(Branch.parent_id.is_(None))).scalars().all()
    return {b for b in roots if PLUGIN in registry.enabled_names(b)}


def outlet_choices(user: Any) -> list[Outlet]:
    """The outlets whose plans the user may look at: their own, or those of their scope (branch posts, admin)."""
    if user.outlet_id is not None and user.scope not in (SCOPE_BRANCH, SCOPE_ALL):
        return [user.outlet]
    stmt = scoped(Outlet, user).where(Outlet.active).order_by(Outlet.code).limit(1000)
    if user.scope == SCOPE_ALL:
        stmt = stmt.where(Outlet.root_branch_id.in_(_enabled_root_branches() or {-1}))
    return list(db.session.execute(stmt).scalars())


def resolve_outlet(user: Any, raw: Any) -> Outlet | None:
    """The outlet a page is about: outlet staff always their own (another id → None, the view answers 404); branch
    posts pick one of their scope (default: the first)."""
    wanted = _int(raw)
    if user.outlet_id is not None and user.scope not in (SCOPE_BRANCH, SCOPE_ALL):
        if raw not in (None, "") and wanted != user.outlet_id:
            return None
        return user.outlet
    if raw not in (None, "") and wanted is not None:
        outlet = db.session.execute(scoped(Outlet, user).where(Outlet.id == wanted)).scalar_one_or_none()
        if outlet is None or (user.scope == SCOPE_ALL and outlet.root_branch_id not in (_enabled_root_branches()
                                                                                        or set())):
            return None
        return outlet
    choices = outlet_choices(user)
    return choices[0] if choices else None


def plan_staff(outlet_id: int) -> list[User]:
    """Active staff of the outlet who may own outreach tasks (head, deputy, corporate and personal RMs)."""
    return list(db.session.execute(
        select(User).where(User.outlet_id == outlet_id, User.active, User.post.in_(OUTLET_PLAN_POSTS))
        .order_by(User.post != "outlet_head", User.post != "outlet_deputy", User.name)).scalars())


def leads_outlet(user: Any, outlet_id: int) -> bool:
    """Plans everything of the outlet: its head or deputy, or a branch post / administrator whose scope holds it."""
    if not can("target_map.plan", user):
        return False
    if user.post in OUTLET_POSTS_WHO_PLAN_ALL:
        return user.outlet_id == outlet_id
    if user.scope in (SCOPE_BRANCH, SCOPE_ALL):
        return db.session.execute(scoped(Outlet, user).with_only_columns(Outlet.id)
                                  .where(Outlet.id == outlet_id)).first() is not None
    return False


def may_plan_at(user: Any, outlet_id: int) -> bool:
    """May create tasks at the outlet: its leads, or its own RMs (for themselves)."""
    if not can("target_map.plan", user):
        return False
    return leads_outlet(user, outlet_id) or user.outlet_id == outlet_id


def may_edit_task(user: Any, task: TargetMapTask) -> bool:
    """An RM edits own tasks; the outlet head and deputy every task of the outlet (and branch planners theirs)."""
    if not can("target_map.plan", user):
        return False
    return task.owner_id == user.id or leads_outlet(user, task.outlet_id)


def may_advise(user: Any, task: TargetMapTask) -> bool:
    """The head's advice after the post-visit report (R-18): the outlet head of the task's outlet."""
    return can("target_map.plan", user) and user.post == "outlet_head" and user.outlet_id == task.outlet_id


def owner_choices(user: Any, outlet_id: int) -> list[User]:
    if leads_outlet(user, outlet_id):
        return plan_staff(outlet_id)
    return [user] if user.outlet_id == outlet_id and user.post in OUTLET_PLAN_POSTS else []


# ---------------------------------------------------------------- customers on the map

def _map_visible(user: Any, outlet_id: int):
    """Map entries of the outlet that the user may plan for: customers of their scope, plus (for the outlet's own
    staff) the outlet's unclaimed targets (熟客认领, as on the map)."""
    visible = TargetMapEntry.customer_id.in_(scoped(Customer, user).with_only_columns(Customer.id))
    if user.outlet_id == outlet_id:
        visible = or_(visible, and_(Customer.maintainer_id.is_(None), Customer.outlet_id == outlet_id))
    return and_(TargetMapEntry.outlet_id == outlet_id, visible)


def map_customers(user: Any, outlet_id: int, q: str = "", limit: int = 50, customer_id: int | None = None) -> list[Any]:
    """Customers on the outlet's map to plan for: targets first, then by pinyin; `q` narrows by name."""
    stmt = (select(TargetMapEntry.id.label("entry_id"), Customer.id, Customer.name, Customer.status)
            .join(Customer, Customer.id == TargetMapEntry.customer_id).where(_map_visible(user, outlet_id)))
    if customer_id is not None:
        stmt = stmt.where(Customer.id == customer_id)
    q = (q or "").strip()
    if q:
        stmt = stmt.where(Customer.name.contains(q, autoescape=True))
    stmt = stmt.order_by(Customer.status != "target", Customer.name_pinyin, Customer.id).limit(limit)
    return list(db.session.execute(stmt).all())


def map_entry_for(user: Any, outlet_id: int, customer_id: int) -> TargetMapEntry | None:
    return db.session.execute(
        select(TargetMapEntry).join(Customer, Customer.id == TargetMapEntry.customer_id)
        .where(_map_visible(user, outlet_id), TargetMapEntry.customer_id == customer_id)).scalar_one_or_none()


def entry_of(task: TargetMapTask) -> TargetMapEntry | None:
    return db.session.execute(select(TargetMapEntry).where(
        TargetMapEntry.customer_id == task.customer_id)).scalar_one_or_none()


# ---------------------------------------------------------------- tasks

def check_task(actor: Any, outlet_id: int, raw: dict[str, Any], *, today: date,
               existing: TargetMapTask | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    values["title"] = _text(raw, "title", 100, errors)
    if not values["title"] and "title" not in errors:
        errors["title"] = _("请填写任务内容，例如“拜访企业财务负责人”")
    owner_id = _int(raw.get("owner_id"))
    if owner_id not in {u.id for u in owner_choices(actor, outlet_id)}:
        errors["owner_id"] = _("请选择本网点的营销责任人")
    values["owner_id"] = owner_id
    values["planned_start"] = _date(raw, "planned_start", errors, required=True, label=_("计划开始日期"), today=today)
    values["planned_end"] = _date(raw, "planned_end", errors, required=True, label=_("计划完成日期"), today=today)
    _check_span(values["planned_start"], values["planned_end"], errors)
    values["note"] = _text(raw, "note", 500, errors)
    if existing is None:
        customer_id = _int(raw.get("customer_id"))
        entry = map_entry_for(actor, outlet_id, customer_id) if customer_id else None
        if entry is None:
            errors["customer_id"] = _("请选择本网点金融生态图上的客户")
        values["customer_id"] = customer_id
    return values, errors


def _one_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return date(day.year + 1, 3, 1)


def _check_span(start: date | None, end: date | None, errors: dict[str, str], key: str = "planned_end") -> None:
    if start and end:
        if end < start:
            errors[key] = _("计划完成日期不能早于计划开始日期")
        elif end >= _one_year_after(start):
            errors[key] = _("一项任务的计划周期不能超过一年，请拆分为多项任务")


def create_task(actor: Any, outlet: Outlet, raw: dict[str, Any], *, today: date | None = None) -> TargetMapTask:
    if not may_plan_at(actor, outlet.id):
        raise PlanError({"_": _("您没有为本网点制定外拓计划的权限")}, forbidden=True)
    values, errors = check_task(actor, outlet.id, raw, today=today or today_local())
    if errors:
        raise PlanError(errors)
    task = TargetMapTask(outlet_id=outlet.id, status="planned", created_by_id=actor.id, updated_by_id=actor.id,
                         **values)
    db.session.add(task)
    db.session.flush()
    audit.record("target_map.task_created", target=("customer", task.customer_id),
                 detail={"task_id": task.id, "title": task.title, "owner_id": task.owner_id,
                         "planned": f"{task.planned_start}~{task.planned_end}"})
    _commit()
    return task


def update_task(actor: Any, task: TargetMapTask, raw: dict[str, Any], version: Any, *,
                today: date | None = None) -> TargetMapTask:
    if not may_edit_task(actor, task):
        raise PlanError({"_": _("只有任务责任人或网点负责人/副职可以修改此任务")}, forbidden=True)
    _check_version(task, version)
    values, errors = check_task(actor, task.outlet_id, raw, today=today or today_local(), existing=task)
    if task.owner_id not in {u.id for u in owner_choices(actor, task.outlet_id)} and values["owner_id"] == \
            task.owner_id:
        errors.pop("owner_id", None)  # a left or moved owner stays until the head reassigns the task
    if task.status == "done" and (values["planned_start"], values["planned_end"]) != (task.planned_start,
                                                                                      task.planned_end):
        errors["planned_end"] = _("任务已完成，不能再调整计划日期")
    if errors:
        raise PlanError(errors)
    changed = sorted(k for k, v in values.items() if getattr(task, k) != v)
    for key, value in values.items():
        setattr(task, key, value)
    task.updated_by_id = actor.id
    audit.record("target_map.task_updated", target=("customer", task.customer_id),
                 detail={"task_id": task.id, "fields": changed})
    _commit()
    return task


def reschedule(actor: Any, task: TargetMapTask, start_raw: Any, end_raw: Any, version: Any, *,
               today: date | None = None) -> TargetMapTask:
    """A bar dragged or stretched on the Gantt: the new planned dates, checked like the form's."""
    if not may_edit_task(actor, task):
        raise PlanError({"_": _("只有任务责任人或网点负责人/副职可以调整此任务")}, forbidden=True)
    _check_version(task, version)
    errors: dict[str, str] = {}
    raw = {"planned_start": start_raw or "", "planned_end": end_raw or ""}
    today = today or today_local()
    start = _date(raw, "planned_start", errors, required=True, label=_("计划开始日期"), today=today)
    end = _date(raw, "planned_end", errors, required=True, label=_("计划完成日期"), today=today)
    _check_span(start, end, errors)
    if task.status == "done":
        errors["_"] = _("任务已完成，不能再调整计划日期")
    if errors:
        raise PlanError(errors)
    before = f"{task.planned_start}~{task.planned_end}"
    task.planned_start, task.planned_end = start, end
    task.updated_by_id = actor.id
    audit.record("target_map.task_rescheduled", target=("customer", task.customer_id),
                 detail={"task_id": task.id, "from": before, "to": f"{start}~{end}"})
    _commit()
    return task


def delete_task(actor: Any, task: TargetMapTask, version: Any) -> None:
    if not may_edit_task(actor, task):
        raise PlanError({"_": _("只有任务责任人或网点负责人/副职可以删除此任务")}, forbidden=True)
    _check_version(task, version)
    if db.session.execute(select(TargetMapVisit.id).where(TargetMapVisit.task_id == task.id).limit(1)).first():
        raise PlanError({"_": _("该任务已有走访记录，不能删除")})
    audit.record("target_map.task_deleted", target=("customer", task.customer_id),
                 detail={"task_id": task.id, "title": task.title})
    db.session.delete(task)
    _commit()


@dataclass
class TaskFilter:
    owner_id: int | None = None
    status: str = ""  # "" all | planned | in_progress | done | open | overdue

    def args(self) -> dict[str, Any]:
        return {k: v for k, v in (("owner", self.owner_id), ("status", self.status)) if v}


FILTER_STATUSES = ("open", "planned", "in_progress", "overdue", "done")


def parse_filter(args: Any) -> TaskFilter:
    status = args.get("status", "")
    return TaskFilter(owner_id=_int(args.get("owner")), status=status if status in FILTER_STATUSES else "")


def outlet_tasks(user: Any, outlet_id: int) -> list[Any]:
    """Conditions for the tasks of an outlet (already resolved through the user's scope by resolve_outlet) that the
    user may see: all of them for outlet, branch and bank-wide posts; RMs and the other own-scope posts only theirs
    (the scope filter). Leaving the filter out where it cannot narrow keeps the outlet index alone at work."""
    conds = [TargetMapTask.outlet_id == outlet_id]
    if user.scope not in (SCOPE_ALL, SCOPE_BRANCH, SCOPE_OUTLET) or (
            user.scope == SCOPE_OUTLET and user.outlet_id != outlet_id):
        conds.append(scope_filter(TargetMapTask, user))
    return conds


def tasks_query(user: Any, outlet_id: int, f: TaskFilter, today: date) -> Select:
    """The outlet's tasks the user may see, filtered, in planned-end order (ix_target_map_task_outlet_end)."""
    stmt = (select(TargetMapTask, Customer.name.label("customer_name"), User.name.label("owner_name"))
            .join(Customer, Customer.id == TargetMapTask.customer_id)
            .join(User, User.id == TargetMapTask.owner_id)
            .where(*outlet_tasks(user, outlet_id)))
    if f.owner_id:
        stmt = stmt.where(TargetMapTask.owner_id == f.owner_id)
    if f.status == "done":
        stmt = stmt.where(TargetMapTask.status == "done")
    elif f.status in ("planned", "in_progress"):  # as the badges read: an overdue task counts as overdue only
        stmt = stmt.where(TargetMapTask.status == f.status, TargetMapTask.planned_end >= today)
    elif f.status == "open":
        stmt = stmt.where(TargetMapTask.status != "done")
    elif f.status == "overdue":
        stmt = stmt.where(TargetMapTask.status != "done", TargetMapTask.planned_end < today)
    return stmt.order_by(TargetMapTask.planned_end, TargetMapTask.id)


def gantt_rows(user: Any, outlet_id: int, f: TaskFilter, today: date) -> tuple[list[Any], bool]:
    rows = db.session.execute(tasks_query(user, outlet_id, f, today).limit(GANTT_LIMIT + 1)).all()
    return rows[:GANTT_LIMIT], len(rows) > GANTT_LIMIT


def visit_counts(task_ids: list[int]) -> dict[int, int]:
    if not task_ids:
        return {}
    return dict(db.session.execute(select(TargetMapVisit.task_id, func.count()).where(
        TargetMapVisit.task_id.in_(task_ids)).group_by(TargetMapVisit.task_id)).all())


def overdue(user: Any, today: date, limit: int = 10) -> tuple[list[Any], int]:
    """Overdue tasks for the dashboard (R-18): an owner sees their own, the outlet head and deputy the outlet's,
    branch posts those of their scope. Served by the (owner, planned_end) / (outlet, planned_end) indexes."""
    cond = [TargetMapTask.status != "done", TargetMapTask.planned_end < today]
    if user.post in OUTLET_POSTS_WHO_PLAN_ALL and user.outlet_id is not None:
        cond.append(TargetMapTask.outlet_id == user.outlet_id)
    elif user.scope == SCOPE_BRANCH:
        # One index range per outlet of the subtree (the scope filter's "+ 0" form would scan every task).
        cond.append(TargetMapTask.outlet_id.in_(subtree_outlet_ids(user)))
    elif user.scope == SCOPE_ALL:
        pass
    else:
        cond.append(TargetMapTask.owner_id == user.id)
    # The few ids first, from the covering index alone; names are joined to those rows only (joined up front,
    # SQLite may drive the query from the customer or user table instead).
    ids = select(TargetMapTask.id).where(*cond).order_by(TargetMapTask.planned_end, TargetMapTask.id).limit(limit)
    rows = db.session.execute(
        select(TargetMapTask, Customer.name.label("customer_name"), User.name.label("owner_name"))
        .join(Customer, Customer.id == TargetMapTask.customer_id).join(User, User.id == TargetMapTask.owner_id)
        .where(TargetMapTask.id.in_(ids)).order_by(TargetMapTask.planned_end, TargetMapTask.id)).all()
    total = len(rows) if len(rows) < limit else db.session.execute(
        select(func.count()).select_from(TargetMapTask).where(*cond)).scalar_one()
    return rows, total


def customer_tasks(user: Any, customer_id: int) -> list[TargetMapTask]:
    return list(db.session.execute(scoped(TargetMapTask, user).where(TargetMapTask.customer_id == customer_id)
                                   .order_by(TargetMapTask.planned_start.desc(), TargetMapTask.id.desc())
                                   .limit(100)).scalars())


def task_visits(task_ids: list[int]) -> dict[int, list[TargetMapVisit]]:
    out: dict[int, list[TargetMapVisit]] = {t: [] for t in task_ids}
    if not task_ids:
        return out
    for v in db.session.execute(select(TargetMapVisit).where(TargetMapVisit.task_id.in_(task_ids))
                                .order_by(TargetMapVisit.visit_date.desc(), TargetMapVisit.id.desc())).scalars():
        out[v.task_id].append(v)
    return out


def users_by_id(ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def refresh_task_status(task: TargetMapTask) -> None:
    """T-07: done only when a visit carries its post-visit report to the outlet head (and so its pre and during
    stages); any visit → in progress. Actual start = the first visit that took place; actual end = the day the
    report reached the head."""
    db.session.flush()
    rows = db.session.execute(select(TargetMapVisit.stage, TargetMapVisit.visit_date, TargetMapVisit.reported_on)
                              .where(TargetMapVisit.task_id == task.id)).all()
    held = [r.visit_date for r in rows if r.stage in ("during", "post")]
    reports = [r.reported_on for r in rows if r.stage == "post" and r.reported_on]
    task.status = "done" if reports else ("in_progress" if rows else "planned")
    task.actual_start = min(held) if held else None
    task.actual_end = min(reports) if reports else None


# ---------------------------------------------------------------- visits (R-18 pre / during / post)

def check_visit(raw: dict[str, Any], sources: list[str], *, today: date) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    values["visit_date"] = _date(raw, "visit_date", errors, required=True, label=_("走访日期"), today=today)
    channel = (raw.get("channel") or "").strip()
    if channel not in CHANNELS:
        errors["channel"] = _("请选择走访方式（上门拜访或电话）")
    values["channel"] = channel
    values["major_matter"] = str(raw.get("major_matter") or "").lower() in ("1", "on", "true", "y")
    # Before: at least one way of learning about the customer, and the hypotheses.
    unknown = [s for s in sources if s not in INFO_SOURCES]
    picked = [s for s in INFO_SOURCES if s in sources]  # in the form's order, no duplicates
    if unknown:
        errors["sources"] = _("未知的信息来源：%(s)s", s="、".join(unknown)[:40])
    elif not picked:
        errors["sources"] = _("拜访前请至少选择一种信息来源（网络、老客户转介绍、招商局、人脉）")
    values["sources"] = picked
    values["hypotheses"] = _text(raw, "hypotheses", TEXT_LIMIT, errors)
    if not values["hypotheses"] and "hypotheses" not in errors:
        errors["hypotheses"] = _("请填写拜访前的假设")
    values["questions"] = _text(raw, "questions", TEXT_LIMIT, errors)
    # During and after: each stage only after the one before it.
    values["key_info"] = _text(raw, "key_info", TEXT_LIMIT, errors)
    values["reported_on"] = _date(raw, "reported_on", errors, required=False, label=_("汇报日期"), today=today)
    values["report_content"] = _text(raw, "report_content", TEXT_LIMIT, errors)
    post_started = bool((raw.get("reported_on") or "").strip() or values["report_content"])
    if post_started:
        if not values["reported_on"] and "reported_on" not in errors:
            errors["reported_on"] = _("请填写向网点负责人汇报的日期")
        if not values["report_content"] and "report_content" not in errors:
            errors["report_content"] = _("请填写向网点负责人汇报的内容")
        if not values["key_info"] and "key_info" not in errors:
            errors["key_info"] = _("记录拜访后汇报之前，请先填写拜访中了解到的重要信息")
    visit_date = values["visit_date"]
    if visit_date and values["key_info"] and visit_date > today:
        errors["visit_date"] = _("走访日期还未到，不能记录拜访中的信息（拜访前准备可以提前填写）")
    if visit_date and values["reported_on"]:
        if values["reported_on"] < visit_date:
            errors["reported_on"] = _("汇报日期不能早于走访日期")
        elif values["reported_on"] > today:
            errors["reported_on"] = _("汇报日期不能晚于今天")
    values["stage"] = "post" if post_started else ("during" if values["key_info"] else "pre")
    return values, errors


def save_visit(actor: Any, task: TargetMapTask, raw: dict[str, Any], sources: list[str],
               visit: TargetMapVisit | None = None, version: Any = None, *,
               today: date | None = None) -> TargetMapVisit:
    """Record or complete a visit; who and when are kept per stage. The task's status follows in the same
    transaction."""
    if not may_edit_task(actor, task):
        raise PlanError({"_": _("只有任务责任人或网点负责人/副职可以记录此任务的走访")}, forbidden=True)
    if visit is not None:
        _check_version(visit, version)
    values, errors = check_visit(raw, sources, today=today or today_local())
    if errors:
        raise PlanError(errors)
    now = utcnow()
    is_new = visit is None
    if is_new:
        visit = TargetMapVisit(task_id=task.id, customer_id=task.customer_id, outlet_id=task.outlet_id)
        db.session.add(visit)
        changed = sorted(k for k, v in values.items() if v not in (None, "", []))
    else:
        changed = sorted(k for k, v in values.items() if getattr(visit, k) != v)
    stamps = (("pre", True), ("during", bool(values["key_info"])), ("post", values["stage"] == "post"))
    for stage, filled in stamps:
        fields = {"pre": ("sources", "hypotheses", "questions"), "during": ("key_info",),
                  "post": ("reported_on", "report_content")}[stage]
        touched = is_new or any(f in changed for f in fields)
        if filled and (touched or getattr(visit, f"{stage}_at") is None):
            setattr(visit, f"{stage}_by_id", actor.id)
            setattr(visit, f"{stage}_at", now)
        elif not filled:
            setattr(visit, f"{stage}_by_id", None)
            setattr(visit, f"{stage}_at", None)
    for key, value in values.items():
        setattr(visit, key, value)
    db.session.flush()
    before = task.status
    refresh_task_status(task)
    task.updated_by_id = actor.id
    audit.record(f"target_map.visit_{'recorded' if is_new else 'updated'}", target=("customer", task.customer_id),
                 detail={"task_id": task.id, "visit_id": visit.id, "stage": visit.stage, "fields": changed,
                         "task_status": f"{before}->{task.status}" if before != task.status else task.status})
    _commit()
    return visit


def save_advice(actor: Any, visit: TargetMapVisit, advice_raw: str, version: Any) -> TargetMapVisit:
    """R-18 after the visit: the outlet head's advice on the report."""
    task = visit.task
    if not may_advise(actor, task):
        raise PlanError({"_": _("只有本网点负责人可以填写负责人建议")}, forbidden=True)
    _check_version(visit, version)
    errors: dict[str, str] = {}
    advice = _text({"advice": advice_raw}, "advice", TEXT_LIMIT, errors)
    if not advice and not errors:
        errors["advice"] = _("请填写建议内容")
    if visit.stage != "post":
        errors["advice"] = _("客户经理向您汇报（拜访后记录）之后，才能填写建议")
    if errors:
        raise PlanError(errors)
    visit.advice, visit.advice_by_id, visit.advice_at = advice, actor.id, utcnow()
    audit.record("target_map.visit_advice", target=("customer", task.customer_id),
                 detail={"task_id": task.id, "visit_id": visit.id})
    _commit()
    return visit


def save_plan_text(actor: Any, task: TargetMapTask, text_raw: str, version: Any) -> TargetMapEntry:
    """The customer's 目标客户拓展方案 (R-18 (3)), kept on the map entry: a conditional UPDATE on its version."""
    if not may_edit_task(actor, task):
        raise PlanError({"_": _("只有任务责任人或网点负责人/副职可以修改拓展方案")}, forbidden=True)
    entry = entry_of(task)
    if entry is None:
        raise PlanError({"_": _("该客户已不在金融生态图上，不能编写拓展方案")})
    errors: dict[str, str] = {}
    text = _text({"plan": text_raw}, "plan", 5000, errors)
    if errors:
        raise PlanError(errors)
    given = _int(version)
    result = db.session.execute(
        update(TargetMapEntry).where(TargetMapEntry.id == entry.id, TargetMapEntry.version == given)
        .values(plan=text, version=TargetMapEntry.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise PlanError({"_": _stale()}, conflict=True)
    audit.record("target_map.plan_text_saved", target=("customer", task.customer_id),
                 detail={"task_id": task.id, "entry_id": entry.id, "length": len(text or "")})
    db.session.commit()
    db.session.refresh(entry)
    return entry


# ---------------------------------------------------------------- group marketing (R-20, S-10, T-53)

def active_group(outlet_id: int) -> TargetMapGroupPlan | None:
    return db.session.execute(select(TargetMapGroupPlan).where(
        TargetMapGroupPlan.outlet_id == outlet_id, TargetMapGroupPlan.status != "closed")).scalar_one_or_none()


def groups_of(outlet_id: int) -> list[TargetMapGroupPlan]:
    return list(db.session.execute(select(TargetMapGroupPlan).where(TargetMapGroupPlan.outlet_id == outlet_id)
                                   .order_by(TargetMapGroupPlan.id.desc()).limit(50)).scalars())


def _may_manage_outlet(user: Any, outlet_id: int) -> bool:
    if not can("target_map.manage", user):
        return False
    if user.scope in (SCOPE_BRANCH, SCOPE_ALL):
        return db.session.execute(scoped(Outlet, user).with_only_columns(Outlet.id)
                                  .where(Outlet.id == outlet_id)).first() is not None
    return user.outlet_id == outlet_id


def may_manage_outlet(user: Any, outlet_id: int) -> bool:
    return _may_manage_outlet(user, outlet_id)


def check_group(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    values["name"] = _text(raw, "name", 50, errors)
    if not values["name"] and "name" not in errors:
        errors["name"] = _("请填写客群名称，例如“园区物流企业”")
    basis = (raw.get("basis") or "").strip()
    if basis not in GROUP_BASES:
        errors["basis"] = _("请选择选定客群的思路：行业、人脉圈或协会圈")
    values["basis"] = basis
    values["basis_detail"] = _text(raw, "basis_detail", 100, errors)
    if not values["basis_detail"] and "basis_detail" not in errors:
        errors["basis_detail"] = _("请写明具体的行业、人脉圈或协会圈")
    kind = (raw.get("customer_kind") or "").strip()
    if kind not in GROUP_CUSTOMER_KINDS:
        errors["customer_kind"] = _("请选择是存量客户还是新客户")
    values["customer_kind"] = kind
    values["participants"] = _text(raw, "participants", 200, errors)
    for key, _label in GROUP_MODULES:
        values[key] = _text(raw, key, TEXT_LIMIT, errors)
    return values, errors


def missing_modules(values: Any) -> dict[str, str]:
    """T-53: a plan lacking any of modules a–d cannot be submitted."""
    get = values.get if isinstance(values, dict) else (lambda k: getattr(values, k))
    return {key: _("提交前请填写“%(m)s”", m=label) for key, label in GROUP_MODULES if not (get(key) or "").strip()}


def _active_taken_error(existing: TargetMapGroupPlan) -> dict[str, str]:
    return {"_": _("本网点已有一个未关闭的分群营销方案（“%(name)s”，%(status)s）。每家网点只选定一个目标客户群体，"
                   "请先关闭该方案再新建。", name=existing.name, status=existing.status_label)}


def create_group(actor: Any, outlet: Outlet, raw: dict[str, Any], *, submit: bool = False) -> TargetMapGroupPlan:
    if not _may_manage_outlet(actor, outlet.id):
        raise PlanError({"_": _("您没有维护本网点分群营销方案的权限")}, forbidden=True)
    existing = active_group(outlet.id)
    if existing is not None:  # the friendly refusal, before the partial unique index would refuse
        raise PlanError(_active_taken_error(existing))
    values, errors = check_group(raw)
    if submit and not errors:
        errors.update(missing_modules(values))
    if errors:
        raise PlanError(errors)
    now = utcnow()
    plan = TargetMapGroupPlan(outlet_id=outlet.id, status="submitted" if submit else "draft", created_by_id=actor.id,
                              updated_by_id=actor.id, **values)
    if submit:
        plan.submitted_by_id, plan.submitted_at = actor.id, now
    db.session.add(plan)
    try:
        db.session.flush()
    except IntegrityError as exc:  # a colleague opened one a moment ago
        db.session.rollback()
        taken = active_group(outlet.id)
        raise PlanError(_active_taken_error(taken) if taken else {"_": _stale()}, conflict=True) from exc
    audit.record("target_map.group_created", target=("outlet", outlet.id),
                 detail={"group_id": plan.id, "name": plan.name, "status": plan.status})
    _commit()
    return plan


def update_group(actor: Any, plan: TargetMapGroupPlan, raw: dict[str, Any], version: Any, *,
                 submit: bool = False) -> TargetMapGroupPlan:
    if not _may_manage_outlet(actor, plan.outlet_id):
        raise PlanError({"_": _("您没有维护本网点分群营销方案的权限")}, forbidden=True)
    _check_version(plan, version)
    if plan.status != "draft":
        raise PlanError({"_": _("方案当前状态为“%(s)s”，不能再修改", s=plan.status_label)})
    values, errors = check_group(raw)
    if submit and not errors:
        errors.update(missing_modules(values))
    if errors:
        raise PlanError(errors)
    changed = sorted(k for k, v in values.items() if getattr(plan, k) != v)
    if not changed and not submit:
        return plan  # a save with nothing changed: nothing written, nothing to audit
    for key, value in values.items():
        setattr(plan, key, value)
    plan.updated_by_id = actor.id
    if submit:
        plan.status, plan.submitted_by_id, plan.submitted_at = "submitted", actor.id, utcnow()
    audit.record("target_map.group_submitted" if submit else "target_map.group_updated", target=("outlet", plan.outlet_id),
                 detail={"group_id": plan.id, "fields": changed})
    _commit()
    return plan


def close_group(actor: Any, plan: TargetMapGroupPlan, version: Any) -> TargetMapGroupPlan:
    """Close the plan (submitted and carried out, or a draft given up): the outlet may then choose a new group."""
    if not _may_manage_outlet(actor, plan.outlet_id):
        raise PlanError({"_": _("您没有维护本网点分群营销方案的权限")}, forbidden=True)
    _check_version(plan, version)
    if plan.status == "closed":
        raise PlanError({"_": _("方案已关闭")})
    before = plan.status
    plan.status, plan.closed_by_id, plan.closed_at = "closed", actor.id, utcnow()
    audit.record("target_map.group_closed", target=("outlet", plan.outlet_id),
                 detail={"group_id": plan.id, "from": before})
    _commit()
    return plan


# ---------------------------------------------------------------- three-week rollout (R-27, T-54)

@dataclass(frozen=True)
class RolloutItemDef:
    code: str
    week: int
    label: Any
    link: str | None = None  # endpoint of the CRM page where the item's work is done
    hint: Any = None


ROLLOUT_ITEMS: tuple[RolloutItemDef, ...] = (
    RolloutItemDef("eco_map", 1, _l("金融生态图（了解周边客户）"), "target_map.index",
                   _l("把网点周边的存量和目标企业填到金融生态图上")),
    RolloutItemDef("channel_posts", 1, _l("渠道配置与岗位职责"), None,
                   _l("按日均交易笔数配置对公柜台，梳理各岗位日、周、月职责")),
    RolloutItemDef("stock_files", 1, _l("包户包效：建立存量对公客户档案"), "customers.claim_page",
                   _l("认领、分配存量客户，完善客户基础信息")),
    RolloutItemDef("targets", 1, _l("保抢挖：确定网点拟拓展目标客户"), "target_map.index",
                   _l("在生态图上标注保、抢、挖，并分配营销人")),
    RolloutItemDef("linkage", 1, _l("建立联动营销流程"), None, _l("柜台、大堂、对公客户经理、对私客户经理四环联动")),
    RolloutItemDef("phone_training", 2, _l("执行包户包效（电话维护培训）"), "customers.claim_page",
                   _l("辅导员工电话维护客户的技巧")),
    RolloutItemDef("outreach_flow", 2, _l("外拓营销流程"), "target_map_plans.index",
                   _l("制定客户拓展甘特图，按拜访前、中、后流程记录走访")),
    RolloutItemDef("product_manual", 2, _l("产品手册推广"), None, _l("支行产品经理到网点培训，网点晨会转培训")),
    RolloutItemDef("performance", 3, _l("绩效优化"), None, _l("明确计价与绩效考核分配办法")),
    RolloutItemDef("summary", 3, _l("精细化管理总结与固化"), None, _l("支行月例会督促存量维护和新客户拓展的固化")),
)
ROLLOUT_BY_CODE = {i.code: i for i in ROLLOUT_ITEMS}
WEEKS = (1, 2, 3)


def week_due_dates(start: date) -> dict[int, date]:
    """T-54: each rollout week is five working days; its items are due on the week's fifth working day. Started on
    Monday 2024-04-01 → 2024-04-05, 2024-04-12, 2024-04-19 (weekends only). Started mid-week (e.g. Wednesday
    2024-04-03), a week still gets five full working days (→ Tue 2024-04-09, 04-16, 04-23) rather than a shortened
    first week; started on a day off, counting begins the next working day. Working days are the PRC calendar's
    (crm/workdays.py): statutory holidays are skipped and weekend make-up workdays count."""
    from crm.workdays import WorkdayCalendar

    calendar = WorkdayCalendar()
    first = calendar.roll_forward(start)
    return {week: calendar.add_workdays(first, 5 * week - 1) for week in WEEKS}


def rollout_of(outlet_id: int) -> TargetMapRollout | None:
    return db.session.execute(select(TargetMapRollout).where(TargetMapRollout.outlet_id == outlet_id)
                              ).scalar_one_or_none()


def rollout_items(rollout: TargetMapRollout) -> list[TargetMapRolloutItem]:
    return list(db.session.execute(select(TargetMapRolloutItem).where(TargetMapRolloutItem.rollout_id == rollout.id)
                                   .order_by(TargetMapRolloutItem.week, TargetMapRolloutItem.position)).scalars())


def _start_date(raw: Any, today: date) -> tuple[date | None, dict[str, str]]:
    errors: dict[str, str] = {}
    start = _date({"start_date": raw or ""}, "start_date", errors, required=True, label=_("导入开始日期"), today=today)
    if start and start > today + timedelta(days=365):
        errors["start_date"] = _("导入开始日期不能晚于一年以后")
        start = None
    return start, errors


def start_rollout(actor: Any, outlet: Outlet, start_raw: Any, *, today: date | None = None) -> TargetMapRollout:
    if not _may_manage_outlet(actor, outlet.id):
        raise PlanError({"_": _("您没有维护本网点三周导入计划的权限")}, forbidden=True)
    if rollout_of(outlet.id) is not None:
        raise PlanError({"_": _("本网点已启动三周导入，如需调整请修改开始日期")})
    start, errors = _start_date(start_raw, today or today_local())
    if errors:
        raise PlanError(errors)
    rollout = TargetMapRollout(outlet_id=outlet.id, start_date=start, started_by_id=actor.id)
    db.session.add(rollout)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise PlanError({"_": _("本网点已启动三周导入，如需调整请修改开始日期")}, conflict=True) from exc
    due = week_due_dates(start)
    for pos, item in enumerate(ROLLOUT_ITEMS):
        db.session.add(TargetMapRolloutItem(rollout_id=rollout.id, code=item.code, week=item.week, position=pos,
                                            due_date=due[item.week]))
    audit.record("target_map.rollout_started", target=("outlet", outlet.id),
                 detail={"rollout_id": rollout.id, "start": start.isoformat()})
    _commit()
    return rollout


def restart_rollout(actor: Any, rollout: TargetMapRollout, start_raw: Any, version: Any, *,
                    today: date | None = None) -> TargetMapRollout:
    """A new start date moves every due date; ticks stay."""
    if not _may_manage_outlet(actor, rollout.outlet_id):
        raise PlanError({"_": _("您没有维护本网点三周导入计划的权限")}, forbidden=True)
    _check_version(rollout, version)
    start, errors = _start_date(start_raw, today or today_local())
    if errors:
        raise PlanError(errors)
    before = rollout.start_date
    if start == before:
        return rollout  # the same start date: nothing moves, nothing to audit
    rollout.start_date = start
    due = week_due_dates(start)
    for item in rollout_items(rollout):
        item.due_date = due[item.week]
    audit.record("target_map.rollout_rescheduled", target=("outlet", rollout.outlet_id),
                 detail={"rollout_id": rollout.id, "from": before.isoformat(), "to": start.isoformat()})
    _commit()
    return rollout


def tick(actor: Any, rollout: TargetMapRollout, item_id: Any, done: bool) -> TargetMapRolloutItem:
    """Tick an item done (or undo it) with who and when: a conditional UPDATE, so two clicks make one change."""
    if not _may_manage_outlet(actor, rollout.outlet_id):
        raise PlanError({"_": _("您没有维护本网点三周导入计划的权限")}, forbidden=True)
    key = _int(item_id)
    item = db.session.execute(select(TargetMapRolloutItem).where(
        TargetMapRolloutItem.rollout_id == rollout.id, TargetMapRolloutItem.id == key)).scalar_one_or_none()
    if item is None:
        raise PlanError({"_": _("没有这个导入事项")})
    t = TargetMapRolloutItem
    if done:
        stmt = update(t).where(t.id == item.id, t.done_at.is_(None)).values(done_at=utcnow(), done_by_id=actor.id)
    else:
        stmt = update(t).where(t.id == item.id, t.done_at.is_not(None)).values(done_at=None, done_by_id=None)
    result = db.session.execute(stmt.execution_options(synchronize_session=False))
    if result.rowcount == 1:
        audit.record("target_map.rollout_item_done" if done else "target_map.rollout_item_undone",
                     target=("outlet", rollout.outlet_id), detail={"rollout_id": rollout.id, "item": item.code})
    db.session.commit()
    db.session.refresh(item)
    return item


@dataclass
class WeekProgress:
    week: int
    due: date
    items: list[TargetMapRolloutItem] = field(default_factory=list)
    done: int = 0
    overdue: int = 0

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def percent(self) -> int:
        return percent(self.done, self.total)


@dataclass
class RolloutProgress:
    weeks: list[WeekProgress]
    done: int
    total: int
    overdue: int

    @property
    def percent(self) -> int:
        return percent(self.done, self.total)


def progress(items: list[TargetMapRolloutItem], today: date) -> RolloutProgress:
    """Per week and overall: items ticked, percentage (四舍五入), and items overdue (due before today, not done)."""
    weeks: dict[int, WeekProgress] = {}
    for item in items:
        w = weeks.setdefault(item.week, WeekProgress(item.week, item.due_date))
        w.items.append(item)
        if item.done_at is not None:
            w.done += 1
        elif item.due_date < today:
            w.overdue += 1
    ordered = [weeks[k] for k in sorted(weeks)]
    return RolloutProgress(ordered, sum(w.done for w in ordered), sum(w.total for w in ordered),
                           sum(w.overdue for w in ordered))
