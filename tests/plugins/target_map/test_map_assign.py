"""按规模分配 (R-05/A-02): annual revenue ≥ the 分行's head_revenue_threshold → the outlet head; below (or unknown) →
the outlet's corporate RMs, spread evenly, fewest-held first; no corporate RM → the outlet head. Set-based writes,
audited; one 分行's threshold never affects another's. And 熟客认领 from the map through the core claim."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from crm.customers import claims
from crm.extensions import db
from crm.models import AuditLog, Customer, CustomerClaim
from tests.conftest import make_user
from tests.plugins.target_map.helpers_map import MAP, corp, corporate_rm, on_map, uscc


def set_threshold(app, branch, value: str) -> None:
    app.extensions["crm"].set_settings("target_map", branch.id, {"head_revenue_threshold": value}, None)
    db.session.commit()


def target(outlet, name: str, revenue: str | None, n: int, **kw) -> Customer:
    c = corp(outlet, name, status="target", revenue=revenue, cert=uscc(n), **kw)
    on_map(c, tag="grab")
    return c


def owner(c: Customer) -> int | None:
    db.session.refresh(c)
    return c.maintainer_id


@pytest.fixture
def rms(tm):
    return corporate_rm(tm.a, "CR0001", "法人经理一"), corporate_rm(tm.a, "CR0002", "法人经理二")


def test_threshold_exact_one_below_one_above(app, tm, rms, client):
    """Threshold 5,000万: exactly 50,000,000.00 and 50,000,000.01 → head; 49,999,999.99 → a corporate RM."""
    set_threshold(app, tm.b1, "50000000")
    exact = target(tm.a, "恰好五千万", "50000000.00", 1)
    above = target(tm.a, "高一分", "50000000.01", 2)
    below = target(tm.a, "低一分", "49999999.99", 3)
    client.login("HA0001")
    resp = client.post(f"{MAP}/outlets/{tm.a.id}/assign")
    assert resp.status_code == 302
    assert owner(exact) == tm.head_a.id and owner(above) == tm.head_a.id
    assert owner(below) in {rms[0].id, rms[1].id}
    page = client.get(f"{MAP}/outlets/{tm.a.id}").get_data(as_text=True)
    assert "已分配 3 户目标客户：网点负责人 2 户，法人客户经理 1 户" in page
    assert "年销售收入 ≥ 5,000.00 万元 的给网点负责人" in page


def test_small_targets_spread_evenly_fewest_held_first(app, tm, rms):
    """RM1 already markets one target on the map, RM2 none: the five small ones go 2 to RM1, 3 to RM2, the largest
    to RM2 first; unknown revenue counts as small; stock customers and assigned targets are left alone."""
    set_threshold(app, tm.b1, "50000000")
    rm1, rm2 = rms
    target(tm.a, "已有营销人", "10", 9, maintainer=rm1)
    small = [target(tm.a, f"小企业{i}", rev, 10 + i) for i, rev in enumerate(("49999999.99", "3000", "2000", "1000"))]
    unknown = target(tm.a, "规模不详", None, 20)
    stock = corp(tm.a, "存量企业", status="stock", revenue="1", cert=uscc(21))
    on_map(stock)
    from flask_login import login_user

    from plugins.target_map.services_map import assign_by_size

    with app.test_request_context():
        login_user(tm.head_a)
        result = assign_by_size(tm.head_a, tm.a)
    assert result.to_head == 0 and result.to_rms == {rm1.id: 2, rm2.id: 3}
    assert [owner(c) for c in small] == [rm2.id, rm1.id, rm2.id, rm1.id]
    assert owner(unknown) == rm2.id
    assert owner(stock) is None
    claims_rows = db.session.execute(select(CustomerClaim).where(CustomerClaim.kind == "allocation")).scalars().all()
    assert len(claims_rows) == 5 and {c.by_id for c in claims_rows} == {tm.head_a.id}
    log = db.session.execute(select(AuditLog).where(AuditLog.action == "target_map.assigned")).scalar_one()
    assert log.detail == {"threshold": "50000000", "to_head": 0, "to_rms": {str(rm1.id): 2, str(rm2.id): 3}}


def test_without_corporate_rm_everything_goes_to_the_head(app, tm):
    t1, t2 = target(tm.a, "小", "1", 1), target(tm.a, "大", "200000000", 2)
    from plugins.target_map.services_map import assign_by_size

    with app.test_request_context():
        result = assign_by_size(tm.head_a, tm.a)
    assert result.to_head == 2 and owner(t1) == owner(t2) == tm.head_a.id


def test_branch_thresholds_are_independent(app, tm, client):
    """分行 b1 at 5,000万 and b2 at default 1亿: a 6,000万 target goes to b2's corporate RM, not its head."""
    set_threshold(app, tm.b1, "50000000")
    rm_b2 = corporate_rm(tm.b, "CRB001", "乙法人经理")
    at_b = target(tm.b, "乙六千万", "60000000", 1)
    at_a = target(tm.a, "甲六千万", "60000000", 2)
    client.login("HB0001")
    client.post(f"{MAP}/outlets/{tm.b.id}/assign")
    assert owner(at_b) == rm_b2.id and owner(at_a) is None  # b's action leaves a alone
    set_threshold(app, tm.b2, "10")  # changing b2 does not move b1's line
    client.login("HA0001")
    client.post(f"{MAP}/outlets/{tm.a.id}/assign")
    assert owner(at_a) == tm.head_a.id


