"""The 客户分层/分群 demo data (hook crm_seed_demo): a recompute, a custom segment and a saved list per 分行."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from crm.auth.services import hash_password
from crm.demo import seed_demo, seed_plugin_demo
from crm.demo_customers import seed_customers
from crm.extensions import db
from crm.models import Branch, Customer, Outlet, User
from crm.timeutil import today_local
from crm.workdays import ensure_seeded
from plugins.segmentation import services as s
from plugins.segmentation.demo import LIST_NAME, RULE_NAME
from plugins.segmentation.models import (
    SegmentationCustomRule,
    SegmentationList,
    SegmentationListMember,
    SegmentationRun,
    SegmentationTag,
)
from tests.conftest import PASSWORD


def _count(model, *where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_demo_tiers_every_customer_and_saves_a_custom_segment_and_a_list_per_branch_only_once(app, client):
    seed_demo(11)
    ensure_seeded(echo=lambda _line: None)
    seed_customers(600, 11, lambda _line: None)
    printed: list[str] = []
    seed_plugin_demo(11, printed.append)
    customers = _count(Customer)
    lists = db.session.execute(select(SegmentationList).order_by(SegmentationList.id)).scalars().all()
    total = sum(lst.size for lst in lists)
    assert [line for line in printed if line.startswith("客户分层")] == [
        f"客户分层/分群：2 个分行已重算，{customers} 位客户定级；各 1 个自定义分群和 1 份客户名单（共 {total} 人）"]

    roots = db.session.execute(select(Branch).where(Branch.parent_id.is_(None))).scalars().all()
    assert len(roots) == 2
    # Every customer has a tier of the ladder and a tag row; one recompute per 分行.
    assert _count(Customer, Customer.tier.is_(None)) == 0 and _count(SegmentationTag) == customers
    assert sorted(r.branch_id for r in db.session.execute(select(SegmentationRun)).scalars()) == sorted(
        b.id for b in roots)
    oldest = today_local().year - 45
    for root in roots:
        rule = db.session.execute(select(SegmentationCustomRule).where(
            SegmentationCustomRule.branch_id == root.id)).scalar_one()
        assert rule.name == RULE_NAME and rule.join == "and"
        assert rule.conditions[1] == {"field": "birth_year", "op": "le", "value": oldest}
        lst = next(lst for lst in lists if lst.branch_id == root.id)
        assert (lst.name, lst.segment, lst.kind) == (LIST_NAME, f"custom:{rule.id}", "snapshot")
        members = db.session.execute(select(Customer).join(
            SegmentationListMember, SegmentationListMember.customer_id == Customer.id).where(
            SegmentationListMember.list_id == lst.id)).scalars().all()
        assert 0 < len(members) == lst.size
        branch_outlets = set(db.session.execute(select(Outlet.id).where(Outlet.root_branch_id == root.id)).scalars())
        for c in members:  # exactly the rule's customers of this 分行
            assert c.kind == "personal" and c.birthday.year <= oldest and c.aum >= Decimal("100000")
            assert c.outlet_id in branch_outlets
        matching = _count(Customer, Customer.kind == "personal", func.coalesce(Customer.aum, 0) >= 100000,
                          Customer.birthday <= date(oldest, 12, 31), Customer.outlet_id.in_(branch_outlets))
        assert lst.size == matching
        assert s.segment_labels(root.id)[lst.segment] == RULE_NAME

    # The 分行's administrator sees the rule and the list on the plugin's page.
    admin = db.session.execute(select(User).where(User.post == "branch_admin").order_by(User.id).limit(1)).scalar_one()
    admin.password_hash = hash_password(PASSWORD)
    db.session.commit()
    assert client.login(admin.login).status_code == 302
    text = client.get("/p/segmentation/").get_data(as_text=True)
    assert RULE_NAME in text
    assert LIST_NAME in client.get("/p/segmentation/lists").get_data(as_text=True)

    # A second run adds nothing.
    again: list[str] = []
    seed_plugin_demo(12, again.append)
    assert not any(line.startswith("客户分层") for line in again)
    assert (_count(SegmentationRun), _count(SegmentationList), _count(SegmentationCustomRule)) == (2, 2, 2)
