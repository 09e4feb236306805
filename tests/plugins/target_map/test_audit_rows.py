"""Audit rows of the 金融生态图 outreach plans (issue 8, promise 6): a group plan's save and submission, a rollout's new
start date and the outlet head's advice on a visit report each write exactly ONE row, driven through the web routes,
naming the actor, the outlet or customer concerned and what changed. A refused or stale request writes none."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from crm.extensions import db
from plugins.target_map.models_plans import TargetMapGroupPlan, TargetMapRollout, TargetMapVisit
from tests.audit_rows import only_row, rows_of
from tests.plugins.target_map.helpers_plans import P, fresh, logged_in, make_corp, make_task, visits_of

# A group plan with all four modules a–d (T-53: only such a plan may be submitted).
GROUP = {"name": "园区物流企业", "basis": "industry", "basis_detail": "道路货物运输业", "customer_kind": "new",
         "participants": "网点负责人、客户经理、顾问老师",
         "module_a": "园区内物流企业约40户，离网点近，结算量大", "module_b": "运费结算频繁、司机工资代发",
         "module_c": "单位结算卡、代发工资、运费贷", "module_d": "五月联合园区管委会办一场说明会"}
PRE = {"visit_date": "2024-05-08", "channel": "visit", "sources": ["network", "referral"],
       "hypotheses": "企业新建厂房，可能需要固定资产贷款", "questions": "基本户开在哪家银行"}


def _plan(outlet) -> TargetMapGroupPlan:
    db.session.expire_all()
    return db.session.execute(select(TargetMapGroupPlan).where(TargetMapGroupPlan.outlet_id == outlet.id)
                              ).scalar_one()


def test_group_plan_save_and_submit_write_one_row_each(new_client, tm):
    """R-20/T-53: the head saves the draft with a new name, then submits it — one "saved" and one "submitted" row,
    naming the outlet and the plan; a refused submission and a stale save write nothing."""
    head = logged_in(new_client, tm.head_a)
    assert head.post(f"{P}/groups", {**GROUP, "module_c": "", "action": "draft"}).status_code == 302
    plan = _plan(tm.a)
    resp = head.post(f"{P}/groups/{plan.id}", {**GROUP, "name": "园区物流及仓储企业", "module_c": "",
                                               "action": "draft", "version": plan.version})
    assert resp.status_code == 302
    only_row("target_map.group_updated", tm.head_a, ("outlet", tm.a.id), group_id=plan.id, fields=["name"])
    plan = fresh(TargetMapGroupPlan, plan.id)
    assert (plan.name, plan.status) == ("园区物流及仓储企业", "draft")
    # saved again with nothing changed: nothing written, no second row
    resp = head.post(f"{P}/groups/{plan.id}", {**GROUP, "name": "园区物流及仓储企业", "module_c": "",
                                               "action": "draft", "version": plan.version})
    assert resp.status_code == 302 and len(rows_of("target_map.group_updated")) == 1
    assert fresh(TargetMapGroupPlan, plan.id).version == plan.version

    # T-53: module c still missing → the submission is refused and recorded nowhere
    resp = head.post(f"{P}/groups/{plan.id}", {**GROUP, "name": "园区物流及仓储企业", "module_c": "",
                                               "action": "submit", "version": plan.version})
    assert resp.status_code == 422 and "提交前请填写“c. 产品匹配方案”" in resp.get_data(as_text=True)
    assert rows_of("target_map.group_submitted") == []

    resp = head.post(f"{P}/groups/{plan.id}", {**GROUP, "name": "园区物流及仓储企业", "action": "submit",
                                               "version": plan.version})
    assert resp.status_code == 302
    only_row("target_map.group_submitted", tm.head_a, ("outlet", tm.a.id), group_id=plan.id, fields=["module_c"])
    plan = fresh(TargetMapGroupPlan, plan.id)
    assert (plan.status, plan.submitted_by_id) == ("submitted", tm.head_a.id)
    assert len(rows_of("target_map.group_updated")) == 1  # the submission is not also a "saved" row

    # a page opened before the save sends the old version: refused (409), no further row
    resp = head.post(f"{P}/groups/{plan.id}", {**GROUP, "name": "旧页面", "action": "draft", "version": 1})
    assert resp.status_code == 409
    assert len(rows_of("target_map.group_updated")) == 1 and len(rows_of("target_map.group_submitted")) == 1


def test_rollout_new_start_date_writes_one_row_with_both_dates(new_client, tm):
    """R-27/T-54: moving the three-week rollout's start date writes one row naming the outlet, the old and the new
    date; a stale form or a bad date writes none."""
    head = logged_in(new_client, tm.head_a)
    assert head.post(f"{P}/rollout/start", {"start_date": "2024-04-01"}).status_code == 302
    ro = db.session.execute(select(TargetMapRollout).where(TargetMapRollout.outlet_id == tm.a.id)).scalar_one()
    resp = head.post(f"{P}/rollout/{ro.id}/restart", {"start_date": "2024/04/03", "version": ro.version})
    assert resp.status_code == 422 and rows_of("target_map.rollout_rescheduled") == []
    resp = head.post(f"{P}/rollout/{ro.id}/restart", {"start_date": "2024-04-03", "version": ro.version})
    assert resp.status_code == 302
    only_row("target_map.rollout_rescheduled", tm.head_a, ("outlet", tm.a.id), rollout_id=ro.id,
             **{"from": "2024-04-01", "to": "2024-04-03"})
    ro = fresh(TargetMapRollout, ro.id)
    assert ro.start_date == date(2024, 4, 3)
    # the same date again: nothing moves, no second row
    resp = head.post(f"{P}/rollout/{ro.id}/restart", {"start_date": "2024-04-03", "version": ro.version})
    assert resp.status_code == 302 and len(rows_of("target_map.rollout_rescheduled")) == 1
    resp = head.post(f"{P}/rollout/{ro.id}/restart", {"start_date": "2024-04-08", "version": 1})  # stale page
    assert resp.status_code == 409 and len(rows_of("target_map.rollout_rescheduled")) == 1


def test_head_advice_on_a_visit_report_writes_one_row_naming_the_customer(new_client, tm):
    """R-18: after the RM's report the outlet head writes advice — one row naming the customer, the task and the
    visit; the RM's own attempt is refused (403) and recorded as no advice."""
    e = make_corp(tm.a, "企业E", maintainer=tm.rm_a)
    task = make_task(e, tm.rm_a, date(2024, 5, 6), date(2024, 5, 10))
    task_id = task.id
    rm = logged_in(new_client, tm.rm_a)
    assert rm.post(f"{P}/tasks/{task_id}/visits", {**PRE, "key_info": "财务总监姓王，结算在他行",
                                                   "reported_on": "2024-05-09", "report_content": "已向负责人汇报"}
                   ).status_code == 302
    visit = visits_of(task_id)[0]
    resp = rm.post(f"{P}/visits/{visit.id}/advice", {"advice": "自己给自己建议", "version": visit.version})
    assert resp.status_code == 403 and rows_of("target_map.visit_advice") == []
    head = logged_in(new_client, tm.head_a)
    resp = head.post(f"{P}/visits/{visit.id}/advice", {"advice": "下周约财务总监面谈", "version": visit.version})
    assert resp.status_code == 302
    only_row("target_map.visit_advice", tm.head_a, ("customer", e.id), task_id=task_id, visit_id=visit.id)
    assert fresh(TargetMapVisit, visit.id).advice == "下周约财务总监面谈"
