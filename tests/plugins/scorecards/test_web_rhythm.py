"""日跟踪、周经营、月达标、季晋升 pages (R-39) over real 2511 / 511 logs (R-35, R-36; T-13, T-14)."""

from __future__ import annotations

import re
import zipfile
from datetime import date, timedelta
from io import BytesIO

import pytest
from sqlalchemy import event, select

from crm import workdays
from crm.extensions import db
from crm.models import AuditLog, DailyLog, DailyLogEntry
from plugins.scorecards import views_rhythm
from tests.conftest import CANARY_B

D = date.fromisoformat
TODAY = D("2026-12-15")  # a Tuesday; every page of these tests is seen "today"
URL = "/p/scorecards/rhythm"


@pytest.fixture
def rh(sc, monkeypatch):
    monkeypatch.setattr(views_rhythm, "today_local", lambda: TODAY)
    return sc


def log2511(user, day: date, *, contacts: int = 22, effective: int = 5, policies: int = 0,
            problems: str | None = "客户认为保险收益偏低，需再跟进", log_text: str | None = "上午走访三户，下午厅堂营销") -> DailyLog:
    log = DailyLog(user_id=user.id, outlet_id=user.outlet_id, day=day, model="2511", contacts=contacts,
                   effective=effective, policies=policies, problems=problems, log_text=log_text)
    db.session.add(log)
    return log


def log511(user, day: date, *, complete: int = 5, missing_needs: int = 0, policies: int = 1,
           peers: str | None = "同业工行今日出单2件") -> DailyLog:
    log = DailyLog(user_id=user.id, outlet_id=user.outlet_id, day=day, model="511", policies=policies,
                   on_site=True, peers_results=peers)
    log.entries = [DailyLogEntry(customer_name=f"客户{i}", family="三口之家", work="教师", needs="子女教育金")
                   for i in range(complete)]
    log.entries += [DailyLogEntry(customer_name=f"缺需求{i}", family="单身", work="个体", needs="")
                    for i in range(missing_needs)]
    db.session.add(log)
    return log


def compliant_days(user, days) -> None:
    for d in days:
        log2511(user, d)


def workdays_of(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)
            if workdays.is_workday(start + timedelta(days=i))]


def page(client, **params):
    resp = client.get(URL, query_string=params)
    return resp, resp.get_data(as_text=True)


def status_of(body: str, user) -> str:
    m = re.search(rf'data-rhythm-person="{user.id}" data-status="(\w+)"', body)
    assert m, f"{user.name} not on the page"
    return m.group(1)


def row_of(body: str, user) -> str:
    m = re.search(rf'<tr data-rhythm-person="{user.id}".*?</tr>', body, re.S)
    assert m, f"{user.name} not on the page"
    return m.group(0)


# ---------------------------------------------------------------- 日跟踪

def test_day_2511_t13(client, rh):
    """T-13: contacts 22, effective 5, log saved, policies 0, problems 1 → compliant; contacts 18 → not (contacts);
    policies 0 and problems 0 → not; no log on a working day → 未提交日志."""
    day = D("2026-12-14")
    log2511(rh.rm_a, day)                                    # T-13 compliant
    log2511(rh.teller_a, day, contacts=18)                   # T-13 contacts short
    log2511(rh.rm_senior, day, problems=None)                # T-13 neither policy nor problem
    log2511(rh.rm_b, day)                                    # another 分行: never on outlet A's page
    db.session.commit()
    client.login("HA0001")
    resp, body = page(client, view="day", date="2026-12-14")
    assert resp.status_code == 200
    assert status_of(body, rh.rm_a) == "compliant"
    assert status_of(body, rh.teller_a) == "non_compliant"
    assert "2511日志：接触客户不足20人（18）" in row_of(body, rh.teller_a)
    assert row_of(body, rh.teller_a).count('class="text-red"') == 1  # only the contacts fall short
    assert status_of(body, rh.rm_senior) == "non_compliant"
    assert "未提交保单，也未提交问题" in row_of(body, rh.rm_senior)
    assert status_of(body, rh.lobby_a) == "no_log"
    assert "未提交日志" in row_of(body, rh.lobby_a)
    assert "2511：接触22人，有效拓展5人，保单0件，问题1条" in row_of(body, rh.rm_a)
    assert 'data-rhythm-count="compliant">1<' in body and 'data-rhythm-count="non_compliant">2<' in body
    assert CANARY_B not in body
    assert rh.rm_a2.name not in body  # outlet A2 is not the head of A's outlet


