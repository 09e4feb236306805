"""Customer-manager grade pages and services: staff grade and probation (R-76, T-29), required minimum grade from the
customers held (R-74, A-17), provisional 初级 lapsing (R-73, T-58), separation dates (R-75, T-59), assistant
eligibility (R-77, T-60); scope, permissions, Chinese validation with nothing saved, plugin switched off."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

import plugins.scorecards.views_grades as views_grades  # registers the routes and the table (until views.py does)
from crm.customers.search import keys
from crm.extensions import db
from crm.models import AuditLog, Customer
from plugins.scorecards import services_grades as svc
from plugins.scorecards.models_grades import ScorecardGradeEvent
from tests.conftest import CANARY_B
from tests.plugins.scorecards.conftest import as_user
from tests.plugins.scorecards.test_grades import float_tokens

D = Decimal
URL = "/p/scorecards/grades"


def hold(user, deposit: str = "0", loan: str = "0", outlet=None, name: str = "管户客户") -> Customer:
    c = Customer(outlet_id=(outlet or user.outlet).id, kind="corporate", name=name, deposit_balance=D(deposit),
                 loan_balance=D(loan), has_loan=D(loan) > 0, maintainer_id=user.id, **keys(name, None, None))
    db.session.add(c)
    db.session.commit()
    return c


def set_grade(user, grade: str | None, since: date | None = None) -> None:
    user.grade, user.grade_effective_from = grade, since
    db.session.commit()


def count_events() -> int:
    return db.session.execute(select(func.count()).select_from(ScorecardGradeEvent)).scalar_one()


def row_of(rows, user) -> svc.GradeRow:
    return next(r for r in rows if r.user_id == user.id)


def roster(viewer, **kw) -> list[svc.GradeRow]:
    return as_user(viewer, svc.grade_roster, **kw)


def row_html(body: str, user) -> str:
    match = re.search(rf'<tr data-sc-grade-row="{user.id}".*?</tr>', body, re.S)
    assert match, f"no roster row for {user.name}"
    return match.group(0)


def test_source_has_no_floats_and_reads_customers_only_through_scope():
    for module in (svc, views_grades):
        path = Path(module.__file__)
        assert float_tokens(path) == []
        assert "select(Customer" not in path.read_text(encoding="utf-8")


# ---------------------------------------------------------------- R-76, T-29

def test_t29_staff_grade_and_probation_end(client, sc):
    """T-29: 三级 → 行员8等; 见习 → 9等; 见习 from 2024-03-01 → probation ends 2025-02-28."""
    set_grade(sc.rm_a2, "b_3", date(2024, 1, 1))
    set_grade(sc.rm_a, "b_trainee", date(2024, 3, 1))
    rows = roster(sc.marketing1, today=date(2024, 6, 1))
    assert row_of(rows, sc.rm_a2).staff_grade == 8
    trainee = row_of(rows, sc.rm_a)
    assert trainee.staff_grade == 9 and trainee.probation_ends == date(2025, 2, 28)
    assert [f.code for f in trainee.flags] == ["probation"] and not trainee.problem

    client.login("MK0001")
    body = client.get(URL + "?on=2024-06-01").get_data(as_text=True)
    assert "行员8等" in row_html(body, sc.rm_a2)
    assert "行员9等" in row_html(body, sc.rm_a) and "见习期至2025-02-28" in row_html(body, sc.rm_a)
    # On the last day still on probation; the day after, a reminder to grade them.
    assert "见习期至2025-02-28" in row_html(client.get(URL + "?on=2025-02-28").get_data(as_text=True), sc.rm_a)
    after = row_html(client.get(URL + "?on=2025-03-01").get_data(as_text=True), sc.rm_a)
    assert "见习期已于2025-02-28届满" in after
    page = client.get(f"{URL}/{sc.rm_a.id}?on=2024-06-01").get_data(as_text=True)
    assert "R-76" in page and "见习期一年，至2025-02-28止" in page and "行员9等" in page


# ----------------------------------------------------------------

@pytest.mark.parametrize("deposit, loan, required, warning", [
    ("3000000", "0", "a_junior", None),            # 300万元以下: still 初级
    ("3000000.01", "0", "a_middle", "应达中级"),     # one cent above
    ("3000001", "0", "a_middle", "应达中级"),
    ("4000000", "0", "a_middle", "应达中级"),        # the 300万—500万 gap of the source → 中级
    ("7999999.99", "0", "a_middle", "应达中级"),
    ("8000000", "0", "a_senior", "应达高级"),        # 800万元以上 → 高级
    ("0", "3000000", "a_junior", None),
    ("0", "3000001", "a_middle", "应达中级"),
    ("0", "9999999.99", "a_middle", "应达中级"),
    ("0", "10000000", "a_senior", "应达高级"),       # 贷款1000万元以上 → 高级
])
def test_r74_required_minimum_grade_of_a_junior_manager(sc, deposit, loan, required, warning):
    hold(sc.rm_junior, deposit, loan)
    row = row_of(roster(sc.marketing1), sc.rm_junior)
    assert row.required == required
    assert row.deposits == D(deposit) and row.loans == D(loan) and row.customers == 1
    texts = [f.text for f in row.flags]
    if warning is None:
        assert row.gap is None and not row.problem
    else:
        assert any(warning in t for t in texts) and row.problem and "初级客户经理" in row.gap


def test_r74_gap_warning_on_the_roster_and_higher_grades_may_hold_smaller(client, sc):
    """A 初级 manager holding 8,000,000 → "应达高级"; the 高级 manager with the same customer is fine."""
    hold(sc.rm_junior, "8000000", name="大户甲")
    hold(sc.rm_senior, "8000000", name="大户乙")
    hold(sc.rm_middle, "2000000", "500000", name="小户")
    client.login("MK0001")
    body = client.get(URL).get_data(as_text=True)
    junior = row_html(body, sc.rm_junior)
    assert "应达高级" in junior and "800.00 / 0.00" in junior
    assert "应达" not in row_html(body, sc.rm_senior)
    middle = row_html(body, sc.rm_middle)
    assert "200.00 / 50.00" in middle and "应达" not in middle
    # Problems only: the junior manager (and the ungraded RMs), not the senior one.
    problems = client.get(URL + "?problems=1").get_data(as_text=True)
    assert f'data-sc-grade-row="{sc.rm_junior.id}"' in problems
    assert f'data-sc-grade-row="{sc.rm_senior.id}"' not in problems
    page = client.get(f"{URL}/{sc.rm_junior.id}").get_data(as_text=True)
    assert "R-74" in page and "须由高级客户经理（三级制）及以上负责" in page


def test_r74_scale_is_per_customer_and_totals_are_shown(sc):
    """R-74 names the customer ("可负责存款800万元以上……的客户"): two customers of 2,000,000 each need no more than
    初级, although 4,000,000 is held in all (shown as the total)."""
    hold(sc.rm_junior, "2000000", name="客户一")
    hold(sc.rm_junior, "2000000", "1000000", name="客户二")
    row = row_of(roster(sc.marketing1), sc.rm_junior)
    assert (row.customers, row.deposits, row.loans) == (2, D("4000000.00"), D("1000000.00"))
    assert (row.largest_deposit, row.largest_loan) == (D("2000000.00"), D("1000000.00"))
    assert row.required == "a_junior" and row.gap is None
    assert svc.wan(row.deposits) == "400.00" and svc.wan(D("12345.5")) == "1.23" and svc.wan(D("15000")) == "1.50"


def test_roster_filters_by_outlet_and_grade(client, sc):
    client.login("MK0001")
    body = client.get(f"{URL}?outlet={sc.a2.id}").get_data(as_text=True)
    assert "初级客户经理丙" in body and "高级客户经理甲" not in body
    body = client.get(URL + "?grade=a_middle").get_data(as_text=True)
    assert "中级客户经理乙" in body and "高级客户经理甲" not in body and "初级客户经理丙" not in body
    body = client.get(URL + "?grade=none").get_data(as_text=True)
    assert "甲客户经理" in body and "高级客户经理甲" not in body
    # Only customer-manager posts are on the roster.
    assert "甲柜员" not in client.get(URL).get_data(as_text=True)


# ---------------------------------------------------------------- R-73, T-58

def test_t58_provisional_junior_lapses_to_agent(client, sc):
    """T-58: provisional 初级 granted 2024-01-01, no qualifying exam by 2025-01-01 → 业务代办员."""
    client.login("MK0001")
    resp = client.post(f"{URL}/{sc.rm_a2.id}/events", {"kind": "provisional", "on": "2024-01-01",
                                                       "amount": "350万", "note": "2023年累计日均"})
    assert resp.status_code == 302
    event = db.session.execute(select(ScorecardGradeEvent)).scalar_one()
    assert (event.kind, event.on, event.amount) == ("provisional", date(2024, 1, 1), D("3500000.00"))
    assert (event.outlet_id, event.branch_id, event.created_by_id) == (sc.a2.id, sc.rm_a2.branch_id,
                                                                       sc.marketing1.id)
    audit_row = db.session.execute(select(AuditLog).where(AuditLog.action == "scorecards.grade_event")).scalar_one()
    assert audit_row.detail["kind"] == "provisional" and audit_row.detail["user_id"] == sc.rm_a2.id

    last_day = row_html(client.get(URL + "?on=2024-12-31").get_data(as_text=True), sc.rm_a2)
    assert "临时初级至2024-12-31" in last_day and "业务代办员" not in last_day
    lapsed = row_html(client.get(URL + "?on=2025-01-01").get_data(as_text=True), sc.rm_a2)
    assert "已转为业务代办员" in lapsed and "2025-01-01" in lapsed
    row = row_of(roster(sc.marketing1, today=date(2025, 1, 1)), sc.rm_a2)
    assert row.provisional.status == "lapsed" and row.provisional.post == "agent"
    page = client.get(f"{URL}/{sc.rm_a2.id}?on=2025-01-01").get_data(as_text=True)
    assert "R-73" in page and "自2025-01-01起降为业务代办员" in page and "350.00万元" in page


def test_r73_running_provisional_counts_as_junior_for_the_scale(sc):
    """An ungraded manager with a running provisional 初级 is compared as 初级 (R-74) and is not "未定级"."""
    hold(sc.rm_a2, "4000000")
    before = row_of(roster(sc.marketing1, today=date(2024, 6, 1)), sc.rm_a2)
    assert [f.code for f in before.flags] == ["ungraded"] and before.gap is None
    as_user(sc.marketing1, svc.record_event, sc.rm_a2.id, "provisional", {"on": "2024-01-01", "amount": "0"})
    row = row_of(roster(sc.marketing1, today=date(2024, 6, 1)), sc.rm_a2)
    assert row.provisional_grade == "a_junior" and "ungraded" not in [f.code for f in row.flags]
    assert any(f.text == "等级偏低：管户规模应达中级" for f in row.flags)


def test_t58_exam_passed_on_the_last_day_keeps_the_grade(client, sc):
    client.login("MK0001")
    for data in ({"kind": "provisional", "on": "2024-01-01", "amount": "3500000"},
                 {"kind": "qualified", "on": "2024-12-31"}):
        assert client.post(f"{URL}/{sc.rm_a2.id}/events", data).status_code == 302
    row = row_of(roster(sc.marketing1, today=date(2025, 6, 1)), sc.rm_a2)
    assert row.provisional.status == "qualified" and row.provisional.grade == "a_junior"
    assert not any(f.code in ("provisional", "lapsed") for f in row.flags)


def test_r73_threshold_when_configured(sc, monkeypatch):
    """A-16: the blank "***万元以上" is a setting; at the threshold the grant is allowed, one cent below it is not."""
    monkeypatch.setattr(svc, "_threshold", lambda person: D("3000000"))
    with pytest.raises(svc.FormErrors) as exc:
        as_user(sc.marketing1, svc.record_event, sc.rm_a2.id, "provisional", {"on": "2024-01-01",
                                                                              "amount": "2999999.99"})
    assert exc.value.errors["amount"] == "累计日均存款未达到暂定初级门槛（300.00万元以上）"
    db.session.rollback()
    event = as_user(sc.marketing1, svc.record_event, sc.rm_a2.id, "provisional", {"on": "2024-01-01",
                                                                                  "amount": "3000000"})
    assert event.amount == D("3000000.00")


# ---------------------------------------------------------------- R-75, T-59

def test_t59_notice_and_handover_dates(client, sc):
    """T-59: written notice 2024-03-01 → earliest separation 2024-03-08 → hand-over due by 2024-03-15."""
    client.login("BA0001")
    assert client.post(f"{URL}/{sc.rm_middle.id}/events", {"kind": "notice", "on": "2024-03-01",
                                                           "by": "employee"}).status_code == 302
    row = row_html(client.get(URL + "?on=2024-03-02").get_data(as_text=True), sc.rm_middle)
    assert "离职提前通知2024-03-01（员工本人提出），最早离职2024-03-08，交接截止2024-03-15" in row
    later = row_html(client.get(URL + "?on=2024-03-16").get_data(as_text=True), sc.rm_middle)
    assert "已过交接截止日" in later
    page = client.get(f"{URL}/{sc.rm_middle.id}").get_data(as_text=True)
    assert "R-75" in page and "最早离职日2024-03-08，交接截止2024-03-15" in page
    # Before the notice was given, nothing shows.
    assert "离职" not in row_html(client.get(URL + "?on=2024-02-29").get_data(as_text=True), sc.rm_middle)


# ---------------------------------------------------------------- R-77, T-60

def test_t60_college_without_cba_certificate_is_not_eligible(client, sc):
    """T-60: 大专 but no CBA wealth certificate → not eligible for 个人客户经理助理 (the reason is shown)."""
    client.login("MK0001")
    resp = client.post(f"{URL}/{sc.rm_a.id}/events", {"kind": "assessment", "on": "2024-05-01", "education": "大专",
                                                      "cba_cert": "0", "bank_experience": "1", "good_conduct": "1"})
    assert resp.status_code == 302
    page = client.get(f"{URL}/{sc.rm_a.id}").get_data(as_text=True)
    assert "R-77" in page and 'data-sc-assistant="no"' in page and "未取得中国银行业协会个人理财从业资格证书" in page
    assert "学历须为大专" not in page  # 大专 itself is enough
    assert "不符合个人客户经理助理条件" in row_html(client.get(URL).get_data(as_text=True), sc.rm_a)
    # A later assessment with the certificate: eligible.
    client.post(f"{URL}/{sc.rm_a.id}/events", {"kind": "assessment", "on": "2024-06-01", "education": "大专",
                                               "cba_cert": "1", "bank_experience": "1", "good_conduct": "1"})
    page = client.get(f"{URL}/{sc.rm_a.id}").get_data(as_text=True)
    assert 'data-sc-assistant="yes"' in page


# ---------------------------------------------------------------- validation, permissions, scope

def test_bad_event_input_is_422_in_chinese_and_saves_nothing(client, sc):
    client.login("MK0001")
    cases = [
        ({"kind": "notice", "on": "", "by": ""}, ["请填写书面通知日期", "请选择由谁提出：银行或员工本人"]),
        ({"kind": "notice", "on": "2024-13-01", "by": "bank"}, ["书面通知日期格式不正确"]),
        ({"kind": "notice", "on": "2999-01-01", "by": "bank"}, ["书面通知日期不能晚于今天"]),
        ({"kind": "provisional", "on": "2024-01-01", "amount": "很多"}, ["累计日均存款须为数字"]),
        ({"kind": "provisional", "on": "2024-01-01", "amount": "-1"}, ["累计日均存款不能为负数"]),
        ({"kind": "provisional", "on": "2024-01-01", "amount": "1.001"}, ["累计日均存款最多保留两位小数"]),
        ({"kind": "assessment", "on": "2024-01-01", "education": "小学"}, ["请选择学历", "请选择是否取得"]),
        ({"kind": "qualified", "on": "2024-01-01", "note": "长" * 301}, ["备注最多300个字"]),
        ({"kind": "promotion", "on": "2024-01-01"}, ["请选择登记事项"]),
    ]
    for data, messages in cases:
        resp = client.post(f"{URL}/{sc.rm_a2.id}/events", data)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 422, data
        for message in messages:
            assert message in body, (data, message)
        assert "请更正标红的项目" in body
    assert count_events() == 0
    # The exam cannot be passed before the provisional grade it ends.
    client.post(f"{URL}/{sc.rm_a2.id}/events", {"kind": "provisional", "on": "2024-01-01", "amount": "0"})
    resp = client.post(f"{URL}/{sc.rm_a2.id}/events", {"kind": "qualified", "on": "2023-12-31"})
    assert resp.status_code == 422 and "考试合格日期不能早于暂定初级的日期（2024-01-01）" in resp.get_data(as_text=True)
    assert count_events() == 1


def test_only_scorecards_manage_records_events(client, sc):
    for login, target in (("CR0001", sc.rm_senior), ("CR0001", sc.rm_middle), ("HA0001", sc.rm_middle)):
        client.login(login)
        resp = client.post(f"{URL}/{target.id}/events", {"kind": "notice", "on": "2024-03-01", "by": "bank"})
        assert resp.status_code == 403, login
        client.logout()
    assert count_events() == 0
    client.login("HA0001")  # the outlet head reads, without the forms
    page = client.get(f"{URL}/{sc.rm_middle.id}").get_data(as_text=True)
    assert "data-sc-event-form" not in page and "等级事项由分行市场营销部门登记" in page
    with pytest.raises(svc.ServiceError, match="不能为本人登记"):
        as_user(sc.marketing1, svc.record_event, sc.marketing1.id, "notice", {"on": "2024-03-01", "by": "bank"})


def test_scope_outlet_head_own_outlet_other_branch_404_and_no_canary(client, sc):
    hold(sc.rm_b, "9000000", outlet=sc.b, name=f"乙大户{CANARY_B}")
    client.login("HA0001")
    body = client.get(URL).get_data(as_text=True)
    assert "高级客户经理甲" in body and "中级客户经理乙" in body and "甲客户经理" in body
    assert "初级客户经理丙" not in body and "甲二客户经理" not in body and CANARY_B not in body
    assert client.get(f"{URL}/{sc.rm_junior.id}").status_code == 404  # outlet A2, not the head's outlet
    assert client.get(f"{URL}/{sc.rm_senior.id}").status_code == 200
    client.logout()

    client.login("MK0001")
    body = client.get(URL).get_data(as_text=True)
    assert "初级客户经理丙" in body and CANARY_B not in body
    resp = client.get(f"{URL}/{sc.rm_b.id}")
    assert resp.status_code == 404 and CANARY_B not in resp.get_data(as_text=True)
    resp = client.post(f"{URL}/{sc.rm_b.id}/events", {"kind": "notice", "on": "2024-03-01", "by": "bank"})
    assert resp.status_code == 404 and CANARY_B not in resp.get_data(as_text=True)
    assert count_events() == 0
    with pytest.raises(svc.NotFound):
        as_user(sc.marketing1, svc.record_event, sc.rm_b.id, "notice", {"on": "2024-03-01", "by": "bank"})
    # A filter on another 分行's outlet is ignored, not obeyed.
    assert CANARY_B not in client.get(f"{URL}?outlet={sc.b.id}").get_data(as_text=True)
    client.logout()

    client.login("CR0001")  # a customer manager sees their own row only
    body = client.get(URL).get_data(as_text=True)
    assert "高级客户经理甲" in body and "中级客户经理乙" not in body
    assert client.get(f"{URL}/{sc.rm_middle.id}").status_code == 404


def test_event_rows_are_scoped_like_the_person(sc):
    as_user(sc.marketing1, svc.record_event, sc.rm_junior.id, "notice", {"on": "2024-03-01", "by": "bank"})
    assert as_user(sc.head_a, svc.events_for, sc.rm_junior.id) == []       # outlet A's head: A2 is not theirs
    assert len(as_user(sc.head_a2, svc.events_for, sc.rm_junior.id)) == 1
    assert len(as_user(sc.rm_junior, svc.events_for, sc.rm_junior.id)) == 1  # one's own
    assert as_user(sc.branch_admin2, svc.events_for, sc.rm_junior.id) == []


def test_plugin_disabled_is_404(client, sc, enable_plugin):
    enable_plugin(sc.b1, "scorecards", False)
    client.login("MK0001")
    assert client.get(URL).status_code == 404
    assert client.get(f"{URL}/{sc.rm_senior.id}").status_code == 404
    assert client.post(f"{URL}/{sc.rm_senior.id}/events", {"kind": "notice", "on": "2024-03-01",
                                                           "by": "bank"}).status_code == 404
    assert count_events() == 0

