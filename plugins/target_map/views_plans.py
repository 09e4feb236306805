"""Outreach pages of the 金融生态图: the outlet's Gantt plan, tasks and visit records (R-18), group marketing (R-20),
the three-week rollout (R-27), the customer panel and the overdue widget. Views parse, call services_plans, render."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from crm.access import can, get_or_404, policy, scoped
from crm.extensions import db
from crm.models import Customer, Outlet
from crm.timeutil import today_local
from crm.web import toast
from plugins.target_map import services_plans as svc
from plugins.target_map.models_plans import (
    CHANNELS,
    GROUP_BASES,
    GROUP_CUSTOMER_KINDS,
    GROUP_MODULES,
    GROUP_STATUSES,
    INFO_SOURCES,
    TASK_STATUSES,
    TargetMapGroupPlan,
    TargetMapRollout,
    TargetMapTask,
    TargetMapVisit,
)

bp = Blueprint("target_map_plans", __name__, template_folder="templates", static_folder="static")

STATUS_FILTERS = {"open": _l("未完成"), "planned": _l("未开始"), "in_progress": _l("进行中"), "overdue": _l("已逾期"),
                  "done": _l("已完成")}


def _outlet() -> Outlet:
    outlet = svc.resolve_outlet(current_user, request.values.get("outlet"))
    if outlet is None:
        abort(404)
    return outlet


def _outlet_args(outlet_id: int) -> dict[str, Any]:
    """?outlet= travels only for users who pick an outlet (branch posts); outlet staff have one."""
    return {"outlet": outlet_id} if current_user.outlet_id != outlet_id else {}


def _is_htmx() -> bool:
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-Boosted")


def _status_filters() -> dict[str, str]:
    return {k: str(v) for k, v in STATUS_FILTERS.items()}


# ---------------------------------------------------------------- the outlet's Gantt plan

@bp.route("/plans")
@policy(permission="target_map.view")
def index():
    outlet = _outlet()
    today = today_local()
    f = svc.parse_filter(request.args)
    rows, more = svc.gantt_rows(current_user, outlet.id, f, today)
    counts = svc.visit_counts([r.TargetMapTask.id for r in rows])
    gantt = [_bar(r, today) for r in rows]
    summary = _summary(outlet.id, today)
    return render_template(
        "target_map/plans.html", outlet=outlet, rows=rows, more=more, counts=counts, f=f, today=today,
        gantt_json=json.dumps(gantt, ensure_ascii=False), staff=svc.plan_staff(outlet.id), summary=summary,
        statuses=TASK_STATUSES, status_filters=_status_filters(), outlets=svc.outlet_choices(current_user),
        outlet_args=_outlet_args(outlet.id), may_plan=svc.may_plan_at(current_user, outlet.id),
        limit=svc.GANTT_LIMIT)


def _bar(row: Any, today) -> dict[str, Any]:
    task: TargetMapTask = row.TargetMapTask
    editable = task.status != "done" and svc.may_edit_task(current_user, task)
    overdue = task.is_overdue(today)
    return {
        "id": f"t{task.id}", "task_id": task.id, "name": f"{row.customer_name} · {task.title}",
        "start": task.planned_start.isoformat(), "end": task.planned_end.isoformat(),
        "progress": {"planned": 0, "in_progress": 50, "done": 100}.get(task.status, 0),
        "status": task.status, "status_label": _("已逾期") if overdue else task.status_label, "overdue": overdue,
        "owner": row.owner_name, "customer": row.customer_name, "title": task.title, "editable": editable,
        "version": task.version, "url": url_for("target_map_plans.task", task_id=task.id),
        "reschedule": url_for("target_map_plans.reschedule", task_id=task.id),
    }


def _summary(outlet_id: int, today) -> dict[str, int]:
    """Counts of the tasks the user sees at the outlet, in the badges' exclusive states (an unfinished task past its
    planned end counts as overdue only): one grouped query on the outlet index."""
    from sqlalchemy import case

    state = case((TargetMapTask.status == "done", "done"), (TargetMapTask.planned_end < today, "overdue"),
                 else_=TargetMapTask.status)
    counts = dict(db.session.execute(select(state, func.count()).where(
        *svc.outlet_tasks(current_user, outlet_id)).group_by(state)).all())
    return {k: counts.get(k, 0) for k in ("planned", "in_progress", "overdue", "done")}


@bp.route("/plans/customers")
@policy(permission="target_map.plan")
def customer_options():
    """The task form's customer choices, narrowed as the user types (htmx)."""
    outlet = _outlet()
    rows = svc.map_customers(current_user, outlet.id, request.args.get("q", ""))
    return render_template("target_map/_plans_customer_options.html", rows=rows,
                           chosen=svc._int(request.args.get("customer_id")))


