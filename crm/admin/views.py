"""Administration pages: organisation, audit log, plugins."""

from __future__ import annotations

from datetime import datetime, time

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import func, select

from crm import audit
from crm.access import get_or_404, policy, scoped
from crm.admin import services
from crm.admin.forms import BranchForm, OutletForm
from crm.extensions import db
from crm.forms import apply_errors
from crm.models import AuditLog, Branch, Outlet, User
from crm.models.org import BRANCH_LEVELS, OUTLET_TYPES
from crm.pagination import by_id, cursor_arg
from crm.plugins import PluginSettingsError
from crm.roles import SCOPE_ALL
from crm.timeutil import local_to_utc
from crm.web import toast

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 12 else None


# ---------------------------------------------------------------- organisation

@bp.route("/org")
@policy(permission="org.view")
def org():
    branches = db.session.execute(scoped(Branch).order_by(Branch.path)).scalars().all()
    outlets = db.session.execute(scoped(Outlet).order_by(Outlet.code)).scalars().all()
    staff = dict(db.session.execute(
        scoped(User).with_only_columns(User.outlet_id, func.count()).where(User.active)
        .group_by(User.outlet_id)).all())
    by_branch: dict[int, list[Outlet]] = {}
    for o in outlets:
        by_branch.setdefault(o.branch_id, []).append(o)
    visible = {b.id for b in branches}
    roots = [b for b in branches if b.parent_id not in visible]
    children: dict[int, list[Branch]] = {}
    for b in branches:
        children.setdefault(b.parent_id, []).append(b)
    return render_template("admin/org.html", roots=roots, children=children, by_branch=by_branch, staff=staff,
                           outlet_count=len(outlets), branch_count=len(branches))


def _branch_form(form: BranchForm) -> None:
    form.level.choices = [(k, str(v)) for k, v in BRANCH_LEVELS.items()]
    nodes = db.session.execute(scoped(Branch).order_by(Branch.path)).scalars()
    form.parent_id.choices = [("", "—")] + [(str(b.id), f"{b.name}（{b.level_label}）") for b in nodes]


def _branch_values(form: BranchForm) -> dict:
    return dict(code=form.code.data.strip(), name=form.name.data, level=form.level.data,
                parent_id=_int(form.parent_id.data), president_name=form.president_name.data,
                active=form.active.data)


