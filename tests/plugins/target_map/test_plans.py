"""Outreach Gantt tasks and visit records (R-18): T-07, validation, overdue boundaries, the dashboard widget, the
customer panel, scope and the plugin switch."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.timeutil import today_local
from plugins.target_map import services_plans as svc
from plugins.target_map.models import TargetMapEntry
from plugins.target_map.models_plans import TargetMapTask, TargetMapVisit
from tests.conftest import CANARY_B
from tests.plugins.target_map.helpers_plans import P, audit_actions, fresh, logged_in, make_corp, make_task, visits_of

PRE = {"visit_date": "2024-05-08", "channel": "visit", "sources": ["network", "referral"],
       "hypotheses": "企业新建厂房，可能需要固定资产贷款", "questions": "基本户开在哪家银行"}


def _task_of(customer) -> TargetMapTask:
    db.session.expire_all()
    return db.session.execute(select(TargetMapTask).where(TargetMapTask.customer_id == customer.id)).scalar_one()


# ---------------------------------------------------------------- T-07

def test_t07_task_is_done_only_once_the_post_visit_report_to_the_head_is_recorded(new_client, tm):
    """T-07 (R-18): task "visit enterprise E", planned 2024-05-06–2024-05-10. A visit with pre (≥1 source +
    hypotheses) and during (notes) but no post report → not done; adding the report-to-head date → done."""
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    rm = logged_in(new_client, tm.rm_a)
    resp = rm.post(f"{P}/tasks", {"customer_id": e.id, "title": "拜访企业E", "owner_id": tm.rm_a.id,
                                  "planned_start": "2024-05-06", "planned_end": "2024-05-10"})
    assert resp.status_code == 302
    task = _task_of(e)
    assert (task.title, task.planned_start, task.planned_end, task.status) == (
        "拜访企业E", date(2024, 5, 6), date(2024, 5, 10), "planned")

    resp = rm.post(f"{P}/tasks/{task.id}/visits", {**PRE, "key_info": "财务总监姓王，结算在他行"})
    assert resp.status_code == 302
    task = fresh(TargetMapTask, task.id)
    assert task.status == "in_progress" and task.actual_start == date(2024, 5, 8) and task.actual_end is None
    page = rm.get(f"{P}/tasks/{task.id}").get_data(as_text=True)
    # not done: in 2026 the 2024 task shows as overdue (an unfinished task past its planned end), never as done
    assert 'data-task-status="overdue"' in page and 'data-task-status="done"' not in page

    visit = visits_of(task.id)[0]
    assert visit.stage == "during"
    resp = rm.post(f"{P}/visits/{visit.id}", {**PRE, "key_info": "财务总监姓王，结算在他行", "version": visit.version,
                                              "reported_on": "2024-05-09", "report_content": "汇报了企业的结算需求"})
    assert resp.status_code == 302
    task = fresh(TargetMapTask, task.id)
    assert task.status == "done" and task.actual_end == date(2024, 5, 9)
    page = rm.get(f"{P}/tasks/{task.id}").get_data(as_text=True)
    assert 'data-task-status="done"' in page and "2024-05-09" in page
    visit = visits_of(task.id)[0]
    assert visit.stage == "post" and visit.post_by_id == tm.rm_a.id and visit.post_at is not None
    assert visit.sources == ["network", "referral"]
    assert audit_actions() == ["target_map.task_created", "target_map.visit_recorded", "target_map.visit_updated"]


def test_t07_pre_only_visit_leaves_the_task_in_progress_and_a_report_without_notes_is_refused(app, tm):
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    task = make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10))
    with app.test_request_context():
        v = svc.save_visit(tm.rm_a, task, PRE, PRE["sources"])
        assert (v.stage, fresh(TargetMapTask, task.id).status) == ("pre", "in_progress")
        assert fresh(TargetMapTask, task.id).actual_start is None  # preparing is not yet a visit held
        with pytest.raises(svc.PlanError) as err:  # post without during: the stages come in order
            svc.save_visit(tm.rm_a, fresh(TargetMapTask, task.id), {**PRE, "reported_on": "2024-05-09",
                                                                    "report_content": "汇报"}, PRE["sources"],
                           fresh(TargetMapVisit, v.id), v.version)
        assert "拜访中" in err.value.errors["key_info"]
    assert fresh(TargetMapTask, task.id).status == "in_progress"


@pytest.mark.parametrize("change, field, message", [
    ({"sources": []}, "sources", "至少选择一种信息来源"),
    ({"sources": ["network", "wechat"]}, "sources", "未知的信息来源：wechat"),
    ({"hypotheses": "  "}, "hypotheses", "请填写拜访前的假设"),
    ({"channel": "email"}, "channel", "请选择走访方式"),
    ({"visit_date": ""}, "visit_date", "请填写走访日期"),
    ({"visit_date": "2024-13-01"}, "visit_date", "格式应为 年-月-日"),
    ({"visit_date": "1999-12-31"}, "visit_date", "超出允许范围"),
    ({"reported_on": "2024-05-07", "report_content": "汇报", "key_info": "记录"}, "reported_on", "不能早于走访日期"),
    ({"reported_on": "2024-05-09", "key_info": "记录"}, "report_content", "请填写向网点负责人汇报的内容"),
    ({"report_content": "汇报", "key_info": "记录"}, "reported_on", "请填写向网点负责人汇报的日期"),
])
def test_visit_form_refuses_with_a_chinese_message_and_writes_nothing(new_client, tm, change, field, message):
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    task = make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10))
    rm = logged_in(new_client, tm.rm_a)
    resp = rm.post(f"{P}/tasks/{task.id}/visits", {**PRE, **change})
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert visits_of(task.id) == [] and fresh(TargetMapTask, task.id).status == "planned"
    assert audit_actions() == []


def test_visit_notes_cannot_be_recorded_for_a_future_visit_date(app, tm):
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    today = today_local()
    task = make_task(e, tm.rm_a, today, today + timedelta(days=5))
    tomorrow = (today + timedelta(days=1)).isoformat()
    with app.test_request_context():
        v = svc.save_visit(tm.rm_a, task, {**PRE, "visit_date": tomorrow}, PRE["sources"])  # preparing ahead: fine
        assert v.stage == "pre"
        with pytest.raises(svc.PlanError) as err:
            svc.save_visit(tm.rm_a, task, {**PRE, "visit_date": tomorrow, "key_info": "记录"}, PRE["sources"])
        assert "走访日期还未到" in err.value.errors["visit_date"]


# ---------------------------------------------------------------- tasks: creation, validation, editing

@pytest.mark.parametrize("change, field, message", [
    ({"planned_end": "2024-05-05"}, "planned_end", "计划完成日期不能早于计划开始日期"),
    ({"planned_start": "1999-12-31"}, "planned_start", "计划开始日期超出允许范围"),
    ({"planned_end": "2024-02-30"}, "planned_end", "格式应为 年-月-日"),
    ({"planned_end": "2025-05-06"}, "planned_end", "不能超过一年"),
    ({"title": ""}, "title", "请填写任务内容"),
])
def test_task_form_validation_in_chinese(new_client, tm, change, field, message):
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    rm = logged_in(new_client, tm.rm_a)
    data = {"customer_id": e.id, "title": "拜访企业E", "owner_id": tm.rm_a.id, "planned_start": "2024-05-06",
            "planned_end": "2024-05-10", **change}
    resp = rm.post(f"{P}/tasks", data)
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert db.session.execute(select(TargetMapTask)).first() is None


def test_tasks_only_for_customers_on_the_outlets_map(new_client, tm):
    off_map = make_corp(tm.a, "不在图上的企业", maintainer=tm.rm_a, on_map=False)
    other_outlet = make_corp(tm.a2, "甲二网点企业")
    b_side = make_corp(tm.b, f"乙企业{CANARY_B}")
    head = logged_in(new_client, tm.head_a)
    for c in (off_map, other_outlet, b_side):
        resp = head.post(f"{P}/tasks", {"customer_id": c.id, "title": "拜访", "owner_id": tm.head_a.id,
                                        "planned_start": "2024-05-06", "planned_end": "2024-05-10"})
        assert resp.status_code == 422
        body = resp.get_data(as_text=True)
        assert "请选择本网点金融生态图上的客户" in body and CANARY_B not in body
    assert db.session.execute(select(TargetMapTask)).first() is None


def test_unclaimed_targets_of_the_own_outlet_can_be_planned_by_its_rm(new_client, tm):
    """Like the map's claim pool: an RM plans for an unclaimed target of the outlet (熟客认领)."""
    unclaimed = make_corp(tm.a, "未认领目标企业")
    rm = logged_in(new_client, tm.rm_a)
    form = rm.get(f"{P}/tasks/new").get_data(as_text=True)
    assert "未认领目标企业" in form
    resp = rm.post(f"{P}/tasks", {"customer_id": unclaimed.id, "title": "陌生拜访", "owner_id": tm.rm_a.id,
                                  "planned_start": "2024-05-06", "planned_end": "2024-05-10"})
    assert resp.status_code == 302 and _task_of(unclaimed).owner_id == tm.rm_a.id


