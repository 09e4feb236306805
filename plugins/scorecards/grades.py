"""Customer-manager grades: customer scale, provisional grant, separation, staff grade, assistant entry, B review."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from crm.money import format_yuan
from crm.roles import GRADE_BY_CODE, GRADES, grade_label, post_label

# ---------------------------------------------------------------- scheme A: customer scale

SENIOR_DEPOSITS = Decimal(8_000_000)   # 800万元以上 → 高级
SENIOR_LOANS = Decimal(10_000_000)     # 1000万元以上 → 高级
JUNIOR_MAX = Decimal(3_000_000)        # 300万元以下 → 初级; anything above needs at least 中级

# Scheme A grades from lowest to highest (the codes live in crm.roles).
A_LADDER: tuple[str, ...] = ("a_junior", "a_middle", "a_senior")


def _amount(value: Decimal, name: str) -> Decimal:
    if not isinstance(value, Decimal) or isinstance(value, bool):
        raise TypeError(f"{name} must be a Decimal")
    if not value.is_finite() or value < 0:
        raise ValueError(f"{name}不能为负数")
    return value


def required_minimum_grade(deposits: Decimal, loans: Decimal) -> str:
    """R-74 with the A-17 reading: the lowest scheme-A grade allowed to manage a customer of this scale.

    高级 if deposits ≥ 8,000,000 or loans ≥ 10,000,000; else 中级 if deposits > 3,000,000 or loans > 3,000,000;
    else 初级. The 3m–5m deposit gap of the source falls to 中级; exactly 3,000,000 is still 初级 ("300万元以下")."""
    deposits = _amount(deposits, "存款")
    loans = _amount(loans, "贷款")
    if deposits >= SENIOR_DEPOSITS or loans >= SENIOR_LOANS:
        return "a_senior"
    if deposits > JUNIOR_MAX or loans > JUNIOR_MAX:
        return "a_middle"
    return "a_junior"


def _a_rank(grade: str) -> int:
    try:
        return A_LADDER.index(grade)
    except ValueError:
        raise ValueError(f"“{grade_label(grade) or grade}”不是三级制客户经理等级，无法按客户规模核对") from None


def grade_gap(held_grade: str, deposits: Decimal, loans: Decimal) -> str | None:
    """R-74: why an RM of `held_grade` may not take charge of this customer, or None when the grade suffices.

    A higher grade may always manage a lower-scale customer (管户对等 only sets a minimum)."""
    required = required_minimum_grade(deposits, loans)
    if _a_rank(held_grade) >= _a_rank(required):
        return None
    return (f"客户日均存款{format_yuan(deposits)}、贷款{format_yuan(loans)}，"
            f"按客户规模须由{grade_label(required)}及以上负责，"
            f"当前客户经理为{grade_label(held_grade)}")


# ---------------------------------------------------------------- scheme B: staff grade and quarterly review

# Scheme B grades from lowest to highest: 见习 → 四级 → 三级 → 二级 → 一级 → 高级.
B_LADDER: tuple[str, ...] = tuple(sorted((g.code for g in GRADES if g.scheme == "B"),
                                         key=lambda c: (-GRADE_BY_CODE[c].staff_grade, not GRADE_BY_CODE[c].probation)))


def staff_grade_for(grade_code: str) -> int:
    """R-76, T-29: the 行员等级 of a scheme-B grade (高级 5等 … 三级 8等, 四级/见习 9等), read from crm.roles."""
    grade = GRADE_BY_CODE.get(grade_code)
    if grade is None or grade.staff_grade is None:
        raise ValueError(f"“{grade_label(grade_code) or grade_code}”不是六级制客户经理等级，没有对应的行员等级")
    return grade.staff_grade


class QuarterlyReview(NamedTuple):
    grade: str             # the grade after the review
    changed: bool
    exit_review: bool      # True: a 见习 RM failed the review — refer for exit (优胜劣汰)
    explanation: str


REVIEW_ACTIONS = ("promote", "keep", "demote")


def quarterly_review(grade: str, action: str, *, probation_ends: date | None = None,
                     review_date: date | None = None) -> QuarterlyReview:
    """R-76 "按年聘用，按季考核，能上能下": move a scheme-B grade one step by the quarter's result.

    Interpretation (the source gives no step rule): one rung per quarter along 见习 → 四级 → 三级 → 二级 → 一级 → 高级.
    高级 cannot rise further (kept, noted). 四级 demoted becomes 见习 (same 行员9等). 见习 cannot go lower: the grade is
    kept and the RM is flagged for an exit review. A 见习 RM is not promoted before the one-year probation ends
    (`probation_ends`, see crm.roles.probation_end) when both dates are given."""
    if grade not in B_LADDER:
        raise ValueError(f"“{grade_label(grade) or grade}”不是六级制客户经理等级，不能做季度升降级")
    if action not in REVIEW_ACTIONS:
        raise ValueError("季度考核结果只能是晋级、保持或降级")
    rank = B_LADDER.index(grade)
    name = grade_label(grade)
    if action == "keep":
        return QuarterlyReview(grade, False, False, f"季度考核结果为保持，维持{name}")
    if action == "promote":
        if rank == len(B_LADDER) - 1:
            return QuarterlyReview(grade, False, False, f"已是最高等级{name}，季度考核优秀，维持原等级")
        if (GRADE_BY_CODE[grade].probation and probation_ends is not None and review_date is not None
                and review_date <= probation_ends):
            return QuarterlyReview(grade, False, False,
                                   f"见习期至{probation_ends.isoformat()}，见习期内不晋级，维持{name}")
        new = B_LADDER[rank + 1]
        return QuarterlyReview(new, True, False, f"季度考核晋级：{name} → {grade_label(new)}")
    if rank == 0:
        return QuarterlyReview(grade, False, True, f"{name}季度考核不合格，已无可降等级，提请退出客户经理岗位")
    new = B_LADDER[rank - 1]
    return QuarterlyReview(new, True, False, f"季度考核降级：{name} → {grade_label(new)}")


# ---------------------------------------------------------------- provisional 初级 (R-73, A-16, T-58)

def provisional_eligible(cumulative_daily_avg_deposits: Decimal, threshold: Decimal) -> bool:
    """R-73: a marketer who failed the exam may be provisionally 初级 when the year's cumulative daily-average
    deposits are at or above the threshold ("***万元以上", blank in the source: configurable, A-16)."""
    return _amount(cumulative_daily_avg_deposits, "累计日均存款") >= _amount(threshold, "暂定门槛")


def _one_year_later(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # granted on 29 February: the year is over at the end of 28 February
        return day.replace(year=day.year + 1, day=28) + timedelta(days=1)


class ProvisionalStatus(NamedTuple):
    status: str            # "provisional" | "qualified" | "lapsed"
    on: date               # provisional: the lapse date; qualified: the qualifying date; lapsed: the lapse date
    grade: str | None      # "a_junior" while provisional or qualified; None once lapsed
    post: str | None       # "agent" (业务代办员) once lapsed
    explanation: str


def provisional_status(granted: date, qualified_on: date | None, today: date) -> ProvisionalStatus:
    """R-73, T-58: a provisional 初级 grade lasts one year; unqualified after it, the RM becomes 业务代办员.

    Interpretation: the year runs from `granted` to the day before its anniversary (granted 2024-01-01 → provisional
    through 2024-12-31, like crm.roles.probation_end). The anniversary (2025-01-01) is the lapse date: from that day
    the RM is 业务代办员 unless the qualifying exam was passed before it. A pass on or after the lapse date does not
    restore the grade (a new appointment is needed)."""
    if today < granted:
        raise ValueError("查询日期早于暂定初级资格的授予日期")
    lapse = _one_year_later(granted)
    if qualified_on is not None and qualified_on < granted:
        raise ValueError("考核合格日期早于暂定初级资格的授予日期")
    junior = grade_label("a_junior")
    if qualified_on is not None and qualified_on < lapse and qualified_on <= today:
        return ProvisionalStatus("qualified", qualified_on, "a_junior", None,
                                 f"已于{qualified_on.isoformat()}通过综合考试考核，正式取得{junior}任职资格")
    if today < lapse:
        last = lapse - timedelta(days=1)
        return ProvisionalStatus("provisional", lapse, "a_junior", None,
                                 f"暂定{junior}，须在{last.isoformat()}前（含当日）通过综合考试考核，"
                                 f"否则自{lapse.isoformat()}起降为{post_label('agent')}")
    return ProvisionalStatus("lapsed", lapse, None, "agent",
                             f"暂定{junior}满一年未通过综合考试考核，自{lapse.isoformat()}起降为{post_label('agent')}")


# ---------------------------------------------------------------- separation (R-75, T-59)

NOTICE_DAYS = 7
HANDOVER_DAYS = 7


def separation_dates(notice_given: date) -> tuple[date, date]:
    """R-75, T-59: 7 calendar days' written notice, then hand-over within the following 7 calendar days.
    Notice 2024-03-01 → earliest separation 2024-03-08 → hand-over due 2024-03-15."""
    earliest = notice_given + timedelta(days=NOTICE_DAYS)
    return earliest, earliest + timedelta(days=HANDOVER_DAYS)


# ---------------------------------------------------------------- personal RM assistant (R-77, T-60)

EDUCATION_LADDER: dict[str, int] = {"高中": 0, "中专": 0, "大专": 1, "本科": 2, "硕士": 3, "博士": 4}
ASSISTANT_MIN_EDUCATION = "大专"


def assistant_eligibility(education: str, has_cba_wealth_cert: bool, has_bank_experience: bool,
                          good_conduct: bool) -> list[str]:
    """R-77, T-60: why a candidate may not become 个人客户经理助理 (empty list = eligible on these conditions).

    Checked: 中国银行业协会个人理财从业资格证书; 大专 or above (含大专); bank experience; good conduct with no bad
    record. Health, image and communication skills are the interviewer's judgement and are not checked here."""
    level = EDUCATION_LADDER.get((education or "").strip())
    if level is None:
        raise ValueError(f"无法识别的学历“{education}”，应为高中、中专、大专、本科、硕士或博士")
    reasons: list[str] = []
    if not has_cba_wealth_cert:
        reasons.append("未取得中国银行业协会个人理财从业资格证书")
    if level < EDUCATION_LADDER[ASSISTANT_MIN_EDUCATION]:
        reasons.append(f"学历须为大专及以上，现为{education.strip()}")
    if not has_bank_experience:
        reasons.append("不具备银行工作经验")
    if not good_conduct:
        reasons.append("职业道德或从业记录不符合要求（有不良记录）")
    return reasons
