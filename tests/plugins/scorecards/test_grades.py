"""Scorecards: customer-manager grades (R-73–R-77, A-16, A-17; T-29, T-58, T-59, T-60)."""

from __future__ import annotations

import io
import tokenize
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from plugins.scorecards import grades
from plugins.scorecards.grades import (
    assistant_eligibility,
    grade_gap,
    provisional_eligible,
    provisional_status,
    quarterly_review,
    required_minimum_grade,
    separation_dates,
    staff_grade_for,
)

D = Decimal


def float_tokens(path: Path) -> list[str]:
    """Float literals and float( calls in a Python source file (strings and comments do not count)."""
    found = []
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline))
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.NUMBER and any(c in tok.string.lower() for c in ".ej") \
                and not tok.string.lower().startswith("0x"):
            found.append(f"{tok.start[0]}: {tok.string}")
        if tok.type == tokenize.NAME and tok.string == "float" and i + 1 < len(tokens) and tokens[i + 1].string == "(":
            found.append(f"{tok.start[0]}: float(")
    return found


def test_no_floats_in_source():
    assert float_tokens(Path(grades.__file__)) == []


# ---------------------------------------------------------------- required minimum grade

@pytest.mark.parametrize("deposits, loans, grade", [
    (D(0), D(0), "a_junior"),
    (D(3_000_000), D(0), "a_junior"),              # 300万元以下 includes 300万
    (D("3000000.01"), D(0), "a_middle"),
    (D(3_000_001), D(0), "a_middle"),              # the 3m–5m gap falls to 中级
    (D(4_000_000), D(0), "a_middle"),
    (D(7_999_999), D(0), "a_middle"),
    (D(8_000_000), D(0), "a_senior"),              # 800万元以上 includes 800万
    (D(0), D(3_000_000), "a_junior"),
    (D(0), D(3_000_001), "a_middle"),
    (D(0), D(9_999_999), "a_middle"),
    (D(0), D(10_000_000), "a_senior"),             # 1000万元以上
    (D(1_000_000), D(10_000_000), "a_senior"),     # the higher of the two
    (D(8_000_000), D(1), "a_senior"),
    (D(3_000_000), D(3_000_000), "a_junior"),
    (D(3_000_000), D(3_000_001), "a_middle"),
])
def test_required_minimum_grade(deposits, loans, grade):
    assert required_minimum_grade(deposits, loans) == grade


def test_required_minimum_grade_refuses_bad_input():
    with pytest.raises(ValueError, match="不能为负数"):
        required_minimum_grade(D(-1), D(0))
    with pytest.raises(TypeError):
        required_minimum_grade(3_000_000, D(0))  # type: ignore[arg-type]


def test_grade_gap():
    assert grade_gap("a_senior", D(100), D(0)) is None          # a higher grade may manage smaller customers
    assert grade_gap("a_middle", D(3_000_001), D(0)) is None
    assert grade_gap("a_junior", D(3_000_000), D(0)) is None
    gap = grade_gap("a_junior", D(3_000_001), D(0))
    assert gap is not None and "中级客户经理" in gap and "初级客户经理" in gap and "3,000,001.00 元" in gap
    gap = grade_gap("a_middle", D(0), D(10_000_000))
    assert gap is not None and "高级客户经理" in gap
    with pytest.raises(ValueError, match="不是三级制"):
        grade_gap("b_3", D(0), D(0))


# ---------------------------------------------------------------- R-76 staff grade, quarterly review

def test_staff_grade_t29():
    assert staff_grade_for("b_3") == 8
    assert staff_grade_for("b_trainee") == 9
    assert [staff_grade_for(c) for c in ("b_senior", "b_1", "b_2", "b_3", "b_4", "b_trainee")] == [5, 6, 7, 8, 9, 9]
    with pytest.raises(ValueError, match="没有对应的行员等级"):
        staff_grade_for("a_senior")
    with pytest.raises(ValueError):
        staff_grade_for("nonsense")


def test_quarterly_review_steps_one_rung():
    r = quarterly_review("b_3", "promote")
    assert (r.grade, r.changed, r.exit_review) == ("b_2", True, False)
    assert "三级客户经理 → 二级客户经理" in r.explanation
    assert quarterly_review("b_3", "demote").grade == "b_4"
    assert quarterly_review("b_3", "keep") == ("b_3", False, False, quarterly_review("b_3", "keep").explanation)
    assert quarterly_review("b_4", "demote").grade == "b_trainee"   # same 行员9等
    assert quarterly_review("b_trainee", "promote").grade == "b_4"
    assert quarterly_review("b_1", "promote").grade == "b_senior"


