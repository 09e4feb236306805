"""包户包效 (R-07, R-08, R-14, T-02): claims, duplicates only the outlet head resolves, allocation, hand-over,
and a claim race with exactly one winner on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.customers import claims
from crm.customers.search import keys
from crm.extensions import db
from crm.models import AuditLog, Customer, CustomerClaim, User
from crm.roles import CLAIM_ORDER, POSTS, claim_rank
from tests.conftest import make_user


def make_customer(outlet, name: str, *, tier: str | None = None, deposit: str = "0", maintainer=None) -> Customer:
    c = Customer(outlet_id=outlet.id, kind="personal", name=name, tier=tier, deposit_balance=Decimal(deposit),
                 maintainer_id=maintainer.id if maintainer else None, **keys(name, None, None))
    db.session.add(c)
    db.session.commit()
    return c


def fresh(customer: Customer) -> Customer:
    db.session.expire_all()
    return db.session.get(Customer, customer.id)


def test_t02_claim_order_of_posts():
    shuffled = ["back_office", "lobby_manager", "personal_rm", "outlet_head", "high_counter_teller",
                "supervisor", "low_counter_teller", "corporate_rm"]
    assert sorted(shuffled, key=claim_rank) == ["outlet_head", "corporate_rm", "low_counter_teller", "supervisor",
                                                "personal_rm", "lobby_manager", "high_counter_teller",
                                                "back_office"]
    assert claim_rank("wealth_manager") is None and CLAIM_ORDER[0] == "outlet_head"
    assert len([p for p in POSTS if p.code in CLAIM_ORDER]) == 8


def test_t02_two_claims_become_a_duplicate_that_only_the_head_resolves(client, new_client, org):
    c = make_customer(org.a, "客户丙")
    teller = new_client()
    teller.login("TA0001")  # 低柜柜员
    teller.post(f"/customers/{c.id}/claim")
    assert fresh(c).maintainer_id == org.teller_a.id and not fresh(c).duplicate_claim
    rm = new_client()
    rm.login("RA0001")  # 个人客户经理
    rm.post(f"/customers/{c.id}/claim")
    c = fresh(c)
    assert c.maintainer_id == org.teller_a.id  # nothing final yet
    assert c.duplicate_claim is True
    # Pre-selection: the earlier post in the claim order (低柜柜员 before 个人客户经理).
    assert [cand.user.id for cand in claims.candidates(c)] == [org.teller_a.id, org.rm_a.id]
    # The RM cannot decide it; neither can the teller.
    assert rm.post(f"/customers/{c.id}/resolve", {"user_id": str(org.rm_a.id)}).status_code == 403
    client.login("HA0001")
    page = client.get("/customers/claims").get_data(as_text=True)
    assert "重复认领待裁定" in page and "客户丙" in page
    resp = client.post(f"/customers/{c.id}/resolve", {"user_id": str(org.rm_a.id)})
    assert resp.status_code == 302
    c = fresh(c)
    assert c.maintainer_id == org.rm_a.id and c.duplicate_claim is False
    states = {r.user_id: r.state for r in db.session.execute(
        select(CustomerClaim).where(CustomerClaim.customer_id == c.id, CustomerClaim.kind == "claim")).scalars()}
    assert states == {org.teller_a.id: "won", org.rm_a.id: "confirmed"}
    decided = db.session.execute(select(CustomerClaim).where(CustomerClaim.kind == "resolution")).scalar_one()
    assert decided.by_id == org.head_a.id and decided.user_id == org.rm_a.id
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "customer.claim_resolved")).scalar_one()


def test_manager_of_record_is_pre_selected_before_claim_order(app, org):
    c = make_customer(org.a, "老客户", maintainer=org.lobby_a)  # 大堂经理 maintained it before claiming began
    assert claims.claim(org.head_a, c) == "contested"  # 网点负责人, first in the claim order
    assert [cand.user.id for cand in claims.candidates(fresh(c))] == [org.lobby_a.id, org.head_a.id]
    assert claims.candidates(fresh(c))[0].is_manager is True


def test_resolution_must_pick_a_claimant(app, org):
    c = make_customer(org.a, "客户丁", maintainer=org.lobby_a)
    claims.claim(org.rm_a, c)
    with pytest.raises(claims.ClaimError, match="只能在认领人中选择"):
        claims.resolve(org.head_a, fresh(c), org.teller_a.id)
    with pytest.raises(claims.ClaimError, match="只有网点负责人"):
        claims.resolve(org.head_a2, fresh(c), org.rm_a.id)  # the head of another outlet


def test_claim_rules(app, org):
    c = make_customer(org.a, "客户戊")
    other_outlet = make_customer(org.a2, "客户己")
    wm = make_user("WM0001", "wealth_manager", outlet=org.a)
    with pytest.raises(claims.ClaimError, match="不参与认领"):
        claims.claim(wm, c)  # 理财经理 is not in the R-07 claim order
    with pytest.raises(claims.ClaimError, match="本网点"):
        claims.claim(org.rm_a, other_outlet)
    assert claims.claim(org.rm_a, c) == "won"
    with pytest.raises(claims.ClaimError, match="已是该客户的维护人"):
        claims.claim(org.rm_a, fresh(c))
    assert claims.claim(org.teller_a, fresh(c)) == "contested"
    with pytest.raises(claims.ClaimError, match="等待网点负责人裁定"):
        claims.claim(org.teller_a, fresh(c))


def test_claim_page_offers_only_unmaintained_customers_of_own_outlet(client, org):
    make_customer(org.a, "待认领甲")
    make_customer(org.a, "已维护甲", maintainer=org.rm_a)
    make_customer(org.b, "乙网点客户CANARYB")
    client.login("TA0001")
    page = client.get("/customers/claims").get_data(as_text=True)
    assert "待认领甲" in page and "已维护甲" not in page and "CANARYB" not in page
    assert "批量分配" not in page  # the head's tools are not shown to a teller
    b_customer = db.session.execute(select(Customer).where(Customer.outlet_id == org.b.id)).scalar_one()
    assert client.post(f"/customers/{b_customer.id}/claim").status_code == 404
    assert fresh(b_customer).maintainer_id is None


def test_wealth_manager_has_no_claim_page(client, org):
    make_user("WM0001", "wealth_manager", outlet=org.a)
    client.login("WM0001")
    assert client.get("/customers/claims").status_code == 403


def test_allocation_by_tier_and_post_round_robin_largest_deposits_first(client, org):
    rm2 = make_user("RA0003", "personal_rm", outlet=org.a, name="甲客户经理二")
    for i, deposit in enumerate(["900000", "800000", "700000", "600000", "500000"]):
        make_customer(org.a, f"T1客户{i}", tier="T1", deposit=deposit)
    make_customer(org.a, "T0客户", tier="T0", deposit="1000")
    taken = make_customer(org.a, "已认领T1", tier="T1", deposit="990000", maintainer=org.teller_a)
    client.login("HA0001")
    resp = client.post("/customers/allocate", {"tier": "T1", "post": "personal_rm", "per_person": "2"})
    assert resp.status_code == 302
    got = {c.name: c.maintainer_id for c in db.session.execute(
        select(Customer).where(Customer.tier == "T1")).scalars()}
    assert got["T1客户0"] == org.rm_a.id and got["T1客户1"] == rm2.id  # round robin, biggest first
    assert got["T1客户2"] == org.rm_a.id and got["T1客户3"] == rm2.id
    assert got["T1客户4"] is None  # 2 per person × 2 people
    assert fresh(taken).maintainer_id == org.teller_a.id  # already maintained: untouched
    t0 = db.session.execute(select(Customer).where(Customer.tier == "T0")).scalar_one()
    assert t0.maintainer_id is None
    rows = db.session.execute(select(CustomerClaim).where(CustomerClaim.kind == "allocation")).scalars().all()
    assert len(rows) == 4 and {r.by_id for r in rows} == {org.head_a.id}
    row = db.session.execute(select(AuditLog).where(AuditLog.action == "customer.allocated")).scalar_one()
    assert row.detail["count"] == 4


@pytest.mark.parametrize("per_person", ["0", "abc", "10001"])
def test_allocation_rejects_bad_numbers(client, org, per_person):
    make_customer(org.a, "客户", tier="T1")
    client.login("HA0001")
    client.post("/customers/allocate", {"tier": "T1", "post": "personal_rm", "per_person": per_person})
    assert db.session.execute(select(Customer.maintainer_id)).scalar_one() is None


def test_handover_moves_all_customers_of_a_departing_member(client, org):
    for i in range(3):
        make_customer(org.a, f"移交客户{i}", maintainer=org.rm_a)
    keep = make_customer(org.a, "他人客户", maintainer=org.teller_a)
    client.login("HA0001")
    client.post("/customers/handover", {"from_id": str(org.rm_a.id), "to_id": str(org.lobby_a.id)})
    moved = db.session.execute(select(Customer.name).where(Customer.maintainer_id == org.lobby_a.id)).scalars()
    assert sorted(moved) == ["移交客户0", "移交客户1", "移交客户2"]
    assert fresh(keep).maintainer_id == org.teller_a.id
    assert len(db.session.execute(select(CustomerClaim).where(CustomerClaim.kind == "handover")).all()) == 3
    # To someone of another outlet: refused, nothing moves.
    client.post("/customers/handover", {"from_id": str(org.lobby_a.id), "to_id": str(org.rm_b.id)})
    assert db.session.execute(select(Customer.id).where(Customer.maintainer_id == org.rm_b.id)).first() is None


def _race(app, customer_id: int, user_ids: list[int]) -> list[str]:
    barrier = threading.Barrier(len(user_ids))
    results: list[str] = []
    errors: list[BaseException] = []

    def run(user_id: int) -> None:
        try:
            with app.app_context():
                user = db.session.get(User, user_id)
                customer = db.session.get(Customer, customer_id)
                _ = (user.outlet_id, user.post, user.login, user.outlet, customer.outlet_id, customer.maintainer_id)
                barrier.wait(5)
                results.append(claims.claim(user, customer))
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(uid,)) for uid in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    return results


@pytest.mark.parametrize("round_", range(3))
def test_simultaneous_claims_have_exactly_one_winner(app, org, round_):
    c = make_customer(org.a, f"抢认领{round_}")
    contenders = [org.rm_a.id, org.teller_a.id, org.lobby_a.id, org.head_a.id]
    db.session.commit()
    results = _race(app, c.id, contenders)
    assert sorted(results) == ["contested", "contested", "contested", "won"]
    c = fresh(c)
    winner = db.session.execute(select(CustomerClaim.user_id).where(
        CustomerClaim.customer_id == c.id, CustomerClaim.state == "won")).scalars().all()
    assert len(winner) == 1 and c.maintainer_id == winner[0]
    assert c.duplicate_claim is True


def test_maintenance_panel_shows_the_claim_history(client, org):
    c = make_customer(org.a, "历史客户")
    claims.claim(org.teller_a, c)
    claims.claim(org.rm_a, fresh(c))
    client.login("HA0001")
    panel = client.get(f"/customers/{c.id}/panel/maintenance").get_data(as_text=True)
    assert "重复认领，待网点负责人裁定" in panel
    assert "认领 · 甲柜员（低柜柜员）· 认领成功" in panel and "甲客户经理（个人客户经理）" in panel
