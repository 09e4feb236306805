"""Admin page of the working-day calendar (design §6): a year of month grids; the system administrator edits days."""

from __future__ import annotations

import calendar as pycal
from datetime import date
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from crm import audit, workdays
from crm.access import policy
from crm.admin.views import bp
from crm.extensions import db
from crm.models.workdays import KINDS
from crm.roles import SCOPE_ALL
from crm.timeutil import today_local
from crm.web import toast

# System and branch administrators see the calendar; only the system administrator (whole-bank scope) changes it,
# because every 分行 counts deadlines on the same national calendar.
VIEW_PERMISSION = "org.manage"


def _may_edit() -> bool:
    return current_user.scope == SCOPE_ALL


def _year_arg(raw: str | None, default: int) -> int:
    try:
        year = int(raw or default)
    except ValueError:
        return default
    return year if workdays.FIRST_YEAR <= year <= workdays.LAST_YEAR else default


def _months(year: int, kinds: dict[date, Any]) -> list[dict[str, Any]]:
    """Twelve Monday-first month grids: weeks of (date or None for the neighbouring months' days)."""
    cal = pycal.Calendar(firstweekday=0)
    months = []
    for month in range(1, 13):
        weeks = [[d if d.month == month else None for d in week] for week in cal.monthdatescalendar(year, month)]
        months.append({"month": month, "weeks": weeks, "spans": _spans([kinds[d] for d in sorted(kinds)
                                                                         if d.month == month])})
    return months


def _spans(rows: list[Any]) -> list[dict[str, Any]]:
    """Consecutive days of one holiday as one line (2月15日–23日 春节), each make-up day on its own."""
    spans: list[dict[str, Any]] = []
    for r in rows:
        last = spans[-1] if spans else None
        if (last and r.kind == "holiday" and last["kind"] == "holiday" and last["name"] == r.name
                and (r.day - last["end"]).days == 1):
            last["end"] = r.day
        else:
            spans.append({"kind": r.kind, "name": r.name, "start": r.day, "end": r.day})
    return spans


def _page(year: int, *, form: dict[str, str] | None = None, error: str | None = None,
          error_field: str | None = None, status: int = 200):
    rows = workdays.days_of_year(year)
    by_day = {r.day: r for r in rows}
    cal = workdays.WorkdayCalendar()
    total = cal.workdays_between(date(year - 1, 12, 31), date(year, 12, 31))
    if form is None:
        form = {"day": "", "kind": "holiday", "name": ""}
        picked = request.args.get("day")
        if picked:
            try:
                day = workdays.parse_day(picked)
            except workdays.WorkdayError:
                day = None
            if day is not None:
                row = by_day.get(day)
                form = {"day": day.isoformat(), "kind": row.kind if row else ("workday" if day.weekday() >= 5
                                                                               else "holiday"),
                        "name": row.name if row else ""}
    covered = workdays.covered_years()
    years = sorted({*covered, year, today_local().year, today_local().year + 1})
    ctx = dict(year=year, months=_months(year, by_day), rows=rows, by_day=by_day, total=total,
               may_edit=_may_edit(), form=form, error=error, error_field=error_field, kinds=KINDS,
               years=years, covered=covered, weekday_names=workdays.WEEKDAY_NAMES, today=today_local())
    return render_template("admin/workdays.html", **ctx), status


@bp.route("/workdays")
@policy(permission=VIEW_PERMISSION)
def workdays_page():
    return _page(_year_arg(request.args.get("year"), today_local().year))


def _deny_unless_admin() -> None:
    if not _may_edit():
        audit.record("access.denied", target=("route", request.endpoint), result="denied", commit=True)
        abort(403)


@bp.route("/workdays", methods=["POST"])
@policy(permission=VIEW_PERMISSION)
def workdays_save():
    _deny_unless_admin()
    form = {k: (request.form.get(k) or "").strip()[:40] for k in ("day", "kind", "name")}
    year = _year_arg(request.form.get("year"), today_local().year)
    try:
        day = workdays.parse_day(form["day"])
        year = day.year
        change = workdays.set_day(current_user, day, form["kind"], form["name"])
        db.session.commit()
    except workdays.WorkdayError as exc:
        db.session.rollback()
        return _page(year, form=form, error=exc.message, error_field=exc.field, status=422)
    except IntegrityError:  # the same day saved at the same moment in another tab
        db.session.rollback()
        return _page(year, form=form, error=_("这一天刚被他人修改，请核对后重新保存"), status=409)
    kind = str(KINDS[change.after["kind"]])
    toast(_("已保存：%(day)s %(kind)s（%(name)s）", day=day.isoformat(), kind=kind, name=change.after["name"]))
    return redirect(url_for("admin.workdays_page", year=day.year))


@bp.route("/workdays/remove", methods=["POST"])
@policy(permission=VIEW_PERMISSION)
def workdays_remove():
    _deny_unless_admin()
    year = _year_arg(request.form.get("year"), today_local().year)
    try:
        day = workdays.parse_day(request.form.get("day"))
        year = day.year
        workdays.remove_day(current_user, day)
        db.session.commit()
    except workdays.WorkdayError as exc:
        db.session.rollback()
        return _page(year, error=exc.message, error_field=exc.field, status=422)
    toast(_("已删除 %(day)s 的登记，这一天恢复为普通日子", day=day.isoformat()))
    return redirect(url_for("admin.workdays_page", year=day.year))
