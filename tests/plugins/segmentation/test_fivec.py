"""5C1S grading (S-13, A-26): ratings entered in the customer panel (htmx, 422 in Chinese, audited, history kept),
per-分行 factors and cut-offs, and the segments 优质客户 / 准客户 / 不予考虑 compiled to SQL over the latest rating."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog, Customer
from plugins.segmentation import rules, services
from plugins.segmentation.models import SegmentationRating
from tests.conftest import CANARY_B, table_snapshot
from tests.plugins.segmentation.conftest import cust, recompute_as
from tests.plugins.segmentation.test_rules import members

FIVEC = ("5c1s_quality", "5c1s_prospect", "5c1s_excluded")


def scores_for(total: int, n: int = 6) -> list[str]:
    """n factor scores (1–5) adding up to `total`."""
    base, extra = divmod(total, n)
    return [str(base + (1 if i < extra else 0)) for i in range(n)]


def rate(client, customer, total: int | None = None, scores: list[str] | None = None, **extra):
    return client.post(f"/p/segmentation/rating/{customer.id}", {"score": scores or scores_for(total), **extra},
                       headers={"HX-Request": "true"})


def grade_segments(c) -> set[str]:
    return members(c) & set(FIVEC)


def test_grade_boundaries_24_quality_23_prospect_15_prospect_14_excluded():
    assert [rules.grade_of(t, 24, 15) for t in (30, 24, 23, 15, 14, 6)] == [
        "quality", "quality", "prospect", "prospect", "excluded", "excluded"]


def test_rm_rates_in_the_panel_and_recompute_tags_the_boundaries(client, seg):
    at24, at23, at15, at14, unrated = (cust(seg.a, name=n, maintainer_id=seg.rm_a.id)
                                       for n in ("二十四分", "二十三分", "十五分", "十四分", "未评级"))
    client.login("RA0001")  # a personal RM rates the customers he maintains
    panel = client.get(f"/p/segmentation/panel/{at24.id}").get_data(as_text=True)
    for label in ("品德（Character）", "能力（Capacity）", "资本（Capital）", "担保（Collateral）", "环境（Conditions）",
                  "服务潜力(S)"):
        assert label in panel
    assert "未评级" in panel and 'name="score"' in panel
    for c, total in ((at24, 24), (at23, 23), (at15, 15), (at14, 14)):
        resp = rate(client, c, total)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        body = resp.get_data(as_text=True)
        assert f"总分 <strong>{total}</strong>" in body and 'data-seg-grade' in body
    assert "优质客户" in rate(client, at24, 24).get_data(as_text=True)
    recompute_as(seg.branch_admin1, seg.b1)
    assert [grade_segments(c) for c in (at24, at23, at15, at14, unrated)] == [
        {"5c1s_quality"}, {"5c1s_prospect"}, {"5c1s_prospect"}, {"5c1s_excluded"}, set()]
    run = recompute_as(seg.branch_admin1, seg.b1)
    assert {k: run.segments_after[k] for k in FIVEC} == {"5c1s_quality": 1, "5c1s_prospect": 2, "5c1s_excluded": 1}
    audits = db.session.execute(select(AuditLog).where(AuditLog.action == "segmentation.rated")).scalars().all()
    assert len(audits) == 5 and audits[0].actor_id == seg.rm_a.id and audits[0].detail["total"] == 24


def test_the_latest_rating_counts_and_history_is_kept(client, seg):
    c = cust(seg.a, name="复评客户")
    client.login("HA0001")
    rate(client, c, 14, note="首次接触")
    recompute_as(seg.branch_admin1, seg.b1)
    assert grade_segments(c) == {"5c1s_excluded"}
    body = rate(client, c, 26).get_data(as_text=True)
    assert body.index("<strong>26</strong>") < body.index("<strong>14</strong>")  # newest first, both shown
    assert "首次接触" in body and "网点甲负责人" in body
    recompute_as(seg.branch_admin1, seg.b1)
    assert grade_segments(c) == {"5c1s_quality"}
    rows = db.session.execute(select(SegmentationRating).where(SegmentationRating.customer_id == c.id)
                              .order_by(SegmentationRating.id)).scalars().all()
    assert [(r.total, r.grade, r.rated_by_id) for r in rows] == [(14, "excluded", seg.head_a.id),
                                                                 (26, "quality", seg.head_a.id)]
    assert rows[1].scores[0] == ["品德（Character）", 5] and len(rows[1].scores) == 6


def test_rating_errors_are_422_in_chinese_and_write_nothing(client, seg):
    c = cust(seg.a)
    client.login("HA0001")
    for scores, message in (
        (["5", "5", "5", "5", "5", ""], "请为“服务潜力(S)”打分（1–5分）"),
        (["5", "5", "5", "6", "5", "5"], "“担保（Collateral）”的得分应为1到5之间的整数"),
        (["0", "5", "5", "5", "5", "5"], "“品德（Character）”的得分应为1到5之间的整数"),
        (["五", "5", "5", "5", "5", "5"], "的得分应为1到5之间的整数"),
        (["5", "5", "5"], "评级因素已变更，请刷新后重新评分"),
    ):
        before = table_snapshot()
        resp = rate(client, c, scores=scores)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 422 and message in body, scores
        assert table_snapshot() == before
    resp = rate(client, c, 20, note="备" * 201)
    assert resp.status_code == 422 and "备注不能超过200个字" in resp.get_data(as_text=True)
    # The entered scores stay selected in the re-rendered form.
    body = rate(client, c, scores=["4", "3", "5", "5", "5", ""]).get_data(as_text=True)
    assert '<option value="3" selected>' in body


def test_who_may_rate_and_scope(client, new_client, seg):
    mine = cust(seg.a, maintainer_id=seg.rm_a.id)
    other = cust(seg.b, name=f"乙{CANARY_B}")
    client.login("LA0001")  # lobby manager: sees nothing to rate with
    assert rate(client, mine, 20).status_code == 403
    rm = new_client()
    rm.login("RA0001")
    resp = rate(rm, other, 20)
    assert resp.status_code == 404 and CANARY_B not in resp.get_data(as_text=True)
    unmaintained = cust(seg.a)  # same outlet but not his customer (RM scope: own)
    assert rate(rm, unmaintained, 20).status_code == 404
    assert db.session.execute(select(func.count()).select_from(SegmentationRating)).scalar_one() == 0
    assert rm.post(f"/p/segmentation/rating/{mine.id}", {"score": scores_for(20)}, csrf=False).status_code == 400
    panel = client.get(f"/p/segmentation/panel/{mine.id}")
    assert panel.status_code == 404  # the lobby manager does not see the RM's customer at all


def test_branch_cut_offs_and_factors_are_per_branch(client, new_client, seg):
    a, b = cust(seg.a), cust(seg.b)
    client.login("BA0001")
    resp = client.post("/p/segmentation/fivec", {"factor": ["品德", "能力", "资本", "担保", "环境", "成长性(S)"],
                                                  "quality": "26", "prospect": "18"})
    assert resp.status_code == 302
    assert services.fivec_settings(seg.b1.id) == (["品德", "能力", "资本", "担保", "环境", "成长性(S)"], 26, 18)
    assert services.fivec_settings(seg.b2.id)[1:] == (24, 15)  # 乙分行 keeps the defaults
    head_a, head_b = new_client(), new_client()
    head_a.login("HA0001")
    head_b.login("HB0001")
    assert "成长性(S)" in head_a.get(f"/p/segmentation/panel/{a.id}").get_data(as_text=True)
    assert "成长性(S)" not in head_b.get(f"/p/segmentation/panel/{b.id}").get_data(as_text=True)
    rate(head_a, a, 25)  # B1: 25 < 26 → prospect
    rate(head_b, b, 25)  # B2: 25 ≥ 24 → quality
    recompute_as(seg.branch_admin1, seg.b1)
    recompute_as(seg.branch_admin2, seg.b2)
    assert grade_segments(a) == {"5c1s_prospect"} and grade_segments(b) == {"5c1s_quality"}
    # Custom cut-offs, boundaries: 26 quality, 18 prospect, 17 excluded.
    for total, grade in ((26, "5c1s_quality"), (18, "5c1s_prospect"), (17, "5c1s_excluded")):
        rate(head_a, a, total)
        recompute_as(seg.branch_admin1, seg.b1)
        assert grade_segments(a) == {grade}, total
    # Moving the cut-offs re-tags existing ratings at the next recompute (the grade follows the rule of the day).
    client.post("/p/segmentation/fivec", {"factor": ["品德", "能力", "资本", "担保", "环境", "成长性(S)"],
                                          "quality": "17", "prospect": "10"})
    recompute_as(seg.branch_admin1, seg.b1)
    assert grade_segments(a) == {"5c1s_quality"}
    panel = head_a.get(f"/p/segmentation/panel/{a.id}").get_data(as_text=True)
    assert "按现行标准为“优质客户”" in panel
    audit = db.session.execute(select(AuditLog).where(AuditLog.action == "segmentation.fivec_saved")).scalars().first()
    assert audit.detail["quality"] == 26


@pytest.mark.parametrize(("form", "message"), [
    ({"quality": "15", "prospect": "24"},
     "分档须满足：准客户下限高于6分，优质客户下限高于准客户下限且不超过30分（6个因素，每项1–5分，总分6–30分）"),
    ({"quality": "24", "prospect": "24"}, "优质客户下限高于准客户下限"),
    ({"quality": "31", "prospect": "15"}, "不超过30分"),
    ({"quality": "24", "prospect": "6"}, "准客户下限高于6分"),
    ({"quality": "二十四", "prospect": "15"}, "优质客户的总分下限应为整数"),
    ({"factor": ["品德"], "quality": "4", "prospect": "2"}, "评级因素应为2到8个"),
    ({"factor": ["品德", "品德", "能力"], "quality": "12", "prospect": "8"}, "评级因素的名称不能重复"),
    ({"factor": ["品德" * 11, "能力"], "quality": "8", "prospect": "5"}, "不能超过20个字"),
])
def test_fivec_settings_are_validated_in_order_422(client, seg, form, message):
    client.login("BA0001")
    before = table_snapshot()
    resp = client.post("/p/segmentation/fivec", {"factor": list(rules.DEFAULT_FACTORS), **form})
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert table_snapshot() == before


def test_four_factors_rescale_the_range(client, seg):
    c = cust(seg.a)
    client.login("BA0001")
    assert client.post("/p/segmentation/fivec", {"factor": ["品德", "能力", "资本", "服务潜力(S)", "", ""],
                                                  "quality": "16", "prospect": "10"}).status_code == 302
    head = client
    head.logout()
    head.login("HA0001")
    assert rate(head, c, scores=["4", "4", "4", "4"]).status_code == 200
    recompute_as(seg.branch_admin1, seg.b1)
    assert grade_segments(c) == {"5c1s_quality"}
    assert "/20" in head.get(f"/p/segmentation/panel/{c.id}").get_data(as_text=True)


def test_a_fivec_segment_saved_as_a_live_list_follows_new_ratings(client, seg):
    c1, c2 = cust(seg.a, name="甲优质"), cust(seg.a2, name="乙优质")
    client.login("HA0001")
    rate(client, c1, 27)
    recompute_as(seg.branch_admin1, seg.b1)
    with client.app.test_request_context():
        lst = services.save_list(seg.branch_admin1, seg.b1.id, "优质客户名单", "5c1s_quality", "live")
    assert lst.size == 1
    other = client
    other.logout()
    other.login("HA0002")
    rate(other, c2, 30)
    recompute_as(seg.branch_admin1, seg.b1)
    admin = client
    admin.logout()
    admin.login("BA0001")
    body = admin.get(f"/p/segmentation/lists/{lst.id}").get_data(as_text=True)
    assert "甲优质" in body and "乙优质" in body
    assert db.session.execute(select(func.count()).select_from(Customer).where(
        services.in_segment(seg.b1.id, "5c1s_quality"))).scalar_one() == 2


def test_fivec_rules_compile_to_one_uncorrelated_subquery():
    from sqlalchemy.dialects import sqlite

    expr = rules.fivec("prospect")({"fivec_quality": 24, "fivec_prospect": 15})
    sql = str(expr.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    assert "max(segmentation_rating.id)" in sql and "GROUP BY segmentation_rating.customer_id" in sql
    assert "segmentation_rating.total >= 15" in sql and "segmentation_rating.total < 24" in sql