def test_day_511_t14_and_queries(client, rh):
    """T-14: five 511 customers, one without product needs → only 4 effective → not compliant; the peers' results
    are required. The logs of everyone in scope are read in one query and their entries in one more."""
    day = D("2026-12-14")
    log511(rh.rm_a, day, complete=4, missing_needs=1)
    log511(rh.teller_a, day, complete=5)
    log511(rh.lobby_a, day, complete=5, peers=None)
    log511(rh.rm_senior, day, complete=5)
    db.session.commit()
    client.login("HA0001")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        resp, body = page(client, view="day", date="2026-12-14")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert resp.status_code == 200
    assert status_of(body, rh.rm_a) == "non_compliant"
    assert "有效客户不足5人（4，须含家庭资料、工作情况和产品需求）" in row_of(body, rh.rm_a)
    assert "511：有效客户4人（登记5人）" in row_of(body, rh.rm_a)
    assert status_of(body, rh.teller_a) == "compliant"
    assert status_of(body, rh.rm_senior) == "compliant"
    assert status_of(body, rh.lobby_a) == "non_compliant"
    assert "未记录同业当天业绩" in row_of(body, rh.lobby_a)
    touching = [s for s in statements if "daily_log" in s]
    assert len(touching) == 2, touching
    assert sum("daily_log_entry" in s for s in touching) == 1


def test_day_with_both_models_one_compliant(client, rh):
    """A-12: a 2511 and a 511 log on one day — either one compliant makes the day."""
    day = D("2026-12-14")
    log2511(rh.rm_a, day, contacts=18)
    log511(rh.rm_a, day, complete=5)
    db.session.commit()
    client.login("RA0001")
    _resp, body = page(client, view="day", date="2026-12-14")
    assert status_of(body, rh.rm_a) == "compliant"


def test_day_rest_day_and_today_notice(client, rh):
    client.login("HA0001")
    _resp, body = page(client, view="day", date="2026-12-13")  # a Sunday
    assert status_of(body, rh.rm_a) == "rest"
    assert "不是工作日" in body
    _resp, body = page(client)  # default: 日跟踪 of today
    assert "2026-12-15（周二）" in body
    assert "今晚之前仍可补交" in body
    assert status_of(body, rh.rm_a) == "no_log"


# ---------------------------------------------------------------- 周经营

def test_week_with_national_day_holiday(client, rh, app):
    """The week of 2026-10-05: Mon–Wed are National Day holidays, Saturday 10-10 is a make-up workday, so the
    week has 3 working days (10-08, 10-09, 10-10); a log on a holiday neither adds nor subtracts."""
    workdays.seed_from_package([2026])
    compliant_days(rh.rm_a, [D("2026-10-08"), D("2026-10-09"), D("2026-10-10")])
    compliant_days(rh.teller_a, [D("2026-10-05"), D("2026-10-08")])
    log2511(rh.lobby_a, D("2026-10-08"), contacts=18)
    db.session.commit()
    client.login("HA0001")
    resp, body = page(client, view="week", date="2026-10-07")
    assert resp.status_code == 200
    assert "2026年第41周（2026-10-05 至 2026-10-11）" in body
    assert "本周工作日 3 天" in body
    assert "3/3" in row_of(body, rh.rm_a) and "100.0%" in row_of(body, rh.rm_a)
    teller = row_of(body, rh.teller_a)
    assert "1/3" in teller and "33.3%" in teller
    assert 'data-day="2026-10-05" data-status="compliant"' in teller  # shown, not counted
    lobby = row_of(body, rh.lobby_a)
    assert "0/3" in lobby
    assert 'title="2511日志：接触客户不足20人（18）" data-day="2026-10-08"' in lobby
    assert 'title="非工作日" data-day="2026-10-06"' in lobby
    assert 'title="未提交日志" data-day="2026-10-10"' in lobby  # the make-up Saturday is a working day
    assert 'title="非工作日" data-day="2026-10-11"' in lobby


def test_week_in_progress_counts_days_before_today(client, rh):
    """This week (Mon 12-14 to Sun 12-20) seen on Tuesday 12-15: only Monday counts; today is still open."""
    compliant_days(rh.rm_a, [D("2026-12-14"), D("2026-12-15")])
    db.session.commit()
    client.login("RA0001")
    _resp, body = page(client, view="week", date="2026-12-15")
    row = row_of(body, rh.rm_a)
    assert "1/1" in row
    assert 'data-day="2026-12-16" data-status="no_log">·<' in row
    assert "本期尚未结束" in body
    assert 'data-rhythm-nav="next"' not in body


