"""The primary personal segment (spec §5.1): a customer may carry several of S-01–S-05, the recompute stores one
primary by the precedence S-03 > S-04 > S-02 > S-01 > S-05, the panel shows it, lists and counts use it."""

from __future__ import annotations

import re

from sqlalchemy import select

from crm.extensions import db
from crm.models import Customer
from plugins.segmentation import services
from plugins.segmentation.models import SegmentationList, SegmentationTag
from tests.plugins.segmentation.conftest import born, cust, recompute_as
from tests.plugins.segmentation.test_rules import members


def primary_of(c) -> str | None:
    return db.session.execute(select(SegmentationTag.primary_segment).where(
        SegmentationTag.customer_id == c.id)).scalar_one()


def test_precedence_s03_s04_s02_s01_s05(app, seg):
    # Everything at once: family business (S-03) wins over all others.
    all_five = cust(seg.a, occupation="企业主", employer_type="executive", retired=True, aum=900000,
                    birthday=born(1985))
    # No S-03: the small business (S-04, by occupation) wins over S-02, S-01 and S-05.
    merchant = cust(seg.a, occupation="个体经营", employer_type="government", retired=True, aum=900000,
                    birthday=born(1990))
    # S-02 over S-01 and S-05.
    official = cust(seg.a, employer_type="government", retired=True, aum=600000, birthday=born(1981))
    # S-01 over S-05 (retired at 44 with AUM ≥ 500,000 — the rule reads the flags, not the age).
    retired = cust(seg.a, retired=True, aum=500000, birthday=born(1980, 1, 1))
    young = cust(seg.a, birthday=born(1999, 12, 31))  # S-05 alone
    nobody = cust(seg.a, birthday=born(1970), aum=100)  # none of the five
    small_co = cust(seg.a, kind="corporate", annual_revenue=1_000_000)  # S-04 by revenue (corporate)
    recompute_as(seg.branch_admin1, seg.b1)
    assert members(all_five) >= {"family_business", "gov_exec_pro", "retired_affluent", "post80_90"}
    assert [primary_of(c) for c in (all_five, merchant, official, retired, young, nobody, small_co)] == [
        "family_business", "small_business", "gov_exec_pro", "retired_affluent", "post80_90", None,
        "small_business"]


def test_primary_moves_when_a_higher_segment_is_lost_and_is_cleared_when_none_is_left(app, seg):
    c = cust(seg.a, occupation="企业主", birthday=born(1988))
    recompute_as(seg.branch_admin1, seg.b1)
    assert primary_of(c) == "family_business"
    row = db.session.get(Customer, c.id)
    row.occupation = "职员"
    db.session.commit()
    run = recompute_as(seg.branch_admin1, seg.b1)
    assert primary_of(c) == "post80_90" and run.segments_after["post80_90"] == 1
    row = db.session.get(Customer, c.id)
    row.birthday = born(1975)
    db.session.commit()
    recompute_as(seg.branch_admin1, seg.b1)
    assert primary_of(c) is None


def test_an_existing_tag_without_primary_gets_one_even_if_its_bits_did_not_change(app, seg):
    """After the 0002 migration every tag has primary NULL while its bits are current: the next recompute fills it."""
    c = cust(seg.a, occupation="个体经营")
    recompute_as(seg.branch_admin1, seg.b1)
    db.session.execute(SegmentationTag.__table__.update().values(primary_segment=None))
    db.session.commit()
    recompute_as(seg.branch_admin1, seg.b1)
    assert primary_of(c) == "small_business"


def test_panel_page_counts_and_lists_use_the_primary(client, seg):
    owner = cust(seg.a, name="企业主甲", occupation="企业主", birthday=born(1985))
    young = cust(seg.a2, name="年轻人乙", birthday=born(1992))
    cust(seg.a, name="年轻人丙", birthday=born(1995))
    recompute_as(seg.branch_admin1, seg.b1)
    client.login("BA0001")
    panel = client.get(f"/p/segmentation/panel/{owner.id}").get_data(as_text=True)
    primary = re.search(r"data-seg-primary>(.*?)</div>", panel, re.S).group(1)
    assert "家族企业" in primary and "80/90后" not in primary
    assert "80/90后" in panel  # still carries the other tag
    page = client.get("/p/segmentation/").get_data(as_text=True)
    assert re.search(r'data-seg-primary="post80_90">2<', page)  # 3 are 80/90后, 2 of them as primary
    assert re.search(r'data-seg-primary="family_business">1<', page)
    # Save "primary: 80/90后" as a live list: the owner (primary 家族企业) is not in it.
    resp = client.post("/p/segmentation/lists", {"name": "主标签80后", "segment": "primary:post80_90", "kind": "live"})
    assert resp.status_code == 302
    lst = db.session.execute(select(SegmentationList).where(SegmentationList.name == "主标签80后")).scalar_one()
    body = client.get(f"/p/segmentation/lists/{lst.id}").get_data(as_text=True)
    assert set(re.findall(r'<a href="/customers/\d+">([^<]+)</a>', body)) == {"年轻人乙", "年轻人丙"}
    assert lst.size == 2
    lists = client.get("/p/segmentation/lists").get_data(as_text=True)
    assert "主标签：80/90后" in lists
    # The owner turns 80/90后-primary once the family business goes: the live list follows at the next recompute.
    db.session.get(Customer, owner.id).occupation = "职员"
    db.session.commit()
    recompute_as(seg.branch_admin1, seg.b1)
    body = client.get(f"/p/segmentation/lists/{lst.id}").get_data(as_text=True)
    assert "企业主甲" in body and "年轻人乙" in body
    # The outlet head of 甲网点 counts only his outlet's customers.
    assert services.scope_primary_counts(seg.head_a, seg.b1.id) == {"primary:post80_90": 2}
    assert services.scope_primary_counts(seg.head_a2, seg.b1.id) == {"primary:post80_90": 1}  # 年轻人乙
    assert services.scope_primary_counts(seg.branch_admin1, seg.b1.id) == {"primary:post80_90": 3}
    assert young.id in {c.id for c in db.session.execute(select(Customer).where(
        services.in_segment(seg.b1.id, "primary:post80_90"))).scalars()}


def test_unknown_primary_key_is_refused_and_matches_nobody(client, seg):
    cust(seg.a, birthday=born(1985))
    recompute_as(seg.branch_admin1, seg.b1)
    client.login("BA0001")
    client.post("/p/segmentation/lists", {"name": "坏键", "segment": "primary:no_loan", "kind": "live"})
    assert db.session.execute(select(SegmentationList)).first() is None
    assert db.session.execute(select(Customer.id).where(services.in_segment(seg.b1.id, "primary:no_loan"))).first() is None
