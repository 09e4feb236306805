"""Scorecards: EVA coefficients and reward money (R-84–R-93, A-24, A-25; T-40–T-45)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from plugins.scorecards import rewards
from plugins.scorecards.rewards import (
    asset_eva_performance,
    coefficient,
    composite_return,
    deposit_loan_ratio,
    deputy_coefficient,
    explain_pool_split,
    head_coefficient,
    individual_reward,
    joint_reward,
    split_pool,
    split_process_pool,
    thousand_point_bonus,
)
from tests.plugins.scorecards.test_grades import float_tokens

D = Decimal


def test_no_floats_in_source():
    assert float_tokens(Path(rewards.__file__)) == []


# ---------------------------------------------------------------- EVA coefficients (R-85, R-86, T-40)

def test_coefficient_t40():
    above = coefficient(D("0.015"), D("0.012"), D("0.014"), label="综合回报率")
    assert above.value == D("1.04")
    assert above.explanation == ("综合回报率1.50%，基期1.20%，同类平均1.40%，高于同类平均："
                                 "系数1 + (0.30个百分点 + 0.10个百分点) × 0.1 = 1.04")
    below = coefficient(D("0.010"), D("0.012"), D("0.014"))
    assert below.value == D("0.98")
    assert "低于同类平均" in below.explanation and "-0.20个百分点" in below.explanation


def test_coefficient_brief_example():
    k = coefficient(D("0.65"), D("0.60"), D("0.62"), label="日均存贷比")
    assert k.value == D("1.80")
    assert k.explanation == ("日均存贷比65.00%，基期60.00%，同类平均62.00%，高于同类平均："
                             "系数1 + (5.00个百分点 + 3.00个百分点) × 0.1 = 1.80")


def test_coefficient_both_formulas_meet_at_peer_average():
    at = coefficient(D("0.014"), D("0.012"), D("0.014"))
    assert at.value == D("1.02") and "等于同类平均" in at.explanation
    just_above = coefficient(D("0.0141"), D("0.012"), D("0.014"))
    assert just_above.value == D("1") + (D("0.0021") + D("0.0001")) * 10
    just_below = coefficient(D("0.0139"), D("0.012"), D("0.014"))
    assert just_below.value == D("1") + D("0.0019") * 10


def test_coefficient_floor_and_scale():
    k = coefficient(D("0.40"), D("0.60"), D("0.62"))   # 1 + (-20 pp) × 0.1 = -1 → floored at 0
    assert k.value == D(0) and "低于下限，取0" in k.explanation
    assert coefficient(D("0.40"), D("0.60"), D("0.62"), floor=D("0.5")).value == D("0.5")
    assert coefficient(D("0.015"), D("0.012"), D("0.014"), scale=D(5)).value == D("1.02")
    k = coefficient(D("0.5"), D("0.6"), D("0.62"))       # exactly 0 is not below the floor
    assert k.value == D(0) and "低于下限" not in k.explanation


def test_coefficient_refuses_floats():
    with pytest.raises(TypeError):
        coefficient(0.015, D("0.012"), D("0.014"))  # type: ignore[arg-type]


def test_asset_eva_performance_t41():
    perf = asset_eva_performance(D(200_000), D(100_000), D("0.10"), D("0.20"), D("1.30"), D("1.04"))
    assert perf.value == D("54080.00")
    assert "40,000.00 元" in perf.explanation and "54,080.00 元" in perf.explanation


def test_asset_eva_performance_rounds_half_up_to_fen():
    # 0.125 × 1 × 1 → 0.13 (half up), 0.124 → 0.12
    assert asset_eva_performance(D("1.25"), D(0), D("0.1"), D(0), D(1), D(1)).value == D("0.13")
    assert asset_eva_performance(D("1.24"), D(0), D("0.1"), D(0), D(1), D(1)).value == D("0.12")
    with pytest.raises(ValueError, match="计提比例"):
        asset_eva_performance(D(1), D(1), D("1.01"), D(0), D(1), D(1))


def test_ratios():
    r = deposit_loan_ratio(D(6_500_000), D(10_000_000))
    assert r.value == D("0.65")
    assert r.explanation == "日均存贷比 = 日均存款6,500,000.00 元 ÷ 日均贷款10,000,000.00 元 = 65.00%"
    c = composite_return(D(150_000), D(10_000_000))
    assert c.value == D("0.015") and c.explanation.endswith("= 1.50%")
    assert composite_return(D(-50_000), D(10_000_000)).value == D("-0.005")


def test_ratios_zero_loans_chinese_error():
    with pytest.raises(ValueError, match="日均贷款为零，无法计算日均存贷比"):
        deposit_loan_ratio(D(1), D(0))
    with pytest.raises(ValueError, match="日均贷款为零，无法计算综合回报率"):
        composite_return(D(1), D(0))
    with pytest.raises(ValueError, match="不能为负数"):
        deposit_loan_ratio(D(-1), D(1))


def test_ratio_feeds_coefficient_end_to_end():
    r = deposit_loan_ratio(D(6_500_000), D(10_000_000)).value
    k_dl = coefficient(r, D("0.60"), D("0.62")).value
    k_ret = coefficient(composite_return(D(150_000), D(10_000_000)).value, D("0.012"), D("0.014")).value
    assert (k_dl, k_ret) == (D("1.80"), D("1.04"))


# ---------------------------------------------------------------- reward splits (R-88, R-89, T-42)

def test_individual_reward_t42():
    assert individual_reward(D(1000)) == (D("700.00"), D("300.00"))


def test_individual_reward_rounding_sums_to_whole():
    paid, pool = individual_reward(D("0.05"))          # 0.035 → 0.04 half up, pool 0.01
    assert (paid, pool) == (D("0.04"), D("0.01"))
    paid, pool = individual_reward(D("333.33"))        # 233.331 → 233.33
    assert (paid, pool) == (D("233.33"), D("100.00")) and paid + pool == D("333.33")
    assert individual_reward(D("100.005")) == (D("70.01"), D("30.00"))   # amount rounded to the fen first
    assert individual_reward(D(1000), D(1)) == (D("1000.00"), D("0.00"))
    with pytest.raises(ValueError, match="个人发放比例"):
        individual_reward(D(1000), D("1.01"))
    with pytest.raises(ValueError, match="不能为负数"):
        individual_reward(D(-1))


def test_joint_reward_t42():
    split = joint_reward(D(1000))
    assert split["info"] == (D("210.00"), D("90.00"))
    assert split["exec"] == (D("490.00"), D("210.00"))


def test_joint_reward_parts_sum_to_whole():
    split = joint_reward(D("0.11"))
    total = sum((p for s in split.values() for p in s), D(0))
    assert total == D("0.11")
    with pytest.raises(ValueError, match="比例之和应为100%"):
        joint_reward(D(1000), D("0.30"), D("0.60"))


# ---------------------------------------------------------------- 千分制

def test_head_and_deputy_coefficient():
    assert head_coefficient(D(900)) == D("0.9")
    assert head_coefficient(D(1000)) == D(1)
    assert head_coefficient(D(0)) == D(0)
    assert head_coefficient(D(900), D("1.2")) == D("1.08")
    assert deputy_coefficient(head_coefficient(D(900))) == D("0.81")
    with pytest.raises(ValueError, match="0到1000分之间"):
        head_coefficient(D(1001))
    with pytest.raises(ValueError, match="0到1000分之间"):
        head_coefficient(D(-1))
    assert head_coefficient(D("999.5")) == D("0.9995")


def test_thousand_point_bonus():
    head = thousand_point_bonus(D(20_000), D(900))
    assert head.value == D("18000.00") and "18,000.00 元" in head.explanation
    deputy = thousand_point_bonus(D(20_000), D(900), deputy=True)
    assert deputy.value == D("16200.00") and "90%" in deputy.explanation


# ---------------------------------------------------------------- pools (R-91, R-93, T-44, T-45)

def test_split_pool_t44():
    shares = split_pool(D(30_000), {"对公客户经理": D(85), "大堂经理": D(90), "柜员": D(75)})
    assert shares == {"对公客户经理": D("10200.00"), "大堂经理": D("10800.00"), "柜员": D("9000.00")}
    text = explain_pool_split(D(30_000), {"a": D(85), "b": D(90), "c": D(75)}, {"a": "张三"})
    assert text.startswith("绩效工资30,000.00 元 ÷ 总分250 = 每分120.00 元：张三 85分 → 10,200.00 元")


def test_split_process_pool_t45():
    assert split_process_pool({1: D(40), 2: D(30), 3: D(20), 4: D(10)}) == {
        1: D("1200.00"), 2: D("900.00"), 3: D("600.00"), 4: D("300.00")}


def test_split_pool_largest_remainder():
    shares = split_pool(D(100), {"a": D(1), "b": D(1), "c": D(1)})     # 33.333… each, 1 fen left
    assert shares == {"a": D("33.34"), "b": D("33.33"), "c": D("33.33")}   # tie → earlier key
    shares = split_pool(D(10), {"a": D(1), "b": D(2)})                   # 3.333…, 6.666…
    assert shares == {"a": D("3.33"), "b": D("6.67")}
    shares = split_pool(D("0.05"), {k: D(1) for k in "abcdef"})          # fewer fen than people
    assert sum(shares.values()) == D("0.05") and sorted(shares.values()) == [D(0)] + [D("0.01")] * 5
    shares = split_pool(D(1000), {"a": D(7), "b": D(0), "c": D(3)})
    assert shares == {"a": D("700.00"), "b": D("0.00"), "c": D("300.00")}
    assert "最大余额法" in explain_pool_split(D(100), {"a": D(1), "b": D(1), "c": D(1)})


def test_split_pool_errors():
    with pytest.raises(ValueError, match="得分合计为零"):
        split_pool(D(100), {"a": D(0), "b": D(0)})
    with pytest.raises(ValueError, match="没有参与分配的人员"):
        split_pool(D(100), {})
    with pytest.raises(ValueError, match="得分不能为负数"):
        split_pool(D(100), {"a": D(-1), "b": D(2)})
