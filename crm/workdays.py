"""Working days of the PRC calendar (design §6): Monday–Friday except statutory holidays, plus weekend make-up days.

Deadlines such as R-68 ("within 3 working days after the claim waiting period ends") are `add_workdays(end, 3)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import extract, select

from crm.extensions import db
from crm.models.workdays import KINDS, WorkdayCalendarDay
from crm.timeutil import utcnow

MAX_NAME = 20
# Outside this range a date is a typing error, not a calendar entry.
FIRST_YEAR, LAST_YEAR = 2000, 2100


class WorkdayError(ValueError):
    """A calendar change that is refused; `message` is the Chinese text for the user, `field` the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class PackageMissing(WorkdayError):
    """The `chinesecalendar` package is not installed."""


# ---------------------------------------------------------------- reading the calendar

class WorkdayCalendar:
    """A snapshot of the calendar table, loaded a year at a time on demand. The module functions build a fresh one
    per call, so an administrator's change counts at once; a page computing many deadlines may keep one instance for
    the request (`cal = WorkdayCalendar(); cal.add_workdays(...)` …)."""

    def __init__(self) -> None:
        self._kinds: dict[date, str] = {}
        self._years: set[int] = set()

    def _load(self, year: int) -> None:
        if year in self._years:
            return
        lo, hi = date(year, 1, 1), date(year, 12, 31)
        rows = db.session.execute(select(WorkdayCalendarDay.day, WorkdayCalendarDay.kind)
                                  .where(WorkdayCalendarDay.day.between(lo, hi)))
        self._kinds.update({day: kind for day, kind in rows})
        self._years.add(year)

    def kind(self, day: date) -> str | None:
        """'holiday', 'workday' or None (an ordinary day) for `day`."""
        self._load(day.year)
        return self._kinds.get(day)

    def is_workday(self, day: date) -> bool:
        """Monday–Friday unless a statutory holiday; Saturday/Sunday only when a make-up workday (调休上班)."""
        kind = self.kind(day)
        if kind == "holiday":
            return False
        if kind == "workday":
            return True
        return day.weekday() < 5

    def add_workdays(self, start: date, n: int) -> date:
        """The n-th working day after `start` (`start` itself never counts); n = 0 gives `start`."""
        if n < 0:
            raise ValueError("n must be >= 0")
        day = start
        while n:
            day += timedelta(days=1)
            if self.is_workday(day):
                n -= 1
        return day

    def next_workday(self, day: date) -> date:
        """The first working day after `day`."""
        return self.add_workdays(day, 1)

    def roll_forward(self, day: date) -> date:
        """`day` if it is a working day, else the next one (a deadline falling on a holiday moves to the next
        working day)."""
        return day if self.is_workday(day) else self.next_workday(day)

    def workdays_between(self, a: date, b: date) -> int:
        """Working days in (a, b]: 0 when b == a, negative (−count of (b, a]) when b is before a."""
        if b < a:
            return -self.workdays_between(b, a)
        weeks, rest = divmod((b - a).days, 7)
        count = weeks * 5 + sum(1 for i in range(1, rest + 1) if (a + timedelta(days=i)).weekday() < 5)
        for year in range(a.year, b.year + 1):
            self._load(year)
        for day, kind in self._kinds.items():
            if a < day <= b:
                if kind == "holiday" and day.weekday() < 5:
                    count -= 1
                elif kind == "workday" and day.weekday() >= 5:
                    count += 1
        return count


def is_workday(day: date) -> bool:
    """Is `day` a working day? Monday–Friday unless a 'holiday' row; Saturday/Sunday only with a 'workday' row."""
    return WorkdayCalendar().is_workday(day)


def add_workdays(start: date, n: int) -> date:
    """The n-th working day after `start`; `start` never counts; n = 0 → `start`.

    R-68: the claim documents are due `add_workdays(waiting_period_end, 3)`; the insurer pays by
    `add_workdays(documents_complete, 5)`."""
    return WorkdayCalendar().add_workdays(start, n)


def workdays_between(a: date, b: date) -> int:
    """Working days in (a, b] — e.g. "overdue by N working days" is `workdays_between(deadline, today)`."""
    return WorkdayCalendar().workdays_between(a, b)


