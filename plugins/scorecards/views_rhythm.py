"""日跟踪、周经营、月达标、季晋升 (R-39): the 2511 / 511 daily-log compliance (R-35, R-36) of the people in scope,
rolled up by day, ISO week, month and quarter, with an Excel export of the view on screen."""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO
from typing import Any

from flask import render_template, request, send_file
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from crm import audit
from crm.access import can, get_or_404, policy, scoped
from crm.activity.services import compliance
from crm.excel import Column, write_sheet
from crm.extensions import db
from crm.models import DailyLog, DailyLogEntry, Outlet, User
from crm.money import round_half_up
from crm.roles import SCOPE_ALL, SCOPE_BRANCH
from crm.timeutil import to_local, today_local, utcnow
from crm.workdays import FIRST_YEAR, WorkdayCalendar, coverage_warning
from plugins.scorecards import rhythm
from plugins.scorecards.views import bp

VIEW = "scorecards.view"
VIEWS = {"day": _l("日跟踪"), "week": _l("周经营"), "month": _l("月达标"), "quarter": _l("季晋升")}
# A 分行 of a few hundred staff fits one page; beyond this the page asks for an outlet filter instead of slowing down.
MAX_PEOPLE = 500
WEEKDAYS = (_l("周一"), _l("周二"), _l("周三"), _l("周四"), _l("周五"), _l("周六"), _l("周日"))


class ParamError(ValueError):
    """A URL parameter that cannot be used; the message is shown to the user (400)."""


# ---------------------------------------------------------------- parameters and periods

@dataclass(frozen=True)
class Query:
    view: str
    day: date                      # the date asked for (anchor of the period)
    start: date                    # first day of the period
    end: date                      # last day of the period
    outlet: Outlet | None = None   # branch posts: one outlet of the subtree


