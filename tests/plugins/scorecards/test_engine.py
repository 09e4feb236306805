"""Scorecard engine: spec worked examples T-30–T-37, T-61 and the boundaries of R-78–R-83 (pure, no database)."""

from __future__ import annotations

import copy
import io
import json
import tokenize
from decimal import Decimal as D
from pathlib import Path

import pytest

from plugins.scorecards import default_schemes as ds
from plugins.scorecards import engine
from plugins.scorecards.engine import (
    BadActualError,
    InvalidSchemeError,
    MissingActualsError,
    SchemeError,
    fmt_num,
    fmt_val,
    required_inputs,
    scheme_fingerprint,
    score_item,
    score_scheme,
    validate_scheme,
)


def item_of(scheme: dict, code: str) -> dict:
    return next(i for i in scheme["items"] if i["code"] == code)


HEAD = ds.HEAD_KPI
DEPOSITS = item_of(HEAD, "deposits")
NPL = item_of(HEAD, "npl")
COLLECTION = item_of(HEAD, "collection")
INCOME = item_of(HEAD, "income")


def head_actuals(dep: str, npl: str, coll: str, inc: str, **extra: object) -> dict:
    return {"deposits": D(dep), "npl": D(npl), "collection": D(coll), "income": D(inc), "major_accident": False,
            **extra}


def rm_actuals(dep: str, coll: str = "99.5", accounts: int = 10, conduct: str = "0", **extra: object) -> dict:
    return {"deposits": D(dep), "npl": D(0), "collection": D(coll), "accounts": accounts,
            "conduct_deductions": D(conduct), "major_violation": False, **extra}


def months(*values: str) -> list[dict]:
    return [{"period": f"2024-{n:02d}", "value": D(v), "base": D(100)} for n, v in enumerate(values, 1)]


@pytest.fixture(autouse=True)
def _defaults_stay_untouched():
    """Scoring and the tests' edits must never change the shipped default schemes."""
    before = [scheme_fingerprint(s) for s in ds.DEFAULT_SCHEMES]
    yield
    assert [scheme_fingerprint(s) for s in ds.DEFAULT_SCHEMES] == before


RM_CTX = {"series": {"monthly_deposits": months("100", "100", "100")}}


# --- R-78 deposits (T-30) -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("growth", "points"), [
    ("33", "46"),     # T-30: +6
    ("45", "60"),     # T-30: +30 capped at +20
    ("12", "4"),      # T-30: −36
    ("5", "0"),       # T-30: −50 floored at −40
    ("30.9", "40"),   # T-30: partial step ignored
    ("40", "60"),     # exactly at the cap (+20)
    ("39.9", "58"),   # one step below the cap
    ("41", "60"),     # one step above the cap
    ("10", "0"),      # exactly at the floor (−40)
    ("11", "2"),      # one step above the floor
    ("9", "0"),       # one step below the floor
    ("29.9", "40"),   # partial step below the target truncates toward zero
    ("29", "38"),
])
def test_t30_deposit_steps(growth: str, points: str) -> None:
    assert score_item(DEPOSITS, D(growth)).points == D(points)


def test_t30_explanation_texts() -> None:
    assert score_item(DEPOSITS, D(33)).explanation == "新增存款日均增长33%，目标30%，每1个百分点2分：+6，本项46分"
    assert score_item(DEPOSITS, D(5)).explanation == (
        "新增存款日均增长5%，目标30%，每1个百分点2分：\u221250，超过下限\u221240，本项0分")
    assert score_item(DEPOSITS, D(45)).explanation == (
        "新增存款日均增长45%，目标30%，每1个百分点2分：+30，超过上限+20，本项60分")
    assert score_item(DEPOSITS, D("30.9")).explanation == "新增存款日均增长30.9%，目标30%，每1个百分点2分：0，本项40分"
    assert score_item(DEPOSITS, D(33)).line() == "新增存款日均增长33%，目标30%，每1个百分点2分：+6，本项46分（R-78）"


def test_step_flags() -> None:
    assert score_item(DEPOSITS, D(45)).flags == ("capped",)
    assert score_item(DEPOSITS, D(5)).flags == ("floored",)
    assert score_item(DEPOSITS, D(33)).flags == ()


# --- R-78 intermediate income (T-32) and collection rate -------------------------------------------------------------

@pytest.mark.parametrize(("growth", "points"), [
    ("26", "13"),   # T-32: +3
    ("35", "15"),   # T-32: +7 capped +5
    ("11", "6"),    # T-32: trunc(−4.5) = −4
    ("-5", "0"),    # T-32: trunc(−12.5) = −12 floored −10
    ("30", "15"), ("28", "14"), ("32", "15"),   # cap boundary: +5 exactly, one step below, one above
    ("0", "0"), ("2", "1"), ("-2", "0"),        # floor boundary: −10 exactly, one step above, one below
])
def test_t32_intermediate_income(growth: str, points: str) -> None:
    assert score_item(INCOME, D(growth)).points == D(points)