def next_workday(day: date) -> date:
    """The first working day after `day`."""
    return WorkdayCalendar().next_workday(day)


def roll_forward(day: date) -> date:
    """`day` if it is a working day, else the next working day."""
    return WorkdayCalendar().roll_forward(day)


def covered_years() -> list[int]:
    """The years that have calendar rows (holidays or make-up days), ascending."""
    year = extract("year", WorkdayCalendarDay.day)
    return sorted(int(y) for (y,) in db.session.execute(select(year).distinct()))


def uncovered_years(*days: date) -> list[int]:
    """The years from the earliest to the latest of `days` that have no calendar rows: there only weekends count."""
    if not days:
        return []
    have = set(covered_years())
    return [y for y in range(min(days).year, max(days).year + 1) if y not in have]


def coverage_warning(*days: date) -> str | None:
    """A Chinese warning when a period touches a year whose holiday arrangement is not entered yet (the State
    Council publishes next year's in late autumn), else None. Show it beside any deadline computed over `days`."""
    missing = uncovered_years(*days)
    if not missing:
        return None
    return _("%(years)s年的节假日安排尚未录入工作日历：该期间只按周末计算，未扣除法定节假日，也未计入调休上班日。"
             "请系统管理员在“工作日历”中录入国务院办公厅公布的安排。",
             years="、".join(str(y) for y in missing))


