"""Group marketing plans (R-20, S-10): one active target group per outlet, modules a–d, draft → submitted → closed
(T-53)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm.extensions import db
from plugins.target_map import services_plans as svc
from plugins.target_map.models_plans import TargetMapGroupPlan
from tests.conftest import CANARY_B
from tests.plugins.target_map.helpers_plans import P, audit_actions, fresh, logged_in

FULL = {"name": "园区物流企业", "basis": "industry", "basis_detail": "道路货物运输业", "customer_kind": "new",
        "participants": "网点负责人、客户经理、顾问老师",
        "module_a": "园区内物流企业约40户，离网点近，结算量大", "module_b": "运费结算频繁、司机工资代发",
        "module_c": "单位结算卡、代发工资、运费贷", "module_d": "五月联合园区管委会办一场说明会"}


def _count(outlet) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(TargetMapGroupPlan)
                              .where(TargetMapGroupPlan.outlet_id == outlet.id)).scalar_one()


def test_t53_a_second_active_plan_of_the_outlet_is_rejected_in_chinese(new_client, tm):
    """T-53: the outlet already has an active plan → a second one is refused (one target group per outlet)."""
    head = logged_in(new_client, tm.head_a)
    assert head.post(f"{P}/groups", {**FULL, "action": "draft"}).status_code == 302
    resp = head.post(f"{P}/groups", {**FULL, "name": "本地商会会员企业", "basis": "association", "action": "draft"})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "本网点已有一个未关闭的分群营销方案（“园区物流企业”，草稿）" in body and "每家网点只选定一个目标客户群体" in body
    assert _count(tm.a) == 1
    # the form page itself sends the head to the open plan instead
    resp = head.get(f"{P}/groups/new")
    assert resp.status_code == 302 and "/groups/" in resp.headers["Location"]
    # another outlet is not affected
    assert logged_in(new_client, tm.head_a2).post(f"{P}/groups", {**FULL, "action": "draft"}).status_code == 302


def test_t53_the_database_refuses_a_second_active_plan_too(app, tm):
    """The partial unique index (status <> 'closed') on SQLite and PostgreSQL alike."""
    db.session.add(TargetMapGroupPlan(outlet_id=tm.a.id, status="submitted", **{k: FULL[k] for k in (
        "name", "basis", "basis_detail", "customer_kind")}))
    db.session.commit()
    db.session.add(TargetMapGroupPlan(outlet_id=tm.a.id, status="draft", **{k: FULL[k] for k in (
        "name", "basis", "basis_detail", "customer_kind")}))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    for _ in range(2):  # closed plans do not count
        db.session.add(TargetMapGroupPlan(outlet_id=tm.a.id, status="closed", **{k: FULL[k] for k in (
            "name", "basis", "basis_detail", "customer_kind")}))
        db.session.commit()
    assert _count(tm.a) == 3


def test_t53_a_plan_missing_module_c_cannot_be_submitted(new_client, tm):
    """T-53: module c (product matching) missing → cannot submit; nothing is written."""
    head = logged_in(new_client, tm.head_a)
    resp = head.post(f"{P}/groups", {**FULL, "module_c": "", "action": "submit"})
    assert resp.status_code == 422
    assert "提交前请填写“c. 产品匹配方案”" in resp.get_data(as_text=True)
    assert _count(tm.a) == 0
    # saved as a draft it may lack modules; submitting the draft still needs c
    assert head.post(f"{P}/groups", {**FULL, "module_c": "", "action": "draft"}).status_code == 302
    plan = db.session.execute(select(TargetMapGroupPlan)).scalar_one()
    assert plan.status == "draft"
    resp = head.post(f"{P}/groups/{plan.id}", {**FULL, "module_c": "  ", "action": "submit", "version": plan.version})
    assert resp.status_code == 422 and "c. 产品匹配方案" in resp.get_data(as_text=True)
    plan = fresh(TargetMapGroupPlan, plan.id)
    assert (plan.status, plan.submitted_at, plan.module_c) == ("draft", None, None)
    resp = head.post(f"{P}/groups/{plan.id}", {**FULL, "action": "submit", "version": plan.version})
    assert resp.status_code == 302
    plan = fresh(TargetMapGroupPlan, plan.id)
    assert plan.status == "submitted" and plan.submitted_by_id == tm.head_a.id and plan.submitted_at is not None
    assert plan.module_c == "单位结算卡、代发工资、运费贷"


def test_submitted_plan_is_read_only_then_closed_and_a_new_group_may_be_chosen(new_client, tm):
    head = logged_in(new_client, tm.head_a)
    head.post(f"{P}/groups", {**FULL, "action": "submit"})
    plan = db.session.execute(select(TargetMapGroupPlan)).scalar_one()
    assert plan.status == "submitted" and plan.created_by_id == tm.head_a.id
    page = head.get(f"{P}/groups/{plan.id}").get_data(as_text=True)
    assert 'data-group-status="submitted"' in page and "单位结算卡、代发工资、运费贷" in page and "data-group-form" not in page
    resp = head.post(f"{P}/groups/{plan.id}", {**FULL, "name": "改名", "action": "draft", "version": plan.version})
    assert resp.status_code == 422 and "方案已已提交" not in resp.get_data(as_text=True)
    assert "不能再修改" in resp.get_data(as_text=True) and fresh(TargetMapGroupPlan, plan.id).name == "园区物流企业"
    assert head.post(f"{P}/groups/{plan.id}/close", {"version": 99}).status_code == 302  # stale: refused
    assert fresh(TargetMapGroupPlan, plan.id).status == "submitted"
    assert head.post(f"{P}/groups/{plan.id}/close", {"version": plan.version}).status_code == 302
    plan = fresh(TargetMapGroupPlan, plan.id)
    assert plan.status == "closed" and plan.closed_by_id == tm.head_a.id and plan.closed_at is not None
    assert head.post(f"{P}/groups", {**FULL, "name": "本地温州商会", "basis": "association",
                                     "basis_detail": "温州商会", "action": "draft"}).status_code == 302
    assert _count(tm.a) == 2
    listing = head.get(f"{P}/groups").get_data(as_text=True)
    assert "本地温州商会" in listing and "已关闭的方案" in listing and "园区物流企业" in listing
    assert audit_actions() == ["target_map.group_created", "target_map.group_closed", "target_map.group_created"]


@pytest.mark.parametrize("change, message", [
    ({"name": ""}, "请填写客群名称"),
    ({"basis": "hobby"}, "请选择选定客群的思路：行业、人脉圈或协会圈"),
    ({"basis_detail": ""}, "请写明具体的行业、人脉圈或协会圈"),
    ({"customer_kind": "both"}, "请选择是存量客户还是新客户"),
    ({"module_d": "长" * 2001}, "不能超过2000个字"),
])
def test_group_plan_validation(new_client, tm, change, message):
    head = logged_in(new_client, tm.head_a)
    resp = head.post(f"{P}/groups", {**FULL, **change, "action": "draft"})
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert _count(tm.a) == 0


def test_rm_sees_the_outlets_plan_but_cannot_manage_it_and_other_outlets_are_404(new_client, tm):
    head_b = logged_in(new_client, tm.head_b)
    head_b.post(f"{P}/groups", {**FULL, "name": f"乙客群{CANARY_B}", "action": "draft"})
    plan_b = db.session.execute(select(TargetMapGroupPlan)).scalar_one()
    head = logged_in(new_client, tm.head_a)
    head.post(f"{P}/groups", {**FULL, "action": "draft"})
    rm = logged_in(new_client, tm.rm_a)
    assert "园区物流企业" in rm.get(f"{P}/groups").get_data(as_text=True)
    assert rm.post(f"{P}/groups", {**FULL, "action": "draft"}).status_code == 403  # target_map.manage
    for path, data in ((f"{P}/groups/{plan_b.id}", None), (f"{P}/groups/{plan_b.id}", {**FULL, "version": 1}),
                       (f"{P}/groups/{plan_b.id}/close", {"version": 1})):
        resp = head.get(path) if data is None else head.post(path, data)
        assert resp.status_code == 404 and CANARY_B not in resp.get_data(as_text=True)
    assert fresh(TargetMapGroupPlan, plan_b.id).status == "draft"
    assert head.get(f"{P}/groups?outlet={tm.b.id}").status_code == 404


def test_branch_admin_manages_a_plan_for_an_outlet_of_the_branch(app, tm):
    with app.test_request_context():
        plan = svc.create_group(tm.branch_admin1, tm.a2, {**FULL}, submit=True)
        assert (plan.outlet_id, plan.status) == (tm.a2.id, "submitted")
        with pytest.raises(svc.PlanError) as err:
            svc.create_group(tm.branch_admin1, tm.b, {**FULL})
        assert err.value.forbidden