def test_an_rm_owns_only_own_tasks_the_head_assigns_anyone_of_the_outlet(new_client, tm):
    from tests.conftest import make_user

    corp_rm = make_user("CR0001", "corporate_rm", outlet=tm.a, name="甲法人客户经理")
    e = make_corp(tm.a, "企业E")
    rm = logged_in(new_client, tm.rm_a)
    data = {"customer_id": e.id, "title": "拜访", "planned_start": "2024-05-06", "planned_end": "2024-05-10"}
    resp = rm.post(f"{P}/tasks", {**data, "owner_id": corp_rm.id})
    assert resp.status_code == 422 and "请选择本网点的营销责任人" in resp.get_data(as_text=True)
    head = logged_in(new_client, tm.head_a)
    assert head.post(f"{P}/tasks", {**data, "owner_id": corp_rm.id}).status_code == 302
    assert _task_of(e).owner_id == corp_rm.id
    # a teller may not own outreach tasks
    e2 = make_corp(tm.a, "企业F")
    resp = head.post(f"{P}/tasks", {**data, "customer_id": e2.id, "owner_id": tm.teller_a.id})
    assert resp.status_code == 422


def test_task_edit_uses_optimistic_locking_and_changes_nothing_on_conflict(new_client, tm):
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    task = make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10))
    rm = logged_in(new_client, tm.rm_a)
    base = {"title": "拜访企业E（改）", "owner_id": tm.rm_a.id, "planned_start": "2024-05-07",
            "planned_end": "2024-05-11"}
    assert rm.post(f"{P}/tasks/{task.id}", {**base, "version": task.version}).status_code == 302
    task = fresh(TargetMapTask, task.id)
    assert (task.title, task.planned_start, task.version) == ("拜访企业E（改）", date(2024, 5, 7), 2)
    resp = rm.post(f"{P}/tasks/{task.id}", {**base, "title": "旧页面的修改", "version": 1})
    assert resp.status_code == 409 and "已被他人修改" in resp.get_data(as_text=True)
    assert fresh(TargetMapTask, task.id).title == "拜访企业E（改）"


