"""Working-day calendar (design §6, R-68): holidays and make-up days of 2026, seeding, the admin page, the CLI."""

from __future__ import annotations

import sys
from datetime import date, timedelta

import chinese_calendar
import pytest
from sqlalchemy import func, select

from crm import workdays
from crm.extensions import db
from crm.models import AuditLog, WorkdayCalendarDay
from crm.workdays import (
    WorkdayError,
    add_workdays,
    coverage_warning,
    covered_years,
    is_workday,
    next_workday,
    roll_forward,
    workdays_between,
)
from tests.conftest import table_snapshot

D = date.fromisoformat


@pytest.fixture
def seeded(app):
    """The 2026 calendar from the chinesecalendar package (33 holiday days and 6 make-up workdays)."""
    assert workdays.seed_from_package([2026]) == 39
    return app


def audit_rows(action: str) -> list[AuditLog]:
    return list(db.session.execute(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).scalars())


def calendar_rows() -> dict[date, tuple[str, str, str]]:
    return {r.day: (r.kind, r.name, r.source) for r in db.session.execute(select(WorkdayCalendarDay)).scalars()}


# ---------------------------------------------------------------- arithmetic over the 2026 calendar

def test_spring_festival_2026(seeded):
    # Holidays 02-15 (Sun) … 02-23 (Mon); make-up workdays Saturday 02-14 and Saturday 02-28.
    assert is_workday(D("2026-02-13")) and is_workday(D("2026-02-14"))  # Fri; Sat 调休上班
    assert not is_workday(D("2026-02-16")) and not is_workday(D("2026-02-23"))  # Mon in the holiday, its last day
    assert is_workday(D("2026-02-24"))  # Tuesday: back at work
    assert add_workdays(D("2026-02-13"), 1) == D("2026-02-14")  # the make-up Saturday counts
    assert add_workdays(D("2026-02-14"), 1) == D("2026-02-24")  # nine days off in between
    assert add_workdays(D("2026-02-13"), 2) == D("2026-02-24")
    assert add_workdays(D("2026-02-12"), 3) == D("2026-02-24")
    assert add_workdays(D("2026-02-27"), 1) == D("2026-02-28")  # Fri → the second make-up Saturday
    assert add_workdays(D("2026-02-28"), 1) == D("2026-03-02")  # Sunday 03-01 is an ordinary Sunday
    assert workdays_between(D("2026-02-13"), D("2026-02-24")) == 2
    assert next_workday(D("2026-02-15")) == D("2026-02-24")
    assert roll_forward(D("2026-02-18")) == D("2026-02-24") and roll_forward(D("2026-02-14")) == D("2026-02-14")


def test_national_day_2026_and_the_r68_claim_deadline(seeded):
    # 10-01 (Thu) … 10-07 (Wed) off; make-up Sunday 09-20 and Saturday 10-10; Mid-autumn 09-25 (Fri) off.
    assert is_workday(D("2026-09-20")) and not is_workday(D("2026-09-19"))
    assert add_workdays(D("2026-09-19"), 1) == D("2026-09-20")
    assert add_workdays(D("2026-09-24"), 1) == D("2026-09-28")  # Fri 09-25 Mid-autumn, then the weekend
    # claim waiting period ends Wed 09-30 → materials due within 3 working days: Thu 10-08, Fri 10-09, Sat 10-10.
    assert add_workdays(D("2026-09-30"), 3) == D("2026-10-10")
    assert add_workdays(D("2026-09-30"), 2) == D("2026-10-09")
    assert add_workdays(D("2026-09-30"), 4) == D("2026-10-12")  # Sunday 10-11 is an ordinary Sunday
    # Overdue by N working days: one day past the deadline, then the next working days.
    assert workdays_between(D("2026-10-10"), D("2026-10-11")) == 0
    assert workdays_between(D("2026-10-10"), D("2026-10-12")) == 1
    assert workdays_between(D("2026-10-10"), D("2026-10-13")) == 2


def test_every_day_of_2026_agrees_with_the_package(seeded):
    day = D("2026-01-01")
    count = 0
    while day.year == 2026:
        assert is_workday(day) == chinese_calendar.is_workday(day), day
        count += chinese_calendar.is_workday(day)
        day += timedelta(days=1)
    assert workdays_between(D("2025-12-31"), D("2026-12-31")) == count
    cal = workdays.WorkdayCalendar()  # one snapshot for many deadlines gives the same answers
    for start in (D("2026-01-01"), D("2026-02-10"), D("2026-04-30"), D("2026-09-18"), D("2026-12-20")):
        for n in range(0, 12):
            end = cal.add_workdays(start, n)
            assert cal.workdays_between(start, end) == n
            assert end == start or cal.is_workday(end)
            assert end == add_workdays(start, n)


