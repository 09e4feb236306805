"""Staff account pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import or_, select

from crm.access import assignable_posts, get_or_404, may_manage, policy, scoped
from crm.extensions import db
from crm.forms import apply_errors
from crm.i18n import label
from crm.masking import mask_login
from crm.models import AuditLog, Branch, Outlet, User, UserSession
from crm.pagination import by_id, cursor_arg
from crm.roles import AT_BRANCH, GRADES, POST_BY_CODE, POSTS
from crm.timeutil import local_tz
from crm.users import services
from crm.users.forms import UserForm
from crm.web import toast

bp = Blueprint("users", __name__, url_prefix="/users")


def _fill_choices(form: UserForm) -> None:
    posts = assignable_posts(current_user) or (current_user.post,)
    form.post.choices = [("", _("请选择岗位"))] + [(p, label(POST_BY_CODE[p].label)) for p in posts]
    # Branch-level posts are the only reason to pick a branch node; an outlet head never sees that field.
    form.show_branch = any(POST_BY_CODE[p].at == AT_BRANCH for p in posts)
    outlets = db.session.execute(scoped(Outlet).where(Outlet.active).order_by(Outlet.code)).scalars()
    form.outlet_id.choices = [("", "—")] + [(str(o.id), f"{o.code} {o.name}") for o in outlets]
    branches = db.session.execute(scoped(Branch).order_by(Branch.path)).scalars()
    form.branch_id.choices = [("", "—")] + [(str(b.id), f"{b.name}（{b.level_label}）") for b in branches]
    form.grade.choices = [("", "—")] + [(g.code, label(g.label)) for g in GRADES]


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _data(form: UserForm, login: str) -> services.AccountData:
    return services.AccountData(
        login=login, name=form.name.data or "", phone=(form.phone.data or "").strip() or None,
        staff_no=(form.staff_no.data or "").strip() or None, post=form.post.data,
        outlet_id=_int_or_none(form.outlet_id.data), branch_id=_int_or_none(form.branch_id.data),
        grade=form.grade.data or None, grade_effective_from=form.grade_effective_from.data,
    )


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    name: str
    login: str  # masked when it is an ID number
    post: str
    grade: str
    unit: str
    active: bool
    must_change_password: bool
    last_login: str


def _display_rows(rows) -> list[UserRow]:
    """Rows ready to print: labels translated, logins masked, times local — so the template only writes them."""
    posts = {p.code: label(p.label) for p in POSTS}
    grades = {g.code: label(g.label) for g in GRADES}
    whole_bank = _("全行")
    zone = local_tz()
    return [
        UserRow(r.id, r.name, mask_login(r.login), posts.get(r.post, r.post), grades.get(r.grade, ""),
                r.outlet_name or r.branch_name or whole_bank, r.active, r.must_change_password,
                r.last_login_at.replace(tzinfo=UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M")
                if r.last_login_at else "")
        for r in rows
    ]


@bp.route("")
@policy(permission="users.view")
def index():
    q = (request.args.get("q") or "").strip()[:40]
    post = request.args.get("post") or ""
    outlet_id = _int_or_none(request.args.get("outlet"))
    status = request.args.get("status") or "active"
    # Only the columns the list shows: hydrating 50 full User objects with their outlet and branch cost more
    # than rendering them.
    stmt = (scoped(User)
            .with_only_columns(User.id, User.name, User.login, User.post, User.grade, User.active,
                               User.must_change_password, User.last_login_at,
                               Outlet.name.label("outlet_name"), Branch.name.label("branch_name"))
            .outerjoin(Outlet, Outlet.id == User.outlet_id).outerjoin(Branch, Branch.id == User.branch_id))
    if q:
        # autoescape: a typed % or _ is matched literally, not as a LIKE wildcard that lists everyone.
        stmt = stmt.where(or_(*(col.contains(q, autoescape=True) for col in (User.name, User.login, User.staff_no))))
    if post in POST_BY_CODE:
        stmt = stmt.where(User.post == post)
    if outlet_id:
        stmt = stmt.where(User.outlet_id == outlet_id)
    if status in ("active", "disabled"):
        stmt = stmt.where(User.active.is_(status == "active"))
    page = by_id(stmt, User.id, after=cursor_arg(request.args.get("after")), rows=True)
    page.rows = _display_rows(page.rows)
    ctx = dict(page=page, q=q, post=post, outlet_id=outlet_id, status=status)
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") in ("user-rows", "more-users"):
        return render_block("users/list.html", "rows", **ctx)
    outlets = db.session.execute(
        scoped(Outlet).with_only_columns(Outlet.id, Outlet.name).order_by(Outlet.code)).all()
    return render_template("users/list.html", posts=POSTS, outlets=outlets,
                           can_manage=bool(assignable_posts(current_user)), **ctx)


@bp.route("/new", methods=["GET", "POST"])
@policy(permission="users.manage")
def create():
    form = UserForm()
    _fill_choices(form)
    if request.method == "GET" and current_user.outlet_id:
        form.outlet_id.data = str(current_user.outlet_id)
    general: list[str] = []
    if form.validate_on_submit():
        try:
            user, password = services.create(current_user, _data(form, form.login.data))
        except services.AccountError as exc:
            general = apply_errors(form, exc.errors)
        else:
            # The one-time password is shown here once; it is not stored anywhere in clear.
            return render_template("users/created.html", user=user, password=password)
    status = 422 if request.method == "POST" else 200
    return render_template("users/form.html", form=form, user=None, general=general), status


@bp.route("/<int:user_id>", methods=["GET", "POST"])
@policy(permission="users.view")
def detail(user_id: int):
    user = get_or_404(User, user_id)
    manageable = may_manage(current_user, user)
    form = UserForm(obj=user) if request.method == "GET" else UserForm()
    _fill_choices(form)
    if request.method == "GET":
        form.outlet_id.data = str(user.outlet_id or "")
        form.branch_id.data = str(user.branch_id or "")
        form.grade.data = user.grade or ""
        form.version.data = str(user.version)
        if user.post not in dict(form.post.choices):
            form.post.choices.append((user.post, user.post_label))
    general: list[str] = []
    status = 200
    if request.method == "POST":
        if not manageable:
            abort(403)
        del form.login  # the login of an existing account never changes
        if form.validate_on_submit():
            try:
                services.update(current_user, user, _data(form, user.login), _int_or_none(form.version.data) or -1)
            except services.AccountError as exc:
                db.session.rollback()
                general = apply_errors(form, exc.errors)
                status = 409 if "_" in exc.errors else 422
            else:
                toast(_("已保存"))
                return redirect(url_for("users.detail", user_id=user.id))
        else:
            status = 422
    sessions = db.session.execute(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.id.desc()).limit(10)).scalars().all()
    history = db.session.execute(
        scoped(AuditLog).where(or_(AuditLog.actor_id == user.id,
                                   (AuditLog.target_type == "user") & (AuditLog.target_id == str(user.id))))
        .order_by(AuditLog.id.desc()).limit(15)).scalars().all()
    return render_template("users/detail.html", user=user, form=form, manageable=manageable, general=general,
                           sessions=sessions, history=history), status


@bp.route("/<int:user_id>/active", methods=["POST"])
@policy(permission="users.manage")
def set_active(user_id: int):
    user = get_or_404(User, user_id)
    active = request.form.get("active") == "1"
    try:
        services.set_active(current_user, user, active)
    except services.AccountError:
        abort(403)
    toast(_("账号已启用") if active else _("账号已停用，该员工的登录会话已全部结束"))
    return redirect(url_for("users.detail", user_id=user.id))


@bp.route("/<int:user_id>/reset-password", methods=["POST"])
@policy(permission="users.manage")
def reset_password(user_id: int):
    user = get_or_404(User, user_id)
    try:
        password = services.reset_password(current_user, user)
    except services.AccountError:
        abort(403)
    return render_template("users/created.html", user=user, password=password, reset=True)