def test_another_rms_task_is_read_only_and_the_head_edits_every_task_of_the_outlet(new_client, tm):
    from tests.conftest import make_user

    corp_rm = make_user("CR0001", "corporate_rm", outlet=tm.a, name="甲法人客户经理")
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    task = make_task(e, corp_rm, date(2024, 5, 6), date(2024, 5, 10))
    rm = logged_in(new_client, tm.rm_a)  # sees it (maintains the customer) but does not own it
    page = rm.get(f"{P}/tasks/{task.id}")
    assert page.status_code == 200 and "修改任务" not in page.get_data(as_text=True)
    resp = rm.post(f"{P}/tasks/{task.id}/reschedule", {"planned_start": "2024-05-07", "planned_end": "2024-05-11",
                                                       "version": task.version})
    assert resp.status_code == 403 and "只有任务责任人" in resp.get_json()["error"]
    assert rm.post(f"{P}/tasks/{task.id}/visits", PRE).status_code == 403
    head = logged_in(new_client, tm.head_a)
    resp = head.post(f"{P}/tasks/{task.id}/reschedule", {"planned_start": "2024-05-07", "planned_end": "2024-05-11",
                                                         "version": task.version})
    assert resp.status_code == 200 and fresh(TargetMapTask, task.id).planned_start == date(2024, 5, 7)