def test_t32_explanation_negative() -> None:
    assert score_item(INCOME, D(11)).explanation == "中间收入增长11%，目标20%，每2个百分点1分：\u22124，本项6分"


@pytest.mark.parametrize(("rate", "points"), [
    ("99.5", "20"), ("100", "30"), ("99.4", "18"), ("98.5", "0"),
    ("99.8", "26"),                 # T-34
    ("99.3", "16"),                 # T-34
    ("99.9", "28"), ("100.1", "30"),
    ("98.6", "2"), ("98.4", "0"),
    ("99.45", "20"),                # partial step toward zero
])
def test_r78_collection_rate(rate: str, points: str) -> None:
    assert score_item(COLLECTION, D(rate)).points == D(points)


def test_collection_explanation() -> None:
    assert score_item(COLLECTION, D("99.8")).explanation == (
        "收贷收息率99.8%，目标99.5%，每0.1个百分点2分：+6，本项26分")


# --- R-78 NPL bands (A-19) -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("npl", "points"), [
    ("0", "30"), ("0.01", "20"), ("0.99", "20"), ("1", "10"), ("5", "10"), ("5.01", "0"),
])
def test_npl_default_bands(npl: str, points: str) -> None:
    assert score_item(NPL, D(npl)).points == D(points)


def test_npl_explanations() -> None:
    assert score_item(NPL, D("0.6")).explanation == "不良率0.6%，在0（不含）至1%（不含）之间：本项20分"
    assert score_item(NPL, D(0)).explanation == "不良率0%，等于0：本项30分"
    assert score_item(NPL, D(3)).explanation == "不良率3%，在1（含）至5%（含）之间：本项10分"
    assert score_item(NPL, D(6)).explanation == "不良率6%，超过5%：本项0分"


def test_npl_changed_operators_move_the_boundary() -> None:
    edited = copy.deepcopy(NPL)
    edited["bands"][1] = {"gt": "0", "le": "1", "points": "20"}    # "1%以下" read as ≤ 1%
    edited["bands"][2] = {"gt": "1", "le": "5", "points": "10"}
    scheme = copy.deepcopy(HEAD)
    scheme["items"][1] = edited
    assert validate_scheme(scheme) == []
    assert score_item(edited, D(1)).points == D(20)
    assert score_item(edited, D("1.01")).points == D(10)
    assert score_item(edited, D(5)).points == D(10)
    assert score_item(edited, D("5.01")).points == D(0)
    edited["bands"][2] = {"gt": "1", "lt": "5", "points": "10"}
    edited["bands"][3] = {"ge": "5", "points": "0"}
    assert validate_scheme(scheme) == []
    assert score_item(edited, D(5)).points == D(0)
    assert score_item(edited, D("4.99")).points == D(10)


def test_band_overlap_and_gap_are_reported() -> None:
    scheme = copy.deepcopy(HEAD)
    scheme["items"][1]["bands"][1] = {"gt": "0", "le": "1", "points": "20"}   # third band still starts at ≥ 1
    assert validate_scheme(scheme) == ["考核项目“贷款不良率”第2档与第3档重叠（1%同时落在两个档次）"]
    scheme = copy.deepcopy(HEAD)
    scheme["items"][1]["bands"][2] = {"gt": "1", "le": "5", "points": "10"}   # nobody takes exactly 1%
    assert validate_scheme(scheme) == ["考核项目“贷款不良率”的计分档次有空档：1%不在任何档次内"]
    scheme = copy.deepcopy(HEAD)
    scheme["items"][1]["bands"][2] = {"ge": "2", "le": "5", "points": "10"}
    assert validate_scheme(scheme) == ["考核项目“贷款不良率”的计分档次有空档：1%至2%之间不在任何档次内"]
    scheme = copy.deepcopy(HEAD)
    del scheme["items"][1]["bands"][3]
    assert validate_scheme(scheme) == ["考核项目“贷款不良率”的计分档次有空档：超过5%的值不在任何档次内"]
    scheme = copy.deepcopy(HEAD)
    scheme["items"][1]["bands"][0] = {"eq": "0", "points": "30", "lte": "1"}
    assert validate_scheme(scheme) == ["考核项目“贷款不良率”第1档有未知的比较方式：lte（可选 eq/lt/le/gt/ge）"]


