"""Dashboard page and the core widgets (lazy HTMX fragments)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user
from sqlalchemy import func, select

from crm.access import policy, scoped
from crm.extensions import db
from crm.models import AuditLog, Branch, Outlet, User
from crm.web import current_branch

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@policy("login")
def index():
    registry = current_app.extensions["crm"]
    widgets = registry.gather("crm_dashboard_widgets", user=current_user, branch=current_branch())
    return render_template("dashboard/index.html", widgets=widgets)


@bp.route("/dashboard/w/org")
@policy("login")
def org_widget():
    outlets = db.session.execute(
        scoped(Outlet).with_only_columns(Outlet.outlet_type, func.count()).where(Outlet.active)
        .group_by(Outlet.outlet_type)).all()
    staff = db.session.execute(
        scoped(User).with_only_columns(User.post, func.count()).where(User.active).group_by(User.post)).all()
    branches = db.session.execute(
        select(func.count()).select_from(scoped(Branch).subquery())).scalar_one()
    return render_template("dashboard/w_org.html", outlets=outlets, staff=sorted(staff, key=lambda r: -r[1]),
                           branches=branches, staff_total=sum(n for _, n in staff))


@bp.route("/dashboard/w/logins")
@policy("login")
def logins_widget():
    rows = db.session.execute(
        select(AuditLog).where(AuditLog.actor_id == current_user.id,
                               AuditLog.action.in_(("auth.login", "auth.login_failed", "auth.password_changed")))
        .order_by(AuditLog.id.desc()).limit(6)).scalars().all()
    return render_template("dashboard/w_logins.html", rows=rows)