def test_plan_text_is_edited_from_the_task_page_with_a_version_check(new_client, tm):
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    task = make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10))
    entry = db.session.execute(select(TargetMapEntry).where(TargetMapEntry.customer_id == e.id)).scalar_one()
    rm = logged_in(new_client, tm.rm_a)
    resp = rm.post(f"{P}/tasks/{task.id}/plan", {"plan": "一、客户情况\n二、切入点：代发工资", "version": entry.version})
    assert resp.status_code == 302
    entry = fresh(TargetMapEntry, entry.id)
    assert entry.plan == "一、客户情况\n二、切入点：代发工资" and entry.version == 2
    resp = rm.post(f"{P}/tasks/{task.id}/plan", {"plan": "旧版本", "version": 1})
    assert resp.status_code == 409
    assert fresh(TargetMapEntry, entry.id).plan.startswith("一、客户情况")
    assert "一、客户情况\n二、切入点：代发工资</textarea>" in rm.get(f"{P}/tasks/{task.id}").get_data(as_text=True)
    assert "target_map.plan_text_saved" in audit_actions()


def test_only_the_outlet_head_records_advice_after_the_report(new_client, tm):
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    task = make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10))
    rm = logged_in(new_client, tm.rm_a)
    rm.post(f"{P}/tasks/{task.id}/visits", {**PRE, "key_info": "记录", "reported_on": "2024-05-09",
                                            "report_content": "汇报"})
    visit = visits_of(task.id)[0]
    resp = rm.post(f"{P}/visits/{visit.id}/advice", {"advice": "自己给自己建议", "version": visit.version})
    assert resp.status_code == 403 and fresh(TargetMapVisit, visit.id).advice is None
    head = logged_in(new_client, tm.head_a)
    resp = head.post(f"{P}/visits/{visit.id}/advice", {"advice": "下周约财务总监面谈", "version": visit.version})
    assert resp.status_code == 302
    visit = fresh(TargetMapVisit, visit.id)
    assert (visit.advice, visit.advice_by_id) == ("下周约财务总监面谈", tm.head_a.id)
    assert "下周约财务总监面谈" in rm.get(f"{P}/tasks/{task.id}").get_data(as_text=True)


def test_major_matter_reported_the_next_day_is_on_time_two_days_later_is_not(app, tm):
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    task = make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10))
    with app.test_request_context():
        v = svc.save_visit(tm.rm_a, task, {**PRE, "major_matter": "1", "key_info": "企业拟搬迁"}, PRE["sources"])
        assert v.major_matter and v.reported_on_time is None
        for reported, on_time in (("2024-05-08", True), ("2024-05-09", True), ("2024-05-10", False)):
            v = fresh(TargetMapVisit, v.id)
            v = svc.save_visit(tm.rm_a, fresh(TargetMapTask, task.id),
                               {**PRE, "major_matter": "1", "key_info": "企业拟搬迁", "reported_on": reported,
                                "report_content": "汇报"}, PRE["sources"], v, v.version)
            assert v.reported_on_time is on_time, reported


# ---------------------------------------------------------------- overdue (dashboard) boundaries

def test_overdue_boundaries_due_today_is_not_overdue_yesterday_is_done_never(app, tm):
    today = date(2024, 5, 10)
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    due_today = make_task(e, tm.rm_a, date(2024, 5, 6), today, title="今天到期")
    due_yesterday = make_task(e, tm.rm_a, date(2024, 5, 6), today - timedelta(days=1), title="昨天到期")
    done_long_ago = make_task(e, tm.rm_a, date(2024, 4, 1), date(2024, 4, 5), title="早已完成", status="done")
    assert not due_today.is_overdue(today)
    assert due_yesterday.is_overdue(today)
    assert not done_long_ago.is_overdue(today)
    with app.test_request_context():
        rows, total = svc.overdue(tm.rm_a, today)
    assert [r.TargetMapTask.title for r in rows] == ["昨天到期"] and total == 1