def test_band_value_outside_all_bands_is_an_error() -> None:
    with pytest.raises(BadActualError, match="不在任何计分档次内"):
        score_item(NPL, D(-1))


# --- R-78 totals and R-80 warnings (T-34, T-35) ----------------------------------------------------------------------

def test_t34_total_115_keeps_grade() -> None:
    result = score_scheme(HEAD, head_actuals("33", "0", "99.8", "26"), context={"history": []})
    assert [i.points for i in result.items] == [D(46), D(30), D(26), D(13)]
    assert result.total == D(115)
    assert result.action == "keep"
    assert result.warnings == []
    assert result.lines[-1] == "各项得分合计115分，总分115分"


def test_t34_t35_total_64_demotes() -> None:
    result = score_scheme(HEAD, head_actuals("20", "0.6", "99.3", "16"), context={"history": []})
    assert [i.points for i in result.items] == [D(20), D(20), D(16), D(8)]
    assert result.total == D(64)
    assert result.action == "demote"
    reasons = [w.reason for w in result.warnings]
    assert "年度综合得分64分，低于90分（R-80）：降级" in reasons
    assert "新增存款日均增长完成率66.67%，低于90%（R-80）：降级" in reasons
    assert all(w.rule == "R-80" for w in result.warnings)


def _total_rule_only(scheme: dict, keep: str) -> dict:
    scheme = copy.deepcopy(scheme)
    scheme["warnings"] = [w for w in scheme["warnings"] if w["metric"] == keep or w["metric"] == "input"]
    return scheme


def test_r80_total_threshold_is_strict() -> None:
    # Only the total rule: a value item scheme lets us hit 90 and 89.99 exactly.
    scheme = {"code": "t", "name": "测试", "kind": "scorecard", "subject": "staff", "period": "year",
              "items": [{"code": "score", "name": "综合得分", "type": "value", "max": "135"}],
              "warnings": copy.deepcopy([w for w in HEAD["warnings"] if w["metric"] == "total"])}
    assert score_scheme(scheme, {"score": D(90)}).action == "keep"
    low = score_scheme(scheme, {"score": D("89.99")})
    assert low.action == "demote"
    assert low.warnings[0].reason == "年度综合得分89.99分，低于90分（R-80）：降级"
    scheme["warnings"][0]["op"] = "le"      # "90分以下" read inclusively
    assert score_scheme(scheme, {"score": D(90)}).action == "demote"


def test_r80_npl_above_10_percent() -> None:
    scheme = _total_rule_only(HEAD, "item")
    at = score_scheme(scheme, head_actuals("40", "10", "100", "30"))
    assert at.action == "keep"
    above = score_scheme(scheme, head_actuals("40", "10.01", "100", "30"))
    assert above.action == "demote"
    assert above.warnings[0].reason == "不良率10.01%，超过10%（R-80）：降级"


def test_r80_completion_below_90_percent() -> None:
    scheme = _total_rule_only(HEAD, "completion")
    # deposits growth 27% of the 30% target = 90% completion → not below 90%
    assert score_scheme(scheme, head_actuals("27", "0", "99.5", "20")).action == "keep"
    low = score_scheme(scheme, head_actuals("26.99", "0", "99.5", "20"))
    assert low.action == "demote"
    assert low.warnings[0].reason == "新增存款日均增长完成率89.97%，低于90%（R-80）：降级"


def test_r80_demoted_two_consecutive_years_terminates() -> None:
    actuals = head_actuals("20", "0.6", "99.3", "16")
    once = score_scheme(HEAD, actuals, context={"history": [{"period": "2023年", "actions": ["keep"]}],
                                                "period": "2024年"})
    assert once.action == "demote"
    twice = score_scheme(HEAD, actuals, context={"history": [{"period": "2023年", "actions": ["demote"]}],
                                                 "period": "2024年"})
    assert twice.action == "terminate"
    assert twice.warnings[-1].reason == "连续2年降级（2023年、2024年）（R-80）：解除劳动合同"
    stored = score_scheme(HEAD, actuals, context={"history": [{"period": "2023年", "action": "demote"}]})
    assert stored.action == "terminate"
    assert stored.warnings[-1].reason == "连续2年降级（2023年、本期）（R-80）：解除劳动合同"
    # a good year after a demotion does not terminate
    good = score_scheme(HEAD, head_actuals("33", "0", "99.8", "26"),
                        context={"history": [{"period": "2023年", "actions": ["demote"]}]})
    assert good.action == "keep"


def test_r80_major_accident_terminates() -> None:
    result = score_scheme(HEAD, head_actuals("33", "0", "99.8", "26", major_accident=True), context={"history": []})
    assert result.action == "terminate"
    assert result.warnings[0].reason == "发生重大安全、责任事故，造成金融风险或经济损失（R-80）：解除劳动合同"