def days_of_year(year: int) -> list[WorkdayCalendarDay]:
    """The calendar rows of `year`, by date."""
    stmt = (select(WorkdayCalendarDay).where(WorkdayCalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
            .order_by(WorkdayCalendarDay.day))
    return list(db.session.execute(stmt).scalars())


# ---------------------------------------------------------------- changing the calendar

WEEKDAY_NAMES = (_l("星期一"), _l("星期二"), _l("星期三"), _l("星期四"), _l("星期五"), _l("星期六"), _l("星期日"))


def parse_day(raw: str | None) -> date:
    """A 'YYYY-MM-DD' form value as a date, or WorkdayError."""
    try:
        day = date.fromisoformat((raw or "").strip())
    except ValueError:
        raise WorkdayError(_("请输入有效日期，格式为 年-月-日，例如 2027-02-06"), "day") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise WorkdayError(_("日期应在 %(a)s 年至 %(b)s 年之间", a=FIRST_YEAR, b=LAST_YEAR), "day")
    return day


@dataclass(frozen=True)
class Change:
    """What a `set_day` or `remove_day` did, for the audit row and the message."""

    day: date
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def _state(row: WorkdayCalendarDay | None) -> dict[str, Any] | None:
    return None if row is None else {"kind": row.kind, "name": row.name, "source": row.source}


def check_day(day: date, kind: str, name: str) -> str:
    """Validate an administrator's entry; returns the cleaned name or raises WorkdayError."""
    if kind not in KINDS:
        raise WorkdayError(_("请选择类型：法定节假日或调休上班"), "kind")
    weekday = str(WEEKDAY_NAMES[day.weekday()])
    if kind == "workday" and day.weekday() < 5:
        raise WorkdayError(_("%(day)s 是%(weekday)s，本来就是工作日；调休上班日只能设在星期六或星期日。",
                             day=day.isoformat(), weekday=weekday), "kind")
    if kind == "holiday" and day.weekday() >= 5:
        raise WorkdayError(_("%(day)s 是%(weekday)s，本来就不上班，无需登记为法定节假日；节假日只需登记星期一至星期五的日子。",
                             day=day.isoformat(), weekday=weekday), "kind")
    name = (name or "").strip()
    if not name:
        raise WorkdayError(_("请填写节日名称（调休上班日填写所调休的节日），例如 春节"), "name")
    if len(name) > MAX_NAME:
        raise WorkdayError(_("节日名称最多 %(n)s 个字", n=MAX_NAME), "name")
    return name


def set_day(user: Any, day: date, kind: str, name: str) -> Change:
    """Add or change one day as an administrator's row (source 'admin', never overwritten by seeding) and write
    one audit row. The caller commits. Raises WorkdayError on bad input, changing nothing."""
    from crm import audit

    name = check_day(day, kind, name)
    row = db.session.get(WorkdayCalendarDay, day)
    before = _state(row)
    if row is None:
        row = WorkdayCalendarDay(day=day)
        db.session.add(row)
    row.kind, row.name, row.source = kind, name, "admin"
    row.updated_by_id = getattr(user, "id", None)
    row.updated_at = utcnow()
    db.session.flush()
    change = Change(day, before, _state(row))
    audit.record("workdays.changed", target=("workday", day.isoformat()),
                 detail={"day": day.isoformat(), "before": before, "after": change.after})
    return change


def remove_day(user: Any, day: date) -> Change:
    """Remove an administrator's row (the day becomes ordinary again) and write one audit row. Rows from the
    package cannot be removed here (seeding would bring them back): change them instead."""
    from crm import audit

    row = db.session.get(WorkdayCalendarDay, day)
    if row is None:
        raise WorkdayError(_("%(day)s 没有登记，无需删除", day=day.isoformat()), "day")
    if row.source != "admin":
        raise WorkdayError(_("%(day)s 来自节假日数据包，不能删除；如有错误，请直接修改这一天。", day=day.isoformat()), "day")
    before = _state(row)
    db.session.delete(row)
    db.session.flush()
    audit.record("workdays.changed", target=("workday", day.isoformat()),
                 detail={"day": day.isoformat(), "before": before, "after": None})
    return Change(day, before, None)


# ---------------------------------------------------------------- seeding from the `chinesecalendar` package

def package_days(years: Iterable[int] | None = None) -> dict[date, tuple[str, str]]:
    """day → (kind, Chinese holiday name) from the `chinesecalendar` package (import name `chinese_calendar`), for
    `years` (default: every year it covers). Its holidays include the weekend days inside a holiday: harmless, they
    are not working days anyway."""
    try:
        from chinese_calendar import constants
    except ImportError:
        raise PackageMissing(_("未安装节假日数据包 chinesecalendar（pip install 'chinesecalendar>=1.11'）")) from None
    wanted = set(years) if years is not None else None

    def chinese(value: Any) -> str:
        try:
            return str(constants.Holiday(value).chinese)
        except ValueError:
            return str(value)

    days: dict[date, tuple[str, str]] = {}
    for kind, table in (("holiday", constants.holidays), ("workday", constants.workdays)):
        for day, value in table.items():
            if wanted is None or day.year in wanted:
                days[day] = (kind, chinese(value)[:40])
    return days


def package_years() -> list[int]:
    """The years the installed package covers."""
    return sorted({d.year for d in package_days()})


def seed_from_package(years: Iterable[int] | None = None) -> int:
    """Fill the table from the package for `years` (default: all it covers) and commit. Rows of source 'admin' are
    never touched; package rows are added, corrected, or removed when the package no longer lists them (only in
    years the package covers). Idempotent: a second run changes nothing and returns 0. Returns rows changed."""
    from crm import audit

    data = package_days(years)
    covered = {d.year for d in data}
    if not covered:
        return 0
    lo, hi = date(min(covered), 1, 1), date(max(covered), 12, 31)
    existing = {r.day: r for r in db.session.execute(
        select(WorkdayCalendarDay).where(WorkdayCalendarDay.day.between(lo, hi))).scalars() if r.day.year in covered}
    changed = 0
    now = utcnow()
    for day, (kind, name) in sorted(data.items()):
        row = existing.get(day)
        if row is None:
            db.session.add(WorkdayCalendarDay(day=day, kind=kind, name=name, source="package", updated_at=now))
            changed += 1
        elif row.source == "package" and (row.kind, row.name) != (kind, name):
            row.kind, row.name, row.updated_at, row.updated_by_id = kind, name, now, None
            changed += 1
    for day, row in existing.items():
        if row.source == "package" and day not in data:
            db.session.delete(row)
            changed += 1
    if changed:
        audit.record("workdays.seeded", target=("workday", "package"),
                     detail={"years": sorted(covered), "rows": changed})
    db.session.commit()
    return changed


def ensure_seeded(echo: Any = print) -> int:
    """Seed from the package where the app is set up (`crm init-db`, demo data); a missing package only warns."""
    try:
        changed = seed_from_package()
    except PackageMissing as exc:
        echo(_("警告：%(msg)s；工作日历只按周末计算。", msg=exc.message))
        return 0
    if changed:
        echo(_("工作日历：已从节假日数据包写入 %(n)s 天。", n=changed))
    return changed
