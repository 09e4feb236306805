"""Per-post tier quotas in allocation (包户包效 R-08, R-14, A-03, A-04): core without any quota plugin works as
before; with the segmentation plugin's quota table each person gets at most (quota − customers of the tier he
already maintains), a post without a quota gets none of the tier, and "按配额分配" fills every tier × post in one
action, top tier first and posts in R-07 claim order, with the manager of record left in place."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, func, select

from crm.customers import claims
from crm.extensions import db
from crm.models import AuditLog, Customer, CustomerClaim
from tests.conftest import make_user
from tests.test_claims import fresh, make_customer

WITH_PLUGIN = "tests.plugin_example,plugins.segmentation"


def set_quotas(branch, grid: dict[tuple[str, str], int]) -> None:
    """Write a 分行's quota table the way the segmentation page does (services.save_quotas)."""
    from flask import current_app
    from flask_login import login_user

    from crm.models import User
    from plugins.segmentation import services

    admin = db.session.execute(select(User).where(User.post == "branch_admin", User.branch_id == branch.id)).scalar()
    codes = [t.code for t in services.ladder(branch.id)]
    with current_app.test_request_context():
        login_user(admin)
        services.save_quotas(admin, branch.id, codes, {k: str(v) for k, v in grid.items()})


def maintained(user) -> list[str]:
    return sorted(db.session.execute(select(Customer.name).where(Customer.maintainer_id == user.id)).scalars())


# ---------------------------------------------------------------- core alone: no quota hook answers

def test_without_a_quota_plugin_allocation_is_unchanged_and_no_quota_card(client, org):
    assert claims.quotas(org.head_a) is None
    for i in range(3):
        make_customer(org.a, f"T1客户{i}", tier="T1", deposit=str(900000 - i))
    client.login("HA0001")
    page = client.get("/customers/claims").get_data(as_text=True)
    assert "批量分配" in page and "按配额分配" not in page and "data-quota-table" not in page
    client.post("/customers/allocate", {"tier": "T1", "post": "personal_rm", "per_person": "500"})
    assert maintained(org.rm_a) == ["T1客户0", "T1客户1", "T1客户2"]  # no cap other than per_person
    # "按配额分配" without quotas: refused with a reason, nothing changes.
    make_customer(org.a, "T1客户3", tier="T1")
    resp = client.post("/customers/allocate-by-quota", {}, follow_redirects=True)
    assert "本分行尚未设置各岗位的包户配额" in resp.get_data(as_text=True)
    assert db.session.execute(select(Customer.maintainer_id).where(Customer.name == "T1客户3")).scalar_one() is None


# ---------------------------------------------------------------- with the segmentation plugin

def test_hook_crm_allocation_quotas(make_app):
    """The hook (firstresult) answers for the 分行 that enable the segmentation plugin, with quotas top tier first
    then in R-07 order; None where the plugin is off or no quota is set. Self-contained (its own app and org), so
    that tests/test_plugins.py can import it for its every-hook-has-a-test rule."""
    from tests.conftest import make_branch, make_outlet

    app = make_app(CRM_PLUGINS=WITH_PLUGIN)
    with app.app_context():
        registry = app.extensions["crm"]
        assert registry.pm.hook.crm_allocation_quotas.spec.opts["firstresult"] is True
        b1, b2 = make_branch("B1", "甲分行"), make_branch("B2", "乙分行")
        a, b = make_outlet(make_branch("S1", "甲一支行", b1), "OA", "甲网点"), make_outlet(b2, "OB", "乙网点")
        make_user("BA0001", "branch_admin", branch=b1)
        head_a, head_b = make_user("HA0001", "outlet_head", outlet=a), make_user("HB0001", "outlet_head", outlet=b)

        def switch(branch, on: bool) -> None:
            registry.set_enabled("segmentation", branch.id, on, None)
            db.session.commit()

        assert claims.quotas(head_a) is None  # plugin off for B1
        switch(b1, True)
        assert claims.quotas(head_a) is None  # on, but no quota yet
        set_quotas(b1, {("T0", "back_office"): 100, ("T1", "personal_rm"): 30, ("T1", "outlet_head"): 10})
        assert list(claims.quotas(head_a).items()) == [
            (("T1", "outlet_head"), 10), (("T1", "personal_rm"), 30), (("T0", "back_office"), 100)]
        assert claims.quotas(head_b) is None  # B2 has the plugin off: B1's table never leaks there
        switch(b2, True)
        assert claims.quotas(head_b) is None  # on for B2, whose own table is empty
        switch(b1, False)
        assert claims.quotas(head_a) is None  # switched off again: allocation is back to no quotas


