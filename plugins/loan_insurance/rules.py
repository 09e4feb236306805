"""银保贷 eligibility, explained: pure functions over a case-like object and a date (R-49–R-57, R-64, R-69).

No database access here: the caller passes the case with its collateral, guarantors, shareholders, agreement
(with its insurer) and overrides loaded, plus the suspensions and whether the customer is new. ``evaluate`` takes
well under a millisecond per case (bench: ``evaluate(case, on)``)."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.money import format_yuan, round_half_up

PASS, FAIL, CAUTION, PROHIBITED, PASS_EXCEPTION = "pass", "fail", "caution", "prohibited", "pass_exception"
OUTCOME_LABELS = {PASS: _l("通过"), FAIL: _l("不通过"), CAUTION: _l("审慎"), PROHIBITED: _l("严禁授信"),
                  PASS_EXCEPTION: _l("通过（例外）")}

# "原则上" rules: a user holding loan_insurance.override may record an exception with a reason.
OVERRIDABLE = frozenset({"R-51.2b", "R-57"})

# R-50 (2): operating ≥ 6 months (inclusive) or main shareholder ≥ 3 years in the industry (inclusive).
OPERATING_MONTHS = 6
INDUSTRY_YEARS = Decimal(3)
# R-51 (2): transferred < 3 months → in principle not accepted; < 1 year → cautious.
TRANSFER_REFUSE_MONTHS = 3
TRANSFER_CAUTION_MONTHS = 12
# R-51 (3): building age ≤ 20 years; design use 住宅 or 商用.
MAX_BUILDING_AGE = 20
ACCEPTED_USES = ("residential", "commercial")
# acceptance margin in principle ≥ 40%.
MIN_MARGIN = Decimal("0.40")
# term ≤ 1 year.
MAX_TERM_MONTHS = 12

_USE_LABELS = {"residential": "住宅", "commercial": "商用", "industrial": "工业", "other": "其他"}


@dataclass(frozen=True)
class RuleResult:
    """One rule's verdict on a case: which rule, where in the 办法, and why (in Chinese, with the values)."""

    rule_id: str
    article: str
    label: str
    outcome: str
    reason: str
    overridable: bool = False

    @property
    def blocking(self) -> bool:
        return self.outcome in (FAIL, PROHIBITED)

    @property
    def outcome_label(self) -> str:
        return str(OUTCOME_LABELS[self.outcome])


# ---------------------------------------------------------------- dates