# ---------------------------------------------------------------- tasks

def _task_form(outlet: Outlet, status: int = 200, values: dict | None = None, errors: dict | None = None):
    values = values or {}
    chosen = svc._int(values.get("customer_id"))
    rows = svc.map_customers(current_user, outlet.id)
    if chosen and chosen not in {r.id for r in rows}:  # a customer chosen from the search or the customer page
        rows = [*svc.map_customers(current_user, outlet.id, customer_id=chosen), *rows]
    return render_template("target_map/plans_task_form.html", outlet=outlet, values=values, errors=errors or {},
                           customers=rows, owners=svc.owner_choices(current_user, outlet.id),
                           outlet_args=_outlet_args(outlet.id), map_url=_link("target_map.index", outlet.id)), status


@bp.route("/tasks/new")
@policy(permission="target_map.plan")
def new_task():
    outlet = _outlet()
    if not svc.may_plan_at(current_user, outlet.id):
        abort(403)
    today = today_local()
    values = {"customer_id": request.args.get("customer_id", ""), "owner_id": str(current_user.id),
              "planned_start": today.isoformat(), "planned_end": (today + timedelta(days=4)).isoformat()}
    return _task_form(outlet, values=values)


@bp.route("/tasks", methods=["POST"])
@policy(permission="target_map.plan")
def create_task():
    outlet = _outlet()
    raw = request.form.to_dict()
    try:
        task = svc.create_task(current_user, outlet, raw)
    except svc.PlanError as exc:
        db.session.rollback()
        return _task_form(outlet, exc.status, raw, exc.errors)
    toast(_("已新建任务“%(t)s”", t=task.title))
    return redirect(url_for("target_map_plans.task", task_id=task.id))


def _task_page(task: TargetMapTask, status: int = 200, **extra: Any):
    visits = svc.task_visits([task.id])[task.id]
    entry = svc.entry_of(task)
    names = svc.users_by_id({task.owner_id, task.created_by_id, task.updated_by_id,
                             *(v.pre_by_id for v in visits), *(v.during_by_id for v in visits),
                             *(v.post_by_id for v in visits), *(v.advice_by_id for v in visits)})
    ctx = dict(task=task, visits=visits, entry=entry, names=names, today=today_local(),
               may_edit=svc.may_edit_task(current_user, task), may_advise=svc.may_advise(current_user, task),
               owners=svc.owner_choices(current_user, task.outlet_id) or [task.owner], sources=INFO_SOURCES,
               outlet_args=_outlet_args(task.outlet_id), errors={}, values=None, plan_errors={}, advice_errors={},
               plan_value="", advice_value="", customer_visible=db.session.execute(
                   scoped(Customer).with_only_columns(Customer.id).where(Customer.id == task.customer_id)).first()
               is not None)
    ctx.update(extra)
    if task.owner not in ctx["owners"]:
        ctx["owners"] = [task.owner, *ctx["owners"]]
    return render_template("target_map/plans_task.html", **ctx), status


@bp.route("/tasks/<int:task_id>")
@policy(permission="target_map.view")
def task(task_id: int):
    return _task_page(get_or_404(TargetMapTask, task_id))


@bp.route("/tasks/<int:task_id>", methods=["POST"])
@policy(permission="target_map.plan")
def update_task(task_id: int):
    task = get_or_404(TargetMapTask, task_id)
    raw = request.form.to_dict()
    try:
        svc.update_task(current_user, task, raw, raw.get("version"))
    except svc.PlanError as exc:
        db.session.rollback()
        if exc.conflict:
            toast(exc.message, "danger")
            return _task_page(get_or_404(TargetMapTask, task_id), 409)
        return _task_page(get_or_404(TargetMapTask, task_id), exc.status, errors=exc.errors, values=raw)
    toast(_("任务已保存"))
    return redirect(url_for("target_map_plans.task", task_id=task.id))


