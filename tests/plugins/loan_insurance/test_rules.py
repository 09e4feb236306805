"""银保贷 eligibility rules as pure functions (R-49–R-57, R-64, R-69): every boundary of the issue, T-18, T-20, T-22,
the "原则上" overrides, the ten prohibited situations and the speed of ``evaluate``. No database."""

from __future__ import annotations

import statistics
import time
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from plugins.loan_insurance import rules
from plugins.loan_insurance.rules import CAUTION, FAIL, PASS, PASS_EXCEPTION, PROHIBITED

D = Decimal


def collateral(**kw):
    base = dict(kind="building", address="人民路1号", clear_title=True, county_urban_area=True, design_use="commercial",
                build_year=2010, completed_on=None, last_transfer_on=date(2018, 5, 1), owner_is_minor=False,
                in_demolition_zone=False, illegal_building=False, sealed_seized_supervised=False,
                otherwise_non_mortgageable=False, appraised_value=D("2000000"), appraisal_report_no="PG-1",
                bank_sole_mortgagee=True)
    base.update(kw)
    return SimpleNamespace(**base)


def mk(**kw):
    """A case-like object every rule passes (T-20 figures), applying 2024-03-04."""
    insurer = SimpleNamespace(id=1, name="平安财险", active=True, branch_id=10)
    agreement = SimpleNamespace(insurer=insurer, agreement_no="YBD-1", valid_from=date(2024, 1, 1),
                                valid_to=date(2026, 12, 31), mortgage_rate=D("0.60"), premium_rate=D("0.015"))
    base = dict(branch_id=10, application_date=date(2024, 3, 4), has_account_at_outlet=True,
                borrower_type="enterprise", registered_with_aic=True, registered_on=date(2020, 1, 15),
                main_shareholder_industry_years=D("5"), clear_business_no_bad_record=True,
                controller_no_bad_habits=True, prohibited_note=None, use_is_working_capital=True,
                use_of_funds="采购", product="working_capital", amount=D("1800000"), term_start=date(2024, 3, 15),
                term_end=date(2025, 3, 15), margin_amount=None, agreement=agreement, policy_start=date(2024, 3, 15),
                policy_end=date(2025, 3, 15), insured_amount=D("600000"), approved_insured_amount=D("600000"),
                bank_sole_beneficiary=True, collaterals=[collateral()],
                guarantors=[SimpleNamespace(name="张三", role="legal_rep", kind="person", joint_liability=True)],
                shareholders=[SimpleNamespace(name="张三", share_pct=D("100"), has_spouse=True)], overrides=[])
    base.update({f"prohibited_{i}": False for i in range(1, 11)})
    base.update(kw)
    return SimpleNamespace(**base)


def rule(results, rule_id):
    [r] = [r for r in results if r.rule_id == rule_id]
    return r


def test_the_default_case_passes_every_rule():
    results = rules.evaluate(mk())
    assert [r.rule_id for r in results if r.outcome != PASS] == []
    assert len(results) == 33  # 2 account/insurer + R-69 + 4 borrower + 10 guarantee + 10 prohibited + 6 terms


# ---------------------------------------------------------------- R-50 (2), T-18

@pytest.mark.parametrize("applied, years, outcome", [
    (date(2024, 7, 15), D("0"), PASS),      # 6 months exactly (inclusive)
    (date(2024, 7, 14), D("0"), FAIL),      # one day short
    (date(2024, 7, 14), D("3.0"), PASS),    # …unless the main shareholder has 3 years exactly
    (date(2024, 7, 14), D("2.9"), FAIL),
    (date(2024, 7, 14), None, FAIL),
])
def test_t18_operating_six_months_or_three_years_in_the_industry(applied, years, outcome):
    case = mk(registered_on=date(2024, 1, 15), application_date=applied, main_shareholder_industry_years=years,
              term_start=date(2024, 7, 20), term_end=date(2025, 7, 20), policy_start=date(2024, 7, 20),
              policy_end=date(2025, 7, 20))
    r = rule(rules.evaluate(case), "R-50.2")
    assert (r.outcome, r.article) == (outcome, "第六条（二）")
    if outcome == FAIL and years is None:
        assert "2024-07-15满6个月" in r.reason


def test_six_months_from_the_31st_ends_on_the_last_day_of_a_short_month():
    assert rules.add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)
    assert rules.add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)


