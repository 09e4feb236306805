"""The per-post tier quota table on the segmentation page (R-08, R-14, A-04, S-12): a grid of claim-order posts ×
the 分行's tiers, validated in Chinese, audited, per 分行; the S-12 suggestion only fills the form."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog
from plugins.segmentation import services
from plugins.segmentation.models import SegmentationQuota
from tests.conftest import make_user, table_snapshot
from tests.plugins.segmentation.conftest import cust

# Grid cells are q-<post>-<column index>; the columns are the tiers the form was drawn with (top first).
GRID = {"tier_code": ["T1", "T0"], "q-outlet_head-0": "20", "q-corporate_rm-0": "50", "q-personal_rm-0": "80",
        "q-back_office-1": "200", "q-low_counter_teller-1": "0", "q-lobby_manager-1": ""}


def stored(branch) -> dict[tuple[str, str], int]:
    return {(r.tier, r.post): r.quota for r in db.session.execute(select(SegmentationQuota).where(
        SegmentationQuota.branch_id == branch.id)).scalars()}


def test_branch_admin_saves_the_grid_blank_and_zero_mean_none(client, seg):
    client.login("BA0001")
    page = client.get("/p/segmentation/").get_data(as_text=True)
    assert "各岗位包户配额" in page and 'name="q-outlet_head-0"' in page and 'name="q-back_office-1"' in page
    # Rows in R-07 claim order.
    order = [page.index(f'name="q-{p}-0"') for p in ("outlet_head", "corporate_rm", "low_counter_teller",
                                                     "supervisor", "personal_rm", "lobby_manager",
                                                     "high_counter_teller", "back_office")]
    assert order == sorted(order)
    assert client.post("/p/segmentation/quotas", GRID).status_code == 302
    assert stored(seg.b1) == {("T1", "outlet_head"): 20, ("T1", "corporate_rm"): 50, ("T1", "personal_rm"): 80,
                              ("T0", "back_office"): 200}
    assert services.quotas(seg.b1.id) == {("T1", "outlet_head"): 20, ("T1", "corporate_rm"): 50,
                                          ("T1", "personal_rm"): 80, ("T0", "back_office"): 200}
    assert stored(seg.b2) == {}  # 乙分行 untouched
    audit = db.session.execute(select(AuditLog).where(AuditLog.action == "segmentation.quotas_saved")).scalar_one()
    assert audit.actor_id == seg.branch_admin1.id and audit.detail["quotas"]["T1/outlet_head"] == 20
    page = client.get("/p/segmentation/").get_data(as_text=True)
    assert 'name="q-personal_rm-0" value="80"' in page and 'name="q-low_counter_teller-1" value=""' in page
    # Cleared entirely: no quotas at all (allocation is free again).
    client.post("/p/segmentation/quotas", {"tier_code": ["T1", "T0"]})
    assert stored(seg.b1) == {} and services.quotas(seg.b1.id) == {}


def test_bad_cells_and_a_changed_ladder_are_422_in_chinese_and_change_nothing(client, seg):
    client.login("BA0001")
    client.post("/p/segmentation/quotas", GRID)
    for form, message in (
        ({**GRID, "q-supervisor-0": "三十"}, "“主管 × T1”的配额应为0到10,000之间的整数，不能填“三十”"),
        ({**GRID, "q-supervisor-0": "-5"}, "“主管 × T1”的配额应为0到10,000之间的整数"),
        ({**GRID, "q-supervisor-0": "2.5"}, "不能填“2.5”"),
        ({**GRID, "q-supervisor-0": "10001"}, "配额应为0到10,000之间的整数"),
        ({**GRID, "tier_code": ["T2", "T1", "T0"]}, "分层阶梯已变更，请刷新页面后重新填写配额"),
    ):
        before = table_snapshot()
        resp = client.post("/p/segmentation/quotas", form)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 422 and message in body, form
        assert table_snapshot() == before
    # The bad value stays in the form for correction.
    resp = client.post("/p/segmentation/quotas", {**GRID, "q-supervisor-0": "三十"})
    assert 'name="q-supervisor-0" value="三十"' in resp.get_data(as_text=True)
    assert client.post("/p/segmentation/quotas", {**GRID, "q-supervisor-0": "10000"}).status_code == 302


def test_quota_columns_follow_the_ladder_and_stale_tiers_are_ignored(client, seg):
    client.login("BA0001")
    client.post("/p/segmentation/quotas", GRID)
    client.post("/p/segmentation/ladder", {"basis": "deposit", "code": ["T2", "T1", "T0"], "name": ["", "", ""],
                                           "min_amount": ["200000", "50000", ""]})
    page = client.get("/p/segmentation/").get_data(as_text=True)
    assert 'name="q-outlet_head-2"' in page and 'name="q-outlet_head-1" value="20"' in page  # T1 is column 1 now
    client.post("/p/segmentation/ladder", {"basis": "deposit", "code": ["A", "B"], "name": ["", ""],
                                           "min_amount": ["50000", ""]})
    assert services.quotas(seg.b1.id) == {}  # no tier of the ladder has a quota any more


def test_suggestion_fills_the_form_only_and_follows_s12_seniority(client, seg):
    for deposit in [60000] * 12 + [100] * 30:
        cust(seg.a, deposit=deposit, tier="T1" if deposit >= 50000 else "T0")
    make_user("CA0001", "corporate_rm", outlet=seg.a)
    make_user("BO0001", "back_office", outlet=seg.a)
    client.login("BA0001")
    before = table_snapshot()
    resp = client.get("/p/segmentation/quotas/suggest", headers={"HX-Request": "true"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "已填入建议配额（尚未保存）" in body and "<html" not in body
    assert table_snapshot() == before  # a suggestion is never saved by itself
    grid = services.suggested_quotas(seg.branch_admin1, seg.b1.id)
    # Head, corporate RMs, supervisors and personal RMs take T1; counters, lobby and back office T0.
    assert {p for (t, p) in grid if t == "T1"} == {"outlet_head", "corporate_rm", "supervisor", "personal_rm"}
    assert {p for (t, p) in grid if t == "T0"} == {"low_counter_teller", "lobby_manager", "high_counter_teller",
                                                   "back_office"}
    # B1's active T1 staff: 2 outlet heads + 1 corporate RM (甲二) + 1 new + 1 personal RM = 5 → 12/5 → 5 each;
    # T0 staff: 1 low-counter teller, 1 lobby manager, 1 back office = 3 → 30/3 = 10 each.
    assert grid[("T1", "outlet_head")] == 5 and grid[("T0", "back_office")] == 10
    assert 'name="q-outlet_head-0" value="5"' in body and 'name="q-back_office-1" value="10"' in body
    # A three-rung ladder: supervisors and personal RMs take the middle tier.
    client.post("/p/segmentation/ladder", {"basis": "deposit", "code": ["T2", "T1", "T0"], "name": ["", "", ""],
                                           "min_amount": ["200000", "50000", ""]})
    grid = services.suggested_quotas(seg.branch_admin1, seg.b1.id)
    assert {p for (t, p) in grid if t == "T1"} == {"supervisor", "personal_rm"}
    assert {p for (t, p) in grid if t == "T2"} == {"outlet_head", "corporate_rm"}


def test_outlet_head_sees_the_quotas_read_only_and_cannot_save(client, seg):
    new = client
    new.login("BA0001")
    new.post("/p/segmentation/quotas", GRID)
    new.logout()
    client.login("HA0001")
    page = client.get("/p/segmentation/").get_data(as_text=True)
    assert "各岗位包户配额" in page and 'name="q-outlet_head-0"' not in page and "填入建议配额" not in page
    assert client.post("/p/segmentation/quotas", GRID).status_code == 403
    assert client.get("/p/segmentation/quotas/suggest").status_code == 403
    assert db.session.execute(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "segmentation.quotas_saved")).scalar_one() == 1


def test_quota_and_fivec_forms_need_the_csrf_token(client, seg):
    client.login("BA0001")
    fivec = {"factor": ["品德", "能力", "资本", "担保", "环境", "服务潜力(S)"], "quality": "25", "prospect": "16"}
    for url, form in (("/p/segmentation/quotas", GRID), ("/p/segmentation/fivec", fivec)):
        before = table_snapshot()
        resp = client.post(url, form, csrf=False)
        assert resp.status_code == 400 and "安全校验未通过" in resp.get_data(as_text=True), url
        assert table_snapshot() == before
        assert client.post(url, form).status_code == 302  # with the token it works