@bp.route("/tasks/<int:task_id>/reschedule", methods=["POST"])
@policy(permission="target_map.plan")
def reschedule(task_id: int):
    """The Gantt's drag: new planned dates as JSON. Errors say in Chinese what was wrong and give the stored dates
    back, so the bar returns to them."""
    task = get_or_404(TargetMapTask, task_id)
    f = request.form
    try:
        task = svc.reschedule(current_user, task, f.get("planned_start"), f.get("planned_end"), f.get("version"))
    except svc.PlanError as exc:
        db.session.rollback()
        current = db.session.get(TargetMapTask, task_id)
        return jsonify(ok=False, error=exc.message, errors=exc.errors, start=current.planned_start.isoformat(),
                       end=current.planned_end.isoformat(), version=current.version), exc.status
    msg = _("已调整“%(t)s”的计划日期：%(s)s 至 %(e)s", t=task.title, s=task.planned_start.isoformat(),
            e=task.planned_end.isoformat())
    return jsonify(ok=True, message=msg, start=task.planned_start.isoformat(), end=task.planned_end.isoformat(),
                   version=task.version, overdue=task.is_overdue(today_local()))


@bp.route("/tasks/<int:task_id>/delete", methods=["POST"])
@policy(permission="target_map.plan")
def delete_task(task_id: int):
    task = get_or_404(TargetMapTask, task_id)
    outlet_id, title = task.outlet_id, task.title
    try:
        svc.delete_task(current_user, task, request.form.get("version"))
    except svc.PlanError as exc:
        db.session.rollback()
        toast(exc.message, "danger")
        return redirect(url_for("target_map_plans.task", task_id=task_id))
    toast(_("已删除任务“%(t)s”", t=title))
    return redirect(url_for("target_map_plans.index", **_outlet_args(outlet_id)))


@bp.route("/tasks/<int:task_id>/plan", methods=["POST"])
@policy(permission="target_map.plan")
def save_plan_text(task_id: int):
    """The customer's 目标客户拓展方案 (R-18 (3)), edited from the task page."""
    task = get_or_404(TargetMapTask, task_id)
    try:
        svc.save_plan_text(current_user, task, request.form.get("plan", ""), request.form.get("version"))
    except svc.PlanError as exc:
        db.session.rollback()
        task = get_or_404(TargetMapTask, task_id)
        if exc.conflict:
            toast(exc.message, "danger")
            return _task_page(task, 409)
        return _task_page(task, exc.status, plan_errors=exc.errors, plan_value=request.form.get("plan", ""))
    toast(_("目标客户拓展方案已保存"))
    return redirect(url_for("target_map_plans.task", task_id=task.id) + "#plan")


# ---------------------------------------------------------------- visits (R-18 pre / during / post)

def _visit_form(task: TargetMapTask, visit: TargetMapVisit | None, status: int = 200, values: dict | None = None,
                chosen: list[str] | None = None, errors: dict | None = None):
    if values is None:
        if visit is not None:
            values = {"visit_date": visit.visit_date.isoformat(), "channel": visit.channel,
                      "major_matter": visit.major_matter, "hypotheses": visit.hypotheses or "",
                      "questions": visit.questions or "", "key_info": visit.key_info or "",
                      "reported_on": visit.reported_on.isoformat() if visit.reported_on else "",
                      "report_content": visit.report_content or ""}
            chosen = list(visit.sources or [])
        else:
            values = {"visit_date": today_local().isoformat(), "channel": "visit"}
            chosen = []
    head = _outlet_head_name(task.outlet_id)
    return render_template("target_map/plans_visit_form.html", task=task, visit=visit, values=values,
                           chosen=chosen or [], errors=errors or {}, sources=INFO_SOURCES, channels=CHANNELS,
                           head=head, today=today_local()), status


def _outlet_head_name(outlet_id: int) -> str | None:
    from crm.models import User

    return db.session.execute(select(User.name).where(User.outlet_id == outlet_id, User.post == "outlet_head",
                                                      User.active).limit(1)).scalar_one_or_none()


def _editable_task(task_id: int) -> TargetMapTask:
    task = get_or_404(TargetMapTask, task_id)
    if not svc.may_edit_task(current_user, task):
        abort(403)
    return task


@bp.route("/tasks/<int:task_id>/visits/new")
@policy(permission="target_map.plan")
def new_visit(task_id: int):
    return _visit_form(_editable_task(task_id), None)


@bp.route("/tasks/<int:task_id>/visits", methods=["POST"])
@policy(permission="target_map.plan")
def create_visit(task_id: int):
    task = get_or_404(TargetMapTask, task_id)
    return _save_visit(task, None)


