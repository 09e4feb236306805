"""日跟踪、周经营、月达标、季晋升 (R-39): daily 2511/511 log compliance (R-35, R-36) rolled up per person."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from crm.money import round_half_up

COMPLIANT, NON_COMPLIANT, NO_LOG, REST = "compliant", "non_compliant", "no_log", "rest"
STATUS_LABELS = {COMPLIANT: "达标", NON_COMPLIANT: "未达标", NO_LOG: "未提交日志", REST: "非工作日"}

# 月达标: share of the month's working days with a compliant log. Interpretation: 90% (以上, inclusive), so a day of
# leave or training that the calendar does not know about does not fail the month; configurable (100% = every day).
MONTH_TARGET = Decimal("0.90")


class DayCompliance(NamedTuple):
    """One person's compliance on one day, as crm.activity.services.compliance(log) found it for one log."""

    user_id: Hashable
    day: date
    compliant: bool
    reasons: Sequence[str] = ()


def records_from_grid(grid: Mapping[tuple[Hashable, date], Iterable[tuple[Any, Any]]]) -> list[DayCompliance]:
    """Turn crm.activity.services.compliance_grid's grid {(user_id, day): [(log, Compliance), …]} into records
    (one per log; objects with `.ok` and `.reasons`, as crm.activity.services.Compliance)."""
    return [DayCompliance(user, day, bool(c.ok), tuple(str(r) for r in c.reasons))
            for (user, day), logs in grid.items() for _log, c in logs]


def _by_person_day(records: Iterable[DayCompliance | tuple]) -> dict[tuple[Hashable, date], DayCompliance]:
    """Merge several logs of one person and day (a 2511 and a 511 log): the day is compliant when any of its logs is
    (the person met one daily model, A-12); otherwise the reasons of all its logs are kept."""
    merged: dict[tuple[Hashable, date], DayCompliance] = {}
    for raw in records:
        rec = raw if isinstance(raw, DayCompliance) else DayCompliance(*raw)
        key = (rec.user_id, rec.day)
        seen = merged.get(key)
        if seen is None or (rec.compliant and not seen.compliant):
            merged[key] = DayCompliance(rec.user_id, rec.day, rec.compliant, tuple(rec.reasons))
        elif not seen.compliant and not rec.compliant:
            merged[key] = seen._replace(reasons=tuple(seen.reasons) + tuple(r for r in rec.reasons
                                                                            if r not in seen.reasons))
    return merged


def _people(people: Iterable[Hashable] | None, merged: dict[tuple[Hashable, date], DayCompliance]) -> list[Hashable]:
    if people is not None:
        return list(dict.fromkeys(people))
    return list(dict.fromkeys(user for user, _ in merged))


# ---------------------------------------------------------------- 日跟踪

@dataclass(frozen=True)
class DayStatus:
    user_id: Hashable
    day: date
    status: str                # compliant | non_compliant | no_log | rest
    reasons: tuple[str, ...]

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


def daily_view(records: Iterable[DayCompliance | tuple], people: Iterable[Hashable], day: date,
               working_days: Iterable[date]) -> list[DayStatus]:
    """日跟踪 (R-39): each person's status on `day`. No log on a working day is non-compliant ("未提交日志"); on a
    non-working day a missing log is "rest" and a log that is there is still shown as it was judged."""
    merged = _by_person_day(r for r in records if r[1] == day)
    workday = day in set(working_days)
    out: list[DayStatus] = []
    for user in _people(people, merged):
        rec = merged.get((user, day))
        if rec is None:
            out.append(DayStatus(user, day, NO_LOG if workday else REST, ("未提交日志",) if workday else ()))
        else:
            out.append(DayStatus(user, day, COMPLIANT if rec.compliant else NON_COMPLIANT, tuple(rec.reasons)))
    return out


# ---------------------------------------------------------------- 周经营 / 月达标

@dataclass(frozen=True)
class PeriodResult:
    user_id: Hashable
    working_days: int
    compliant_days: int
    rate: Decimal | None                      # compliant ÷ working days, four decimals; None without workdays
    missing_days: tuple[date, ...]            # working days without any log
    failed_days: tuple[date, ...]             # working days with a log that was not compliant
    target: Decimal | None = None             # monthly target (月达标) when judged
    met: bool | None = None                   # rate ≥ target; None when not judged or no working days
    explanation: str = ""


def _pct(rate: Decimal) -> str:
    return f"{round_half_up(rate * 100, 2)}%"