# --- R-79 customer managers (T-37) and R-81 warnings ------------------------------------------------------------------

def test_t37_basic_accounts_pro_rata() -> None:
    middle = item_of(ds.RM_MIDDLE, "accounts")
    senior = item_of(ds.RM_SENIOR, "accounts")
    assert score_item(middle, 5).points == D("7.14")
    assert score_item(middle, 5).explanation == "新开对公基本账户5个，目标7个，按完成比例10×5/7：本项7.14分"
    assert score_item(senior, 12).points == D(10)
    assert score_item(senior, 12).explanation == "新开对公基本账户12个，目标10个，已完成目标（不另加分）：本项10分"
    assert score_item(senior, 10).points == D(10)
    assert score_item(senior, 9).points == D(9)
    assert score_item(middle, 0).points == D(0)


def test_t37_junior_deposits_in_yuan() -> None:
    deposits = item_of(ds.RM_JUNIOR, "deposits")
    assert score_item(deposits, D(1_050_000)).points == D(50)
    assert score_item(deposits, D(900_000)).points == D(20)
    assert score_item(deposits, D(1_050_000)).explanation == (
        "新增存款日均1,050,000元，目标1,000,000元，每10,000元2分：+10，本项50分")
    assert score_item(deposits, D(1_009_999)).points == D(40)     # partial step
    assert score_item(deposits, D(1_100_000)).points == D(60)     # cap exactly
    assert score_item(deposits, D(600_000)).points == D(0)        # floor exactly


def test_rm_full_scheme() -> None:
    result = score_scheme(ds.RM_MIDDLE, rm_actuals("33", "99.8", 5), context=RM_CTX)
    assert result.total == D("109.14")
    assert result.action == "keep"


def test_r81_three_consecutive_months_below_90_percent() -> None:
    actuals = rm_actuals("33", "99.8", 10)
    three = score_scheme(ds.RM_SENIOR, actuals, context={"series": {"monthly_deposits": months(
        "100", "89", "80", "89.99", "100")}})
    assert three.action == "demote"
    assert three.warnings[0].reason == "考核存款连续3个月低于基数存款的90%（2024-02、2024-03、2024-04）（R-81）：降级"
    two = score_scheme(ds.RM_SENIOR, actuals, context={"series": {"monthly_deposits": months(
        "89", "89", "100", "89", "89")}})
    assert two.action == "keep"
    broken = score_scheme(ds.RM_SENIOR, actuals, context={"series": {"monthly_deposits": months(
        "89", "89", "90", "89", "89")}})                          # exactly 90% breaks the run
    assert broken.action == "keep"


def test_r81_collection_below_99() -> None:
    ok = score_scheme(ds.RM_SENIOR, rm_actuals("45", "99"), context=RM_CTX)
    assert ok.action == "keep"
    low = score_scheme(ds.RM_SENIOR, rm_actuals("45", "98.99"), context=RM_CTX)
    assert low.action == "demote"
    assert "收贷收息率98.99%，低于99%（R-81）：降级" in [w.reason for w in low.warnings]


def test_r81_comprehensive_85_and_70() -> None:
    scheme = {"code": "t", "name": "测试", "kind": "scorecard", "subject": "staff", "period": "year",
              "items": [{"code": "score", "name": "综合得分", "type": "value", "max": "135"}],
              "warnings": copy.deepcopy([w for w in ds.RM_SENIOR["warnings"] if w["metric"] == "total"])}
    assert score_scheme(scheme, {"score": D(85)}).action == "keep"
    assert score_scheme(scheme, {"score": D("84.99")}).action == "demote"
    assert score_scheme(scheme, {"score": D(70)}).action == "demote"
    low = score_scheme(scheme, {"score": D("69.99")})
    assert low.action == "terminate"
    assert [w.reason for w in low.warnings] == ["年度综合考核得分69.99分，低于85分（R-81）：降级",
                                                "年度综合考核得分69.99分，低于70分（R-81）：解除劳动合同"]


def test_r81_conduct_deductions_15_inclusive() -> None:
    at = score_scheme(ds.RM_SENIOR, rm_actuals("45", conduct="15"), context=RM_CTX)
    assert at.action == "terminate"
    assert at.warnings[0].reason == "行为规范扣分15分，达到15分（含）（R-81）：解除劳动合同"
    assert score_scheme(ds.RM_SENIOR, rm_actuals("45", conduct="14.5"), context=RM_CTX).action == "keep"