@bp.route("/visits/<int:visit_id>/edit")
@policy(permission="target_map.plan")
def edit_visit(visit_id: int):
    visit = get_or_404(TargetMapVisit, visit_id)
    if not svc.may_edit_task(current_user, visit.task):
        abort(403)
    return _visit_form(visit.task, visit)


@bp.route("/visits/<int:visit_id>", methods=["POST"])
@policy(permission="target_map.plan")
def update_visit(visit_id: int):
    visit = get_or_404(TargetMapVisit, visit_id)
    return _save_visit(visit.task, visit)


def _save_visit(task: TargetMapTask, visit: TargetMapVisit | None):
    raw = request.form.to_dict()
    sources = request.form.getlist("sources")
    task_id, visit_id = task.id, visit.id if visit else None
    try:
        saved = svc.save_visit(current_user, task, raw, sources, visit, raw.get("version"))
    except svc.PlanError as exc:
        db.session.rollback()
        task = get_or_404(TargetMapTask, task_id)
        fresh = get_or_404(TargetMapVisit, visit_id) if visit_id else None
        if exc.conflict:
            toast(exc.message, "danger")
            return _visit_form(task, fresh, 409)
        return _visit_form(task, fresh, exc.status, raw, sources, exc.errors)
    task = saved.task
    if task.status == "done":
        toast(_("走访记录已保存，已向网点负责人汇报，任务“%(t)s”已完成", t=task.title))
    else:
        toast(_("走访记录已保存（%(stage)s）。向网点负责人汇报并记录后，任务才算完成", stage=saved.stage_label))
    return redirect(url_for("target_map_plans.task", task_id=task.id) + f"#visit-{saved.id}")


@bp.route("/visits/<int:visit_id>/advice", methods=["POST"])
@policy(permission="target_map.plan")
def save_advice(visit_id: int):
    visit = get_or_404(TargetMapVisit, visit_id)
    task_id = visit.task_id
    try:
        svc.save_advice(current_user, visit, request.form.get("advice", ""), request.form.get("version"))
    except svc.PlanError as exc:
        db.session.rollback()
        task = get_or_404(TargetMapTask, task_id)
        if exc.conflict:
            toast(exc.message, "danger")
            return _task_page(task, 409)
        return _task_page(task, exc.status, advice_errors={visit_id: exc.message},
                          advice_value=request.form.get("advice", ""))
    toast(_("负责人建议已保存"))
    return redirect(url_for("target_map_plans.task", task_id=task_id) + f"#visit-{visit_id}")


# ---------------------------------------------------------------- customer panel and dashboard widget

@bp.route("/plans/panel/<int:customer_id>")
@policy(permission="target_map.view")
def panel(customer_id: int):
    customer = get_or_404(Customer, customer_id)
    tasks = svc.customer_tasks(current_user, customer.id)
    visits = svc.task_visits([t.id for t in tasks])
    names = svc.users_by_id({t.owner_id for t in tasks} | {
        u for vs in visits.values() for v in vs for u in (v.pre_by_id, v.during_by_id, v.post_by_id,
                                                             v.advice_by_id)})
    on_map = svc.map_entry_for(current_user, customer.outlet_id, customer.id) is not None
    from plugins.target_map.models import TargetMapEntry

    entry = db.session.execute(select(TargetMapEntry).where(TargetMapEntry.customer_id == customer.id)
                               ).scalar_one_or_none()
    return render_template("target_map/_panel_plans.html", c=customer, tasks=tasks, visits=visits, names=names,
                           today=today_local(), entry=entry,
                           may_plan=on_map and svc.may_plan_at(current_user, customer.outlet_id),
                           outlet_args=_outlet_args(customer.outlet_id))


@bp.route("/widget")
@policy(permission="target_map.view")
def widget():
    today = today_local()
    rows, total = svc.overdue(current_user, today)
    outlet_wide = current_user.post in svc.OUTLET_POSTS_WHO_PLAN_ALL
    return render_template("target_map/_widget_overdue.html", rows=rows, total=total, today=today,
                           outlet_wide=outlet_wide)


# ---------------------------------------------------------------- group marketing