def test_assignment_is_set_based_not_a_query_per_customer(app, tm, rms):
    from plugins.target_map.services_map import assign_by_size

    def statements(n: int, offset: int) -> int:
        for i in range(n):
            target(tm.a, f"批量{offset + i}", str(1000 + i), offset + i)
        seen: list[str] = []
        listener = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            with app.test_request_context():
                assert assign_by_size(tm.head_a, tm.a).total == n
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    statements(2, 50)  # warm-up: settings and user rows loaded once per session
    few, many = statements(10, 100), statements(60, 200)
    assert few == many and many < 20


def test_assign_needs_manage_and_scope(tm, client):
    target(tm.a, "甲目标", "1", 1)
    client.login("RA0001")
    assert client.post(f"{MAP}/outlets/{tm.a.id}/assign").status_code == 403
    client.login("HA0002")  # head of outlet a2
    assert client.post(f"{MAP}/outlets/{tm.a.id}/assign").status_code == 404


# ---------------------------------------------------------------- 熟客认领

def entry_id(c: Customer) -> int:
    from plugins.target_map.services_map import entry_of_customer

    return entry_of_customer(c.id).id


def test_claim_from_the_map_then_a_second_claimant_makes_it_contested(tm, client, new_client):
    free = target(tm.a, "待认领企业", "1", 1)
    rm = client
    rm.login("RA0001")
    resp = rm.post(f"{MAP}/entries/{entry_id(free)}/claim")
    assert resp.status_code == 302
    assert owner(free) == tm.rm_a.id
    assert "认领成功，您已成为“待认领企业”的营销人" in rm.get(resp.headers["Location"]).get_data(as_text=True)
    won = db.session.execute(select(CustomerClaim).where(CustomerClaim.customer_id == free.id)).scalar_one()
    assert (won.kind, won.state, won.user_id) == ("claim", "won", tm.rm_a.id)
    # The teller no longer sees it (claimed by someone else): 404, no data.
    teller = new_client()
    teller.login("TA0001")
    assert teller.post(f"{MAP}/entries/{entry_id(free)}/claim").status_code == 404
    # The head sees every customer of the outlet and claims too: contested, decided on the core claims page.
    head = new_client()
    head.login("HA0001")
    resp = head.post(f"{MAP}/entries/{entry_id(free)}/claim")
    page = head.get(resp.headers["Location"]).get_data(as_text=True)
    assert "该客户已有营销人，您的认领已提交网点负责人裁定" in page
    db.session.refresh(free)
    assert free.duplicate_claim is True and free.maintainer_id == tm.rm_a.id
    assert "重复认领 1 户" in page and 'href="/customers/claims"' in page
    table = head.get(f"{MAP}/outlets/{tm.a.id}/table").get_data(as_text=True)
    assert re.search(r"待认领企业</a> <span class=\"badge bg-red-lt\"[^>]*>重复认领</span>", table)
    # The head decides through the core resolve: one maintainer, the flag cleared.
    claims.resolve(tm.head_a, free, tm.head_a.id)
    db.session.refresh(free)
    assert free.duplicate_claim is False and free.maintainer_id == tm.head_a.id


def test_claim_of_another_outlets_target_is_404(tm, client):
    other = target(tm.a2, "甲二目标", "1", 1)
    client.login("RA0001")
    assert client.post(f"{MAP}/entries/{entry_id(other)}/claim").status_code == 404
    assert owner(other) is None


def test_post_outside_the_claim_order_cannot_claim(tm, client):
    free = target(tm.a, "待认领企业", "1", 1)
    make_user("WM0001", "wealth_manager", outlet=tm.a, name="理财经理甲")
    client.login("WM0001")
    resp = client.post(f"{MAP}/entries/{entry_id(free)}/claim")
    assert "您的岗位不参与认领" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert owner(free) is None


def test_branch_admin_sets_the_threshold_on_the_core_settings_page(tm, client, new_client):
    """head_revenue_threshold is edited per 分行 on the core plugin settings page; the map shows and applies it."""
    client.login("BA0001")
    resp = client.post(f"/admin/plugins/target_map/settings?branch={tm.b1.id}",
                       {"branch": str(tm.b1.id), "set_head_revenue_threshold": "30,000,000"})
    assert resp.status_code == 302
    assert client.get(f"/admin/plugins/target_map/settings?branch={tm.b2.id}").status_code == 404  # not his 分行
    head = new_client()
    head.login("HA0001")
    page = head.get(f"{MAP}/outlets/{tm.a.id}").get_data(as_text=True)
    assert "年销售收入 ≥ 3,000.00 万元 的给网点负责人" in page
    assert "/admin/plugins/target_map/settings" not in page  # the head may not change it: no link
    t = target(tm.a, "三千万企业", "30000000", 1)
    head.post(f"{MAP}/outlets/{tm.a.id}/assign")
    assert owner(t) == tm.head_a.id
    other = new_client()
    other.login("HB0001")
    assert "年销售收入 ≥ 1.00 亿元 的给网点负责人" in other.get(f"{MAP}/outlets/{tm.b.id}").get_data(as_text=True)
