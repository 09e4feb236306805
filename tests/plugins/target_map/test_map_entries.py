"""Editing an entry (R-04: module, perspective, 保抢挖, 维护责任人/营销人 and goals; optimistic lock, audited, scoped),
adding an outlet's corporate customers to the map and taking them off again."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditLog, Customer, CustomerClaim
from plugins.target_map.models import TargetMapEntry
from tests.conftest import CANARY_B
from tests.plugins.target_map.helpers_map import MAP, corp, corporate_rm, on_map, uscc

HX = {"HX-Request": "true"}


@pytest.fixture
def entry(tm):
    c = corp(tm.a, "甲目标企业", status="target", module="corporate", cert=uscc(1))
    return on_map(c, tag="grab", scale="1000000")


def form_values(html: str) -> dict[str, str]:
    return dict(re.findall(r'name="(version|customer_version)" value="(\d+)"', html))


def test_edit_saves_owner_goals_tag_and_audits(entry, tm, client):
    rm = corporate_rm(tm.a, "CR0001", "法人经理一")
    client.login("HA0001")
    form = client.get(f"{MAP}/entries/{entry.id}/edit", headers=HX)
    assert form.status_code == 200 and "近期拓展目标（目标客户）" in form.get_data(as_text=True)
    versions = form_values(form.get_data(as_text=True))
    resp = client.post(f"{MAP}/entries/{entry.id}/edit", {
        **versions, "where": "table", "eco_module": "international", "status": "target", "tag": "dig",
        "maintainer_id": str(rm.id), "near_term_target": "三季度开立基本户", "maintenance_target": "",
        "expected_scale": "3000万"}, headers=HX)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert "“甲目标企业”已保存" in body and 'hx-swap-oob="true"' in body and "法人经理一" in body
    db.session.refresh(entry)
    c = entry.customer
    db.session.refresh(c)
    assert (c.eco_module, c.maintainer_id, c.near_term_target) == ("international", rm.id, "三季度开立基本户")
    assert (entry.tag, str(entry.expected_scale), entry.version) == ("dig", "30000000.00", 2)
    log = db.session.execute(select(AuditLog).where(AuditLog.action == "target_map.entry_updated")).scalar_one()
    assert log.detail["fields"] == ["eco_module", "expected_scale", "maintainer_id", "near_term_target", "tag"]
    allocation = db.session.execute(select(CustomerClaim)).scalar_one()
    assert (allocation.kind, allocation.user_id, allocation.by_id) == ("allocation", rm.id, tm.head_a.id)


def test_a_stale_form_is_refused_and_nothing_changes(entry, tm, client, new_client):
    client.login("HA0001")
    stale = form_values(client.get(f"{MAP}/entries/{entry.id}/edit", headers=HX).get_data(as_text=True))
    other = new_client()
    other.login("BA0001")
    fresh = form_values(other.get(f"{MAP}/entries/{entry.id}/edit", headers=HX).get_data(as_text=True))
    assert other.post(f"{MAP}/entries/{entry.id}/edit", {**fresh, "eco_module": "institutional", "status": "target",
                                                          "tag": "keep"}, headers=HX).status_code == 200
    resp = client.post(f"{MAP}/entries/{entry.id}/edit", {**stale, "eco_module": "corporate", "status": "stock",
                                                           "tag": ""}, headers=HX)
    assert resp.status_code == 409
    assert "已被他人修改，请刷新后重新编辑（您的修改未保存）" in resp.get_data(as_text=True)
    db.session.refresh(entry)
    db.session.refresh(entry.customer)
    assert (entry.tag, entry.customer.eco_module, entry.customer.status) == ("keep", "institutional", "target")
    # The refreshed form carries the current versions: saving from it works.
    current = form_values(resp.get_data(as_text=True))
    assert client.post(f"{MAP}/entries/{entry.id}/edit", {**current, "eco_module": "corporate", "status": "stock"},
                       headers=HX).status_code == 200


def test_a_core_customer_edit_also_makes_the_form_stale(entry, tm, client):
    client.login("HA0001")
    versions = form_values(client.get(f"{MAP}/entries/{entry.id}/edit", headers=HX).get_data(as_text=True))
    c = db.session.get(Customer, entry.customer_id)
    c.notes = "柜面更新了备注"
    db.session.commit()
    resp = client.post(f"{MAP}/entries/{entry.id}/edit", {**versions, "eco_module": "corporate", "status": "target"},
                       headers=HX)
    assert resp.status_code == 409


@pytest.mark.parametrize(("field", "value", "message"), [
    ("maintainer_id", "rm_b", "责任人必须是该网点的在岗员工"),
    ("eco_module", "retail", "请选择生态图模块"),
    ("expected_scale", "-5", ""),
    ("near_term_target", "长" * 201, "不能超过200个字"),
])
def test_invalid_input_is_a_422_and_nothing_changes(entry, tm, client, field, value, message):
    client.login("HA0001")
    versions = form_values(client.get(f"{MAP}/entries/{entry.id}/edit", headers=HX).get_data(as_text=True))
    data = {**versions, "eco_module": "corporate", "status": "target", "tag": "grab"}
    data[field] = str(tm.rm_b.id) if value == "rm_b" else value
    resp = client.post(f"{MAP}/entries/{entry.id}/edit", data, headers=HX)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "is-invalid" in body and message in body and CANARY_B not in body
    db.session.refresh(entry)
    assert entry.version == 1 and entry.customer.maintainer_id is None


def test_edit_needs_manage_and_scope(entry, tm, client):
    client.login("RA0001")
    assert client.get(f"{MAP}/entries/{entry.id}/edit", headers=HX).status_code == 403
    client.login("HA0002")
    assert client.get(f"{MAP}/entries/{entry.id}/edit", headers=HX).status_code == 404
    assert client.post(f"{MAP}/entries/{entry.id}/remove").status_code == 404
    assert db.session.get(TargetMapEntry, entry.id) is not None


def test_owner_change_of_a_contested_customer_waits_for_the_head_decision(entry, tm, client):
    c = db.session.get(Customer, entry.customer_id)
    c.duplicate_claim = True
    db.session.commit()
    client.login("HA0001")
    versions = form_values(client.get(f"{MAP}/entries/{entry.id}/edit", headers=HX).get_data(as_text=True))
    resp = client.post(f"{MAP}/entries/{entry.id}/edit", {**versions, "eco_module": "corporate", "status": "target",
                                                           "maintainer_id": str(tm.head_a.id)}, headers=HX)
    assert resp.status_code == 422 and "请先由网点负责人在认领页面裁定维护人" in resp.get_data(as_text=True)


def test_panel_edit_returns_the_panel(entry, tm, client):
    client.login("HA0001")
    versions = form_values(client.get(f"{MAP}/entries/{entry.id}/edit?where=panel", headers=HX).get_data(as_text=True))
    resp = client.post(f"{MAP}/entries/{entry.id}/edit", {**versions, "where": "panel", "eco_module": "corporate",
                                                           "status": "target", "tag": "keep",
                                                           "near_term_target": "开立基本户"}, headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "data-tm-panel" in body and "开立基本户" in body


def test_add_an_outlet_customer_with_module_and_tag_then_remove_it(tm, client):
    stock = corp(tm.a, "甲老对公客户", status="stock", module=None, cert=uscc(2), maintainer=tm.head_a)
    corp(tm.a, "甲个人客户", kind="personal")
    corp(tm.a2, "甲二对公客户", status="stock", cert=uscc(3))
    on_map(corp(tm.a, "甲已在图上", status="stock", cert=uscc(4)))
    client.login("HA0001")
    found = client.get(f"{MAP}/outlets/{tm.a.id}/candidates?q=甲", headers=HX).get_data(as_text=True)
    assert "甲老对公客户" in found
    assert "甲个人客户" not in found and "甲二对公客户" not in found and "甲已在图上" not in found
    resp = client.post(f"{MAP}/outlets/{tm.a.id}/entries", {"customer_id": str(stock.id), "eco_module": "agri_realestate",
                                                            "tag": "keep", "back": "map"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/outlets/{tm.a.id}")
    e = db.session.execute(select(TargetMapEntry).where(TargetMapEntry.customer_id == stock.id)).scalar_one()
    db.session.refresh(stock)
    assert (e.tag, e.outlet_id, stock.eco_module, stock.status) == ("keep", tm.a.id, "agri_realestate", "stock")
    again = client.post(f"{MAP}/outlets/{tm.a.id}/entries", {"customer_id": str(stock.id),
                                                             "eco_module": "corporate"})
    assert "该客户已在金融生态图上" in client.get(again.headers["Location"]).get_data(as_text=True)
    e_id, stock_id, head_id = e.id, stock.id, tm.head_a.id
    resp = client.post(f"{MAP}/entries/{e_id}/remove")
    assert resp.status_code == 302
    db.session.expunge_all()
    assert db.session.get(TargetMapEntry, e_id) is None
    assert db.session.get(Customer, stock_id).maintainer_id == head_id  # the customer stays as it was
    actions = db.session.execute(select(AuditLog.action).where(AuditLog.action.like("target_map.%"))).scalars().all()
    assert sorted(actions) == ["target_map.entry_added", "target_map.entry_removed"]


def test_add_refuses_personal_and_out_of_scope_customers(tm, client):
    personal = corp(tm.a, "甲个人客户", kind="personal")
    other = corp(tm.a2, "甲二对公客户", status="stock", cert=uscc(3))
    client.login("HA0001")
    resp = client.post(f"{MAP}/outlets/{tm.a.id}/entries", {"customer_id": str(personal.id), "eco_module": "corporate"})
    assert "只有对公客户可以加入金融生态图" in client.get(resp.headers["Location"]).get_data(as_text=True)
    resp = client.post(f"{MAP}/outlets/{tm.a.id}/entries", {"customer_id": str(other.id), "eco_module": "corporate"})
    assert "找不到该客户，或该客户不在您的管辖范围内" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert client.post(f"{MAP}/outlets/{tm.a2.id}/entries", {"customer_id": str(other.id),
                                                             "eco_module": "corporate"}).status_code == 404
    assert db.session.execute(select(TargetMapEntry.id)).first() is None