def _group_page(outlet: Outlet, plan: TargetMapGroupPlan | None, status: int = 200, **extra: Any):
    may_manage = svc.may_manage_outlet(current_user, outlet.id)
    ctx = dict(outlet=outlet, plan=plan, values=None, errors={}, bases=GROUP_BASES, kinds=GROUP_CUSTOMER_KINDS,
               modules=GROUP_MODULES, statuses=GROUP_STATUSES, may_manage=may_manage,
               outlet_args=_outlet_args(outlet.id), outlets=svc.outlet_choices(current_user))
    ctx.update(extra)
    if plan is not None and plan.id:
        names = svc.users_by_id({plan.created_by_id, plan.updated_by_id, plan.submitted_by_id, plan.closed_by_id})
        ctx["names"] = names
        ctx["missing"] = svc.missing_modules(plan)
    return render_template("target_map/group_form.html", **ctx), status


@bp.route("/groups")
@policy(permission="target_map.view")
def groups():
    outlet = _outlet()
    rows = svc.groups_of(outlet.id)
    names = svc.users_by_id({r.created_by_id for r in rows} | {r.submitted_by_id for r in rows}
                            | {r.closed_by_id for r in rows})
    active = next((r for r in rows if r.status != "closed"), None)
    return render_template("target_map/groups.html", outlet=outlet, rows=rows, active=active, names=names,
                           may_manage=svc.may_manage_outlet(current_user, outlet.id), modules=GROUP_MODULES,
                           outlet_args=_outlet_args(outlet.id), outlets=svc.outlet_choices(current_user))


@bp.route("/groups/new")
@policy(permission="target_map.manage")
def new_group():
    outlet = _outlet()
    if not svc.may_manage_outlet(current_user, outlet.id):
        abort(403)
    active = svc.active_group(outlet.id)
    if active is not None:
        toast(_("本网点已有一个未关闭的分群营销方案，请先关闭后再新建"), "warning")
        return redirect(url_for("target_map_plans.group", group_id=active.id))
    return _group_page(outlet, None, values={"customer_kind": "stock", "basis": "industry"})


@bp.route("/groups", methods=["POST"])
@policy(permission="target_map.manage")
def create_group():
    outlet = _outlet()
    raw = request.form.to_dict()
    submit = raw.get("action") == "submit"
    try:
        plan = svc.create_group(current_user, outlet, raw, submit=submit)
    except svc.PlanError as exc:
        db.session.rollback()
        return _group_page(outlet, None, exc.status, values=raw, errors=exc.errors)
    toast(_("分群营销方案已提交") if submit else _("分群营销方案已保存为草稿"))
    return redirect(url_for("target_map_plans.group", group_id=plan.id))


@bp.route("/groups/<int:group_id>")
@policy(permission="target_map.view")
def group(group_id: int):
    plan = get_or_404(TargetMapGroupPlan, group_id)
    return _group_page(plan.outlet, plan)


@bp.route("/groups/<int:group_id>", methods=["POST"])
@policy(permission="target_map.manage")
def update_group(group_id: int):
    plan = get_or_404(TargetMapGroupPlan, group_id)
    raw = request.form.to_dict()
    submit = raw.get("action") == "submit"
    try:
        svc.update_group(current_user, plan, raw, raw.get("version"), submit=submit)
    except svc.PlanError as exc:
        db.session.rollback()
        plan = get_or_404(TargetMapGroupPlan, group_id)
        if exc.conflict:
            toast(exc.message, "danger")
            return _group_page(plan.outlet, plan, 409)
        return _group_page(plan.outlet, plan, exc.status, values=raw, errors=exc.errors)
    toast(_("分群营销方案已提交") if submit else _("分群营销方案已保存"))
    return redirect(url_for("target_map_plans.group", group_id=group_id))


@bp.route("/groups/<int:group_id>/close", methods=["POST"])
@policy(permission="target_map.manage")
def close_group(group_id: int):
    plan = get_or_404(TargetMapGroupPlan, group_id)
    try:
        svc.close_group(current_user, plan, request.form.get("version"))
    except svc.PlanError as exc:
        db.session.rollback()
        toast(exc.message, "danger")
        return redirect(url_for("target_map_plans.group", group_id=group_id))
    toast(_("分群营销方案已关闭，可以选定新的目标客户群体"))
    return redirect(url_for("target_map_plans.group", group_id=group_id))


# ---------------------------------------------------------------- three-week rollout

