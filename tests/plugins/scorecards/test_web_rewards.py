"""The 绩效分配 page of a computed month period: BSC pool (T-44, uneven pools to the fen), process pay (T-45), head and
deputy 千分制 bonus (R-90), reward splits (T-42), loan RMs' EVA (T-40, T-41); entered amounts stored and audited, bad
amounts refused in Chinese, scope (404, no canary), permissions (403), locked periods read-only, plugin off (404)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from sqlalchemy import func, select

import plugins.scorecards.models_rewards  # noqa: F401 - the pool table belongs to the test schema
import plugins.scorecards.views_rewards  # noqa: F401 - the routes (until views.py imports the module)
from crm.extensions import db
from crm.models import AuditLog
from plugins.scorecards import services as s
from plugins.scorecards import services_rewards as sr
from plugins.scorecards.models_rewards import ScorecardPool
from tests.conftest import CANARY_B, make_user, table_snapshot
from tests.plugins.scorecards.conftest import as_user
from tests.plugins.scorecards.test_services import enter

P = "/p/scorecards"

# BSC perspectives (financial, customer, internal, learning) within each post's weights.
BSC_85 = {"financial": "35", "customer": "25", "internal": "15", "learning": "10"}  # corporate RM 40/30/20/10
BSC_90 = {"financial": "25", "customer": "35", "internal": "20", "learning": "10"}  # lobby manager 25/35/25/15
BSC_75 = {"financial": "15", "customer": "25", "internal": "25", "learning": "10"}  # teller 20/30/35/15
THOUSAND_900 = {"performance": "380", "customers": "190", "process": "140", "compliance.violations": "0",
                "compliance.findings": "0", "compliance.complaints": "0", "team": "40"}


def text(resp) -> str:
    return resp.get_data(as_text=True)


def month(sc):
    return as_user(sc.marketing, s.open_period, "month", date(2024, 11, 15))


def computed(sc, *, deputy: bool = False):
    """Outlet A: a corporate RM 85, the lobby manager 90, the teller 75 (the middle-grade RM has no BSC figures:
    not scored), the head 900 千分制 (and a deputy 900)."""
    period = month(sc)
    enter(sc, period, sc.rm_senior, BSC_85)
    enter(sc, period, sc.lobby_a, BSC_90)
    enter(sc, period, sc.teller_a, BSC_75)
    enter(sc, period, sc.head_a, THOUSAND_900)
    if deputy:
        sc.deputy_a = make_user("HD0001", "outlet_deputy", outlet=sc.a, name="网点甲副职")
        enter(sc, period, sc.deputy_a, THOUSAND_900)
    as_user(sc.marketing, s.compute_period, period)
    return period


def url(period, outlet=None, **args) -> str:
    params = {**({"outlet": outlet.id} if outlet else {}), **args}
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{P}/periods/{period.id}/rewards" + (f"?{query}" if query else "")


def save_pool(client, period, outlet, kind, amount):
    return client.post(f"{P}/periods/{period.id}/rewards/pool", {"outlet": str(outlet.id), "kind": kind,
                                                                  "amount": amount})


def shares(user, period, outlet):
    return sr.distribution(user, period, outlet.id)


def test_t44_bsc_pool_30000_splits_120_per_point(client, sc):
    period = computed(sc)
    client.login("MK0001")
    resp = save_pool(client, period, sc.a, "bsc", "30,000")
    assert resp.status_code == 302
    row = db.session.execute(select(ScorecardPool)).scalar_one()
    assert (row.kind, row.amount, row.outlet_id, row.period_id) == ("bsc", D("30000.00"), sc.a.id, period.id)
    page = text(client.get(url(period, sc.a)))
    assert "网点绩效工资总额：<span class=\"fw-bold text-body\">30,000.00 元" in page
    # T-44: 30,000 ÷ 250 = 120 per point → 10,200 / 10,800 / 9,000.
    assert "绩效工资30,000.00 元 ÷ 总分250 = 每分120.00 元" in page
    assert "高级客户经理甲 85分 → 10,200.00 元" in page and "甲大堂 90分 → 10,800.00 元" in page
    assert "甲柜员 75分 → 9,000.00 元" in page
    assert "30,000.00 元 ÷ 总分250 × 85分 = 10,200.00 元" in page
    # The middle-grade RM has a BSC row without figures: listed, no share.
    assert f'data-sc-unscored="{sc.rm_middle.id}"' in page and "不参与本次分配" in page
    d = as_user(sc.marketing, shares, period, sc.a)
    assert {r.user_id: r.amount for r in d.bsc.rows} == {sc.rm_senior.id: D("10200.00"), sc.lobby_a.id: D("10800.00"),
                                                         sc.teller_a.id: D("9000.00")}
    assert d.bsc.per_point == D(120)


def test_uneven_pool_adds_up_to_the_fen(client, sc):
    period = computed(sc)
    client.login("MK0001")
    assert save_pool(client, period, sc.a, "bsc", "1000.01").status_code == 302
    page = text(client.get(url(period, sc.a)))
    # 1,000.01 ÷ 250: 340.0034 / 360.0036 / 300.003 → cut to the fen, the one fen left to the largest remainder.
    assert "85分 → 340.00 元" in page and "90分 → 360.01 元" in page and "75分 → 300.00 元" in page
    assert "尾差按最大余额法" in page
    d = as_user(sc.marketing, shares, period, sc.a)
    assert sum(r.amount for r in d.bsc.rows) == D("1000.01")
    # One fen over three equal-looking shares: 0.01 over 85/90/75 → all to the largest remainder.
    assert save_pool(client, period, sc.a, "bsc", "0.01").status_code == 302
    d = as_user(sc.marketing, shares, period, sc.a)
    assert sorted(r.amount for r in d.bsc.rows) == [D("0.00"), D("0.00"), D("0.01")]
    assert sum(r.amount for r in d.bsc.rows) == D("0.01")


def test_t45_process_pay_3000_pro_rata_to_entered_scores(client, sc):
    period = computed(sc)
    client.login("MK0001")
    page = text(client.get(url(period, sc.a)))
    assert "每月从公共绩效工资中划出3,000.00 元作为过程管理工资" in page and "本网点没有包户包效过程考核或200分制考核结果" in page
    for user, score in ((sc.rm_senior, "40"), (sc.rm_middle, "30"), (sc.lobby_a, "20"), (sc.teller_a, "10")):
        resp = client.post(f"{P}/periods/{period.id}/rewards/person",
                           {"outlet": str(sc.a.id), "kind": "process", "user_id": str(user.id), "score": score})
        assert resp.status_code == 302
    d = as_user(sc.marketing, shares, period, sc.a)
    assert d.process_manual and d.process.pool == D(3000)
    # T-45: 40/30/20/10 → 1,200 / 900 / 600 / 300.
    assert {r.user_id: r.amount for r in d.process.rows} == {
        sc.rm_senior.id: D("1200.00"), sc.rm_middle.id: D("900.00"), sc.lobby_a.id: D("600.00"),
        sc.teller_a.id: D("300.00")}
    page = text(client.get(url(period, sc.a)))
    assert "绩效工资3,000.00 元 ÷ 总分100 = 每分30.00 元" in page and "40分 → 1,200.00 元" in page
    # A bad score: 422 in Chinese, nothing changed.
    before = table_snapshot()["scorecards_pool"]
    resp = client.post(f"{P}/periods/{period.id}/rewards/person",
                       {"outlet": str(sc.a.id), "kind": "process", "user_id": str(sc.teller_a.id), "score": "-1"})
    assert resp.status_code == 422 and "包户包效过程得分不能为负数" in text(resp)
    assert table_snapshot()["scorecards_pool"] == before


def test_t45_process_scores_come_from_the_200_point_results_when_there_are_any(client, sc):
    period = month(sc)
    scheme = next(x for x in s.current_schemes(sc.b1.id) if x.code == "002-200")
    as_user(sc.branch_admin1, s.save_scheme, scheme.id, {**scheme.definition, "posts": ["corporate_rm"]})
    parts = {"results": "60", "maintenance": "20", "compliance": "20", "learning": "10"}
    for user, process in ((sc.rm_senior, "30"), (sc.rm_middle, "10")):
        enter(sc, period, user, {**parts, "process": process})
    as_user(sc.marketing, s.compute_period, period)
    d = as_user(sc.marketing, shares, period, sc.a)
    assert not d.process_manual
    assert {r.user_id: r.amount for r in d.process.rows} == {sc.rm_senior.id: D("2250.00"),
                                                             sc.rm_middle.id: D("750.00")}
    client.login("MK0001")
    page = text(client.get(url(period, sc.a)))
    assert "过程得分取自：200分制考核中“包户包效过程”部分的得分。" in page and "data-sc-process-entry" not in page


def test_r90_head_and_deputy_coefficients_and_bonus(client, sc):
    period = computed(sc, deputy=True)
    client.login("MK0001")
    page = text(client.get(url(period, sc.a)))
    # Score 900 → 1.0 × 900 ÷ 1000 = 0.90; the deputy 0.90 × 90% = 0.81; no average bonus yet.
    assert "千分制得分900分：系数 = 基准系数1.00 × 900 ÷ 1000 = 0.90" in page
    assert "副职系数 = 0.90 × 90% = 0.81" in page and "录入网点人均奖金后计算绩效奖金" in page
    assert save_pool(client, period, sc.a, "outlet_average_bonus", "10000").status_code == 302
    page = text(client.get(url(period, sc.a)))
    assert "绩效奖金 = 网点人均奖金10,000.00 元 × 0.90 = 9,000.00 元" in page
    assert "绩效奖金 = 网点人均奖金10,000.00 元 × 0.81 = 8,100.00 元" in page
    d = as_user(sc.marketing, shares, period, sc.a)
    by = {r.user_id: r for r in d.leaders}
    assert (by[sc.head_a.id].coefficient, by[sc.head_a.id].bonus) == (D("0.9"), D("9000.00"))
    assert (by[sc.deputy_a.id].coefficient, by[sc.deputy_a.id].bonus, by[sc.deputy_a.id].deputy) == \
        (D("0.81"), D("8100.00"), True)


def test_t42_reward_calculator(client, sc):
    period = computed(sc)
    client.login("HA0001")  # the outlet head sees the page (calculator too), without the forms
    page = text(client.get(url(period, sc.a, individual="1000", joint="1000")))
    # T-42: individual 1,000 → 700 / 300; joint 1,000 → info 300 (210 + 90), execution 700 (490 + 210).
    assert "个人营销奖励1,000.00 元：70%发放给个人 = 700.00 元，其余30%计入绩效考核 = 300.00 元" in page
    assert "信息获取300.00 元（个人发放210.00 元，计入考核90.00 元）" in page
    assert "营销执行700.00 元（个人发放490.00 元，计入考核210.00 元）" in page
    assert "合计个人发放700.00 元，计入绩效考核300.00 元" in page
    assert "data-sc-pool-form" not in page
    page = text(client.get(url(period, sc.a, individual="一千")))
    assert "个人营销奖励须为数字（当前：一千）" in page
    calc = sr.reward_calculator(sc.b1.id, "0.01", "0.01")
    assert (calc.individual.paid, calc.individual.pool) == (D("0.01"), D("0.00"))
    assert sum(x.paid + x.pool for x in calc.joint.values()) == D("0.01")


EVA_SENIOR = {"stock_eva": "200000", "incr_eva": "100000", "deposits_avg": "8000000", "loans_avg": "10000000",
              "dl_base": "77", "dl_peer": "85", "eva_total": "150000", "ret_base": "1.2", "ret_peer": "1.4"}


def post_eva(client, period, user, values):
    return client.post(f"{P}/periods/{period.id}/rewards/person",
                       {"outlet": str(user.outlet_id), "kind": "eva", "user_id": str(user.id), **values})


def test_t40_t41_eva_performance_through_the_page(client, sc):
    period = computed(sc)
    client.login("MK0001")
    assert post_eva(client, period, sc.rm_senior, EVA_SENIOR).status_code == 302
    assert post_eva(client, period, sc.rm_middle, {**EVA_SENIOR, "eva_total": "100000"}).status_code == 302
    page = text(client.get(url(period, sc.a)))
    # 日均存贷比 80% below the peer 85%: 1 + (80% − 77%) × 10 = 1.30.
    assert "日均存贷比80.00%，基期77.00%，同类平均85.00%，低于同类平均：系数1 + 3.00个百分点 × 0.1 = 1.30" in page
    # T-40: R 1.5%, base 1.2%, peer 1.4% → 1.04; R 1.0% → 0.98.
    assert "综合回报率1.50%，基期1.20%，同类平均1.40%，高于同类平均：系数1 + (0.30个百分点 + 0.10个百分点) × 0.1 = 1.04" in page
    assert "综合回报率1.00%，基期1.20%，同类平均1.40%，低于同类平均：系数1 + -0.20个百分点 × 0.1 = 0.98" in page
    # T-41: (200,000 × 10% + 100,000 × 20%) × 1.30 × 1.04 = 54,080.
    assert "= 40,000.00 元；× 日均存贷比系数1.30 × 综合回报率系数1.04 = 54,080.00 元" in page
    assert "× 日均存贷比系数1.30 × 综合回报率系数0.98 = 50,960.00 元" in page
    d = as_user(sc.marketing, shares, period, sc.a)
    assert [r.performance.value for r in d.eva] == [D("54080.00"), D("50960.00")]
    # A partial entry shows what is still missing; a bad one is refused field by field, nothing written.
    assert post_eva(client, period, sc.rm_middle, {"stock_eva": "1"}).status_code == 302
    assert "尚未录入：增量资产EVA、日均存款（含关联客户）" in text(client.get(url(period, sc.a)))
    before = table_snapshot()["scorecards_pool"]
    resp = post_eva(client, period, sc.rm_senior, {**EVA_SENIOR, "loans_avg": "-1", "dl_base": "七十"})
    assert resp.status_code == 422
    assert "管户客户日均贷款不能为负数" in text(resp) and "基期日均存贷比（%）须为数字（当前：七十）" in text(resp)
    assert table_snapshot()["scorecards_pool"] == before
    # Zero loans: explained, no crash.
    assert post_eva(client, period, sc.rm_senior, {**EVA_SENIOR, "loans_avg": "0"}).status_code == 302
    assert "管户客户日均贷款为零，无法计算日均存贷比" in text(client.get(url(period, sc.a)))
    # EVA is for loan RMs only.
    resp = post_eva(client, period, sc.teller_a, EVA_SENIOR)
    assert resp.status_code == 422 and "该人员不在此网点或不适用此项" in text(resp)


def test_bad_amounts_are_refused_in_chinese_and_nothing_is_saved(client, sc):
    period = computed(sc)
    client.login("MK0001")
    before = table_snapshot()
    for amount, message in (("三万", "须为数字（当前：三万）"), ("-5", "不能为负数"), ("", "请填写网点绩效工资总额"),
                            ("1.005", "最多保留两位小数（到分）"), ("1e20", "数值超出范围"), ("NaN", "数值超出范围")):
        resp = save_pool(client, period, sc.a, "bsc", amount)
        assert resp.status_code == 422 and message in text(resp), amount
    after = table_snapshot()
    assert after["scorecards_pool"] == before["scorecards_pool"] == []
    assert after["audit_log"] == before["audit_log"]
    # Boundaries: 0 and two decimals are fine; "3万" is 30,000.
    assert save_pool(client, period, sc.a, "bsc", "0").status_code == 302
    assert save_pool(client, period, sc.a, "bsc", "3万").status_code == 302
    assert db.session.execute(select(ScorecardPool.amount)).scalar_one() == D("30000.00")
    assert client.post(f"{P}/periods/{period.id}/rewards/pool", {"outlet": str(sc.a.id), "kind": "salary",
                                                                  "amount": "1"}).status_code == 404


def test_each_saved_pool_is_audited(client, sc):
    period = computed(sc)
    client.login("MK0001")
    save_pool(client, period, sc.a, "bsc", "30000")
    save_pool(client, period, sc.a, "bsc", "31000")
    save_pool(client, period, sc.a, "outlet_average_bonus", "10000")
    rows = db.session.execute(select(AuditLog).where(AuditLog.action == "scorecards.pool_saved")
                              .order_by(AuditLog.id)).scalars().all()
    assert len(rows) == 3 and {r.target_type for r in rows} == {"scorecards_pool"}
    assert rows[1].detail["amount"] == "31000.00" and rows[1].detail["before"] == "30000.00"
    assert rows[2].detail["kind"] == "outlet_average_bonus" and rows[0].actor_id == sc.marketing.id
    assert db.session.execute(select(func.count()).select_from(ScorecardPool)).scalar_one() == 2


def test_scope_other_outlets_are_404_and_the_other_branch_never_shows(client, sc):
    period = computed(sc)
    client.login("HA0002")  # the head of outlet A2 sees A2 only
    page = text(client.get(url(period)))
    assert "甲二网点" in page and "高级客户经理甲" not in page
    assert client.get(url(period, sc.a)).status_code == 404
    assert client.get(f"{P}/periods/{period.id}/rewards?outlet=abc").status_code == 404
    client.logout()
    client.login("MK0001")
    assert client.get(url(period, sc.b)).status_code == 404
    assert save_pool(client, period, sc.b, "bsc", "100").status_code == 404
    page = text(client.get(url(period, sc.a)))
    assert CANARY_B not in page and "甲网点" in page
    client.logout()
    client.login("BA0002")  # the other 分行 does not see the period at all
    assert client.get(url(period, sc.b)).status_code == 404
    assert save_pool(client, period, sc.b, "bsc", "100").status_code == 404
    assert db.session.execute(select(func.count()).select_from(ScorecardPool)).scalar_one() == 0


def test_customer_managers_and_heads_cannot_save(client, sc):
    period = computed(sc)
    client.login("CR0001")
    assert save_pool(client, period, sc.a, "bsc", "30000").status_code == 403
    assert client.get(url(period)).status_code == 403  # staff see no outlet's distribution
    client.logout()
    client.login("HA0001")
    assert save_pool(client, period, sc.a, "bsc", "30000").status_code == 403
    assert client.post(f"{P}/periods/{period.id}/rewards/person", {"outlet": str(sc.a.id), "kind": "process",
                                                                    "user_id": str(sc.rm_a.id),
                                                                    "score": "5"}).status_code == 403
    assert db.session.execute(select(func.count()).select_from(ScorecardPool)).scalar_one() == 0


def test_locked_period_is_read_only(client, sc):
    period = computed(sc)
    client.login("MK0001")
    save_pool(client, period, sc.a, "bsc", "30000")
    as_user(sc.branch_head, s.review_period, period)
    as_user(sc.marketing, s.lock_period, period)
    page = text(client.get(url(period, sc.a)))
    assert "此考核期已锁定，绩效分配只读" in page and "data-sc-pool-form" not in page and 'name="score"' not in page
    assert "30,000.00 元" in page and "10,200.00 元" in page
    before = table_snapshot()["scorecards_pool"]
    resp = save_pool(client, period, sc.a, "bsc", "1")
    assert resp.status_code == 422 and "已锁定，不能修改" in text(resp)
    assert table_snapshot()["scorecards_pool"] == before


def test_plugin_disabled_answers_404(client, sc, enable_plugin):
    period = computed(sc)
    enable_plugin(sc.b1, "scorecards", False)
    client.login("MK0001")
    assert client.get(url(period, sc.a)).status_code == 404
    assert save_pool(client, period, sc.a, "bsc", "1").status_code == 404


def test_r93_process_pay_follows_the_crm_fed_process_scheme_when_anyone_scored(client, sc):
    """The 包户包效 process scheme (002-process: visits, contacts, logs, claims from the CRM) is the process score of
    R-93 when it scored anyone above 0: 3,000 split pro rata to its totals."""
    from datetime import datetime

    from crm.models import Activity, Customer
    from crm.timeutil import local_to_utc

    customer = Customer(outlet_id=sc.a.id, kind="personal", name="走访对象", deposit_balance=D("0"),
                        maintainer_id=sc.rm_senior.id)
    db.session.add(customer)
    db.session.flush()
    at = local_to_utc(datetime(2024, 11, 12, 10, 0))
    for user, visits in ((sc.rm_senior, 20), (sc.rm_middle, 10)):  # 30 and 15 of the 30 visit points (+ contacts)
        db.session.add_all([Activity(customer_id=customer.id, user_id=user.id, kind="visit", occurred_at=at,
                                     summary="走访") for _ in range(visits)])
    db.session.commit()
    period = computed(sc)
    d = as_user(sc.marketing, shares, period, sc.a)
    assert not d.process_manual and "包户包效营销过程考核总分" in d.process.source
    by_user = {r.user_id: r for r in d.process.rows}
    # 20 visits → 30 + 20 contacts of 60 → 6.67 = 36.67; 10 visits → 15 + 3.33 = 18.33 (lobby and teller: 0).
    assert (by_user[sc.rm_senior.id].score, by_user[sc.rm_middle.id].score) == (D("36.67"), D("18.33"))
    assert by_user[sc.rm_senior.id].amount == D("2000.18") and by_user[sc.rm_middle.id].amount == D("999.82")
    assert sum(r.amount for r in d.process.rows) == D("3000")
