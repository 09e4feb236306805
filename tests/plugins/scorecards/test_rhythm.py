"""Scorecards: 日跟踪、周经营、月达标、季晋升 over daily log compliance (R-35, R-36, R-39; T-13)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from plugins.scorecards import rhythm
from plugins.scorecards.rhythm import (
    DayCompliance,
    daily_view,
    monthly_view,
    period_summary,
    quarter_months,
    quarterly_view,
    records_from_grid,
    weekly_view,
)
from tests.plugins.scorecards.test_grades import float_tokens

D = Decimal
# National Day week 2024: Mon 10-07 is a holiday, Sat 10-12 a make-up working day (调休上班).
HOLIDAY_WEEK = [date(2024, 10, 8), date(2024, 10, 9), date(2024, 10, 10), date(2024, 10, 11), date(2024, 10, 12)]


def test_no_floats_in_source():
    assert float_tokens(Path(rhythm.__file__)) == []


def weekdays(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)
            if (start + timedelta(days=i)).weekday() < 5]


# ---------------------------------------------------------------- 日跟踪

def test_daily_view():
    day = date(2024, 10, 8)
    records = [(1, day, True, []), (2, day, False, ["接触客户不足20人（18）"]),   # T-13: 18 contacts
               (4, date(2024, 10, 9), True, [])]
    view = {s.user_id: s for s in daily_view(records, [1, 2, 3, 4], day, HOLIDAY_WEEK)}
    assert view[1].status == "compliant" and view[1].label == "达标"
    assert view[2].status == "non_compliant" and view[2].reasons == ("接触客户不足20人（18）",)
    assert view[3].status == "no_log" and view[3].reasons == ("未提交日志",) and view[3].label == "未提交日志"
    assert view[4].status == "no_log"    # a log of another day does not count


def test_daily_view_holiday_and_two_logs():
    holiday = date(2024, 10, 7)
    view = {s.user_id: s for s in daily_view([(1, holiday, True, [])], [1, 2], holiday, HOLIDAY_WEEK)}
    assert view[1].status == "compliant" and view[2].status == "rest" and view[2].reasons == ()
    day = date(2024, 10, 8)
    both = [DayCompliance(1, day, False, ("未记录同业当天业绩",)), DayCompliance(1, day, True, ())]
    assert daily_view(both, [1], day, HOLIDAY_WEEK)[0].status == "compliant"   # one model met
    two_bad = [(1, day, False, ["a"]), (1, day, False, ["b", "a"])]
    assert daily_view(two_bad, [1], day, HOLIDAY_WEEK)[0].reasons == ("a", "b")


# ---------------------------------------------------------------- 周经营

def test_weekly_with_holiday_and_make_up_saturday():
    records = [(1, d, True, []) for d in HOLIDAY_WEEK]
    records += [(2, date(2024, 10, 7), True, []),           # holiday log: ignored
                (2, date(2024, 10, 8), True, []), (2, date(2024, 10, 9), False, ["x"]),
                (2, date(2024, 10, 12), True, [])]           # make-up Saturday counts
    week = weekly_view(records, [1, 2, 3], HOLIDAY_WEEK)
    assert (week[1].working_days, week[1].compliant_days, week[1].rate) == (5, 5, D(1))
    assert (week[2].compliant_days, week[2].rate) == (2, D("0.4"))
    assert week[2].failed_days == (date(2024, 10, 9),)
    assert week[2].missing_days == (date(2024, 10, 10), date(2024, 10, 11))
    assert week[2].explanation == "5个工作日中达标2天，达标率40.00%；未提交日志2天；日志未达标1天"
    assert week[2].met is None and week[2].target is None
    assert week[3].compliant_days == 0 and len(week[3].missing_days) == 5


def test_period_without_working_days_and_people_from_records():
    res = period_summary([(7, date(2024, 10, 7), True, [])], None, [])
    assert list(res) == [7] and res[7].rate is None and res[7].explanation == "本期没有工作日，不作考核"


# ---------------------------------------------------------------- 月达标

def month_records(user, days, bad=0):
    """Compliant every working day except the last `bad` days, which have no log."""
    kept = days[:len(days) - bad] if bad else days
    return [(user, d, True, []) for d in kept]


def test_monthly_target_boundary_default_ninety_percent():
    days = weekdays(date(2024, 4, 1), date(2024, 4, 30))[:20]      # 20 working days (assumed calendar)
    records = month_records(1, days, bad=2) + month_records(2, days, bad=3) + month_records(3, days, bad=1)
    month = monthly_view(records, [1, 2, 3], days)
    assert (month[1].rate, month[1].met) == (D("0.9"), True)        # exactly 90% → met (以上)
    assert (month[2].rate, month[2].met) == (D("0.85"), False)      # one day short → not met
    assert (month[3].rate, month[3].met) == (D("0.95"), True)
    assert month[2].explanation.endswith("未达到90.00%的月度标准")


def test_monthly_configurable_target_and_errors():
    days = weekdays(date(2024, 4, 1), date(2024, 4, 30))
    records = month_records(1, days, bad=1)
    assert monthly_view(records, [1], days, target=D(1))[1].met is False
    assert monthly_view(month_records(1, days), [1], days, target=D(1))[1].met is True
    with pytest.raises(ValueError, match="同一个月"):
        monthly_view([], [1], [date(2024, 4, 30), date(2024, 5, 6)])
    with pytest.raises(ValueError, match="月度达标率"):
        monthly_view([], [1], days, target=D(0))


# ---------------------------------------------------------------- 季晋升

def test_quarterly_all_three_months_needed():
    q2 = weekdays(date(2024, 4, 1), date(2024, 6, 30))
    june = [d for d in q2 if d.month == 6]
    good = [(1, d, True, []) for d in q2]
    # person 2 misses 3 June days: 17/20 = 85% < 90%
    missed = set(june[:3])
    partly = [(2, d, True, []) for d in q2 if d not in missed]
    quarter = quarterly_view(good + partly, [1, 2], q2, year=2024, quarter=2)
    assert quarter[1].qualifies is True
    assert quarter[1].explanation.endswith("三个月均达标，可参加季度晋升评定")
    assert quarter[2].qualifies is False
    assert [r.met for r in quarter[2].months.values()] == [True, True, False]
    assert "6月85.00%未达标" in quarter[2].explanation


def test_quarterly_incomplete_quarter_and_errors():
    april_may = weekdays(date(2024, 4, 1), date(2024, 5, 31))
    quarter = quarterly_view([(1, d, True, []) for d in april_may], [1], april_may, year=2024, quarter=2)
    assert quarter[1].qualifies is False and "6月无工作日数据" in quarter[1].explanation
    assert quarter_months(2024, 4) == [(2024, 10), (2024, 11), (2024, 12)]
    with pytest.raises(ValueError, match="不在2024年第1季度内"):
        quarterly_view([], [1], [date(2024, 4, 1)], year=2024, quarter=1)
    with pytest.raises(ValueError, match="季度应为1到4"):
        quarter_months(2024, 5)


def test_records_from_grid():
    from crm.activity.services import Compliance

    day = date(2024, 10, 8)
    grid = {(1, day): [("log-2511", Compliance(False, ["接触客户不足20人（18）"])), ("log-511", Compliance(True, []))],
            (2, day): [("log", Compliance(False, ["未记录同业当天业绩"]))]}
    records = records_from_grid(grid)
    assert records == [DayCompliance(1, day, False, ("接触客户不足20人（18）",)), DayCompliance(1, day, True, ()),
                       DayCompliance(2, day, False, ("未记录同业当天业绩",))]
    view = {s.user_id: s.status for s in daily_view(records, [1, 2], day, HOLIDAY_WEEK)}
    assert view == {1: "compliant", 2: "non_compliant"}