@bp.route("/branches/new", methods=["GET", "POST"])
@bp.route("/branches/<int:branch_id>", methods=["GET", "POST"])
@policy(permission="org.manage")
def branch_form(branch_id: int | None = None):
    branch = get_or_404(Branch, branch_id) if branch_id is not None else None
    form = BranchForm(obj=branch) if request.method == "GET" else BranchForm()
    _branch_form(form)
    if request.method == "GET":
        if branch is not None:
            form.parent_id.data = str(branch.parent_id or "")
            form.version.data = str(branch.version)
        else:
            level = request.args.get("level", "")
            form.level.data = level if level in BRANCH_LEVELS else "sub_branch"
            form.parent_id.data = request.args.get("parent", "")
    general: list[str] = []
    if form.validate_on_submit():
        try:
            saved = services.save_branch(current_user, branch, _branch_values(form), _int(form.version.data))
        except services.OrgError as exc:
            db.session.rollback()
            general = apply_errors(form, exc.errors)
        else:
            toast(_("机构“%(name)s”已保存", name=saved.name))
            return redirect(url_for("admin.org"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/branch_form.html", form=form, branch=branch, general=general), status


def _outlet_form(form: OutletForm) -> None:
    form.outlet_type.choices = [(k, str(v)) for k, v in OUTLET_TYPES.items()]
    nodes = db.session.execute(scoped(Branch).order_by(Branch.path)).scalars()
    form.branch_id.choices = [("", "—")] + [(str(b.id), f"{b.name}（{b.level_label}）") for b in nodes]


@bp.route("/outlets/new", methods=["GET", "POST"])
@bp.route("/outlets/<int:outlet_id>", methods=["GET", "POST"])
@policy(permission="org.manage")
def outlet_form(outlet_id: int | None = None):
    outlet = get_or_404(Outlet, outlet_id) if outlet_id is not None else None
    form = OutletForm(obj=outlet) if request.method == "GET" else OutletForm()
    _outlet_form(form)
    if request.method == "GET":
        if outlet is not None:
            form.branch_id.data = str(outlet.branch_id)
            form.version.data = str(outlet.version)
        else:
            form.branch_id.data = request.args.get("branch", "")
    general: list[str] = []
    if form.validate_on_submit():
        values = {name: field.data for name, field in form._fields.items() if name not in ("csrf_token", "version")}
        values["branch_id"] = _int(form.branch_id.data)
        values["code"] = form.code.data.strip()
        try:
            saved = services.save_outlet(current_user, outlet, values, _int(form.version.data))
        except services.OrgError as exc:
            db.session.rollback()
            general = apply_errors(form, exc.errors)
        else:
            toast(_("网点“%(name)s”已保存", name=saved.name))
            return redirect(url_for("admin.org"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/outlet_form.html", form=form, outlet=outlet, general=general), status


# ---------------------------------------------------------------- audit log

def _parse_date(raw: str | None) -> datetime | None:
    try:
        return datetime.strptime(raw or "", "%Y-%m-%d")
    except ValueError:
        return None


@bp.route("/audit")
@policy(permission="audit.view")
def audit_log():
    args = request.args
    action = args.get("action") or ""
    result = args.get("result") or ""
    who = (args.get("who") or "").strip()[:40]
    date_from, date_to = _parse_date(args.get("from")), _parse_date(args.get("to"))
    errors = []
    if args.get("from") and date_from is None or args.get("to") and date_to is None:
        errors.append(_("日期格式应为 年-月-日，例如 2026-11-23"))
    stmt = scoped(AuditLog)
    if action in audit.ACTIONS or (action and action.replace(".", "").replace("_", "").isalnum()):
        stmt = stmt.where(AuditLog.action == action)
    if result in audit.RESULTS:
        stmt = stmt.where(AuditLog.result == result)
    if who:
        actor_ids = scoped(User).with_only_columns(User.id).where(
            (User.name == who) | (User.login == who) | (User.staff_no == who))
        stmt = stmt.where(AuditLog.actor_id.in_(actor_ids) | (AuditLog.actor_login == who))
    if date_from:
        stmt = stmt.where(AuditLog.created_at >= local_to_utc(date_from))
    if date_to:
        stmt = stmt.where(AuditLog.created_at < local_to_utc(datetime.combine(date_to, time.max)))
    page = by_id(stmt, AuditLog.id, after=cursor_arg(args.get("after")), descending=True)
    actor_ids = {r.actor_id for r in page.rows if r.actor_id}
    actors = {u.id: u for u in db.session.execute(select(User).where(User.id.in_(actor_ids))).scalars()} \
        if actor_ids else {}
    ctx = dict(page=page, actors=actors, action=action, result=result, who=who, date_from=args.get("from", ""),
               date_to=args.get("to", ""), actions=audit.ACTIONS, results=audit.RESULTS, errors=errors,
               action_label=audit.action_label,
               filters={k: v for k, v in (("action", action), ("result", result), ("who", who),
                                          ("from", args.get("from")), ("to", args.get("to"))) if v})
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "audit-rows":
        return render_block("admin/audit.html", "rows", **ctx)
    return render_template("admin/audit.html", **ctx)


# ---------------------------------------------------------------- plugins

def _plugin_branches() -> list[Branch]:
    """The 分行 whose plugins the user may switch: all for the system admin, their own for a branch admin."""
    stmt = scoped(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.code)
    return list(db.session.execute(stmt).scalars())


def _target_branch(raw: str | None) -> int | None:
    """'global' → None (admin only); otherwise a 分行 in scope, or 404."""
    if raw in (None, "", "global"):
        if current_user.scope != SCOPE_ALL:
            abort(404)
        return None
    branch = get_or_404(Branch, raw)
    if branch.parent_id is not None:
        abort(404)
    return branch.id


def _plugin_rows() -> tuple[list, list[Branch], dict]:
    registry = current_app.extensions["crm"]
    branches = _plugin_branches()
    states = {b.id: registry.state(b.id) for b in branches}
    if current_user.scope == SCOPE_ALL:
        states[None] = registry.state(None)
    available = {(name, b.id): registry.available(name, b) for name in registry.plugins for b in branches}
    explicit = registry.explicit([b.id for b in branches])
    return list(registry.plugins.values()), branches, {"states": states, "available": available,
                                                       "explicit": explicit}


@bp.route("/plugins")
@policy(permission="plugins.manage")
def plugins():
    infos, branches, extra = _plugin_rows()
    return render_template("admin/plugins.html", plugins=infos, branches=branches, **extra)


@bp.route("/plugins/<name>/toggle", methods=["POST"])
@policy(permission="plugins.manage")
def plugin_toggle(name: str):
    registry = current_app.extensions["crm"]
    if name not in registry.plugins:
        abort(404)
    branch_id = _target_branch(request.form.get("branch"))
    choice = request.form.get("enabled")
    if choice not in ("0", "1", "inherit"):
        abort(400)
    enabled = None if choice == "inherit" else choice == "1"
    try:
        registry.set_enabled(name, branch_id, enabled, current_user.id)
    except PluginSettingsError as exc:
        db.session.rollback()
        toast(str(exc), "danger")
    else:
        audit.record("plugin.toggled", target=("plugin", name),
                     detail={"branch_id": branch_id, "enabled": enabled})
        db.session.commit()
        label = registry.plugins[name].label
        if enabled is None:
            toast(_("该分行的“%(p)s”已恢复为沿用全行默认", p=label))
        else:
            toast(_("已为所选分行启用“%(p)s”", p=label) if enabled else _("已为所选分行停用“%(p)s”", p=label))
    infos, branches, extra = _plugin_rows()
    if request.headers.get("HX-Request"):
        return render_block("admin/plugins.html", "matrix", plugins=infos, branches=branches, **extra)
    return redirect(url_for("admin.plugins"))


@bp.route("/plugins/<name>/settings", methods=["GET", "POST"])
@policy(permission="plugins.manage")
def plugin_settings(name: str):
    registry = current_app.extensions["crm"]
    if name not in registry.plugins:
        abort(404)
    info = registry.plugins[name]
    branch_id = _target_branch(request.values.get("branch"))
    branch = db.session.get(Branch, branch_id) if branch_id else None
    error = None
    status = 200
    if request.method == "POST":
        submitted = {k[4:]: v for k, v in request.form.items() if k.startswith("set_")}
        for key, default in info.default_branch_settings.items():
            if isinstance(default, bool):
                submitted[key] = f"set_{key}" in request.form  # an unticked box is not sent
        try:
            registry.set_settings(name, branch_id, submitted, current_user.id)
        except PluginSettingsError as exc:
            db.session.rollback()
            error, status = str(exc), 422
        else:
            audit.record("plugin.settings", target=("plugin", name), detail={"branch_id": branch_id})
            db.session.commit()
            toast(_("设置已保存"))
            return redirect(url_for("admin.plugin_settings", name=name, branch=branch_id or "global"))
    try:
        values = registry.settings(name, branch_id)
    except PluginSettingsError as exc:
        values, error = dict(info.default_branch_settings), str(exc)
    return render_template("admin/plugin_settings.html", info=info, branch=branch, values=values, error=error,
                           branch_arg=branch_id or "global"), status
from crm.admin import jobs as _jobs  # noqa: E402,F401  (the failed background jobs page on `bp`)
from crm.admin import workdays as _workdays  # noqa: E402,F401  (routes of the working-day calendar on `bp`)