@pytest.mark.parametrize("field, rule_id", [("has_account_at_outlet", "R-49.1"), ("registered_with_aic", "R-50.1"),
                                            ("clear_business_no_bad_record", "R-50.3"),
                                            ("controller_no_bad_habits", "R-50.4")])
def test_borrower_conditions_are_each_required(field, rule_id):
    assert rule(rules.evaluate(mk(**{field: False})), rule_id).outcome == FAIL


# ---------------------------------------------------------------- R-51 (3): building age ≤ 20 years

@pytest.mark.parametrize("applied, outcome", [
    (date(2024, 12, 31), PASS),  # built 2004: taken as completed 2004-12-31 → exactly 20 years
    (date(2025, 1, 1), FAIL),    # 20 years and a day
])
def test_building_age_by_build_year(applied, outcome):
    case = mk(application_date=applied, collaterals=[collateral(build_year=2004)], term_start=applied,
              term_end=applied, policy_start=applied, policy_end=applied)
    r = rule(rules.evaluate(case), "R-51.3c")
    assert r.outcome == outcome
    if outcome == FAIL:
        assert "最后可受理日2024-12-31" in r.reason


@pytest.mark.parametrize("applied, outcome", [(date(2024, 6, 30), PASS), (date(2024, 7, 1), FAIL)])
def test_building_age_by_completion_date(applied, outcome):
    case = mk(application_date=applied, collaterals=[collateral(build_year=2004, completed_on=date(2004, 6, 30))],
              term_start=applied, term_end=applied, policy_start=applied, policy_end=applied)
    assert rule(rules.evaluate(case), "R-51.3c").outcome == outcome


def test_land_has_no_building_age_but_is_cautious():
    case = mk(collaterals=[collateral(kind="land", build_year=None, design_use=None, county_urban_area=False)])
    results = rules.evaluate(case)
    assert rule(results, "R-51.3c").outcome == PASS
    assert rule(results, "R-51.3b").outcome == PASS
    assert rule(results, "R-51.5").outcome == CAUTION


# ---------------------------------------------------------------- R-51 (2): transfer < 3 months / < 1 year

@pytest.mark.parametrize("transferred, outcome", [
    (date(2023, 12, 4), CAUTION),   # exactly 3 months before 2024-03-04: no longer "不满3个月", but < 1 year
    (date(2023, 12, 5), FAIL),      # 3 months less a day: in principle refused
    (date(2023, 3, 4), PASS),       # exactly 1 year
    (date(2023, 3, 5), CAUTION),    # a year less a day
])
def test_transfer_boundaries(transferred, outcome):
    r = rule(rules.evaluate(mk(collaterals=[collateral(last_transfer_on=transferred)])), "R-51.2b")
    assert (r.outcome, r.overridable) == (outcome, True)


def test_recent_transfer_passes_as_exception_only_with_a_recorded_override():
    case = mk(collaterals=[collateral(last_transfer_on=date(2024, 2, 1))])
    assert rule(rules.evaluate(case), "R-51.2b").outcome == FAIL
    case.overrides = [SimpleNamespace(rule_id="R-51.2b", reason="原房东为借款人实际控制人，内部过户")]
    r = rule(rules.evaluate(case), "R-51.2b")
    assert r.outcome == PASS_EXCEPTION and "内部过户" in r.reason and not r.blocking


@pytest.mark.parametrize("use, outcome", [("residential", PASS), ("commercial", PASS), ("industrial", FAIL),
                                          ("other", FAIL), (None, FAIL)])
def test_design_use_residential_or_commercial_only(use, outcome):
    assert rule(rules.evaluate(mk(collaterals=[collateral(design_use=use)])), "R-51.3b").outcome == outcome


def test_county_level_urban_area_required():
    r = rule(rules.evaluate(mk(collaterals=[collateral(county_urban_area=False)])), "R-51.3a")
    assert r.outcome == FAIL and "县级以上" in r.reason


@pytest.mark.parametrize("flag, words", [("owner_is_minor", "未成年人"), ("in_demolition_zone", "拆迁"),
                                         ("illegal_building", "违法违章"), ("sealed_seized_supervised", "查封"),
                                         ("otherwise_non_mortgageable", "依法不能抵押")])
def test_the_exclusions_of_article_7_4(flag, words):
    r = rule(rules.evaluate(mk(collaterals=[collateral(**{flag: True})])), "R-51.4")
    assert r.outcome == FAIL and words in r.reason and not r.overridable