def period_summary(records: Iterable[DayCompliance | tuple], people: Iterable[Hashable] | None,
                   working_days: Iterable[date], *, target: Decimal | None = None) -> dict[Hashable, PeriodResult]:
    """周经营 / 月达标 (R-39): per person, compliant working days ÷ working days of the period.

    Only the working days passed count (the lead takes them from crm.workdays, so holidays are out and make-up
    Saturdays are in); a log on any other day neither adds nor subtracts. With a `target` the person meets it when the
    rate is at or above it ("以上")."""
    days = sorted(set(working_days))
    merged = _by_person_day(records)
    result: dict[Hashable, PeriodResult] = {}
    for user in _people(people, merged):
        ok = [d for d in days if (rec := merged.get((user, d))) is not None and rec.compliant]
        missing = tuple(d for d in days if (user, d) not in merged)
        failed = tuple(d for d in days if (rec := merged.get((user, d))) is not None and not rec.compliant)
        if not days:
            result[user] = PeriodResult(user, 0, 0, None, (), (), target, None, "本期没有工作日，不作考核")
            continue
        rate = round_half_up(Decimal(len(ok)) / Decimal(len(days)), 4)
        text = f"{len(days)}个工作日中达标{len(ok)}天，达标率{_pct(rate)}"
        if missing:
            text += f"；未提交日志{len(missing)}天"
        if failed:
            text += f"；日志未达标{len(failed)}天"
        met = None
        if target is not None:
            met = Decimal(len(ok)) >= target * len(days)  # exact, not the rounded rate
            text += f"；{'达到' if met else '未达到'}{_pct(target)}的月度标准"
        result[user] = PeriodResult(user, len(days), len(ok), rate, missing, failed, target, met, text)
    return result


def weekly_view(records: Iterable[DayCompliance | tuple], people: Iterable[Hashable] | None,
                working_days: Iterable[date]) -> dict[Hashable, PeriodResult]:
    """周经营: the week's compliant days ÷ working days per person (no target is judged)."""
    return period_summary(records, people, working_days)


def monthly_view(records: Iterable[DayCompliance | tuple], people: Iterable[Hashable] | None,
                 working_days: Iterable[date], *, target: Decimal = MONTH_TARGET) -> dict[Hashable, PeriodResult]:
    """月达标: the month's rate judged against `target` (default 90% of working days, inclusive)."""
    if not isinstance(target, Decimal) or not Decimal(0) < target <= 1:
        raise ValueError("月度达标率应大于0且不超过100%")
    days = list(working_days)
    if len({(d.year, d.month) for d in days}) > 1:
        raise ValueError("月度考核的工作日应在同一个月内")
    return period_summary(records, people, days, target=target)


# ---------------------------------------------------------------- 季晋升

@dataclass(frozen=True)
class QuarterResult:
    user_id: Hashable
    months: dict[tuple[int, int], PeriodResult] = field(default_factory=dict)
    qualifies: bool = False                   # all three months met the target → promotion review
    explanation: str = ""


def quarter_months(year: int, quarter: int) -> list[tuple[int, int]]:
    if quarter not in (1, 2, 3, 4):
        raise ValueError("季度应为1到4")
    return [(year, 3 * (quarter - 1) + i) for i in (1, 2, 3)]


def quarterly_view(records: Iterable[DayCompliance | tuple], people: Iterable[Hashable] | None,
                   working_days: Iterable[date], *, year: int, quarter: int,
                   target: Decimal = MONTH_TARGET) -> dict[Hashable, QuarterResult]:
    """季晋升 (R-39): a person qualifies for the quarter's promotion review when each of its three months met the
    monthly target (月达标). Interpretation: log compliance is the gate to the review, not the promotion itself (the
    grade decision is grades.quarterly_review). A month without working days in the list (a quarter not yet over)
    means no qualification yet."""
    months = quarter_months(year, quarter)
    days = list(working_days)
    if any((d.year, d.month) not in months for d in days):
        raise ValueError(f"工作日不在{year}年第{quarter}季度内")
    recs = list(records)
    per_month = {m: monthly_view(recs, people, [d for d in days if (d.year, d.month) == m], target=target)
                 for m in months}
    merged_people = _people(people, _by_person_day(recs))
    result: dict[Hashable, QuarterResult] = {}
    for user in merged_people:
        got = {m: per_month[m][user] for m in months}
        parts, qualifies = [], True
        for (_, month), res in got.items():
            if res.met is None:
                qualifies = False
                parts.append(f"{month}月无工作日数据")
            else:
                qualifies = qualifies and res.met
                parts.append(f"{month}月{_pct(res.rate)}{'达标' if res.met else '未达标'}")
        verdict = "三个月均达标，可参加季度晋升评定" if qualifies else "未满足三个月均达标，本季度不参加晋升评定"
        result[user] = QuarterResult(user, got, qualifies, "；".join(parts) + "。" + verdict)
    return result