def test_plain_weekend_and_boundaries_without_any_rows(app):
    assert covered_years() == []
    assert not is_workday(D("2026-11-28")) and not is_workday(D("2026-11-29"))  # Sat, Sun
    assert add_workdays(D("2026-11-27"), 1) == D("2026-11-30")  # Fri → Mon
    assert add_workdays(D("2026-11-27"), 3) == D("2026-12-02")
    assert add_workdays(D("2026-11-28"), 1) == D("2026-11-30")  # start on a Saturday: Monday is the first
    assert add_workdays(D("2026-11-28"), 0) == D("2026-11-28")  # n = 0 → start, even on a weekend
    assert add_workdays(D("2026-11-26"), 1) == D("2026-11-27")
    with pytest.raises(ValueError):
        add_workdays(D("2026-11-26"), -1)
    assert workdays_between(D("2026-11-27"), D("2026-11-27")) == 0
    assert workdays_between(D("2026-11-27"), D("2026-11-29")) == 0  # only the weekend
    assert workdays_between(D("2026-11-27"), D("2026-11-30")) == 1
    assert workdays_between(D("2026-11-30"), D("2026-11-27")) == -1
    assert workdays_between(D("2026-11-01"), D("2026-12-01")) == 22
    assert next_workday(D("2026-11-27")) == D("2026-11-30")


def test_an_admin_change_counts_at_once(seeded, org):
    assert add_workdays(D("2026-11-27"), 1) == D("2026-11-30")
    workdays.set_day(org.admin, D("2026-11-30"), "holiday", "临时休假")
    db.session.commit()
    assert not is_workday(D("2026-11-30"))
    assert add_workdays(D("2026-11-27"), 1) == D("2026-12-01")
    workdays.set_day(org.admin, D("2026-11-29"), "workday", "临时休假")
    db.session.commit()
    assert add_workdays(D("2026-11-27"), 1) == D("2026-11-29")
    assert calendar_rows()[D("2026-11-29")] == ("workday", "临时休假", "admin")
    workdays.remove_day(org.admin, D("2026-11-29"))
    db.session.commit()
    assert add_workdays(D("2026-11-27"), 1) == D("2026-12-01")


def test_coverage_warning_for_a_year_without_rows(seeded):
    assert covered_years() == [2026]
    assert coverage_warning(D("2026-05-01"), D("2026-05-08")) is None
    end = add_workdays(D("2026-12-30"), 3)  # 2027 is not entered: only weekends count there
    assert end == D("2027-01-04")
    assert workdays.uncovered_years(D("2026-12-30"), end) == [2027]
    message = coverage_warning(D("2026-12-30"), end)
    assert message and "2027年的节假日安排尚未录入工作日历" in message and "只按周末计算" in message
    assert workdays.uncovered_years(D("2025-06-01"), D("2027-06-01")) == [2025, 2027]


# ---------------------------------------------------------------- seeding

def test_seed_is_idempotent_and_keeps_admin_rows(seeded, org):
    rows = calendar_rows()
    assert rows[D("2026-02-14")] == ("workday", "春节", "package")
    assert rows[D("2026-10-01")] == ("holiday", "国庆节", "package")
    assert rows[D("2026-01-04")] == ("workday", "元旦", "package")
    assert len(audit_rows("workdays.seeded")) == 1
    assert workdays.seed_from_package([2026]) == 0
    assert len(audit_rows("workdays.seeded")) == 1  # nothing changed, nothing recorded
    # An administrator's correction of a package day survives every later seeding.
    workdays.set_day(org.admin, D("2026-02-23"), "holiday", "春节（本行）")
    db.session.commit()
    # A package row that went wrong is put right; a package row the package no longer lists goes away.
    db.session.get(WorkdayCalendarDay, D("2026-10-02")).name = "错"
    db.session.add(WorkdayCalendarDay(day=D("2026-03-02"), kind="holiday", name="旧数据", source="package"))
    db.session.commit()
    assert workdays.seed_from_package([2026]) == 2
    rows = calendar_rows()
    assert rows[D("2026-02-23")] == ("holiday", "春节（本行）", "admin")
    assert rows[D("2026-10-02")] == ("holiday", "国庆节", "package")
    assert D("2026-03-02") not in rows
    assert workdays.seed_from_package() > 500  # every year the package covers (2004–2026)
    assert covered_years()[0] == 2004 and covered_years()[-1] == 2026
    assert workdays.seed_from_package() == 0
    assert calendar_rows()[D("2026-02-23")] == ("holiday", "春节（本行）", "admin")


def test_seed_of_a_year_the_package_lacks_changes_nothing(seeded):
    before = calendar_rows()
    assert workdays.seed_from_package([2027]) == 0
    assert calendar_rows() == before