def test_sole_mortgagee_required_and_not_overridable():
    case = mk(collaterals=[collateral(bank_sole_mortgagee=False)])
    case.overrides = [SimpleNamespace(rule_id="R-51.6", reason="试图例外")]
    assert rule(rules.evaluate(case), "R-51.6").outcome == FAIL


def test_main_shareholders_must_guarantee():
    case = mk(shareholders=[SimpleNamespace(name="张三", share_pct=D("60"), has_spouse=False),
                            SimpleNamespace(name="王五", share_pct=D("10"), has_spouse=False),
                            SimpleNamespace(name="赵六", share_pct=D("9.99"), has_spouse=False)])
    r = rule(rules.evaluate(case), "R-51.1")
    assert r.outcome == FAIL and "王五" in r.reason and "赵六" not in r.reason
    case.guarantors = []
    assert "法定代表人或实际控制人" in rule(rules.evaluate(case), "R-51.1").reason


# ---------------------------------------------------------------- prohibited, never overridable

@pytest.mark.parametrize("n", range(1, 11))
def test_any_prohibited_situation_is_prohibited(n):
    case = mk(**{f"prohibited_{n}": True}, prohibited_note="人行黑名单")
    case.overrides = [SimpleNamespace(rule_id=f"R-52.{n}", reason="例外")]
    r = rule(rules.evaluate(case), f"R-52.{n}")
    assert (r.outcome, r.blocking, r.overridable) == (PROHIBITED, True, False)
    assert r.article.startswith("第八条（") and "严禁授信" in r.reason


# ---------------------------------------------------------------- R-55, R-64 (6): T-20

def test_t20_pure_mortgage_and_insured_parts():
    case = mk()
    assert rules.pure_mortgage_amount(case) == D("1200000.00")
    assert rules.insured_part(case) == D("600000.00")
    assert rule(rules.evaluate(case), "R-55").outcome == PASS
    check6 = rule(rules.disbursement_rules(case), "R-64.6")
    assert check6.outcome == PASS and "1,800,000.00" in check6.reason


@pytest.mark.parametrize("amount, outcome", [("2000000", PASS), ("2000000.01", FAIL), ("2100000", FAIL)])
def test_amount_at_most_the_appraised_value(amount, outcome):
    r = rule(rules.evaluate(mk(amount=D(amount))), "R-55")
    assert r.outcome == outcome
    if amount == "2100000":
        assert "2,100,000.00" in r.reason and "2,000,000.00" in r.reason


def test_check6_fails_when_the_policy_insures_more_than_the_room():
    case = mk(insured_amount=D("800000.01"))
    assert rule(rules.disbursement_rules(case), "R-64.6").outcome == FAIL
    assert rule(rules.disbursement_rules(case), "R-64.3").outcome == FAIL  # not what was approved


def test_small_credit_is_all_pure_mortgage():
    case = mk(amount=D("1000000"), insured_amount=D("0"), approved_insured_amount=D("0"))
    assert rules.insured_part(case) == D("0")
    assert all(r.outcome == PASS for r in rules.disbursement_rules(case))


# ---------------------------------------------------------------- term and policy period

@pytest.mark.parametrize("end, outcome", [(date(2025, 3, 15), PASS), (date(2025, 3, 16), FAIL)])
def test_term_at_most_one_year(end, outcome):
    case = mk(term_end=end, policy_end=date(2025, 12, 31))
    assert rule(rules.evaluate(case), "R-56a").outcome == outcome


@pytest.mark.parametrize("policy_end, outcome", [(date(2025, 3, 15), PASS), (date(2025, 3, 14), FAIL)])
def test_policy_end_equal_to_credit_end_covers(policy_end, outcome):
    case = mk(policy_end=policy_end)
    assert rule(rules.evaluate(case), "R-56b").outcome == outcome
    assert rule(rules.disbursement_rules(case), "R-64.5").outcome == outcome


def test_policy_start_after_credit_start_does_not_cover():
    assert rule(rules.evaluate(mk(policy_start=date(2024, 3, 16))), "R-56b").outcome == FAIL


def test_missing_policy_is_cautious_at_application_but_fails_the_disbursement_check():
    case = mk(policy_start=None, policy_end=None)
    assert rule(rules.evaluate(case), "R-56b").outcome == CAUTION
    assert rule(rules.disbursement_rules(case), "R-64.5").outcome == FAIL


