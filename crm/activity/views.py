"""Activity pages: a customer's contact timeline (a core panel), daily logs, compliance, the reminders widget."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm import audit
from crm.access import get_or_404, policy
from crm.activity import services
from crm.extensions import db
from crm.models import Activity, Customer, DailyLog
from crm.models.activity import ACTIVITY_KINDS, LOG_MODELS, SALES_STAGES
from crm.timeutil import to_local, utcnow
from crm.web import toast

bp = Blueprint("activity", __name__, url_prefix="/activity")


def _timeline(customer: Customer, errors: dict | None = None, values: dict | None = None, status: int = 200):
    now = to_local(utcnow()).strftime("%Y-%m-%dT%H:%M")
    return render_template("activity/_timeline.html", c=customer, items=services.timeline(customer),
                           kinds=ACTIVITY_KINDS, stages=SALES_STAGES, errors=errors or {},
                           values=values or {"kind": "call", "occurred_at": now}), status


@bp.route("/customers/<int:customer_id>/timeline")
@policy(permission="customers.view")
def timeline(customer_id: int):
    return _timeline(get_or_404(Customer, customer_id))


@bp.route("/customers/<int:customer_id>", methods=["POST"])
@policy(permission="customers.view")
def record(customer_id: int):
    customer = get_or_404(Customer, customer_id)
    try:
        services.record(current_user, customer, request.form.to_dict())
    except services.ActivityError as exc:
        db.session.rollback()
        if not request.headers.get("HX-Request"):
            toast(next(iter(exc.errors.values())), "danger")
            return redirect(url_for("customers.detail", customer_id=customer_id))
        return _timeline(customer, exc.errors, request.form.to_dict(), 422)
    toast(_("已记录联系"))
    if not request.headers.get("HX-Request"):
        return redirect(url_for("customers.detail", customer_id=customer_id))
    return _timeline(get_or_404(Customer, customer_id))


@bp.route("/<int:activity_id>/done", methods=["POST"])
@policy("login")
def done(activity_id: int):
    activity = db.session.execute(select(Activity).where(
        Activity.id == activity_id, Activity.user_id == current_user.id)).scalar_one_or_none()
    if activity is None:
        if db.session.get(Activity, activity_id) is not None:  # someone else's follow-up: a denied access
            audit.record("access.denied", target=("activity", activity_id), result="denied", commit=True)
        abort(404)
    services.finish_follow_up(current_user, activity)
    toast(_("跟进事项已完成"))
    if request.headers.get("HX-Request"):
        return reminders()
    return redirect(url_for("dashboard.index"))


@bp.route("/w/reminders")
@policy("login")
def reminders():
    return render_template("activity/_reminders.html", due=services.due_follow_ups(current_user),
                           birthdays=services.upcoming_birthdays(current_user),
                           maturing=services.maturing_products(current_user), today=services.today_local())


def _day_arg(raw: str | None) -> date:
    try:
        return date.fromisoformat(raw or "")
    except ValueError:
        return services.today_local()


@bp.route("/logs", methods=["GET", "POST"])
@policy("login")
def logs():
    day = _day_arg(request.values.get("day"))
    model = request.values.get("model") if request.values.get("model") in LOG_MODELS else "2511"
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            log = services.save_log(current_user, day, model, request.form.to_dict())
        except services.ActivityError as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            verdict = services.compliance(log)
            toast(_("日志已保存，当日达标") if verdict.ok else _("日志已保存，当日未达标"),
                  "success" if verdict.ok else "warning")
            return redirect(url_for("activity.logs", day=day.isoformat(), model=model))
    current = db.session.execute(select(DailyLog).where(
        DailyLog.user_id == current_user.id, DailyLog.day == day,
        DailyLog.model == model)).scalar_one_or_none()
    values = request.form.to_dict() if errors else None
    history = [(log, services.compliance(log)) for log in services.my_logs(current_user)]
    return render_template("activity/logs.html", day=day, model=model, models=LOG_MODELS, log=current,
                           verdict=services.compliance(current) if current else None, values=values,
                           errors=errors, history=history, today=services.today_local()), 422 if errors else 200


@bp.route("/compliance")
@policy(permission="activity.review")
def compliance():
    start = _day_arg(request.args.get("start"))
    if not request.args.get("start"):
        start = start - timedelta(days=start.weekday())  # this week, from Monday
    people, dates, grid = services.compliance_grid(current_user, start)
    return render_template("activity/compliance.html", people=people, dates=dates, grid=grid, start=start,
                           prev=(start - timedelta(days=7)).isoformat(), next=(start + timedelta(days=7)).isoformat())