def _link(endpoint: str | None, outlet_id: int) -> str | None:
    """A link into the CRM for a rollout item, where that page exists and the user may open it."""
    if not endpoint:
        return None
    perm = {"target_map.index": "target_map.view", "target_map_plans.index": "target_map.view",
            "customers.claim_page": "customers.claim"}.get(endpoint)
    if perm and not can(perm):
        return None
    if endpoint == "customers.claim_page" and current_user.outlet_id != outlet_id:
        return None  # the claims page works on one's own outlet
    try:
        args = _outlet_args(outlet_id) if endpoint.startswith("target_map") else {}
        return url_for(endpoint, **args)
    except BuildError:
        return None


def _rollout_ctx(outlet: Outlet, **extra: Any) -> dict[str, Any]:
    rollout = svc.rollout_of(outlet.id)
    today = today_local()
    items = svc.rollout_items(rollout) if rollout else []
    ctx = dict(outlet=outlet, rollout=rollout, items=items, today=today,
               progress=svc.progress(items, today) if rollout else None, defs=svc.ROLLOUT_BY_CODE,
               links={d.code: _link(d.link, outlet.id) for d in svc.ROLLOUT_ITEMS},
               names=svc.users_by_id({i.done_by_id for i in items} | ({rollout.started_by_id} if rollout else set())),
               may_manage=svc.may_manage_outlet(current_user, outlet.id), outlet_args=_outlet_args(outlet.id),
               outlets=svc.outlet_choices(current_user), errors={}, start_value=None,
               preview=svc.week_due_dates(today))
    ctx.update(extra)
    return ctx


@bp.route("/rollout")
@policy(permission="target_map.view")
def rollout():
    return render_template("target_map/rollout.html", **_rollout_ctx(_outlet()))


@bp.route("/rollout/start", methods=["POST"])
@policy(permission="target_map.manage")
def start_rollout():
    outlet = _outlet()
    raw = request.form.get("start_date", "")
    try:
        svc.start_rollout(current_user, outlet, raw)
    except svc.PlanError as exc:
        db.session.rollback()
        return render_template("target_map/rollout.html", **_rollout_ctx(outlet, errors=exc.errors,
                                                                          start_value=raw)), exc.status
    toast(_("三周导入已启动"))
    return redirect(url_for("target_map_plans.rollout", **_outlet_args(outlet.id)))


@bp.route("/rollout/<int:rollout_id>/restart", methods=["POST"])
@policy(permission="target_map.manage")
def restart_rollout(rollout_id: int):
    ro = get_or_404(TargetMapRollout, rollout_id)
    outlet = ro.outlet
    raw = request.form.get("start_date", "")
    try:
        svc.restart_rollout(current_user, ro, raw, request.form.get("version"))
    except svc.PlanError as exc:
        db.session.rollback()
        outlet = get_or_404(Outlet, outlet.id)
        if exc.conflict:
            toast(exc.message, "danger")
        return render_template("target_map/rollout.html", **_rollout_ctx(outlet, errors=exc.errors,
                                                                          start_value=raw)), exc.status
    toast(_("导入开始日期已调整，各周截止日期已重新计算"))
    return redirect(url_for("target_map_plans.rollout", **_outlet_args(outlet.id)))


@bp.route("/rollout/<int:rollout_id>/items/<int:item_id>", methods=["POST"])
@policy(permission="target_map.manage")
def tick_item(rollout_id: int, item_id: int):
    ro = get_or_404(TargetMapRollout, rollout_id)
    outlet = ro.outlet
    if item_id not in {i.id for i in svc.rollout_items(ro)}:
        abort(404)  # an item of another outlet's rollout
    done = request.form.get("done") == "1"
    try:
        item = svc.tick(current_user, ro, item_id, done)
    except svc.PlanError as exc:
        db.session.rollback()
        toast(exc.message, "danger")
        if _is_htmx():
            return render_template("target_map/_rollout_board.html",
                                   **_rollout_ctx(get_or_404(Outlet, outlet.id))), exc.status
        return redirect(url_for("target_map_plans.rollout", **_outlet_args(outlet.id)))
    label = svc.ROLLOUT_BY_CODE[item.code].label
    toast(_("已完成：%(i)s", i=label) if item.done_at else _("已取消完成：%(i)s", i=label))
    if _is_htmx():
        return render_template("target_map/_rollout_board.html", **_rollout_ctx(outlet))
    return redirect(url_for("target_map_plans.rollout", **_outlet_args(outlet.id)))