@pytest.fixture
def quota_org(org, enable_plugin):
    enable_plugin(org.b1, "segmentation")
    return org


class TestWithTheSegmentationPlugin:
    """The segmentation plugin installed; enabled for 甲分行 (B1) unless a test says otherwise."""

    @pytest.fixture
    def app(self, make_app):
        app = make_app(CRM_PLUGINS=WITH_PLUGIN)
        with app.app_context():
            yield app

    def test_quota_caps_each_person_at_quota_minus_what_he_maintains(self, client, quota_org):
        org = quota_org
        rm2 = make_user("RA0003", "personal_rm", outlet=org.a, name="甲客户经理二")
        set_quotas(org.b1, {("T1", "personal_rm"): 3})
        make_customer(org.a, "已维护T1甲", tier="T1", deposit="1", maintainer=org.rm_a)
        make_customer(org.a, "已维护T1乙", tier="T1", deposit="1", maintainer=org.rm_a)
        make_customer(org.a, "已维护T0", tier="T0", deposit="1", maintainer=org.rm_a)  # another tier: not counted
        for i in range(6):
            make_customer(org.a, f"T1客户{i}", tier="T1", deposit=str(900000 - i * 1000))
        client.login("HA0001")
        client.post("/customers/allocate", {"tier": "T1", "post": "personal_rm", "per_person": "3"})
        # 甲客户经理 maintains 2 of T1 → 1 more; 甲客户经理二 holds none → 3. Round robin, biggest deposits first.
        assert maintained(org.rm_a) == ["T1客户0", "已维护T0", "已维护T1乙", "已维护T1甲"]
        assert maintained(rm2) == ["T1客户1", "T1客户2", "T1客户3"]
        assert fresh(make_customer(org.a, "未分", tier="T1")).maintainer_id is None
        audit = db.session.execute(select(AuditLog).where(AuditLog.action == "customer.allocated")).scalar_one()
        assert audit.detail["count"] == 4 and audit.detail["quota"] == 3
        # Everybody at the quota now: a clear refusal, nothing written.
        resp = client.post("/customers/allocate", {"tier": "T1", "post": "personal_rm", "per_person": "1"},
                           follow_redirects=True)
        assert "个人客户经理的 T1 层客户均已达到配额 3 户" in resp.get_data(as_text=True)


    def test_per_person_above_the_quota_and_a_post_without_quota_are_refused_in_chinese(self, client, quota_org):
        org = quota_org
        set_quotas(org.b1, {("T1", "personal_rm"): 3, ("T0", "low_counter_teller"): 50})
        make_customer(org.a, "T1客户", tier="T1", deposit="80000")
        make_customer(org.a, "T0客户", tier="T0", deposit="100")
        client.login("HA0001")
        for form, message in (
            ({"tier": "T1", "post": "personal_rm", "per_person": "4"},
             "每人分配数量不能超过配额：个人客户经理每人维护 T1 层客户 3 户"),
            ({"tier": "T1", "post": "low_counter_teller", "per_person": "1"},
             "按本分行的包户配额，低柜柜员不维护 T1 层客户"),
            ({"tier": "T0", "post": "personal_rm", "per_person": "1"}, "按本分行的包户配额，个人客户经理不维护 T0 层客户"),
        ):
            body = client.post("/customers/allocate", form, follow_redirects=True).get_data(as_text=True)
            assert message in body, form
        assert db.session.execute(select(func.count()).where(Customer.maintainer_id.is_not(None))).scalar_one() == 0
        # Exactly at the quota is allowed; customers not yet tiered are outside every quota.
        client.post("/customers/allocate", {"tier": "T1", "post": "personal_rm", "per_person": "3"})
        assert maintained(org.rm_a) == ["T1客户"]
        make_customer(org.a, "未分层客户")
        client.post("/customers/allocate", {"tier": "", "post": "lobby_manager", "per_person": "1"})
        assert maintained(org.lobby_a) == ["未分层客户"]


    def test_allocate_by_quota_top_tier_first_in_claim_order_and_manager_of_record_stays(self, client, quota_org):
        org = quota_org
        corp = make_user("CA0001", "corporate_rm", outlet=org.a, name="甲法人经理")
        back = make_user("BO0001", "back_office", outlet=org.a, name="甲后台")
        make_user("BO0002", "back_office", outlet=org.a, name="停用后台", active=False)
        set_quotas(org.b1, {("T1", "outlet_head"): 1, ("T1", "corporate_rm"): 2, ("T1", "personal_rm"): 2,
                            ("T0", "back_office"): 3, ("T0", "low_counter_teller"): 1})
        kept = make_customer(org.a, "现管户T1", tier="T1", deposit="5000000", maintainer=org.teller_a)
        for i in range(7):
            make_customer(org.a, f"T1-{i}", tier="T1", deposit=str(1_000_000 - i * 10_000))
        for i in range(6):
            make_customer(org.a, f"T0-{i}", tier="T0", deposit=str(40_000 - i * 1000))
        make_customer(org.a2, "他网点T1", tier="T1", deposit="9000000")  # another outlet: never touched
        client.login("HA0001")
        page = client.get("/customers/claims").get_data(as_text=True)
        assert "按配额分配" in page and "data-quota-table" in page and "在岗 1 人 · 尚可分 2" in page

        statements: list[str] = []

        def seen(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            resp = client.post("/customers/allocate-by-quota", {}, follow_redirects=True)
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        body = resp.get_data(as_text=True)
        assert "已按配额分配 9 位客户" in body, re.findall(r"alert-[a-z]+[^>]*>([^<]*)", body)
        # T1 (top tier) first, in claim order: the head takes the largest, then the corporate RM, then personal RMs.
        assert maintained(org.head_a) == ["T1-0"]
        assert maintained(corp) == ["T1-1", "T1-2"]
        assert maintained(org.rm_a) == ["T1-3", "T1-4"]
        # T0: the low-counter teller (3rd in R-07) before the back office; the teller already maintains one T1 customer
        # (T1 is not his tier's quota) and gets his one T0 customer.
        assert maintained(org.teller_a) == ["T0-0", "现管户T1"]
        assert maintained(back) == ["T0-1", "T0-2", "T0-3"]
        assert fresh(kept).maintainer_id == org.teller_a.id  # manager of record first: unchanged
        left = db.session.execute(select(Customer.name).where(Customer.maintainer_id.is_(None))
                                  .order_by(Customer.name)).scalars().all()
        assert left == ["T0-4", "T0-5", "T1-5", "T1-6", "他网点T1"]
        audits = db.session.execute(select(AuditLog).where(AuditLog.action == "customer.allocated_by_quota")).scalars().all()
        assert len(audits) == 1 and audits[0].detail["count"] == 9
        assert audits[0].detail["by_tier_post"] == {"T1/outlet_head": 1, "T1/corporate_rm": 2, "T1/personal_rm": 2,
                                                    "T0/low_counter_teller": 1, "T0/back_office": 3}
        records = db.session.execute(select(CustomerClaim).where(CustomerClaim.kind == "allocation")).scalars().all()
        assert len(records) == 9 and {r.by_id for r in records} == {org.head_a.id}
        # Set-based: one guarded UPDATE per staff member (5 people), not one per customer (9).
        updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE CUSTOMER SET MAINTAINER_ID")]
        assert len(updates) == 5 and all("RETURNING" in s.upper() for s in updates)
        # A second click finds everybody at quota: nothing more, no error.
        body = client.post("/customers/allocate-by-quota", {}, follow_redirects=True).get_data(as_text=True)
        assert "没有可按配额分配的客户" in body
        assert db.session.execute(select(func.count()).where(Customer.maintainer_id.is_(None))).scalar_one() == 5


    def test_allocate_by_quota_needs_the_head_and_csrf(self, client, quota_org):
        org = quota_org
        set_quotas(org.b1, {("T1", "personal_rm"): 5})
        make_customer(org.a, "T1客户", tier="T1", deposit="90000")
        client.login("RA0001")
        assert client.post("/customers/allocate-by-quota", {}).status_code == 403
        client.logout()
        client.login("HA0001")
        assert client.post("/customers/allocate-by-quota", {}, csrf=False).status_code == 400
        assert maintained(org.rm_a) == []
        client.post("/customers/allocate-by-quota", {})
        assert maintained(org.rm_a) == ["T1客户"]


    def test_claims_page_of_a_branch_without_the_plugin_shows_no_quota(self, client, quota_org):
        set_quotas(quota_org.b1, {("T1", "personal_rm"): 5})
        client.login("HB0001")  # B2: plugin off
        page = client.get("/customers/claims").get_data(as_text=True)
        assert "按配额分配" not in page and "批量分配" in page