def test_quarterly_review_bounds():
    top = quarterly_review("b_senior", "promote")
    assert (top.grade, top.changed, top.exit_review) == ("b_senior", False, False)
    assert "最高等级" in top.explanation
    bottom = quarterly_review("b_trainee", "demote")
    assert (bottom.grade, bottom.changed, bottom.exit_review) == ("b_trainee", False, True)
    assert "退出" in bottom.explanation
    assert quarterly_review("b_senior", "demote").grade == "b_1"


def test_quarterly_review_trainee_not_promoted_during_probation():
    ends = date(2025, 2, 28)  # T-29: 见习 from 2024-03-01
    kept = quarterly_review("b_trainee", "promote", probation_ends=ends, review_date=date(2025, 2, 28))
    assert (kept.grade, kept.changed) == ("b_trainee", False) and "见习期内不晋级" in kept.explanation
    assert quarterly_review("b_trainee", "promote", probation_ends=ends, review_date=date(2025, 3, 1)).grade == "b_4"


def test_quarterly_review_rejects_unknown():
    with pytest.raises(ValueError, match="不是六级制"):
        quarterly_review("a_junior", "promote")
    with pytest.raises(ValueError, match="晋级、保持或降级"):
        quarterly_review("b_3", "up")


# ---------------------------------------------------------------- R-73 provisional 初级, T-58

def test_provisional_eligible_threshold_inclusive():
    threshold = D(5_000_000)  # configurable; value assumed
    assert provisional_eligible(D(5_000_000), threshold) is True
    assert provisional_eligible(D("4999999.99"), threshold) is False
    assert provisional_eligible(D(5_000_001), threshold) is True


def test_provisional_status_t58():
    granted = date(2024, 1, 1)
    s = provisional_status(granted, None, date(2024, 12, 31))
    assert (s.status, s.on, s.grade, s.post) == ("provisional", date(2025, 1, 1), "a_junior", None)
    assert "2024-12-31" in s.explanation and "业务代办员" in s.explanation
    s = provisional_status(granted, None, date(2025, 1, 1))
    assert (s.status, s.on, s.grade, s.post) == ("lapsed", date(2025, 1, 1), None, "agent")
    assert "降为业务代办员" in s.explanation
    assert provisional_status(granted, None, granted).status == "provisional"


def test_provisional_status_qualified():
    granted = date(2024, 1, 1)
    s = provisional_status(granted, date(2024, 12, 31), date(2025, 6, 1))
    assert (s.status, s.on, s.grade) == ("qualified", date(2024, 12, 31), "a_junior")
    late = provisional_status(granted, date(2025, 1, 1), date(2025, 1, 2))   # too late: the grade has lapsed
    assert late.status == "lapsed"
    # a pass recorded for a future date does not count yet
    assert provisional_status(granted, date(2024, 6, 1), date(2024, 5, 1)).status == "provisional"


def test_provisional_status_leap_day_and_errors():
    assert provisional_status(date(2024, 2, 29), None, date(2025, 2, 28)).status == "provisional"
    assert provisional_status(date(2024, 2, 29), None, date(2025, 3, 1)).on == date(2025, 3, 1)
    with pytest.raises(ValueError, match="早于"):
        provisional_status(date(2024, 1, 1), None, date(2023, 12, 31))
    with pytest.raises(ValueError, match="早于"):
        provisional_status(date(2024, 1, 1), date(2023, 12, 1), date(2024, 2, 1))


# ---------------------------------------------------------------- R-75 separation, T-59

def test_separation_dates_t59():
    assert separation_dates(date(2024, 3, 1)) == (date(2024, 3, 8), date(2024, 3, 15))
    assert separation_dates(date(2024, 12, 28)) == (date(2025, 1, 4), date(2025, 1, 11))  # calendar days


# ---------------------------------------------------------------- R-77 assistant, T-60

def test_assistant_t60():
    reasons = assistant_eligibility("大专", False, True, True)
    assert reasons == ["未取得中国银行业协会个人理财从业资格证书"]


@pytest.mark.parametrize("education, ok", [("高中", False), ("中专", False), ("大专", True), ("本科", True),
                                           ("硕士", True), ("博士", True)])
def test_assistant_education_ladder(education, ok):
    reasons = assistant_eligibility(education, True, True, True)
    assert (reasons == []) is ok
    if not ok:
        assert reasons == [f"学历须为大专及以上，现为{education}"]


def test_assistant_all_reasons_and_unknown_education():
    assert len(assistant_eligibility("中专", False, False, False)) == 4
    assert "不具备银行工作经验" in assistant_eligibility("本科", True, False, True)
    with pytest.raises(ValueError, match="无法识别的学历"):
        assistant_eligibility("小学", True, True, True)