def test_navigation_anchors(client, rh):
    """Previous / next keep the view and never point at a future date or before the year 2000."""
    client.login("RA0001")
    _resp, body = page(client, view="week", date="2026-12-09")
    assert "view=week&amp;date=2026-12-02" in body and "view=week&amp;date=2026-12-15" in body
    _resp, body = page(client, view="day", date="2000-01-01")
    assert 'data-rhythm-nav="prev"' not in body and "date=2000-01-02" in body
    _resp, body = page(client, view="day", date="2026-12-15")
    assert 'data-rhythm-nav="next"' not in body


# ---------------------------------------------------------------- 月达标

def test_month_target_boundary(client, rh):
    """November 2026 with one holiday on 11-30 has 20 working days: 18 compliant = exactly 90% → met; 17 → not."""
    workdays.set_day(rh.admin, D("2026-11-30"), "holiday", "本行测试假日")
    db.session.commit()
    days = workdays_of(D("2026-11-01"), D("2026-11-30"))
    assert len(days) == 20
    compliant_days(rh.rm_a, days[:18])
    compliant_days(rh.teller_a, days[:17] + [D("2026-11-30"), D("2026-11-29")])  # rest days do not help
    compliant_days(rh.lobby_a, days[:19])
    db.session.commit()
    client.login("HA0001")
    resp, body = page(client, view="month", date="2026-11-10")
    assert resp.status_code == 200
    assert "2026年11月" in body and "90.0%" in body
    rm = row_of(body, rh.rm_a)
    assert "data-below-target" not in rm and 'data-met="1"' in rm and ">90.0%<" in rm
    teller = row_of(body, rh.teller_a)
    assert "data-below-target" in teller and 'data-met="0"' in teller and ">85.0%<" in teller
    assert "未达到90.00%的月度标准" in teller
    assert 'data-met="1"' in row_of(body, rh.lobby_a)
    assert "data-below-target" in row_of(body, rh.head_a)  # no logs at all
    # navigation: previous and next month
    assert "date=2026-10-01" in body and "date=2026-12-01" in body


def test_month_export(client, rh):
    days = workdays_of(D("2026-11-01"), D("2026-11-30"))
    compliant_days(rh.rm_a, days)
    compliant_days(rh.rm_b, days)
    db.session.commit()
    client.login("HA0001")
    resp = client.get(URL + "/export", query_string={"view": "month", "date": "2026-11-10"})
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    with zipfile.ZipFile(BytesIO(resp.data)) as book:
        xml = "".join(book.read(n).decode() for n in book.namelist() if n.endswith(".xml"))
    assert rh.rm_a.name in xml and "100.0%" in xml and "月达标" in xml
    assert CANARY_B not in xml
    row = db.session.execute(select(AuditLog).where(AuditLog.action == "scorecards.exported")).scalar_one()
    assert row.detail["view"] == "month"


# ---------------------------------------------------------------- 季晋升

def test_quarter_qualification(client, rh):
    """Q3 2026: all three months at or above 90% → promotion review; one month below → not."""
    july, aug, sep = (workdays_of(D("2026-07-01"), D("2026-07-31")), workdays_of(D("2026-08-01"), D("2026-08-31")),
                      workdays_of(D("2026-09-01"), D("2026-09-30")))
    assert len(aug) == 21  # 90% of 21 = 18.9: 19 compliant days meet it, 18 do not
    compliant_days(rh.rm_a, july + aug + sep)
    compliant_days(rh.teller_a, july + aug[:18] + sep)
    compliant_days(rh.lobby_a, july + aug[:19] + sep)
    db.session.commit()
    client.login("HA0001")
    resp, body = page(client, view="quarter", date="2026-08-15")
    assert resp.status_code == 200
    assert "2026年第3季度" in body
    assert 'data-state="qualified"' in row_of(body, rh.rm_a)
    assert "三个月均达标，可参加季度晋升评定" in row_of(body, rh.rm_a)
    teller = row_of(body, rh.teller_a)
    assert 'data-state="not_qualified"' in teller and "8月85.71%未达标" in teller
    assert 'data-state="qualified"' in row_of(body, rh.lobby_a)
    assert "date=2026-04-01" in body and "date=2026-10-01" in body