# ---------------------------------------------------------------- T-22

@pytest.mark.parametrize("margin, outcome", [("400000", PASS), ("399999.99", FAIL), ("350000", FAIL)])
def test_t22_acceptance_margin(margin, outcome):
    case = mk(product="acceptance", amount=D("1000000"), margin_amount=D(margin))
    r = rule(rules.evaluate(case), "R-57")
    assert (r.outcome, r.overridable) == (outcome, True)
    if outcome == FAIL:
        assert "400,000.00" in r.reason and "40%" in r.reason


def test_t22_margin_exception_recorded():
    case = mk(product="acceptance", amount=D("1000000"), margin_amount=D("350000"),
              overrides=[SimpleNamespace(rule_id="R-57", reason="优质客户，行长批准")])
    assert rule(rules.evaluate(case), "R-57").outcome == PASS_EXCEPTION


def test_working_capital_needs_no_margin():
    assert rule(rules.evaluate(mk(margin_amount=None)), "R-57").outcome == PASS


def test_products_and_use():
    assert rule(rules.evaluate(mk(product="mortgage")), "R-54").outcome == FAIL
    assert rule(rules.evaluate(mk(use_is_working_capital=False, use_of_funds="炒股")), "R-53").outcome == FAIL


# ---------------------------------------------------------------- panel and suspension

def test_no_agreement_or_expired_or_other_branch_insurer():
    assert rule(rules.evaluate(mk(agreement=None)), "R-49.2").outcome == FAIL
    case = mk()
    case.agreement.valid_to = date(2024, 3, 10)  # the credit starts 2024-03-15, outside
    r = rule(rules.evaluate(case), "R-49.2")
    assert r.outcome == FAIL and "2024-03-15" in r.reason
    case = mk()
    case.agreement.valid_to = date(2024, 3, 15)  # last day inclusive
    assert rule(rules.evaluate(case), "R-49.2").outcome == PASS
    case = mk()
    case.agreement.insurer.branch_id = 99
    assert "不在本分行入围名单" in rule(rules.evaluate(case), "R-49.2").reason
    case = mk()
    case.agreement.insurer.branch_id = None  # HQ-wide panel
    assert rule(rules.evaluate(case), "R-49.2").outcome == PASS


def test_suspension_stops_new_customers_of_that_insurer_in_that_branch_only():
    s = SimpleNamespace(insurer_id=1, branch_id=10, starts_on=date(2024, 3, 1), ends_on=None, reason="逾期赔付")
    assert rule(rules.evaluate(mk(), suspensions=[s]), "R-69").outcome == FAIL
    assert rule(rules.evaluate(mk(), suspensions=[s], new_customer=False), "R-69").outcome == PASS
    other_branch = SimpleNamespace(**{**vars(s), "branch_id": 11})
    other_insurer = SimpleNamespace(**{**vars(s), "insurer_id": 2})
    later = SimpleNamespace(**{**vars(s), "starts_on": date(2024, 3, 5)})
    ended = SimpleNamespace(**{**vars(s), "ends_on": date(2024, 3, 3)})
    for x in (other_branch, other_insurer, later, ended):
        assert rule(rules.evaluate(mk(), suspensions=[x]), "R-69").outcome == PASS


# ---------------------------------------------------------------- R-59 premium

def test_premium_rounds_half_up_to_the_fen():
    assert rules.premium_for(D("600000"), D("0.015")) == D("9000.00")
    assert rules.premium_for(D("333333.33"), D("0.0125")) == D("4166.67")  # 4166.666625
    assert rules.premium_for(D("100.10"), D("0.005")) == D("0.50")  # 0.5005 → 0.50
    assert rules.premium_for(D("101"), D("0.005")) == D("0.51")  # 0.505 half up (not to even)


# ---------------------------------------------------------------- speed (issue goal: median < 5 ms per case)

def test_evaluate_is_fast():
    case = mk(collaterals=[collateral(), collateral(address="二号")])
    timings = []
    for _ in range(200):
        t = time.perf_counter()
        rules.evaluate(case, date(2024, 3, 4))
        rules.disbursement_rules(case)
        timings.append(time.perf_counter() - t)
    assert statistics.median(timings) < 0.005
