"""Bancassurance KPIs, premium-target progress, headcount and staffing norms (R-95–R-98, A-13, A-14)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from crm.money import format_cn_amount, format_yuan, round_half_up

SINGLE, REGULAR = "single", "regular"                     # 趸交, 期缴
ACTIVE, CANCELLED, SURRENDERED = "active", "cancelled_cooling", "surrendered"  # 有效, 契撤, 退保
PAYMENT_MODES = {SINGLE: "趸交", REGULAR: "期缴"}
STATUSES = {ACTIVE: "有效", CANCELLED: "契撤", SURRENDERED: "退保"}


@dataclass(frozen=True)
class Policy:
    """One bancassurance policy as the KPI functions need it (spec §2, policy record)."""

    id: int | str
    outlet_id: int | None
    seller_id: int | None
    payment_mode: str          # "single" 趸交 | "regular" 期缴
    premium: Decimal
    fyc: Decimal
    signed_on: date
    status: str = ACTIVE       # "active" | "cancelled_cooling" 契撤 | "surrendered" 退保
    status_changed_on: date | None = None

    def __post_init__(self) -> None:
        if self.payment_mode not in PAYMENT_MODES:
            raise ValueError(f"保单{self.id}缴费方式无效，应为趸交或期缴")
        if self.status not in STATUSES:
            raise ValueError(f"保单{self.id}状态无效，应为有效、契撤或退保")
        for name in ("premium", "fyc"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValueError(f"保单{self.id}的{'保费' if name == 'premium' else 'FYC'}应为非负金额")


def counts(policy: Policy, as_of: date | None = None, *, count_surrendered: bool = True) -> bool:
    """Whether a policy counts in KPIs and target progress (A-13).

    契撤 (free-look cancellation) never counts: the sale is undone as if it had not happened. When `as_of` is given,
    a cancellation recorded after it is not yet known, so the policy still counts on that date (T-62); a 契撤 without
    a recorded date counts as cancelled from the start. 退保 (surrender after the cooling-off period) is decided here
    to count by default: the new business was made and is handled as daily affairs (R-95 lists production KPIs), the
    caller may pass count_surrendered=False to drop it."""
    if as_of is not None and policy.signed_on > as_of:
        return False
    if policy.status == ACTIVE:
        return True
    if as_of is not None and policy.status_changed_on is not None and policy.status_changed_on > as_of:
        return True
    return policy.status == SURRENDERED and count_surrendered


# ---------------------------------------------------------------- KPIs

@dataclass(frozen=True)
class Kpi:
    code: str
    label: str
    value: Decimal | None      # None when the denominator is zero; `explanation` says why
    display: str               # the value as shown: a percentage, a count per head, yuan, or "—"
    formula: str               # the definition in words
    explanation: str           # the formula with this period's figures


@dataclass(frozen=True)
class BancaKpis:
    attendance_rate: Kpi       # 出勤率
    producing_rate: Kpi        # 举绩率
    daily_visits: Kpi          # 日访量
    policies_per_rm: Kpi       # 人均件数
    premium_per_rm: Kpi        # 人均产能
    fyc_per_rm: Kpi            # 人均FYC
    premium_per_outlet: Kpi    # 网均产能
    counted_policies: int
    excluded_policies: int

    def all(self) -> list[Kpi]:
        return [self.attendance_rate, self.producing_rate, self.daily_visits, self.policies_per_rm,
                self.premium_per_rm, self.fyc_per_rm, self.premium_per_outlet]


def _count_arg(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}应为非负整数")
    return value


def _kpi(code: str, label: str, formula: str, num: Decimal, den: int, num_text: str, den_text: str, kind: str,
         zero_reason: str) -> Kpi:
    if den == 0:
        return Kpi(code, label, None, "—", formula, f"{zero_reason}，无法计算{label}")
    raw = num / Decimal(den)
    if kind == "rate":      # a fraction, kept to four decimals (a hundredth of a percent)
        value = round_half_up(raw, 4)
        display = f"{round_half_up(value * 100, 2)}%"
    elif kind == "money":
        value = round_half_up(raw, 2)
        display = format_yuan(value)
    else:                   # a count per head or per day
        value = round_half_up(raw, 2)
        display = f"{value} {kind}"
    return Kpi(code, label, value, display, formula, f"{label} = {num_text} ÷ {den_text} = {display}")


def kpis(policies: Iterable[Policy], *, rms_on_roll: int, attendance_days: int, required_days: int, contacts: int,
         working_days: int, outlets: int, count_surrendered: bool = True) -> BancaKpis:
    """R-95 with the standard definitions of the spec (A-13), over the period's policies (the caller selects them).

    出勤率 = attendance days ÷ required days; 举绩率 = RMs with ≥1 counted policy ÷ RMs on roll; 日访量 = contacts ÷
    (RMs × working days); 人均件数 / 人均产能 / 人均FYC = policies / premium / FYC ÷ RMs; 网均产能 = premium ÷ outlets.
    契撤 is excluded; 退保 counts unless count_surrendered=False (see `counts`). A zero denominator gives value None
    with the reason, never an error."""
    rms = _count_arg(rms_on_roll, "在册客户经理人数")
    attendance_days = _count_arg(attendance_days, "出勤天数")
    required_days = _count_arg(required_days, "应出勤天数")
    contacts = _count_arg(contacts, "客户拜访量")
    working_days = _count_arg(working_days, "工作日数")
    outlets = _count_arg(outlets, "网点数")
    all_policies = list(policies)
    counted = [p for p in all_policies if counts(p, count_surrendered=count_surrendered)]
    premium = sum((p.premium for p in counted), Decimal(0))
    fyc = sum((p.fyc for p in counted), Decimal(0))
    producers = len({p.seller_id for p in counted if p.seller_id is not None})
    n = len(counted)
    no_rms = "在册客户经理人数为零"
    return BancaKpis(
        attendance_rate=_kpi("attendance_rate", "出勤率", "出勤率 = 实际出勤天数 ÷ 应出勤天数", Decimal(attendance_days),
                             required_days, f"出勤{attendance_days}天", f"应出勤{required_days}天", "rate",
                             "应出勤天数为零"),
        producing_rate=_kpi("producing_rate", "举绩率", "举绩率 = 期内出单（≥1件，不含契撤）的客户经理人数 ÷ 在册客户经理人数",
                            Decimal(producers), rms, f"出单{producers}人", f"在册{rms}人", "rate", no_rms),
        daily_visits=_kpi("daily_visits", "日访量", "日访量 = 客户拜访量 ÷ (在册客户经理人数 × 工作日数)，2511标准为20",
                          Decimal(contacts), rms * working_days, f"拜访{contacts}人次",
                          f"({rms}人 × {working_days}个工作日)", "人次/人·日",
                          no_rms if rms == 0 else "工作日数为零"),
        policies_per_rm=_kpi("policies_per_rm", "人均件数", "人均件数 = 有效件数（不含契撤） ÷ 在册客户经理人数",
                             Decimal(n), rms, f"{n}件", f"{rms}人", "件", no_rms),
        premium_per_rm=_kpi("premium_per_rm", "人均产能", "人均产能 = 规模保费（不含契撤） ÷ 在册客户经理人数",
                            premium, rms, f"保费{format_yuan(premium)}", f"{rms}人", "money", no_rms),
        fyc_per_rm=_kpi("fyc_per_rm", "人均FYC", "人均FYC = 首年佣金合计（不含契撤） ÷ 在册客户经理人数",
                        fyc, rms, f"FYC {format_yuan(fyc)}", f"{rms}人", "money", no_rms),
        premium_per_outlet=_kpi("premium_per_outlet", "网均产能", "网均产能 = 规模保费（不含契撤） ÷ 网点数",
                                premium, outlets, f"保费{format_yuan(premium)}", f"{outlets}个网点", "money",
                                "网点数为零"),
        counted_policies=n,
        excluded_policies=len(all_policies) - n,
    )


# ---------------------------------------------------------------- premium targets (R-96, A-14, T-62)

KAIMENHONG, FULL_YEAR = "kaimenhong", "year"
PERIODS = {KAIMENHONG: "开门红", FULL_YEAR: "全年"}
DEFAULT_TARGETS: dict[tuple[str, str], Decimal] = {
    (SINGLE, KAIMENHONG): Decimal(50_000_000),     # 5000万
    (SINGLE, FULL_YEAR): Decimal(150_000_000),     # 1亿5000万
    (REGULAR, KAIMENHONG): Decimal(3_500_000),     # 350万
    (REGULAR, FULL_YEAR): Decimal(12_000_000),     # 1200万
}


@dataclass(frozen=True)
class Progress:
    payment_mode: str
    period: str
    start: date
    end: date
    target: Decimal
    actual: Decimal
    rate: Decimal | None       # actual ÷ target as a fraction (four decimals); None for a zero target
    remaining: Decimal         # what is still missing (0 once reached)
    policies: int
    explanation: str


def target_progress(policies: Iterable[Policy], *, as_of: date, kaimenhong_start: date, kaimenhong_end: date,
                    targets: Mapping[tuple[str, str], Decimal] | None = None,
                    count_surrendered: bool = True) -> dict[tuple[str, str], Progress]:
    """R-96 progress per (payment mode, period) as known on `as_of`: premium of counted policies signed in the window.

    开门红 is a configurable window and counts toward the full year (A-14); the year is the calendar year of the
    开门红 window. A policy signed in 开门红 and cancelled (契撤) later leaves 开门红 progress once the cancellation
    is recorded (T-62: progress drops by its premium)."""
    if kaimenhong_end < kaimenhong_start:
        raise ValueError("开门红结束日期不能早于开始日期")
    if kaimenhong_start.year != kaimenhong_end.year:
        raise ValueError("开门红活动期应在同一年度内")
    year = kaimenhong_start.year
    windows = {KAIMENHONG: (kaimenhong_start, kaimenhong_end), FULL_YEAR: (date(year, 1, 1), date(year, 12, 31))}
    goal = dict(DEFAULT_TARGETS)
    goal.update(targets or {})
    known = [p for p in policies if counts(p, as_of, count_surrendered=count_surrendered)]
    result: dict[tuple[str, str], Progress] = {}
    for mode, mode_label in PAYMENT_MODES.items():
        for period, period_label in PERIODS.items():
            start, end = windows[period]
            chosen = [p for p in known if p.payment_mode == mode and start <= p.signed_on <= end]
            actual = sum((p.premium for p in chosen), Decimal(0))
            target = goal[(mode, period)]
            if not isinstance(target, Decimal) or target < 0:
                raise ValueError(f"{mode_label}{period_label}目标应为非负金额")
            rate = round_half_up(actual / target, 4) if target else None
            remaining = max(target - actual, Decimal(0))
            shown = f"{round_half_up(rate * 100, 2)}%" if rate is not None else "—（目标为零）"
            text = (f"{mode_label}{period_label}（{start.isoformat()}至{end.isoformat()}，截至{as_of.isoformat()}）："
                    f"已完成{format_cn_amount(actual)}，目标{format_cn_amount(target)}，完成率{shown}")
            if remaining:
                text += f"，尚差{format_cn_amount(remaining)}"
            result[(mode, period)] = Progress(mode, period, start, end, target, actual, rate, remaining, len(chosen),
                                              text)
    return result


# ---------------------------------------------------------------- headcount and staffing

@dataclass(frozen=True)
class HeadcountReport:
    rms_per_dept_manager: Decimal | None        # T-48: 48 ÷ 12 = 4
    dept_managers_per_district: Decimal | None  # T-48: 12 ÷ 4 = 3
    alerts: list[str]


def headcount_alerts(district_managers: int, dept_managers: int, rms: int, *,
                     targets: tuple[int, int, int] = (4, 12, 48)) -> HeadcountReport:
    """R-97: headcount targets 营业区经理 4, 营业部经理 12, 客户经理 48 (1 : 3 : 12).

    Alerts: each level below its target; and a span of control wider than the targets' ratio (more RMs per 营业部经理
    or more 营业部经理 per 营业区经理 than the targets give). Ratios are rounded half up to two decimals."""
    district_managers = _count_arg(district_managers, "营业区经理人数")
    dept_managers = _count_arg(dept_managers, "营业部经理人数")
    rms = _count_arg(rms, "客户经理人数")
    t_district, t_dept, t_rm = targets
    alerts = [f"{label}{have}人，目标{want}人，缺{want - have}人"
              for label, have, want in (("营业区经理", district_managers, t_district), ("营业部经理", dept_managers, t_dept),
                                        ("客户经理", rms, t_rm)) if have < want]
    per_dept = round_half_up(Decimal(rms) / Decimal(dept_managers), 2) if dept_managers else None
    per_district = round_half_up(Decimal(dept_managers) / Decimal(district_managers), 2) if district_managers else None
    if per_dept is not None and t_dept and per_dept > Decimal(t_rm) / Decimal(t_dept):
        alerts.append(f"每名营业部经理带{per_dept}名客户经理，超过标准{t_rm // t_dept}名")
    if per_district is not None and t_district and per_district > Decimal(t_dept) / Decimal(t_district):
        alerts.append(f"每名营业区经理带{per_district}名营业部经理，超过标准{t_dept // t_district}名")
    if dept_managers == 0 and rms:
        alerts.append("没有营业部经理，客户经理无人带领")
    if district_managers == 0 and dept_managers:
        alerts.append("没有营业区经理，营业部经理无人带领")
    return HeadcountReport(per_dept, per_district, alerts)


@dataclass(frozen=True)
class StaffingResult:
    per_outlet: Decimal | None
    required: int
    shortfall: int
    alert: bool
    message: str


def staffing_alert(outlets: int, effective_staff: int, norm: int = 2) -> StaffingResult:
    """R-98 (001): bancassurance needs `norm` (2) effective staff per outlet. T-49:
    70 outlets, 60 staff → 60/70 per outlet < 2 → alert; 140 needed, 80 short."""
    outlets = _count_arg(outlets, "网点数")
    staff = _count_arg(effective_staff, "有效人力")
    norm = _count_arg(norm, "每网点标准人力")
    required = outlets * norm
    shortfall = max(required - staff, 0)
    if outlets == 0:
        return StaffingResult(None, 0, 0, False, "没有合作网点，无需配置银保人力")
    per_outlet = round_half_up(Decimal(staff) / Decimal(outlets), 2)
    alert = staff < required
    message = f"{outlets}个网点、有效人力{staff}人，网均{per_outlet}人"
    message += (f"，低于每网点{norm}人的标准，需{required}人，缺{shortfall}人" if alert
                else f"，达到每网点{norm}人的标准")
    return StaffingResult(per_outlet, required, shortfall, alert, message)


# R-98 (001), bank side: the second-tier branch's settlement & cash-management department ≥ 3 RMs; every corporate
# outlet (including combined outlets) ≥ 1 RM.
BANK_UNIT_NORMS: dict[str, tuple[str, int]] = {
    "settlement_dept": ("结算与现金管理部", 3),
    "corporate_outlet": ("对公网点", 1),
    "combined_outlet": ("综合网点", 1),
}


@dataclass(frozen=True)
class UnitAlert:
    unit: object
    kind: str
    rm_count: int
    required: int
    message: str


def bank_staffing_alerts(units: Iterable[tuple[object, str, int]]) -> list[UnitAlert]:
    """R-98 bank-side norms over (unit, kind, rm_count): kinds "settlement_dept" (≥3 RMs), "corporate_outlet" and
    "combined_outlet" (≥1 RM); other kinds (e.g. a personal-only outlet) carry no norm. Returns the units below it."""
    alerts: list[UnitAlert] = []
    for unit, kind, rm_count in units:
        rm_count = _count_arg(rm_count, "客户经理人数")
        if kind not in BANK_UNIT_NORMS:
            continue
        label, need = BANK_UNIT_NORMS[kind]
        if rm_count < need:
            alerts.append(UnitAlert(unit, kind, rm_count, need,
                                    f"{unit}（{label}）配备客户经理{rm_count}人，应不少于{need}人，缺{need - rm_count}人"))
    return alerts