def test_quarter_in_progress(client, rh):
    """Q4 2026 seen on 12-15: nobody is final; someone compliant so far is 进行中, someone already below is not."""
    compliant_days(rh.rm_a, workdays_of(D("2026-10-01"), D("2026-12-14")))
    compliant_days(rh.teller_a, workdays_of(D("2026-11-01"), D("2026-12-14")))
    db.session.commit()
    client.login("HA0001")
    _resp, body = page(client, view="quarter", date="2026-12-15")
    assert 'data-state="in_progress"' in row_of(body, rh.rm_a)
    assert 'data-state="not_qualified"' in row_of(body, rh.teller_a)
    assert 'data-rhythm-nav="next"' not in body


# ---------------------------------------------------------------- scope

def test_scope_outlet_head_own_outlet_only(client, rh):
    day = D("2026-12-14")
    for user in (rh.rm_a, rh.rm_a2, rh.rm_b, rh.head_b):
        log2511(user, day)
    db.session.commit()
    client.login("HA0001")
    for view in ("day", "week", "month", "quarter"):
        resp, body = page(client, view=view, date="2026-12-14")
        assert resp.status_code == 200
        assert CANARY_B not in body, view
        assert rh.rm_a.name in body and rh.rm_a2.name not in body
    assert client.get(URL, query_string={"outlet": rh.a2.id}).status_code == 404
    assert client.get(URL, query_string={"outlet": rh.b.id}).status_code == 404
    assert client.get(URL, query_string={"outlet": rh.a.id}).status_code == 200
    denied = db.session.execute(select(AuditLog).where(AuditLog.action == "access.denied")).scalars().all()
    assert {row.target_id for row in denied} >= {str(rh.a2.id), str(rh.b.id)}


def test_scope_customer_manager_sees_only_self(client, rh):
    log2511(rh.rm_a, D("2026-12-14"))
    log2511(rh.teller_a, D("2026-12-14"))
    db.session.commit()
    client.login("RA0001")
    for view in ("day", "week", "month", "quarter"):
        _resp, body = page(client, view=view, date="2026-12-14")
        assert re.findall(r'<tr data-rhythm-person="(\d+)"', body) == [str(rh.rm_a.id)], view
        assert rh.teller_a.name not in body and rh.head_a.name not in body
    assert 'name="outlet"' not in body
    assert client.get(URL, query_string={"outlet": rh.a.id}).status_code == 404


def test_scope_branch_post_with_outlet_filter(client, rh):
    log2511(rh.rm_b, D("2026-12-14"))
    db.session.commit()
    client.login("PR0001")  # 支行行长 of 甲一支行: outlets A and A2
    _resp, body = page(client, view="day", date="2026-12-14")
    assert rh.rm_a.name in body and rh.rm_a2.name in body and CANARY_B not in body
    _resp, body = page(client, view="day", date="2026-12-14", outlet=rh.a2.id)
    people = re.findall(r'<tr data-rhythm-person="(\d+)"', body)
    assert sorted(people) == sorted([str(rh.head_a2.id), str(rh.rm_a2.id), str(rh.rm_junior.id)])
    assert f'outlet={rh.a2.id}' in body  # the filter survives the tabs and the navigation
    assert client.get(URL, query_string={"outlet": rh.b.id}).status_code == 404


# ---------------------------------------------------------------- switched off, bad parameters

def test_plugin_disabled_is_404(client, rh, enable_plugin):
    enable_plugin(rh.b1, "scorecards", False)
    client.login("HA0001")
    assert client.get(URL).status_code == 404
    assert client.get(URL + "/export").status_code == 404


@pytest.mark.parametrize(("params", "message"), [
    ({"view": "year"}, "视图参数无效"),
    ({"date": "2026-13-01"}, "日期格式不正确"),
    ({"date": "20261201"}, "日期格式不正确"),
    ({"date": "1999-12-31"}, "日期不能早于 2000 年"),
    ({"date": "2026-12-16"}, "不能查看未来日期（2026-12-16）"),
    ({"outlet": "abc"}, "网点参数无效"),
    ({"outlet": "12345678901234567890"}, "网点参数无效"),
])
def test_bad_parameters_are_400(client, rh, params, message):
    client.login("HA0001")
    resp, body = page(client, **params)
    assert resp.status_code == 400
    assert message in body and "data-rhythm-error" in body
    assert client.get(URL + "/export", query_string=params).status_code == 400