def test_widget_shows_own_overdue_tasks_to_an_rm_and_the_outlets_to_the_head(new_client, tm):
    from tests.conftest import make_user

    today = today_local()
    corp_rm = make_user("CR0001", "corporate_rm", outlet=tm.a, name="甲法人客户经理")
    e = make_corp(tm.a, "企业E")
    mine = make_task(e, tm.rm_a, today - timedelta(days=9), today - timedelta(days=3), title="我的逾期任务")
    make_task(e, corp_rm, today - timedelta(days=9), today - timedelta(days=1), title="同事的逾期任务")
    make_task(e, tm.rm_a, today - timedelta(days=2), today, title="今天到期的任务")
    make_task(e, tm.rm_a, today - timedelta(days=9), today - timedelta(days=5), title="已完成的任务", status="done")
    eb = make_corp(tm.b, f"乙企业{CANARY_B}")
    make_task(eb, tm.rm_b, today - timedelta(days=9), today - timedelta(days=1), title=f"乙逾期{CANARY_B}")

    rm = logged_in(new_client, tm.rm_a)
    body = rm.get(f"{P}/widget").get_data(as_text=True)
    assert "我的逾期任务" in body and "3 天" in body
    for absent in ("同事的逾期任务", "今天到期的任务", "已完成的任务", CANARY_B):
        assert absent not in body
    assert f'data-overdue-task="{mine.id}"' in body

    head = logged_in(new_client, tm.head_a)
    body = head.get(f"{P}/widget").get_data(as_text=True)
    assert "我的逾期任务" in body and "同事的逾期任务" in body and 'data-total="2"' in body
    assert "今天到期的任务" not in body and CANARY_B not in body

    teller = logged_in(new_client, tm.teller_a)  # sees the map, owns no task: nothing overdue of anyone else
    assert 'data-total="0"' in teller.get(f"{P}/widget").get_data(as_text=True)


# ---------------------------------------------------------------- the outlet's Gantt page

def test_plans_page_shows_the_outlets_gantt_filtered_by_owner_and_status(new_client, tm):
    from tests.conftest import make_user
    from tests.plugins.target_map.helpers_plans import gantt_data

    today = today_local()
    corp_rm = make_user("CR0001", "corporate_rm", outlet=tm.a, name="甲法人客户经理")
    e = make_corp(tm.a, "企业E")
    a1 = make_task(e, tm.rm_a, today - timedelta(days=9), today - timedelta(days=1), title="逾期任务")
    a2 = make_task(e, corp_rm, today, today + timedelta(days=4), title="本周任务")
    make_task(make_corp(tm.b, f"乙企业{CANARY_B}"), tm.rm_b, today, today + timedelta(days=3), title="乙任务")
    head = logged_in(new_client, tm.head_a)
    body = head.get(f"{P}/plans").get_data(as_text=True)
    bars = gantt_data(body)
    assert [b["task_id"] for b in bars] == [a1.id, a2.id] and CANARY_B not in body
    assert bars[0]["overdue"] and bars[0]["status_label"] == "已逾期" and bars[0]["editable"]
    assert bars[1]["start"] == today.isoformat()
    assert [b["task_id"] for b in gantt_data(head.get(f"{P}/plans?owner={corp_rm.id}").get_data(as_text=True))] == \
        [a2.id]
    assert [b["task_id"] for b in gantt_data(head.get(f"{P}/plans?status=overdue").get_data(as_text=True))] == \
        [a1.id]
    # an RM's own scope: own tasks only (the colleague's bar is not there)
    rm = logged_in(new_client, tm.rm_a)
    assert [b["task_id"] for b in gantt_data(rm.get(f"{P}/plans").get_data(as_text=True))] == [a1.id]
    # branch staff pick an outlet of their scope; another 分行's outlet is a 404
    ba = logged_in(new_client, tm.branch_admin1)
    assert [b["task_id"] for b in gantt_data(ba.get(f"{P}/plans?outlet={tm.a.id}").get_data(as_text=True))] == \
        [a1.id, a2.id]
    assert ba.get(f"{P}/plans?outlet={tm.b.id}").status_code == 404
    assert head.get(f"{P}/plans?outlet={tm.a2.id}").status_code == 404