def test_check_day_refuses_pointless_entries(app):
    with pytest.raises(WorkdayError, match="星期一，本来就是工作日") as exc:
        workdays.check_day(D("2027-02-08"), "workday", "春节")
    assert exc.value.field == "kind"
    with pytest.raises(WorkdayError, match="星期日，本来就不上班"):
        workdays.check_day(D("2027-02-07"), "holiday", "春节")
    with pytest.raises(WorkdayError, match="星期六，本来就不上班"):
        workdays.check_day(D("2027-02-06"), "holiday", "春节")
    assert workdays.check_day(D("2027-02-06"), "workday", " 春节 ") == "春节"
    assert workdays.check_day(D("2027-02-05"), "holiday", "春节") == "春节"  # Friday
    with pytest.raises(WorkdayError, match="请填写节日名称"):
        workdays.check_day(D("2027-02-05"), "holiday", "  ")
    assert workdays.check_day(D("2027-02-05"), "holiday", "节" * 20) == "节" * 20
    with pytest.raises(WorkdayError, match="最多 20 个字"):
        workdays.check_day(D("2027-02-05"), "holiday", "节" * 21)
    with pytest.raises(WorkdayError, match="请选择类型"):
        workdays.check_day(D("2027-02-05"), "off", "春节")
    with pytest.raises(WorkdayError, match="请输入有效日期"):
        workdays.parse_day("2027-02-30")
    with pytest.raises(WorkdayError, match="2000 年至 2100 年"):
        workdays.parse_day("1999-10-01")


# ---------------------------------------------------------------- the admin page

def test_admin_page_shows_the_year(seeded, client, org):
    client.login("ADM001")
    page = client.get("/admin/workdays?year=2026")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "春节" in html and "国庆节" in html and "中秋" in html
    assert 'data-day="2026-02-14" data-kind="workday"' in html
    assert 'data-day="2026-10-01" data-kind="holiday"' in html
    assert 'data-day="2026-10-08">' in html  # an ordinary Thursday has no kind
    assert "登记或修改一天" in html and "workday-missing" not in html
    total = sum(chinese_calendar.is_workday(D("2026-01-01") + timedelta(days=i)) for i in range(365))
    assert f"全年 {total} 个工作日" in html and "只按周末计算" not in html
    assert "2月15日–23日 春节 放假" in html and "2月14日 春节 调休上班" in html and "10月1日–7日 国庆节 放假" in html
    empty = client.get("/admin/workdays?year=2027").get_data(as_text=True)
    assert "2027 年的节假日安排尚未录入" in empty and "全年 261 个工作日（只按周末计算）" in empty
    picked = client.get("/admin/workdays?year=2026&day=2026-02-28").get_data(as_text=True)
    assert 'name="day" value="2026-02-28"' in picked and 'name="name" value="春节"' in picked