def test_r81_major_violation_must_be_bool() -> None:
    with pytest.raises(BadActualError, match="是”或“否"):
        score_scheme(ds.RM_SENIOR, rm_actuals("45", major_violation=1), context=RM_CTX)


# --- R-83 comprehensive appraisal -------------------------------------------------------------------------------------

COMP = ds.COMPREHENSIVE_MONTHLY

CLEAN = {
    "c1_quality": {"submitted": 0, "returned": 0, "false_material": False},
    "c2_files": {"missing_items": 0},
    "c3_visits": {"missed_visits": 0, "missing_records": 0, "bonus": 0, "major_unreported": False},
    "c4_risk": {"overdue": 0, "downgrades": 0},
    "c5_mis": {"major_not_entered": 0, "not_same_day": 0, "omitted": 0},
    "c6_classification": {"late": 0, "errors": 0, "materials_criticised": 0, "result_criticised": 0},
    "c7_reports": {"done": 0, "missed": 0},
    "c8_surveys": {"done": 0, "missed": 0},
    "c9_temporary": {"tasks": 0},
}


def comp(**changes: dict) -> dict:
    actuals = copy.deepcopy(CLEAN)
    for code, values in changes.items():
        actuals[code].update(values)
    return actuals


def test_r83_clean_month_is_60() -> None:
    result = score_scheme(COMP, CLEAN)
    assert result.total == D(60)
    assert result.adjustments == D(0)


def test_r83_item1_returns_and_zero_if() -> None:
    quality = item_of(COMP, "c1_quality")
    one = score_item(quality, {"submitted": 4, "returned": 1, "false_material": False})
    assert one.points == D(3)
    assert one.explanation == ("调查评估质量（季度考核，按本季度数据计分）：基础5分；"
                               "被退回申报1笔，每笔\u22122分：\u22122；本项3分")
    # 3 of 7 returned = 42.86% < 50%: −6 floors at 0
    assert score_item(quality, {"submitted": 7, "returned": 3, "false_material": False}).points == D(0)
    assert score_item(quality, {"submitted": 5, "returned": 2, "false_material": False}).points == D(1)
    half = score_item(quality, {"submitted": 2, "returned": 1, "false_material": False})   # exactly 50% → 0
    assert half.points == D(0)
    assert half.flags == ("zeroed",)
    assert half.explanation == ("调查评估质量（季度考核，按本季度数据计分）：基础5分；"
                                "退回率50%，达到50%（含），本项不得分；本项0分")
    false = score_item(quality, {"submitted": 3, "returned": 0, "false_material": True})
    assert false.points == D(0)
    assert "材料有虚假成分，本项不得分" in false.explanation


def test_r83_item2_floor_without_spill() -> None:
    files = item_of(COMP, "c2_files")
    assert score_item(files, {"missing_items": 3}).points == D("8.5")
    assert score_item(files, {"missing_items": 20}).points == D(0)
    over = score_item(files, {"missing_items": 21})
    assert over.points == D(0)
    assert over.total_adjustment == D(0)
    assert "扣完为止" in over.explanation


def test_r83_item3_visits_bonus_and_zero() -> None:
    visits = item_of(COMP, "c3_visits")
    result = score_item(visits, {"missed_visits": 2, "missing_records": 1, "bonus": 5, "major_unreported": False})
    assert result.points == D(17)
    assert "采集重大需求或重大事项及时汇报加分：+5" in result.explanation
    assert score_item(visits, {"missed_visits": 0, "missing_records": 0, "bonus": 30,
                               "major_unreported": False}).points == D(45)
    with pytest.raises(BadActualError, match="不能超过30"):
        score_item(visits, {"missed_visits": 0, "missing_records": 0, "bonus": 31, "major_unreported": False})
    zero = score_item(visits, {"missed_visits": 0, "missing_records": 0, "bonus": 0, "major_unreported": True})
    assert zero.points == D(0)


def test_r83_item4_spills_into_total() -> None:
    result = score_scheme(COMP, comp(c4_risk={"overdue": 1}))
    risk = result.item("c4_risk")
    assert risk.points == D(0)
    assert risk.total_adjustment == D(-25)
    assert set(risk.flags) == {"floored", "spilled"}
    assert result.total == D(30)       # 55 from the other items + 0 − 25
    two = score_scheme(COMP, comp(c4_risk={"overdue": 1, "downgrades": 1}))
    assert two.total == D(0)           # 55 − 55
    assert two.lines[-1] == "各项得分合计55分，直接计入总分\u221255分，总分0分"