def test_gantt_labels_are_escaped_for_the_bar_label(new_client, tm):
    from tests.plugins.target_map.helpers_plans import gantt_data

    e = make_corp(tm.a, "<img src=x onerror=alert(1)>企业", maintainer=tm.rm_a)
    make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10))
    body = logged_in(new_client, tm.rm_a).get(f"{P}/plans").get_data(as_text=True)
    assert "<img src=x" not in body
    assert gantt_data(body)[0]["customer"] == "<img src=x onerror=alert(1)>企业"  # plans.js escapes before frappe


# ---------------------------------------------------------------- drag-reschedule endpoint

def test_reschedule_moves_the_dates_checks_them_and_keeps_the_version(new_client, tm):
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    task = make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10))
    rm = logged_in(new_client, tm.rm_a)
    url = f"{P}/tasks/{task.id}/reschedule"
    resp = rm.post(url, {"planned_start": "2024-05-09", "planned_end": "2024-05-13", "version": 1})
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["ok"] and (data["start"], data["end"], data["version"]) == ("2024-05-09", "2024-05-13", 2)
    assert "2024-05-09 至 2024-05-13" in data["message"]
    task = fresh(TargetMapTask, task.id)
    assert (task.planned_start, task.planned_end) == (date(2024, 5, 9), date(2024, 5, 13))

    for form, status, message in (
        ({"planned_start": "2024-05-13", "planned_end": "2024-05-09", "version": 2}, 422, "不能早于计划开始日期"),
        ({"planned_start": "1999-05-13", "planned_end": "2024-05-19", "version": 2}, 422, "超出允许范围"),
        ({"planned_start": "2024-05-13", "planned_end": "", "version": 2}, 422, "请填写计划完成日期"),
        ({"planned_start": "13/05/2024", "planned_end": "2024-05-19", "version": 2}, 422, "格式应为"),
        ({"planned_start": "2024-05-10", "planned_end": "2024-05-14", "version": 1}, 409, "已被他人修改"),
    ):
        resp = rm.post(url, form)
        assert resp.status_code == status, form
        data = resp.get_json()
        assert not data["ok"] and message in data["error"]
        assert (data["start"], data["end"], data["version"]) == ("2024-05-09", "2024-05-13", 2)  # for the revert
    assert (fresh(TargetMapTask, task.id).planned_start, fresh(TargetMapTask, task.id).version) == (
        date(2024, 5, 9), 2)
    assert audit_actions() == ["target_map.task_rescheduled"]
    # without the CSRF token: refused
    assert rm.post(url, {"planned_start": "2024-05-10", "planned_end": "2024-05-14", "version": 2},
                   csrf=False).status_code == 400


def test_reschedule_refuses_a_done_task(new_client, tm):
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    task = make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10), status="done")
    rm = logged_in(new_client, tm.rm_a)
    resp = rm.post(f"{P}/tasks/{task.id}/reschedule", {"planned_start": "2024-05-07", "planned_end": "2024-05-11",
                                                       "version": task.version})
    assert resp.status_code == 422 and "任务已完成" in resp.get_json()["error"]