def test_admin_adds_a_day_once_audited(seeded, client, org):
    client.login("ADM001")
    resp = client.post("/admin/workdays", {"day": "2027-02-08", "kind": "holiday", "name": "春节"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/workdays?year=2027")
    assert calendar_rows()[D("2027-02-08")] == ("holiday", "春节", "admin")
    assert db.session.get(WorkdayCalendarDay, D("2027-02-08")).updated_by_id == org.admin.id
    rows = audit_rows("workdays.changed")
    assert len(rows) == 1
    assert rows[0].actor_id == org.admin.id and rows[0].target_id == "2027-02-08"
    assert rows[0].detail["after"] == {"kind": "holiday", "name": "春节", "source": "admin"}
    assert rows[0].detail["before"] is None
    assert not is_workday(D("2027-02-08"))  # at once
    assert 2027 in covered_years()
    page = client.get("/admin/workdays?year=2027").get_data(as_text=True)
    assert "workday-missing" not in page and 'data-day="2027-02-08" data-kind="holiday"' in page
    # Changing a package day turns it into an administrator's row.
    assert client.post("/admin/workdays", {"day": "2026-10-08", "kind": "holiday", "name": "国庆节"}).status_code == 302
    assert calendar_rows()[D("2026-10-08")] == ("holiday", "国庆节", "admin")
    assert add_workdays(D("2026-09-30"), 3) == D("2026-10-12")
    assert len(audit_rows("workdays.changed")) == 2


@pytest.mark.parametrize(("form", "message"), [
    ({"day": "2027-13-01", "kind": "holiday", "name": "春节"}, "请输入有效日期"),
    ({"day": "明天", "kind": "holiday", "name": "春节"}, "请输入有效日期"),
    ({"day": "2027-02-08", "kind": "workday", "name": "春节"}, "2027-02-08 是星期一，本来就是工作日"),
    ({"day": "2027-02-07", "kind": "holiday", "name": "春节"}, "2027-02-07 是星期日，本来就不上班"),
    ({"day": "2027-02-08", "kind": "holiday", "name": ""}, "请填写节日名称"),
])
def test_bad_input_is_422_and_saves_nothing(seeded, client, org, form, message):
    client.login("ADM001")
    before = table_snapshot()
    resp = client.post("/admin/workdays", form)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert message in html and "is-invalid" in html
    assert f'value="{form["day"]}"' in html  # what was typed comes back
    after = table_snapshot()
    for t in ("user_session",):
        before.pop(t), after.pop(t)
    assert before == after


def test_only_the_system_admin_changes_the_calendar(seeded, client, org):
    before = calendar_rows()
    client.login("BA0001")  # a branch administrator may look
    page = client.get("/admin/workdays?year=2026")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "春节" in html and "登记或修改一天" not in html and "只有系统管理员可以修改" in html
    assert client.post("/admin/workdays", {"day": "2026-11-30", "kind": "holiday", "name": "X"}).status_code == 403
    assert client.post("/admin/workdays/remove", {"day": "2026-02-14"}).status_code == 403
    client.logout()
    client.login("RA0001")  # a customer manager may not even look
    assert client.get("/admin/workdays").status_code == 403
    assert client.post("/admin/workdays", {"day": "2026-11-30", "kind": "holiday", "name": "X"}).status_code == 403
    assert calendar_rows() == before
    assert audit_rows("workdays.changed") == []
    assert len(audit_rows("access.denied")) == 4


def test_post_without_csrf_token_is_refused(seeded, client, org):
    client.login("ADM001")
    resp = client.post("/admin/workdays", {"day": "2026-11-30", "kind": "holiday", "name": "X"}, csrf=False)
    assert resp.status_code == 400
    assert D("2026-11-30") not in calendar_rows()


def test_remove_an_admin_row_but_not_a_package_row(seeded, client, org):
    client.login("ADM001")
    client.post("/admin/workdays", {"day": "2026-11-30", "kind": "holiday", "name": "临时"})
    assert not is_workday(D("2026-11-30"))
    resp = client.post("/admin/workdays/remove", {"day": "2026-11-30"})
    assert resp.status_code == 302
    assert D("2026-11-30") not in calendar_rows() and is_workday(D("2026-11-30"))
    changed = audit_rows("workdays.changed")
    assert len(changed) == 2 and changed[-1].detail["after"] is None
    refused = client.post("/admin/workdays/remove", {"day": "2026-02-14"})
    assert refused.status_code == 422 and "来自节假日数据包，不能删除" in refused.get_data(as_text=True)
    assert calendar_rows()[D("2026-02-14")] == ("workday", "春节", "package")
    assert len(audit_rows("workdays.changed")) == 2


# ---------------------------------------------------------------- CLI

def test_cli_seed_and_show(app, runner):
    result = runner.invoke(args=["workdays", "seed", "--year", "2026"])
    assert result.exit_code == 0, result.output
    assert "写入或更新 39 天" in result.output
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(WorkdayCalendarDay)) == 39
    again = runner.invoke(args=["workdays", "seed", "--year", "2026"])
    assert again.exit_code == 0 and "写入或更新 0 天" in again.output
    shown = runner.invoke(args=["workdays", "show", "2026"])
    assert shown.exit_code == 0, shown.output
    assert "2026-02-14  星期六  调休上班  春节" in shown.output
    assert "2026-10-01  星期四  放假" in shown.output and "国庆节" in shown.output
    total = sum(chinese_calendar.is_workday(D("2026-01-01") + timedelta(days=i)) for i in range(365))
    assert f"2026 年共 {total} 个工作日" in shown.output
    empty = runner.invoke(args=["workdays", "show", "2027"])
    assert empty.exit_code == 0 and "2027 年没有工作日历数据" in empty.output
    missing = runner.invoke(args=["workdays", "seed", "--year", "2027"])
    assert missing.exit_code == 0 and "数据包中没有 2027 年的安排" in missing.output


def test_setup_seeds_once_and_survives_a_missing_package(app, runner, monkeypatch):
    said: list[str] = []
    assert workdays.ensure_seeded(echo=said.append) > 700  # `crm init-db` and the demo data run this
    assert said and "工作日历：已从节假日数据包写入" in said[0]
    assert workdays.ensure_seeded(echo=said.append) == 0 and len(said) == 1
    monkeypatch.setitem(sys.modules, "chinese_calendar", None)  # not installed
    assert workdays.ensure_seeded(echo=said.append) == 0
    assert "未安装节假日数据包 chinesecalendar" in said[-1] and "只按周末计算" in said[-1]
    result = runner.invoke(args=["workdays", "seed"])
    assert result.exit_code == 1 and "未安装节假日数据包 chinesecalendar" in result.output