def test_r83_direct_items() -> None:
    result = score_scheme(COMP, comp(c5_mis={"major_not_entered": 3, "not_same_day": 1, "omitted": 1},
                                     c7_reports={"done": 3, "missed": 1}, c9_temporary={"tasks": 2}))
    mis = result.item("c5_mis")
    assert mis.points == D(0)                     # 5 − 6 floors at 0 ("扣完为止")
    assert mis.total_adjustment == D(-7)          # −2 −5 directly off the total
    assert result.item("c7_reports").total_adjustment == D(2)
    assert result.item("c9_temporary").total_adjustment == D(10)
    assert result.total == D(55) + D(-7) + D(2) + D(10)


def test_r83_item6_classification() -> None:
    cls = item_of(COMP, "c6_classification")
    counts = {"late": 1, "errors": 1, "materials_criticised": 0, "result_criticised": 0}
    assert score_item(cls, counts).points == D("3.5")
    assert score_item(cls, {"late": 0, "errors": 0, "materials_criticised": 1, "result_criticised": 0}).points == D(0)


def test_r83_counts_must_be_whole_non_negative() -> None:
    files = item_of(COMP, "c2_files")
    with pytest.raises(BadActualError, match="非负整数"):
        score_item(files, {"missing_items": -1})
    with pytest.raises(BadActualError, match="非负整数"):
        score_item(files, {"missing_items": D("1.5")})


def test_r83_missing_field_is_listed() -> None:
    actuals = copy.deepcopy(CLEAN)
    del actuals["c4_risk"]["downgrades"]
    with pytest.raises(MissingActualsError) as info:
        score_scheme(COMP, actuals)
    assert info.value.missing == ["授信业务风险和逾期控制（c4_risk）的贷款形态下降一个级别（downgrades）"]


# --- R-82 weighted business score -------------------------------------------------------------------------------------

def test_r82_weighted_with_per_person_targets() -> None:
    item = item_of(ds.BUSINESS_MONTHLY, "corp_loan_avg")
    result = score_item(item, {"value": D(4_200_000), "target": D(5_000_000)})
    assert result.points == D("6.72")
    assert result.explanation == "对公贷款日均增量完成4,200,000元，目标5,000,000元，完成率84%，权重8分：本项6.72分"
    capped = score_item(item, {"value": D(6_500_000), "target": D(5_000_000)})
    assert capped.points == D("9.6")
    assert "完成率130%，按上限120%计" in capped.explanation
    assert score_item(item, {"value": D(6_000_000), "target": D(5_000_000)}).points == D("9.6")
    assert score_item(item, {"value": D(-100), "target": D(5_000_000)}).points == D(0)
    with pytest.raises(MissingActualsError, match="目标值"):
        score_item(item, D(100))


# --- value items, 200-point, totals -----------------------------------------------------------------------------------

def test_value_items_and_range() -> None:
    scheme = ds.POINTS_200
    actuals = {"results": D(72), "process": D(35), "maintenance": D(28), "compliance": D(30), "learning": D("18.5")}
    result = score_scheme(scheme, actuals)
    assert result.total == D("183.5")
    assert result.items[0].explanation == "业绩指标：评定72分（满分80分）：本项72分"
    with pytest.raises(BadActualError, match="超出范围"):
        score_scheme(scheme, {**actuals, "results": D(81)})


def test_total_bounds_clamp_and_say_so() -> None:
    scheme = {"code": "t", "name": "测试", "kind": "scorecard", "subject": "staff", "period": "month",
              "total": {"min": "0", "max": "10"},
              "items": [{"code": "a", "name": "甲", "type": "value", "max": "20"}]}
    result = score_scheme(scheme, {"a": D(15)})
    assert result.total == D(10)
    assert result.lines[-1] == "各项得分合计15分，高于总分上限按10分计，总分10分"


# --- missing actuals, errors, floats ----------------------------------------------------------------------------------

def test_missing_actuals_are_listed_never_zero() -> None:
    with pytest.raises(MissingActualsError) as info:
        score_scheme(HEAD, {"deposits": D(33), "income": D(20)})
    assert info.value.missing == [
        "贷款不良率（npl）", "贷款收息率（collection）",
        "以往考核期结果（context.history，R-80预警所需）",
        "发生重大安全、责任事故，造成金融风险或经济损失（major_accident，R-80预警所需）",
    ]
    assert str(info.value).startswith("缺少以下考核数据：贷款不良率（npl）、贷款收息率（collection）")
    assert isinstance(info.value, ValueError)


def test_missing_series_is_listed() -> None:
    with pytest.raises(MissingActualsError, match="context.series.monthly_deposits"):
        score_scheme(ds.RM_SENIOR, rm_actuals("33"))


def test_float_actual_refused() -> None:
    with pytest.raises(SchemeError, match="float"):
        score_item(DEPOSITS, 33.0)