def test_another_outlets_task_visit_and_page_are_404_with_no_bytes(new_client, tm):
    eb = make_corp(tm.b, f"乙企业{CANARY_B}")
    tb = make_task(eb, tm.rm_b, date(2024, 5, 6), date(2024, 5, 10), title=f"乙任务{CANARY_B}")
    vb = TargetMapVisit(task_id=tb.id, customer_id=eb.id, outlet_id=tm.b.id, visit_date=date(2024, 5, 7),
                        channel="visit", sources=["network"], hypotheses=f"假设{CANARY_B}", stage="pre")
    db.session.add(vb)
    db.session.commit()
    head = logged_in(new_client, tm.head_a)
    for method, path, data in (
        ("get", f"{P}/tasks/{tb.id}", None),
        ("post", f"{P}/tasks/{tb.id}/reschedule", {"planned_start": "2024-05-07", "planned_end": "2024-05-11",
                                                   "version": 1}),
        ("post", f"{P}/tasks/{tb.id}", {"title": "x", "version": 1}),
        ("post", f"{P}/tasks/{tb.id}/visits", PRE),
        ("get", f"{P}/tasks/{tb.id}/visits/new", None),
        ("get", f"{P}/visits/{vb.id}/edit", None),
        ("post", f"{P}/visits/{vb.id}", PRE),
        ("post", f"{P}/visits/{vb.id}/advice", {"advice": "x", "version": 1}),
        ("post", f"{P}/tasks/{tb.id}/plan", {"plan": "x", "version": 1}),
        ("post", f"{P}/tasks/{tb.id}/delete", {"version": 1}),
        ("get", f"{P}/plans/panel/{eb.id}", None),
    ):
        resp = head.get(path) if method == "get" else head.post(path, data)
        assert resp.status_code == 404, path
        assert CANARY_B not in resp.get_data(as_text=True), path
    tb = fresh(TargetMapTask, tb.id)
    assert (tb.planned_start, tb.title, tb.version) == (date(2024, 5, 6), f"乙任务{CANARY_B}", 1)
    assert fresh(TargetMapVisit, vb.id).advice is None
    assert "access.denied" in audit_actions("access.")


def test_delete_only_a_task_without_visits(new_client, tm):
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    t1 = make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10))
    t2 = make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10), title="已走访")
    id1, id2 = t1.id, t2.id
    rm = logged_in(new_client, tm.rm_a)
    rm.post(f"{P}/tasks/{id2}/visits", PRE)
    assert rm.post(f"{P}/tasks/{id1}/delete", {"version": 1}).status_code == 302
    assert fresh(TargetMapTask, id1) is None
    rm.post(f"{P}/tasks/{id2}/delete", {"version": fresh(TargetMapTask, id2).version})
    assert fresh(TargetMapTask, id2) is not None
    assert "已有走访记录，不能删除" in rm.get(f"{P}/tasks/{id2}").get_data(as_text=True)


# ---------------------------------------------------------------- customer panel

def test_customer_panel_lists_tasks_and_visit_history(new_client, tm):
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    task = make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10))
    rm = logged_in(new_client, tm.rm_a)
    rm.post(f"{P}/tasks/{task.id}/visits", {**PRE, "key_info": "记录", "reported_on": "2024-05-09",
                                            "report_content": "汇报"})
    detail = rm.get(f"/customers/{e.id}").get_data(as_text=True)
    assert 'data-panel="target_map.plans"' in detail
    body = rm.get(f"{P}/plans/panel/{e.id}").get_data(as_text=True)
    assert "拜访企业E" in body and 'data-task-status="done"' in body
    assert "2024-05-08" in body and "向负责人汇报" in body and "2024-05-09" in body and "甲客户经理" in body
    assert "为该客户新建拓展任务" in body


# ---------------------------------------------------------------- plugin switched off

def test_plugin_off_hides_routes_widget_and_panel(new_client, tm, enable_plugin):
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    task = make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10))
    head = logged_in(new_client, tm.head_a)
    assert 'data-widget="target_map.overdue"' in head.get("/").get_data(as_text=True)
    enable_plugin(tm.b1, "target_map", False)
    for path in (f"{P}/plans", f"{P}/widget", f"{P}/plans/panel/{e.id}", f"{P}/tasks/{task.id}", f"{P}/groups",
                 f"{P}/rollout", f"{P}/tasks/new"):
        assert head.get(path).status_code == 404, path
    resp = head.post(f"{P}/tasks/{task.id}/reschedule", {"planned_start": "2024-05-07", "planned_end": "2024-05-11",
                                                         "version": 1})
    assert resp.status_code == 404 and fresh(TargetMapTask, task.id).planned_start == date(2024, 5, 6)
    assert 'data-widget="target_map.overdue"' not in head.get("/").get_data(as_text=True)
    detail = head.get(f"/customers/{e.id}")
    assert detail.status_code == 200 and 'data-panel="target_map.plans"' not in detail.get_data(as_text=True)
    assert head.get("/customers").status_code == 200
    # the other 分行 keeps it
    assert logged_in(new_client, tm.head_b).get(f"{P}/plans").status_code == 200