def period_bounds(view: str, day: date) -> tuple[date, date]:
    """R-39: the day itself, its ISO week (Monday–Sunday), its calendar month, or its calendar quarter."""
    if view == "day":
        return day, day
    if view == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    if view == "month":
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    first = 3 * ((day.month - 1) // 3) + 1
    last = first + 2
    return date(day.year, first, 1), date(day.year, last, calendar.monthrange(day.year, last)[1])


def shift_period(view: str, day: date, step: int) -> date:
    """The anchor of the previous (step −1) or next (step +1) period: a day or a week away, or the first day of the
    month or quarter before / after."""
    if view == "day":
        return day + timedelta(days=step)
    if view == "week":
        return day + timedelta(days=7 * step)
    months = 1 if view == "month" else 3
    first = period_bounds(view, day)[0]
    index = first.year * 12 + first.month - 1 + step * months
    return date(index // 12, index % 12 + 1, 1)


def parse_query(args: Mapping[str, str], user: Any, today: date) -> Query:
    """Validate ?view=&date=&outlet=. Decision: a bad view or date is refused with 400 and a Chinese message (no
    silent fallback: a bookmarked link that shows another period than it says would mislead an assessment); a
    missing one means 日跟踪 of today. An outlet outside the user's scope answers 404 like any out-of-scope id."""
    view = (args.get("view") or "day").strip()
    if view not in VIEWS:
        raise ParamError(_("视图参数无效：只能是 日跟踪(day)、周经营(week)、月达标(month) 或 季晋升(quarter)。"))
    raw = (args.get("date") or "").strip()
    if raw:
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise ParamError(_("日期格式不正确，应为 年-月-日，例如 %(d)s。", d=today.isoformat())) from None
        if len(raw) != 10:
            raise ParamError(_("日期格式不正确，应为 年-月-日，例如 %(d)s。", d=today.isoformat()))
    else:
        day = today
    if day.year < FIRST_YEAR:
        raise ParamError(_("日期不能早于 %(y)s 年。", y=FIRST_YEAR))
    if day > today:
        raise ParamError(_("不能查看未来日期（%(d)s）的日志达标情况。", d=day.isoformat()))
    outlet = None
    raw_outlet = (args.get("outlet") or "").strip()
    if raw_outlet:
        if not raw_outlet.isdigit() or len(raw_outlet) > 9:
            raise ParamError(_("网点参数无效。"))
        outlet = get_or_404(Outlet, int(raw_outlet), user)  # out of scope: 404, audited as a denied access
    start, end = period_bounds(view, day)
    return Query(view, day, start, end, outlet)


# ---------------------------------------------------------------- data (set-based: three queries in all)

def people_in_scope(user: Any, outlet: Outlet | None = None) -> tuple[list[User], bool]:
    """Active outlet staff the user may see (crm.access.scoped(User)): oneself for own-scope posts, the outlet for
    outlet heads, deputies and supervisors, the 分行/支行 subtree's outlets for branch posts (optionally one outlet).
    Returns (people, truncated) — at most MAX_PEOPLE."""
    stmt = scoped(User, user).where(User.active, User.outlet_id.is_not(None))
    if outlet is not None:
        stmt = stmt.where(User.outlet_id == outlet.id)
    rows = list(db.session.execute(stmt.order_by(User.outlet_id, User.name, User.id).limit(MAX_PEOPLE + 1)).scalars())
    return rows[:MAX_PEOPLE], len(rows) > MAX_PEOPLE


def load_logs(user_ids: list[int], start: date, end: date) -> list[DailyLog]:
    """The DailyLog rows of `user_ids` in [start, end] in one query, and the 511 entries of them all in a second one
    (attached without lazy loads, so judging a log never queries again)."""
    if not user_ids:
        return []
    logs = list(db.session.execute(select(DailyLog).where(
        DailyLog.user_id.in_(user_ids), DailyLog.day >= start, DailyLog.day <= end)
        .order_by(DailyLog.day, DailyLog.user_id, DailyLog.model)).scalars())
    entries: dict[int, list[DailyLogEntry]] = defaultdict(list)
    if any(log.model == "511" for log in logs):
        rows = db.session.execute(select(DailyLogEntry).join(DailyLog, DailyLog.id == DailyLogEntry.log_id).where(
            DailyLog.user_id.in_(user_ids), DailyLog.day >= start, DailyLog.day <= end, DailyLog.model == "511")
            .order_by(DailyLogEntry.id)).scalars()
        for entry in rows:
            entries[entry.log_id].append(entry)
    for log in logs:
        set_committed_value(log, "entries", entries.get(log.id, []))
    return logs


def judge(logs: list[DailyLog]) -> list[rhythm.DayCompliance]:
    """R-35 / R-36 per log through crm.activity.services.compliance (T-13, T-14); each reason names its model,
    since one person may keep both a 2511 and a 511 log on a day (A-12: either one met makes the day)."""
    out = []
    for log in logs:
        verdict = compliance(log)
        out.append(rhythm.DayCompliance(log.user_id, log.day, verdict.ok,
                                        tuple(f"{log.model}日志：{r}" for r in verdict.reasons)))
    return out


def log_brief(log: DailyLog) -> str:
    """One line of what a log says, for the 日跟踪 table."""
    problems = sum(1 for p in (log.problems or "").splitlines() if p.strip())
    if log.model == "2511":
        return _("2511：接触%(c)d人，有效拓展%(e)d人，保单%(p)d件，问题%(q)d条",
                 c=log.contacts, e=log.effective, p=log.policies, q=problems)
    complete = sum(1 for e in log.entries if e.complete)
    return _("511：有效客户%(e)d人（登记%(n)d人），保单%(p)d件，问题%(q)d条",
             e=complete, n=len(log.entries), p=log.policies, q=problems)


def pct(rate: Decimal | None) -> str:
    return "—" if rate is None else f"{round_half_up(rate * 100, 1)}%"


# ---------------------------------------------------------------- the page model

@dataclass
class Page:
    q: Query
    today: date
    people: list[User]
    truncated: bool
    outlets: dict[int, str]
    days: list[date]                          # every day of the period
    workdays: set[date]                       # the period's working days (PRC calendar)
    counted: list[date]                       # working days that count: before today (today is still open)
    rows: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.q.end < self.today


def build_page(user: Any, q: Query, today: date) -> Page:
    """Everything the page and the export show, for the people in scope over the period (R-39)."""
    people, truncated = people_in_scope(user, q.outlet)
    cal = WorkdayCalendar()
    days = [q.start + timedelta(days=i) for i in range((q.end - q.start).days + 1)]
    workdays = {d for d in days if cal.is_workday(d)}
    # A day's log is due by that evening: rates count the working days before today; today shows, but as open.
    counted = sorted(d for d in workdays if d < today)
    outlet_ids = {p.outlet_id for p in people}
    outlets = dict(db.session.execute(select(Outlet.id, Outlet.name).where(Outlet.id.in_(outlet_ids))).all()) \
        if outlet_ids else {}
    page = Page(q, today, people, truncated, outlets, days, workdays, counted)
    warning = coverage_warning(q.start, q.end)
    if warning:
        page.notices.append(warning)
    if truncated:
        page.notices.append(_("人数超过 %(n)d 人，只显示前 %(n)d 人，请按网点筛选。", n=MAX_PEOPLE))
    if q.view != "day" and not page.complete:
        page.notices.append(_("本期尚未结束：达标率只统计今天以前的工作日，今天的日志在今天结束前不计入。"))
    logs = load_logs([p.id for p in people], q.start, q.end)
    records = judge(logs)
    ids = [p.id for p in people]
    if q.view == "day":
        _day_rows(page, records, logs, ids)
    elif q.view == "week":
        _week_rows(page, records, ids)
    elif q.view == "month":
        _month_rows(page, records, ids)
    else:
        _quarter_rows(page, records, ids)
    return page


def _day_rows(page: Page, records: list[rhythm.DayCompliance], logs: list[DailyLog], ids: list[int]) -> None:
    """日跟踪 (R-39): who complied on the day, why not (T-13, T-14), "未提交日志" for none on a working day."""
    day = page.q.day
    briefs: dict[int, list[str]] = defaultdict(list)
    for log in logs:
        briefs[log.user_id].append(log_brief(log))
    statuses = rhythm.daily_view(records, ids, day, page.workdays)
    by_id = {p.id: p for p in page.people}
    counts = dict.fromkeys((rhythm.COMPLIANT, rhythm.NON_COMPLIANT, rhythm.NO_LOG, rhythm.REST), 0)
    for st in statuses:
        counts[st.status] += 1
        page.rows.append({"person": by_id[st.user_id], "status": st.status, "label": st.label,
                          "reasons": list(st.reasons), "logs": briefs.get(st.user_id, [])})
    if day == page.today:
        page.notices.append(_("今天尚未结束：未提交日志的员工今晚之前仍可补交。"))
    if day not in page.workdays:
        page.notices.append(_("%(d)s 不是工作日，无需提交日志；已提交的日志照常判定。", d=day.isoformat()))
    page.summary = {"people": len(ids), "compliant": counts[rhythm.COMPLIANT],
                    "non_compliant": counts[rhythm.NON_COMPLIANT], "no_log": counts[rhythm.NO_LOG]}


def _week_rows(page: Page, records: list[rhythm.DayCompliance], ids: list[int]) -> None:
    """周经营 (R-39): compliant days ÷ working days of the ISO week, with a ✓/✗ strip of its seven days."""
    results = rhythm.weekly_view(records, ids, page.counted)
    strip: dict[tuple[int, date], rhythm.DayStatus] = {}
    for d in page.days:
        for st in rhythm.daily_view(records, ids, d, page.workdays):
            strip[(st.user_id, d)] = st
    for person in page.people:
        cells = []
        for d in page.days:
            st = strip[(person.id, d)]
            open_ = d >= page.today
            if st.status == rhythm.COMPLIANT:
                mark, css, tip = "✓", "bg-green-lt", _("达标")
            elif st.status == rhythm.NON_COMPLIANT:
                mark, css, tip = "✗", "bg-red-lt", "；".join(st.reasons)
            elif st.status == rhythm.NO_LOG and not open_:
                mark, css, tip = "✗", "bg-orange-lt", _("未提交日志")
            elif st.status == rhythm.NO_LOG:
                mark, css, tip = "·", "bg-secondary-lt", _("待提交") if d == page.today else _("未到")
            else:
                mark, css, tip = "休", "bg-light text-secondary", _("非工作日")
            cells.append({"day": d, "mark": mark, "css": css, "tip": tip, "status": st.status,
                          "counted": d in page.counted})
        page.rows.append({"person": person, "result": results[person.id], "cells": cells,
                          "rate": pct(results[person.id].rate)})
    page.summary = {"people": len(ids), "workdays": len(page.workdays), "counted": len(page.counted),
                    "full": sum(1 for r in results.values() if r.working_days and r.compliant_days == r.working_days)}


def _month_rows(page: Page, records: list[rhythm.DayCompliance], ids: list[int]) -> None:
    """月达标 (R-39): the month's rate against rhythm.MONTH_TARGET (inclusive); below target is highlighted."""
    results = rhythm.monthly_view(records, ids, page.counted, target=rhythm.MONTH_TARGET)
    for person in page.people:
        res = results[person.id]
        page.rows.append({"person": person, "result": res, "rate": pct(res.rate), "below": res.met is False})
    page.summary = {"people": len(ids), "workdays": len(page.workdays), "counted": len(page.counted),
                    "met": sum(1 for r in results.values() if r.met),
                    "below": sum(1 for r in results.values() if r.met is False)}


def _quarter_rows(page: Page, records: list[rhythm.DayCompliance], ids: list[int]) -> None:
    """季晋升 (R-39): each of the three months at or above the monthly target → the promotion review. While the
    quarter runs, nobody is final: someone on track shows as 进行中."""
    q = page.q
    quarter = (q.start.month - 1) // 3 + 1
    results = rhythm.quarterly_view(records, ids, page.counted, year=q.start.year, quarter=quarter,
                                    target=rhythm.MONTH_TARGET)
    months = rhythm.quarter_months(q.start.year, quarter)
    for person in page.people:
        res = results[person.id]
        cells = []
        on_track = True
        for m in months:
            mres = res.months[m]
            cells.append({"month": m[1], "rate": pct(mres.rate), "met": mres.met,
                          "days": f"{mres.compliant_days}/{mres.working_days}"})
            on_track = on_track and mres.met is not False
        if page.complete:
            state = "qualified" if res.qualifies else "not_qualified"
        else:
            state = "in_progress" if on_track else "not_qualified"
        page.rows.append({"person": person, "result": res, "cells": cells, "state": state})
    page.summary = {"people": len(ids), "qualified": sum(1 for r in page.rows if r["state"] == "qualified"),
                    "in_progress": sum(1 for r in page.rows if r["state"] == "in_progress")}


# ---------------------------------------------------------------- routes

QUARTER_STATES = {"qualified": _l("可参加晋升评定"), "not_qualified": _l("不参加本季度晋升评定"),
                  "in_progress": _l("进行中（季度结束后确定）")}


def _links(q: Query, today: date) -> dict[str, Any]:
    outlet = q.outlet.id if q.outlet is not None else None
    prev_day = shift_period(q.view, q.day, -1)
    next_day = shift_period(q.view, q.day, 1)
    # The next period is offered once it has begun; its anchor never lies after today (future dates are refused).
    has_next = period_bounds(q.view, next_day)[0] <= today
    has_prev = period_bounds(q.view, prev_day)[1].year >= FIRST_YEAR
    return {"prev": {"view": q.view, "date": prev_day.isoformat(), "outlet": outlet} if has_prev else None,
            "next": {"view": q.view, "date": min(next_day, today).isoformat(), "outlet": outlet} if has_next else None,
            "tab": {v: {"view": v, "date": q.day.isoformat(), "outlet": outlet} for v in VIEWS},
            "today": {"view": q.view, "outlet": outlet},
            "export": {"view": q.view, "date": q.day.isoformat(), "outlet": outlet}}


def _title(q: Query) -> str:
    if q.view == "day":
        return _("%(d)s（%(w)s）", d=q.day.isoformat(), w=str(WEEKDAYS[q.day.weekday()]))
    if q.view == "week":
        iso = q.day.isocalendar()
        return _("%(y)d年第%(w)d周（%(a)s 至 %(b)s）", y=iso.year, w=iso.week, a=q.start.isoformat(),
                 b=q.end.isoformat())
    if q.view == "month":
        return _("%(y)d年%(m)d月", y=q.day.year, m=q.day.month)
    return _("%(y)d年第%(n)d季度", y=q.day.year, n=(q.day.month - 1) // 3 + 1)


def _outlet_choices(user: Any) -> list[tuple[int, str]]:
    """Branch posts filter by outlet; the list is their subtree's outlets (crm.access.scoped(Outlet))."""
    if user.scope not in (SCOPE_BRANCH, SCOPE_ALL):
        return []
    return [(o.id, o.name) for o in db.session.execute(scoped(Outlet, user).order_by(Outlet.code)).scalars()]


def _bad_request(message: str, today: date):
    return render_template("scorecards/rhythm.html", error=message, views=VIEWS, view=None, today=today,
                           links=None, page=None), 400


@bp.route("/rhythm", endpoint="rhythm")
@policy(permission=VIEW)
def rhythm_page():
    """GET /rhythm?view=day|week|month|quarter&date=YYYY-MM-DD&outlet=<id> (R-39)."""
    today = today_local()
    try:
        q = parse_query(request.args, current_user, today)
    except ParamError as exc:
        return _bad_request(str(exc), today)
    page = build_page(current_user, q, today)
    return render_template("scorecards/rhythm.html", error=None, views=VIEWS, view=q.view, q=q, page=page,
                           today=today, title=_title(q), links=_links(q, today), outlets=_outlet_choices(current_user),
                           target=pct(rhythm.MONTH_TARGET), quarter_states=QUARTER_STATES,
                           weekdays=WEEKDAYS, can_review=can("activity.review"))


@bp.route("/rhythm/export", endpoint="rhythm_export")
@policy(permission=VIEW)
def rhythm_export():
    """The current view as an .xlsx (crm.excel.write_sheet); one audit row per export."""
    today = today_local()
    try:
        q = parse_query(request.args, current_user, today)
    except ParamError as exc:
        return _bad_request(str(exc), today)
    page = build_page(current_user, q, today)
    columns, rows = export_rows(page)
    buffer = BytesIO()
    label = str(VIEWS[q.view])
    scope = page.q.outlet.name if page.q.outlet is not None else ""
    note = _("日志考核 · %(v)s · %(t)s%(s)s", v=label, t=_title(q), s=(" · " + scope) if scope else "")
    n = write_sheet(buffer, label, columns, rows, note=note)
    buffer.seek(0)
    audit.record("scorecards.exported", detail={"what": "rhythm", "view": q.view, "date": q.day.isoformat(),
                                                "outlet": q.outlet.id if q.outlet is not None else None, "rows": n})
    db.session.commit()
    stamp = to_local(utcnow()).strftime("%Y%m%d-%H%M")
    return send_file(buffer, as_attachment=True, download_name=f"日志考核-{label}-{q.day.isoformat()}-{stamp}.xlsx",
                     max_age=0, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def export_rows(page: Page) -> tuple[list[Column], list[list[Any]]]:
    """Columns and rows of the view on screen, for the export."""
    head = [Column(_("员工"), 12, "plain"), Column(_("岗位"), 12, "plain"), Column(_("网点"), 16, "plain")]

    def who(p: User) -> list[Any]:
        return [p.name, p.post_label, page.outlets.get(p.outlet_id, "")]

    view = page.q.view
    if view == "day":
        cols = [*head, Column(_("日期"), 11, "date"), Column(_("状态"), 10, "plain"),
                Column(_("日志"), 40, "plain"), Column(_("未达标原因"), 60, "plain")]
        return cols, [[*who(r["person"]), page.q.day, r["label"], "\n".join(r["logs"]), "；".join(r["reasons"])]
                      for r in page.rows]
    if view == "week":
        cols = [*head, *(Column(f"{d.strftime('%m-%d')} {WEEKDAYS[d.weekday()]}", 9, "plain") for d in page.days),
                Column(_("达标天数"), 9, "int"), Column(_("工作日"), 8, "int"), Column(_("达标率"), 9, "plain"),
                Column(_("说明"), 50, "plain")]
        return cols, [[*who(r["person"]), *(c["mark"] for c in r["cells"]), r["result"].compliant_days,
                       r["result"].working_days, r["rate"], r["result"].explanation] for r in page.rows]
    if view == "month":
        cols = [*head, Column(_("工作日"), 8, "int"), Column(_("达标天数"), 9, "int"), Column(_("未提交天数"), 10, "int"),
                Column(_("未达标天数"), 10, "int"), Column(_("达标率"), 9, "plain"), Column(_("是否达到月度标准"), 14, "plain"),
                Column(_("说明"), 50, "plain")]
        return cols, [[*who(r["person"]), r["result"].working_days, r["result"].compliant_days,
                       len(r["result"].missing_days), len(r["result"].failed_days), r["rate"],
                       {True: _("达标"), False: _("未达标"), None: "—"}[r["result"].met], r["result"].explanation]
                      for r in page.rows]
    months = rhythm.quarter_months(page.q.start.year, (page.q.start.month - 1) // 3 + 1)
    cols = [*head, *(Column(_("%(m)d月达标率", m=m), 10, "plain") for _y, m in months),
            Column(_("季度结论"), 18, "plain"), Column(_("说明"), 60, "plain")]
    return cols, [[*who(r["person"]), *(c["rate"] for c in r["cells"]), str(QUARTER_STATES[r["state"]]),
                   r["result"].explanation if r["state"] != "in_progress" else ""] for r in page.rows]