def test_invalid_scheme_refused_by_score_scheme() -> None:
    scheme = copy.deepcopy(HEAD)
    scheme["items"][0]["type"] = "magic"
    with pytest.raises(InvalidSchemeError, match="计分方式“magic”未知"):
        score_scheme(scheme, head_actuals("33", "0", "99.8", "26"))


def test_param_only_scheme_cannot_be_scored() -> None:
    with pytest.raises(SchemeError, match="只包含参数"):
        score_scheme(ds.EVA_PARAMS, {})


# --- validation -------------------------------------------------------------------------------------------------------

def test_t61_two_hundred_point_template_summing_to_190_is_invalid() -> None:
    scheme = copy.deepcopy(ds.POINTS_200)
    scheme["items"][0]["max"] = "70"
    assert validate_scheme(scheme) == ["五个部分合计190分，应为200分"]


def test_expected_total_for_weights_and_bases() -> None:
    scheme = copy.deepcopy(HEAD)
    scheme["items"][1]["base"] = "25"
    assert validate_scheme(scheme) == ["四个部分合计95分，应为100分"]
    scheme["items"][0]["base"] = "35"      # other errors do not hide the sum check
    assert validate_scheme(scheme) == ["考核项目“全年新增存款日均增长”的基础分加下限小于0，本项可能得负分",
                                       "四个部分合计90分，应为100分"]
    business = copy.deepcopy(ds.BUSINESS_MONTHLY)
    business["items"][0]["weight"] = "7"
    assert validate_scheme(business) == ["19个部分合计99分，应为100分"]


@pytest.mark.parametrize(("path", "value", "message"), [
    (("items", 0, "cap"), "-5", "考核项目“全年新增存款日均增长”的“cap”不能为负数"),
    (("items", 0, "floor"), "5", "考核项目“全年新增存款日均增长”的“floor”不能为正数"),
    (("items", 0, "step"), "0", "考核项目“全年新增存款日均增长”的“step”必须大于0"),
    (("items", 0, "target"), "三十", "考核项目“全年新增存款日均增长”的“target”不是有效数值：'三十'"),
    (("items", 0, "floor"), "-50", "考核项目“全年新增存款日均增长”的基础分加下限小于0，本项可能得负分"),
    (("period",), "week", "考核周期（period）只能是month、quarter或year"),
    (("subject",), "team", "考核对象（subject）只能是staff（员工）或outlet（网点）"),
    (("warnings", 0, "op"), "below", "第1条预警规则（R-80）的比较方式“below”未知（可选 eq/lt/le/gt/ge）"),
    (("warnings", 0, "action"), "fire", "第1条预警规则（R-80）的处理方式“fire”未知（可选 warn/demote/terminate）"),
    (("warnings", 1, "item"), "nope", "第2条预警规则（R-80）引用了不存在的考核项目：nope"),
])
def test_validation_messages(path: tuple, value: object, message: str) -> None:
    scheme = copy.deepcopy(HEAD)
    target = scheme
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert message in validate_scheme(scheme)


def test_validation_rejects_float_numbers_in_json() -> None:
    scheme = copy.deepcopy(HEAD)
    scheme["items"][0]["base"] = 40.0
    assert "考核项目“全年新增存款日均增长”的“base”必须写成数字字符串（如\"30\"），不能是float" in validate_scheme(scheme)


def test_validation_missing_fields_and_duplicates() -> None:
    scheme = copy.deepcopy(HEAD)
    del scheme["items"][0]["points_per_step"]
    scheme["items"][1]["code"] = "deposits"
    errors = validate_scheme(scheme)
    assert "考核项目“全年新增存款日均增长”缺少“points_per_step”" in errors
    assert "考核项目代码重复：deposits" in errors
    assert validate_scheme([]) == ["考核方案格式错误"]


def test_validation_deductions() -> None:
    scheme = copy.deepcopy(COMP)
    scheme["items"][0]["events"].append({"field": "nothing", "points": "-1"})
    scheme["items"][0]["zero_if"][0]["op"] = "over"
    scheme["items"][3]["spill"] = "yes"
    errors = validate_scheme(scheme)
    assert "考核项目“调查评估质量”第2条加扣分规则引用了不存在的事项：nothing" in errors
    assert "考核项目“调查评估质量”第1个不得分条件的比较方式“over”未知" in errors
    assert "考核项目“授信业务风险和逾期控制”的“spill”必须是true或false" in errors