def add_months(day: date, months: int) -> date:
    """The same day ``months`` later; a day the target month lacks becomes its last day (08-31 + 6 → 02-28/29)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_years(day: date, years: int) -> date:
    return add_months(day, 12 * years)


def building_age_limit(collateral: Any) -> date | None:
    """The last day on which the building is at most 20 years old (R-51 (3)).

    With a completion date (竣工日期) the age runs from it: completed 2004-06-30 → 20 years on 2024-06-30 (still
    accepted), 2024-07-01 is 20 years and a day (refused). With only the build year the building is taken as
    completed on 31 December of that year, i.e. the age is the application year minus the build year: built 2004 →
    accepted through 2024-12-31, refused from 2025-01-01 (20 years and a day)."""
    if getattr(collateral, "completed_on", None):
        return add_years(collateral.completed_on, MAX_BUILDING_AGE)
    if getattr(collateral, "build_year", None):
        return date(collateral.build_year + MAX_BUILDING_AGE, 12, 31)
    return None


# ---------------------------------------------------------------- money

def total_appraised(case: Any) -> Decimal:
    return sum((c.appraised_value or Decimal(0) for c in case.collaterals), Decimal(0))


def pure_mortgage_amount(case: Any) -> Decimal:
    """The pure-mortgage part (T-20): min(credit, appraised value × mortgage rate), to the fen, half up."""
    rate = case.agreement.mortgage_rate if case.agreement is not None else Decimal(0)
    return min(case.amount, round_half_up(total_appraised(case) * rate))


def insured_part(case: Any) -> Decimal:
    """The part above the mortgage rate, to be covered by guarantee insurance (R-55, T-20)."""
    return case.amount - pure_mortgage_amount(case)


def premium_for(insured_amount: Decimal, premium_rate: Decimal) -> Decimal:
    """R-59: premium = insured amount × premium rate, rounded half up to the fen."""
    return round_half_up(insured_amount * premium_rate)


def _yuan(value: Decimal | None) -> str:
    return format_yuan(value)


# ---------------------------------------------------------------- evaluation

def _r(rule_id: str, article: str, label: str, outcome: str, reason: str) -> RuleResult:
    return RuleResult(rule_id, article, label, outcome, reason, rule_id in OVERRIDABLE)


def _borrower(case: Any, on: date) -> list[RuleResult]:
    out = []
    out.append(_r("R-49.1", "第五条", _("在本行网点开户"),
                  PASS if case.has_account_at_outlet else FAIL,
                  _("借款人已在本行网点开户") if case.has_account_at_outlet
                  else _("借款人未在本行网点开户，本业务仅适用于本行各网点开户的企业法人及个体工商户")))
    kind = {"enterprise": "企业法人", "individual": "个体工商户"}.get(case.borrower_type)
    ok = bool(kind) and bool(case.registered_with_aic)
    out.append(_r("R-50.1", "第六条（一）", _("经工商行政管理部门核准登记"), PASS if ok else FAIL,
                  _("已核准登记为%(kind)s", kind=kind) if ok
                  else _("借款人须为经工商行政管理部门核准登记的企业法人或个体工商户")))
    # R-50 (2), T-18: registered 2024-01-15 → six months on 2024-07-15 (met), 2024-07-14 not yet.
    years = case.main_shareholder_industry_years
    if case.registered_on is not None and on >= add_months(case.registered_on, OPERATING_MONTHS):
        out.append(_r("R-50.2", "第六条（二）", _("正常经营半年（含）以上或主要股东从业三年（含）以上"), PASS,
                      _("%(reg)s注册，至%(on)s已满6个月", reg=case.registered_on.isoformat(), on=on.isoformat())))
    elif years is not None and years >= INDUSTRY_YEARS:
        out.append(_r("R-50.2", "第六条（二）", _("正常经营半年（含）以上或主要股东从业三年（含）以上"), PASS,
                      _("经营未满6个月，但主要股东（含实际控制人）从业%(y)s年，满3年", y=years)))
    else:
        since = (_("%(reg)s注册，至%(on)s未满6个月（%(full)s满6个月）", reg=case.registered_on.isoformat(),
                   on=on.isoformat(), full=add_months(case.registered_on, OPERATING_MONTHS).isoformat())
                 if case.registered_on else _("未录入注册日期"))
        out.append(_r("R-50.2", "第六条（二）", _("正常经营半年（含）以上或主要股东从业三年（含）以上"), FAIL,
                      _("%(since)s；主要股东从业%(y)s年，不足3年", since=since, y=years if years is not None else 0)))
    out.append(_r("R-50.3", "第六条（三）", _("主营业务清晰，无欠税、逃废债务等违法违规行为和不良信用记录"),
                  PASS if case.clear_business_no_bad_record else FAIL,
                  _("已核实") if case.clear_business_no_bad_record
                  else _("未确认主营业务清晰、无欠缴税费、逃废债务等违法违规行为和不良信用记录")))
    out.append(_r("R-50.4", "第六条（四）", _("实际控制人无不良嗜好、无恶意不良信用记录"),
                  PASS if case.controller_no_bad_habits else FAIL,
                  _("已核实") if case.controller_no_bad_habits
                  else _("未确认企业实际控制人无不良嗜好、无恶意不良信用记录")))
    return out


def _guarantee(case: Any, on: date) -> list[RuleResult]:
    out = []
    # R-51 (1): joint liability by the legal rep or actual controller AND the main shareholders (holders of ≥10%,
    # the threshold the 办法 uses for shareholders in 第十九条（四）).
    joint = [g for g in case.guarantors if g.joint_liability]
    roles = {g.role for g in joint}
    names = {g.name.strip() for g in joint}
    main = [s.name.strip() for s in case.shareholders if s.share_pct >= Decimal(10)]
    missing = [n for n in main if n not in names]
    if not roles & {"legal_rep", "controller"}:
        out.append(_r("R-51.1", "第七条（一）", _("法定代表人或实际控制人及主要股东提供连带责任担保"), FAIL,
                      _("缺少法定代表人或实际控制人的连带责任担保")))
    elif missing:
        out.append(_r("R-51.1", "第七条（一）", _("法定代表人或实际控制人及主要股东提供连带责任担保"), FAIL,
                      _("主要股东%(names)s未提供连带责任担保", names="、".join(missing))))
    else:
        out.append(_r("R-51.1", "第七条（一）", _("法定代表人或实际控制人及主要股东提供连带责任担保"), PASS,
                      _("%(n)s名担保人提供连带责任担保", n=len(joint))))
    colls = list(case.collaterals)
    if not colls:
        out.append(_r("R-51.2a", "第七条（二）", _("抵押物合法取得、产权明晰、可交易、可登记"), FAIL,
                      _("未登记抵押物")))
        return out
    bad = [_label(i, c) for i, c in enumerate(colls) if not c.clear_title]
    out.append(_r("R-51.2a", "第七条（二）", _("抵押物合法取得、产权明晰、可交易、可登记"),
                  FAIL if bad else PASS,
                  _("%(c)s产权不明晰或不可公开交易、登记", c="、".join(bad)) if bad else _("产权明晰")))
    out.append(_transfer(colls, on))
    buildings = [(i, c) for i, c in enumerate(colls) if c.kind == "building"]
    not_urban = [_label(i, c) for i, c in buildings if not c.county_urban_area]
    out.append(_r("R-51.3a", "第七条（三）", _("位于企业所在地县级以上（含）城区"), FAIL if not_urban else PASS,
                  _("%(c)s不在企业所在地县级以上（含）城区", c="、".join(not_urban)) if not_urban
                  else _("位于县级以上（含）城区")))
    bad_use = [_("%(c)s设计用途为%(u)s", c=_label(i, c), u=_USE_LABELS.get(c.design_use or "", "未录入"))
               for i, c in buildings if c.design_use not in ACCEPTED_USES]
    out.append(_r("R-51.3b", "第七条（三）", _("设计用途为住宅或商用"), FAIL if bad_use else PASS,
                  _("%(x)s，仅接受住宅或商用", x="；".join(bad_use)) if bad_use else _("设计用途为住宅或商用")))
    out.append(_building_age(buildings, on))
    excluded = []
    for i, c in enumerate(colls):
        why = [w for flag, w in ((c.owner_is_minor, _("抵押人为未成年人")), (c.in_demolition_zone, _("列入拆迁范围")),
                                 (c.illegal_building, _("违法违章建筑")),
                                 (c.sealed_seized_supervised, _("被查封、扣押、监管")),
                                 (c.otherwise_non_mortgageable, _("依法不能抵押"))) if flag]
        if why:
            excluded.append(_("%(c)s：%(w)s", c=_label(i, c), w="、".join(why)))
    out.append(_r("R-51.4", "第七条（四）", _("不属于不接受抵押的房屋"), FAIL if excluded else PASS,
                  "；".join(excluded) if excluded else _("无未成年人产权、拆迁、违章、查封扣押监管情形")))
    lands = [_label(i, c) for i, c in enumerate(colls) if c.kind == "land"]
    out.append(_r("R-51.5", "第七条（五）", _("土地抵押参照本行相关规定"), CAUTION if lands else PASS,
                  _("%(c)s为土地抵押，须按本行土地抵押规定另行审核", c="、".join(lands)) if lands
                  else _("无土地抵押")))
    not_sole = [_label(i, c) for i, c in enumerate(colls) if not c.bank_sole_mortgagee]
    out.append(_r("R-51.6", "第七条（六）", _("本行为唯一抵押权人"), FAIL if not_sole else PASS,
                  _("%(c)s未指定本行为唯一抵押权人", c="、".join(not_sole)) if not_sole else _("本行为唯一抵押权人")))
    unvalued = [_label(i, c) for i, c in enumerate(colls)
                if not c.appraised_value or c.appraised_value <= 0 or not c.appraisal_report_no]
    out.append(_r("R-51.7", "第七条（七）", _("抵押物价值经评估核定"), FAIL if unvalued else PASS,
                  _("%(c)s缺少评估价值或评估报告编号", c="、".join(unvalued)) if unvalued
                  else _("评估价值合计%(v)s", v=_yuan(total_appraised(case)))))
    return out


def _label(index: int, collateral: Any) -> str:
    return _("抵押物%(n)s（%(a)s）", n=index + 1, a=collateral.address or "")


def _transfer(colls: list[Any], on: date) -> RuleResult:
    """R-51 (2): transferred less than 3 months before `on` → in principle refused (overridable); less than a
    year → cautious. Exactly 3 months (transfer 2024-01-10, applying 2024-04-10) is no longer "不满3个月"."""
    refuse, caution = [], []
    for i, c in enumerate(colls):
        if c.last_transfer_on is None:
            continue
        if on < add_months(c.last_transfer_on, TRANSFER_REFUSE_MONTHS):
            refuse.append(_("%(c)s于%(d)s过户，不满3个月", c=_label(i, c), d=c.last_transfer_on.isoformat()))
        elif on < add_months(c.last_transfer_on, TRANSFER_CAUTION_MONTHS):
            caution.append(_("%(c)s于%(d)s过户，不满1年", c=_label(i, c), d=c.last_transfer_on.isoformat()))
    label = _("过户时间（不满3个月原则上不受理，不满1年审慎介入）")
    if refuse:
        return _r("R-51.2b", "第七条（二）", label, FAIL, _("%(x)s，原则上不受理", x="；".join(refuse + caution)))
    if caution:
        return _r("R-51.2b", "第七条（二）", label, CAUTION, _("%(x)s，审慎介入", x="；".join(caution)))
    return _r("R-51.2b", "第七条（二）", label, PASS, _("过户均已满1年"))


def _building_age(buildings: list[tuple[int, Any]], on: date) -> RuleResult:
    old, unknown = [], []
    for i, c in buildings:
        limit = building_age_limit(c)
        if limit is None:
            unknown.append(_label(i, c))
        elif on > limit:
            built = c.completed_on.isoformat() if c.completed_on else str(c.build_year)
            old.append(_("%(c)s建成于%(b)s，至%(on)s房龄超过20年（最后可受理日%(l)s）", c=_label(i, c), b=built,
                         on=on.isoformat(), l=limit.isoformat()))
    if unknown:
        old.append(_("%(c)s未录入建成年份", c="、".join(unknown)))
    return _r("R-51.3c", "第七条（三）", _("房龄不超过20年"), FAIL if old else PASS,
              "；".join(old) if old else _("房龄均不超过20年"))


def _prohibited(case: Any) -> list[RuleResult]:
    from plugins.loan_insurance.models import PROHIBITED as TEXTS

    out = []
    for n, text in enumerate(TEXTS, start=1):
        flag = getattr(case, f"prohibited_{n}", False)
        article = f"第八条（{CN_NUM[n]}）"  # a citation of the 办法, like every article
        if flag:
            out.append(_r(f"R-52.{n}", article, str(text), PROHIBITED,
                          _("存在第八条（%(n)s）情形，严禁授信%(note)s", n=CN_NUM[n],
                            note=("：" + case.prohibited_note) if case.prohibited_note else "")))
        else:
            out.append(_r(f"R-52.{n}", article, str(text), PASS, _("无此情形")))
    return out


CN_NUM = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九", 10: "十"}


def _terms(case: Any, on: date) -> list[RuleResult]:
    out = []
    out.append(_r("R-53", "第九条", _("用于正常生产经营的流动资金需要"),
                  PASS if case.use_is_working_capital else FAIL,
                  _("用途：%(u)s", u=case.use_of_funds or "流动资金") if case.use_is_working_capital
                  else _("用途“%(u)s”不属于正常流动资金需要或流入禁止领域", u=case.use_of_funds or "")))
    ok = case.product in ("working_capital", "acceptance")
    out.append(_r("R-54", "第十条", _("业务品种为流动资金贷款或银行承兑"), PASS if ok else FAIL,
                  _("业务品种符合") if ok else _("本业务仅适用于流动资金贷款、银行承兑")))
    # R-55, T-20: the credit may not exceed the appraised value (equal is allowed).
    appraised = total_appraised(case)
    if case.amount <= appraised:
        out.append(_r("R-55", "第十一条", _("授信金额不超过抵押物评估价值"), PASS,
                      _("授信%(a)s ≤ 评估价值%(v)s；纯抵押部分%(p)s，保险部分%(i)s", a=_yuan(case.amount),
                        v=_yuan(appraised), p=_yuan(pure_mortgage_amount(case)), i=_yuan(insured_part(case)))))
    else:
        out.append(_r("R-55", "第十一条", _("授信金额不超过抵押物评估价值"), FAIL,
                      _("授信%(a)s超过抵押物评估价值%(v)s", a=_yuan(case.amount), v=_yuan(appraised))))
    # at most one year: a term from 2024-03-01 may end 2025-03-01 at the latest.
    if case.term_start is None or case.term_end is None:
        out.append(_r("R-56a", "第十二条", _("授信期限不超过1年"), FAIL, _("未录入授信起止日期")))
    else:
        latest = add_months(case.term_start, MAX_TERM_MONTHS)
        if case.term_end < case.term_start:
            out.append(_r("R-56a", "第十二条", _("授信期限不超过1年"), FAIL, _("授信到期日早于起始日")))
        elif case.term_end <= latest:
            out.append(_r("R-56a", "第十二条", _("授信期限不超过1年"), PASS,
                          _("%(s)s至%(e)s，不超过1年", s=case.term_start.isoformat(), e=case.term_end.isoformat())))
        else:
            out.append(_r("R-56a", "第十二条", _("授信期限不超过1年"), FAIL,
                          _("%(s)s至%(e)s超过1年（最迟%(l)s到期）", s=case.term_start.isoformat(),
                            e=case.term_end.isoformat(), l=latest.isoformat())))
    out.append(policy_cover(case, "R-56b", "第十二条"))
    # R-57, T-22: acceptance margin ≥ 40% "原则上" (1,000,000 → at least 400,000).
    if case.product != "acceptance":
        out.append(_r("R-57", "第十三条（二）", _("银行承兑保证金比率不低于40%"), PASS, _("非银行承兑，不适用")))
    else:
        need = round_half_up(case.amount * MIN_MARGIN)
        margin = case.margin_amount or Decimal(0)
        if margin >= need:
            out.append(_r("R-57", "第十三条（二）", _("银行承兑保证金比率不低于40%"), PASS,
                          _("保证金%(m)s ≥ %(n)s（40%%）", m=_yuan(margin), n=_yuan(need))))
        else:
            out.append(_r("R-57", "第十三条（二）", _("银行承兑保证金比率不低于40%"), FAIL,
                          _("保证金%(m)s低于承兑金额的40%%（%(n)s），原则上不予办理", m=_yuan(margin),
                            n=_yuan(need))))
    return out


def policy_cover(case: Any, rule_id: str, article: str) -> RuleResult:
    """R-56 / R-64 (5): the credit period lies inside the policy period (equal ends are inside)."""
    label = _("授信起止时间不突破保险单起止时间")
    if case.policy_start is None or case.policy_end is None:
        return _r(rule_id, article, label, CAUTION if rule_id == "R-56b" else FAIL, _("尚未录入保单起止日期"))
    if case.term_start is None or case.term_end is None:
        return _r(rule_id, article, label, FAIL, _("未录入授信起止日期"))
    if case.policy_start <= case.term_start and case.term_end <= case.policy_end:
        return _r(rule_id, article, label, PASS, _("保单%(ps)s至%(pe)s覆盖授信%(s)s至%(e)s",
                                                   ps=case.policy_start.isoformat(), pe=case.policy_end.isoformat(),
                                                   s=case.term_start.isoformat(), e=case.term_end.isoformat()))
    return _r(rule_id, article, label, FAIL, _("授信%(s)s至%(e)s超出保单期间%(ps)s至%(pe)s",
                                               s=case.term_start.isoformat(), e=case.term_end.isoformat(),
                                               ps=case.policy_start.isoformat(), pe=case.policy_end.isoformat()))


def _insurer(case: Any, on: date, suspensions: Iterable[Any], new_customer: bool) -> list[RuleResult]:
    out = []
    agreement = case.agreement
    label = _("在本行入围保险公司办理保证保险，且在合作协议有效期内")
    if agreement is None:
        out.append(_r("R-49.2", "第三条、第十六条", label, FAIL, _("未选择入围保险公司的合作协议")))
        return out
    insurer = agreement.insurer
    days = [on] + ([case.term_start] if case.term_start else [])
    outside = [d.isoformat() for d in days if not (agreement.valid_from <= d <= agreement.valid_to)]
    if not insurer.active:
        out.append(_r("R-49.2", "第三条、第十六条", label, FAIL, _("%(i)s已不在入围名单", i=insurer.name)))
    elif insurer.branch_id is not None and insurer.branch_id != case.branch_id:
        out.append(_r("R-49.2", "第三条、第十六条", label, FAIL, _("%(i)s不在本分行入围名单", i=insurer.name)))
    elif outside:
        out.append(_r("R-49.2", "第三条、第十六条", label, FAIL,
                      _("协议%(no)s有效期%(f)s至%(t)s，不含%(d)s", no=agreement.agreement_no,
                        f=agreement.valid_from.isoformat(), t=agreement.valid_to.isoformat(), d="、".join(outside))))
    else:
        out.append(_r("R-49.2", "第三条、第十六条", label, PASS,
                      _("%(i)s，协议%(no)s有效期%(f)s至%(t)s", i=insurer.name, no=agreement.agreement_no,
                        f=agreement.valid_from.isoformat(), t=agreement.valid_to.isoformat())))
    out.append(evaluate_suspension(case, on, suspensions, new_customer))
    return out


def evaluate_suspension(case: Any, on: date, suspensions: Iterable[Any], new_customer: bool) -> RuleResult:
    """R-69 / A-15: approvals of NEW customers with an insurer suspended for the case's 分行 on `on` are refused;
    customers who already had a 银保贷 loan are not affected."""
    label = _("保险公司未被暂停新增客户审批")
    insurer = case.agreement.insurer if case.agreement is not None else None
    active = [] if insurer is None else [
        s for s in suspensions if s.insurer_id == insurer.id and s.branch_id == case.branch_id
        and s.starts_on <= on and (s.ends_on is None or on <= s.ends_on)]
    if not active:
        return _r("R-69", "第二十八条", label, PASS, _("未暂停"))
    if not new_customer:
        return _r("R-69", "第二十八条", label, PASS,
                  _("%(i)s自%(d)s起暂停新增客户审批；本客户为存量客户，不受影响", i=insurer.name,
                    d=active[0].starts_on.isoformat()))
    return _r("R-69", "第二十八条", label, FAIL,
              _("%(i)s自%(d)s起在本分行暂停新增客户审批（%(r)s）", i=insurer.name,
                d=active[0].starts_on.isoformat(), r=active[0].reason))


def _apply_overrides(results: list[RuleResult], overrides: Iterable[Any]) -> list[RuleResult]:
    granted = {o.rule_id: o for o in overrides}
    out = []
    for r in results:
        o = granted.get(r.rule_id)
        if o is not None and r.outcome == FAIL and r.overridable:
            r = replace(r, outcome=PASS_EXCEPTION, reason=_("%(r)s；已按例外放行：%(why)s", r=r.reason, why=o.reason))
        out.append(r)
    return out


def evaluate(case: Any, on: date | None = None, *, suspensions: Iterable[Any] = (), new_customer: bool = True,
             overrides: Iterable[Any] | None = None) -> list[RuleResult]:
    """Every eligibility rule of R-49–R-57 and R-69 for `case` on `on` (default: its application date).

    `suspensions` are LoanSuspension-like rows (any insurer/分行; filtered here); `new_customer` says whether the
    customer has no earlier 银保贷 loan (R-69 concerns new customers only); `overrides` default to the case's own.
    A recorded override turns a "原则上" FAIL into PASS_EXCEPTION; prohibited situations are never overridden."""
    on = on or case.application_date
    results = [*_borrower(case, on), *_insurer(case, on, suspensions, new_customer), *_guarantee(case, on),
               *_prohibited(case), *_terms(case, on)]
    return _apply_overrides(results, case.overrides if overrides is None else overrides)


def disbursement_rules(case: Any) -> list[RuleResult]:
    """The computable points of R-64 (放款审核, 第二十二条): 1, 2, 4, 5 and 6 are recomputed from the case, 3 against
    the insured part fixed at approval; 7 ("其他") is the checker's judgement and not computed here."""
    out = []
    colls = list(case.collaterals)
    not_sole = [_label(i, c) for i, c in enumerate(colls) if not c.bank_sole_mortgagee]
    out.append(_r("R-64.1", "第二十二条（一）", _("本行对抵押物具有唯一抵押权益"),
                  FAIL if not_sole or not colls else PASS,
                  _("%(c)s未登记本行为唯一抵押权人", c="、".join(not_sole) or _("抵押物")) if not_sole or not colls
                  else _("唯一抵押权人")))
    need = insured_part(case)
    insured = case.insured_amount
    agreement = case.agreement
    if agreement is None or not agreement.insurer.active:
        out.append(_r("R-64.2", "第二十二条（二）", _("超出抵押率部分已在入围保险公司投保"), FAIL,
                      _("未在入围保险公司投保")))
    elif need > 0 and (insured is None or insured < need):
        out.append(_r("R-64.2", "第二十二条（二）", _("超出抵押率部分已在入围保险公司投保"), FAIL,
                      _("超出抵押率部分%(n)s，保险金额%(i)s不足", n=_yuan(need), i=_yuan(insured))))
    else:
        out.append(_r("R-64.2", "第二十二条（二）", _("超出抵押率部分已在入围保险公司投保"), PASS,
                      _("超出抵押率部分%(n)s，保险金额%(i)s", n=_yuan(need), i=_yuan(insured))))
    approved = case.approved_insured_amount
    if approved is None or insured is None or insured != approved:
        out.append(_r("R-64.3", "第二十二条（三）", _("投保单上的保险金额符合审批要求"), FAIL,
                      _("保险金额%(i)s与审批确定的%(a)s不一致", i=_yuan(insured), a=_yuan(approved))))
    else:
        out.append(_r("R-64.3", "第二十二条（三）", _("投保单上的保险金额符合审批要求"), PASS,
                      _("保险金额%(i)s与审批一致", i=_yuan(insured))))
    out.append(_r("R-64.4", "第二十二条（四）", _("本行为唯一受益人"), PASS if case.bank_sole_beneficiary else FAIL,
                  _("本行为唯一受益人") if case.bank_sole_beneficiary else _("保单未指定本行为唯一受益人")))
    out.append(policy_cover(case, "R-64.5", "第二十二条（五）"))
    # R-64 (6), T-20: insured 600,000 + pure mortgage 1,200,000 = 1,800,000 ≤ 2,000,000.
    pure = pure_mortgage_amount(case)
    appraised = total_appraised(case)
    covered = (insured or Decimal(0)) + pure
    out.append(_r("R-64.6", "第二十二条（六）", _("被保险贷款金额加纯抵押贷款金额不高于抵押物评估价值"),
                  PASS if covered <= appraised else FAIL,
                  _("%(i)s + %(p)s = %(t)s %(op)s 评估价值%(v)s", i=_yuan(insured), p=_yuan(pure), t=_yuan(covered),
                    op="≤" if covered <= appraised else ">", v=_yuan(appraised))))
    return out
