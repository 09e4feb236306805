"""Scorecards: bancassurance KPIs, targets, headcount and staffing (R-95–R-98, A-13, A-14; T-48, T-49, T-62)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from plugins.scorecards import banca
from plugins.scorecards.banca import (
    Policy,
    bank_staffing_alerts,
    counts,
    headcount_alerts,
    kpis,
    staffing_alert,
    target_progress,
)
from tests.plugins.scorecards.test_grades import float_tokens

D = Decimal
KMH = {"kaimenhong_start": date(2024, 1, 1), "kaimenhong_end": date(2024, 3, 31)}  # window assumed


def test_no_floats_in_source():
    assert float_tokens(Path(banca.__file__)) == []


def pol(pid, seller, mode="single", premium="100000", fyc="1000", signed=date(2024, 2, 1), status="active",
        changed=None, outlet=1):
    return Policy(pid, outlet, seller, mode, D(premium), D(fyc), signed, status, changed)


def test_policy_validation():
    with pytest.raises(ValueError, match="缴费方式无效"):
        pol(1, 1, mode="monthly")
    with pytest.raises(ValueError, match="状态无效"):
        pol(1, 1, status="lost")
    with pytest.raises(ValueError, match="保费"):
        pol(1, 1, premium="-1")


def test_counts_rules():
    assert counts(pol(1, 1)) is True
    assert counts(pol(1, 1, status="cancelled_cooling", changed=date(2024, 2, 5))) is False
    assert counts(pol(1, 1, status="cancelled_cooling")) is False                       # no date: never counts
    assert counts(pol(1, 1, status="surrendered", changed=date(2024, 6, 1))) is True    # 退保 counts by default
    assert counts(pol(1, 1, status="surrendered"), count_surrendered=False) is False
    cancelled = pol(1, 1, status="cancelled_cooling", changed=date(2024, 4, 10))
    assert counts(cancelled, date(2024, 4, 9)) is True     # not yet known on that date
    assert counts(cancelled, date(2024, 4, 10)) is False
    assert counts(pol(1, 1), date(2024, 1, 31)) is False   # signed later


# ---------------------------------------------------------------- KPIs

def sample_policies():
    return [
        pol(1, 10, premium="200000", fyc="2000"),
        pol(2, 10, mode="regular", premium="50000", fyc="5000"),
        pol(3, 11, premium="100000", fyc="1000", status="surrendered", changed=date(2024, 5, 1)),
        pol(4, 12, premium="500000", fyc="5000", status="cancelled_cooling", changed=date(2024, 2, 10)),
    ]


def test_kpis_standard_definitions():
    k = kpis(sample_policies(), rms_on_roll=4, attendance_days=80, required_days=88, contacts=1600,
             working_days=22, outlets=2)
    assert (k.counted_policies, k.excluded_policies) == (3, 1)
    assert k.attendance_rate.value == D("0.9091") and k.attendance_rate.display == "90.91%"
    assert k.producing_rate.value == D("0.5")          # sellers 10 and 11; 12's only policy is 契撤
    assert k.producing_rate.explanation == "举绩率 = 出单2人 ÷ 在册4人 = 50.00%"
    assert k.daily_visits.value == D("18.18")          # 1600 ÷ (4 × 22)
    assert k.policies_per_rm.value == D("0.75")
    assert k.premium_per_rm.value == D("87500.00")     # 350,000 ÷ 4
    assert k.fyc_per_rm.value == D("2000.00")          # 8,000 ÷ 4
    assert k.premium_per_outlet.value == D("175000.00")
    assert k.premium_per_outlet.explanation == "网均产能 = 保费350,000.00 元 ÷ 2个网点 = 175,000.00 元"
    assert all(kpi.formula for kpi in k.all()) and len(k.all()) == 7


def test_kpis_without_surrenders():
    k = kpis(sample_policies(), rms_on_roll=4, attendance_days=80, required_days=88, contacts=1600,
             working_days=22, outlets=2, count_surrendered=False)
    assert k.counted_policies == 2 and k.producing_rate.value == D("0.25")


def test_kpis_zero_denominators_give_none_with_reason():
    k = kpis([], rms_on_roll=0, attendance_days=0, required_days=0, contacts=0, working_days=0, outlets=0)
    for kpi in k.all():
        assert kpi.value is None and kpi.display == "—" and "为零" in kpi.explanation
    assert k.producing_rate.explanation == "在册客户经理人数为零，无法计算举绩率"
    k = kpis([], rms_on_roll=3, attendance_days=0, required_days=0, contacts=5, working_days=0, outlets=1)
    assert k.daily_visits.explanation == "工作日数为零，无法计算日访量"
    with pytest.raises(ValueError, match="非负整数"):
        kpis([], rms_on_roll=-1, attendance_days=0, required_days=0, contacts=0, working_days=0, outlets=0)


# ---------------------------------------------------------------- targets (R-96, A-14, T-62)

def test_target_progress_defaults_and_kaimenhong_counts_toward_year():
    ps = [pol(1, 1, premium="20000000", signed=date(2024, 2, 1)),
          pol(2, 1, premium="10000000", signed=date(2024, 6, 1)),
          pol(3, 1, mode="regular", premium="3500000", signed=date(2024, 3, 31))]
    p = target_progress(ps, as_of=date(2024, 12, 31), **KMH)
    single_kmh, single_year = p[("single", "kaimenhong")], p[("single", "year")]
    assert (single_kmh.target, single_kmh.actual, single_kmh.rate) == (D(50_000_000), D(20_000_000), D("0.4"))
    assert single_kmh.remaining == D(30_000_000)
    assert (single_year.target, single_year.actual) == (D(150_000_000), D(30_000_000))
    assert single_year.rate == D("0.2")
    regular_kmh = p[("regular", "kaimenhong")]
    assert (regular_kmh.target, regular_kmh.actual, regular_kmh.rate, regular_kmh.remaining) == (
        D(3_500_000), D(3_500_000), D(1), D(0))
    assert p[("regular", "year")].target == D(12_000_000)
    assert single_kmh.explanation == ("趸交开门红（2024-01-01至2024-03-31，截至2024-12-31）：已完成2,000.00 万元，"
                                      "目标5,000.00 万元，完成率40.00%，尚差3,000.00 万元")


def test_target_progress_t62_cancellation_after_kaimenhong():
    ps = [pol(1, 1, premium="10000000", signed=date(2024, 2, 1)),
          pol(2, 1, premium="500000", signed=date(2024, 3, 25), status="cancelled_cooling",
              changed=date(2024, 4, 2))]
    before = target_progress(ps, as_of=date(2024, 3, 31), **KMH)[("single", "kaimenhong")]
    after = target_progress(ps, as_of=date(2024, 4, 2), **KMH)[("single", "kaimenhong")]
    assert before.actual == D(10_500_000)
    assert after.actual == D(10_000_000)
    assert before.actual - after.actual == D(500_000)


def test_target_progress_window_boundaries_and_as_of():
    ps = [pol(1, 1, premium="1", signed=date(2023, 12, 31)), pol(2, 1, premium="2", signed=date(2024, 1, 1)),
          pol(3, 1, premium="4", signed=date(2024, 3, 31)), pol(4, 1, premium="8", signed=date(2024, 4, 1)),
          pol(5, 1, premium="16", signed=date(2024, 12, 31)), pol(6, 1, premium="32", signed=date(2025, 1, 1))]
    p = target_progress(ps, as_of=date(2025, 6, 30), **KMH)
    assert p[("single", "kaimenhong")].actual == D(6)
    assert p[("single", "year")].actual == D(30)
    assert target_progress(ps, as_of=date(2024, 3, 30), **KMH)[("single", "kaimenhong")].actual == D(2)


def test_target_progress_custom_targets_and_errors():
    p = target_progress([], as_of=date(2024, 1, 1), targets={("single", "kaimenhong"): D(0)}, **KMH)
    assert p[("single", "kaimenhong")].rate is None and "目标为零" in p[("single", "kaimenhong")].explanation
    with pytest.raises(ValueError, match="结束日期不能早于开始日期"):
        target_progress([], as_of=date(2024, 1, 1), kaimenhong_start=date(2024, 3, 1),
                        kaimenhong_end=date(2024, 2, 1))
    with pytest.raises(ValueError, match="同一年度"):
        target_progress([], as_of=date(2024, 1, 1), kaimenhong_start=date(2023, 12, 1),
                        kaimenhong_end=date(2024, 2, 1))


# ---------------------------------------------------------------- headcount and staffing

def test_headcount_t48():
    r = headcount_alerts(4, 12, 48)
    assert (r.rms_per_dept_manager, r.dept_managers_per_district, r.alerts) == (D(4), D(3), [])


def test_headcount_below_target_and_wide_span():
    r = headcount_alerts(3, 12, 60)
    assert r.alerts == ["营业区经理3人，目标4人，缺1人", "每名营业部经理带5.00名客户经理，超过标准4名",
                        "每名营业区经理带4.00名营业部经理，超过标准3名"]
    r = headcount_alerts(4, 12, 47)
    assert r.alerts == ["客户经理47人，目标48人，缺1人"]
    r = headcount_alerts(4, 12, 49)
    assert r.alerts == ["每名营业部经理带4.08名客户经理，超过标准4名"]
    r = headcount_alerts(0, 0, 5)
    assert r.rms_per_dept_manager is None and "没有营业部经理，客户经理无人带领" in r.alerts


def test_staffing_t49():
    s = staffing_alert(70, 60)
    assert (s.per_outlet, s.required, s.shortfall, s.alert) == (D("0.86"), 140, 80, True)
    assert s.message == "70个网点、有效人力60人，网均0.86人，低于每网点2人的标准，需140人，缺80人"
    assert staffing_alert(70, 140).alert is False
    assert staffing_alert(70, 139).alert is True
    assert staffing_alert(70, 141).shortfall == 0
    assert staffing_alert(0, 5).alert is False


def test_bank_staffing_norms():
    alerts = bank_staffing_alerts([("二级分行", "settlement_dept", 2), ("城东支行", "corporate_outlet", 0),
                                   ("城西支行", "combined_outlet", 1), ("某分行", "settlement_dept", 3),
                                   ("社区网点", "personal_outlet", 0)])
    assert [(a.unit, a.required, a.rm_count) for a in alerts] == [("二级分行", 3, 2), ("城东支行", 1, 0)]
    assert alerts[0].message == "二级分行（结算与现金管理部）配备客户经理2人，应不少于3人，缺1人"
    assert bank_staffing_alerts([("x", "settlement_dept", 4)]) == []