def test_validation_param_kinds() -> None:
    eva = copy.deepcopy(ds.EVA_PARAMS)
    eva["params"]["rate_stock"] = "1.5"
    eva["params"]["base_period"] = "2013"
    assert validate_scheme(eva) == ["参数“rate_stock”必须在0至1之间",
                                    "参数“base_period”必须是“YYYY-MM-DD”格式的日期"]
    rewards = copy.deepcopy(ds.REWARD_PARAMS)
    rewards["params"]["info_share"] = "0.4"
    assert validate_scheme(rewards) == ["联合营销信息获取与营销实施比例合计110%，应为100%（R-89）"]
    banca = copy.deepcopy(ds.BANCASSURANCE_PARAMS)
    banca["params"]["targets"]["single_kaimenhong"] = "200000000"
    banca["params"]["kaimenhong_end"] = "13-01"
    del banca["params"]["staffing_norm"]
    assert validate_scheme(banca) == ["参数“kaimenhong_end”必须是“MM-DD”格式的日期", "参数缺少“staffing_norm”",
                                      "趸交开门红目标高于全年目标（开门红计入全年，A-14）"]
    thousand = copy.deepcopy(ds.THOUSAND_POINT)
    thousand["params"]["deputy_ratio"] = "1.2"
    assert validate_scheme(thousand) == ["参数“deputy_ratio”必须在0至1之间"]


# --- helpers ---------------------------------------------------------------------------------------------------------

def test_fingerprint_is_stable_and_sensitive() -> None:
    a = scheme_fingerprint(HEAD)
    reordered = json.loads(json.dumps(HEAD, sort_keys=False))
    reordered = dict(reversed(list(reordered.items())))
    assert scheme_fingerprint(reordered) == a
    assert len(a) == 64
    edited = copy.deepcopy(HEAD)
    edited["items"][0]["target"] = "25"
    assert scheme_fingerprint(edited) != a
    assert score_scheme(HEAD, head_actuals("33", "0", "99.8", "26"), context={"history": []}).fingerprint == a


def test_result_to_dict_is_json() -> None:
    result = score_scheme(COMP, comp(c4_risk={"overdue": 1}))
    data = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert data["total"] == "30"
    assert data["items"][3]["total_adjustment"] == "-25"
    assert data["items"][3]["actual"] == {"overdue": "1", "downgrades": "0"}


def test_required_inputs_for_forms() -> None:
    inputs = required_inputs(ds.RM_JUNIOR)
    assert [(i["key"], i["source"]) for i in inputs] == [
        ("deposits", "item"), ("npl", "item"), ("collection", "item"), ("accounts", "item"),
        ("monthly_deposits", "series"), ("conduct_deductions", "input"), ("major_violation", "input")]
    comp_inputs = required_inputs(COMP)
    assert [f["key"] for f in comp_inputs[0]["fields"]] == ["submitted", "returned", "false_material"]
    assert required_inputs(ds.BUSINESS_MONTHLY)[0]["target_required"] is True


def test_number_formatting() -> None:
    assert fmt_num(D("33.0")) == "33"
    assert fmt_num(D("1E+2")) == "100"
    assert fmt_num(D("-0.50")) == "\u22120.5"
    assert fmt_val(D(1_050_000), "元") == "1,050,000元"
    assert fmt_val(D("99.80"), "%") == "99.8%"


def test_no_float_in_engine_sources() -> None:
    root = Path(engine.__file__).parent
    for name in ("engine.py", "default_schemes.py"):
        source = (root / name).read_text(encoding="utf-8")
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NUMBER:
                assert "." not in tok.string and "e" not in tok.string.lower(), f"{name}:{tok.start}: {tok.string}"
            if tok.type == tokenize.NAME:
                assert tok.string != "float" or _float_is_type_check(source, tok), f"{name}:{tok.start}: float"


def _float_is_type_check(source: str, tok: tokenize.TokenInfo) -> bool:
    """`isinstance(value, float)` refuses floats; it is the only allowed mention, never `float(` as a call."""
    line = source.splitlines()[tok.start[0] - 1]
    return "isinstance(" in line and "float(" not in line


def _paths(obj: object, prefix: tuple = ()):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for n, value in enumerate(obj):
            yield (*prefix, n)
            yield from _paths(value, (*prefix, n))


@pytest.mark.parametrize("code", ["003a-head", "003a-rm-junior", "003e-comprehensive", "000-bancassurance"])
def test_hand_edited_garbage_is_reported_not_crashing(code: str) -> None:
    """An admin's hand-edited JSON may hold anything; validation answers with messages, never an exception."""
    original = ds.default_scheme(code)
    for path in list(_paths(original)):
        for bad in (None, "x", -1, [], {}, True, ["a"]):
            scheme = copy.deepcopy(original)
            target = scheme
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = bad
            assert isinstance(validate_scheme(scheme), list)
