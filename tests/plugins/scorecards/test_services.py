"""Scorecards services: periods, figures, set-based computation with explanations, review (maker-checker), lock,
corrections as new revisions, scheme versions that change only future computations, scope."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog
from plugins.scorecards import services as s
from plugins.scorecards.models import ScorecardActual, ScorecardPeriod, ScorecardResult, ScorecardScheme
from tests.conftest import make_user, table_snapshot
from tests.plugins.scorecards.conftest import as_user

YEAR = date(2024, 6, 30)


def year_period(sc) -> ScorecardPeriod:
    return as_user(sc.marketing, s.open_period, "year", YEAR)


def subject(period, user):
    return s.find_subject(period, "staff", user.id)


def enter(sc, period, user, values: dict, by=None):
    by = by or sc.marketing
    for key, value in values.items():
        as_user(by, s.set_actual, period, subject(period, user), key, value)


RM_FIGURES = {"deposits": "33", "npl": "0", "collection": "99.8", "accounts": "12", "conduct_deductions": "0",
              "major_violation": "否", **{f"monthly_deposits.m{m:02d}": "100" for m in range(1, 13)},
              "monthly_deposits.base": "100"}


def result_of(period, user, code) -> ScorecardResult:
    return db.session.execute(select(ScorecardResult).join(ScorecardScheme).where(
        ScorecardResult.period_id == period.id, ScorecardResult.subject_id == user.id,
        ScorecardScheme.code == code)).scalar_one()


def test_compute_scores_each_person_by_the_scheme_of_their_grade_with_explanations(sc):
    period = year_period(sc)
    assert period.label == "2024年度" and period.starts_on == date(2024, 1, 1)
    enter(sc, period, sc.rm_senior, RM_FIGURES)
    enter(sc, period, sc.rm_junior, {**RM_FIGURES, "deposits": "1050000"})
    report = as_user(sc.marketing, s.compute_period, period)
    senior = result_of(period, sc.rm_senior, "003a-rm-senior")
    # R-79 with R-78 steps: 46 + 30 + 26 + 10 (12 of 10 accounts, no bonus) = 112.
    assert senior.total == D("112.00") and senior.action == "keep" and senior.rank == 1
    assert senior.items[0]["explanation"].startswith("新增存款日均增长33%，目标30%，每1个百分点2分：+6，本项46分")
    junior = result_of(period, sc.rm_junior, "003a-rm-junior")
    assert D(junior.items[0]["points"]) == D("50")  # T-37: 1,050,000 → +5 steps → +10 → 50
    # The middle-grade manager has no figures: a result that says what is missing, never a silent 0.
    middle = result_of(period, sc.rm_middle, "003a-rm-middle")
    assert middle.total is None and any("新增存款日均" in m for m in middle.missing)
    assert report.scored >= 2 and report.missing >= 1
    assert db.session.get(ScorecardPeriod, period.id).status == "computed"


def test_t34_president_total_64_is_demoted_by_r80(sc):
    period = year_period(sc)
    enter(sc, period, sc.president1, {"deposits": "20", "npl": "0.6", "collection": "99.3", "income": "16",
                                      "major_accident": "否"})
    as_user(sc.marketing, s.compute_period, period)
    r = result_of(period, sc.president1, "003a-head")
    assert r.total == D("64.00") and r.action == "demote"
    assert any(w["rule"] == "R-80" and "64分" in w["reason"] for w in r.warnings)


def test_r81_three_months_below_90_percent_of_base_demote(sc):
    period = year_period(sc)
    figures = dict(RM_FIGURES)
    figures.update({"monthly_deposits.m03": "89", "monthly_deposits.m04": "89.99", "monthly_deposits.m05": "80"})
    enter(sc, period, sc.rm_senior, figures)
    enter(sc, period, sc.rm_middle, {**figures, "monthly_deposits.m04": "90"})  # exactly 90% breaks the run
    as_user(sc.marketing, s.compute_period, period)
    assert result_of(period, sc.rm_senior, "003a-rm-senior").action == "demote"
    assert result_of(period, sc.rm_middle, "003a-rm-middle").action == "keep"


def test_bad_figures_are_refused_in_chinese_and_nothing_is_written(sc):
    period = year_period(sc)
    before = table_snapshot()
    person = subject(period, sc.rm_senior)
    with pytest.raises(s.ServiceError, match="须为数字"):
        as_user(sc.marketing, s.set_actual, period, person, "deposits", "三十")
    with pytest.raises(s.ServiceError, match="请填“是”或“否”"):
        as_user(sc.marketing, s.set_actual, period, person, "major_violation", "也许")
    with pytest.raises(s.ServiceError, match="本考核期没有此项指标"):
        as_user(sc.marketing, s.set_actual, period, person, "no_such_thing", "1")
    assert table_snapshot() == before


def test_nobody_enters_their_own_figures_or_those_of_another_outlet(sc):
    period = year_period(sc)
    with pytest.raises(s.ServiceError, match="只能录入您管辖范围内人员"):
        as_user(sc.head_a2, s.set_actual, period, subject(period, sc.rm_senior), "deposits", "30")  # outlet A
    head_b1 = make_user("HX0001", "outlet_head", outlet=sc.a, name="甲网点第二负责人")
    as_user(head_b1, s.set_actual, period, subject(period, sc.rm_senior), "deposits", "30")
    with pytest.raises(s.ServiceError, match="只能录入您管辖范围内人员"):
        as_user(sc.head_a, s.set_actual, period, subject(period, sc.head_a), "deposits", "30")


def test_review_is_by_another_person_then_lock_makes_it_immutable(sc):
    period = year_period(sc)
    enter(sc, period, sc.rm_senior, RM_FIGURES)
    as_user(sc.branch_admin1, s.compute_period, period)  # holds both "manage" and "review"
    with pytest.raises(s.ServiceError, match="计算人不能复核自己计算的结果"):
        as_user(sc.branch_admin1, s.review_period, period)
    with pytest.raises(s.ServiceError, match="您的岗位没有此项权限"):
        as_user(sc.marketing, s.review_period, period)
    with pytest.raises(s.ServiceError, match="复核后才能锁定"):
        as_user(sc.marketing, s.lock_period, period)
    as_user(sc.branch_head, s.review_period, period)
    as_user(sc.marketing, s.lock_period, period)
    before = table_snapshot()
    for call in (lambda: as_user(sc.marketing, s.set_actual, period, subject(period, sc.rm_senior), "deposits", "40"),
                 lambda: as_user(sc.marketing, s.compute_period, period)):
        with pytest.raises(s.ServiceError, match="已锁定"):
            call()
    assert table_snapshot() == before


def test_a_figure_changed_after_computing_sends_the_period_back_to_open(sc):
    period = year_period(sc)
    enter(sc, period, sc.rm_senior, RM_FIGURES)
    as_user(sc.marketing, s.compute_period, period)
    as_user(sc.branch_head, s.review_period, period)
    enter(sc, period, sc.rm_senior, {"deposits": "35"})
    db.session.refresh(period)
    assert period.status == "open" and period.reviewed_by_id is None


def test_correction_is_a_new_audited_revision_and_the_locked_one_stays(sc):
    period = year_period(sc)
    enter(sc, period, sc.rm_senior, RM_FIGURES)
    as_user(sc.marketing, s.compute_period, period)
    as_user(sc.branch_head, s.review_period, period)
    from plugins.scorecards.models_rewards import ScorecardPool

    db.session.add(ScorecardPool(period_id=period.id, outlet_id=sc.a.id, kind="bsc", amount=D("30000")))
    db.session.commit()
    as_user(sc.marketing, s.lock_period, period)
    old_result = result_of(period, sc.rm_senior, "003a-rm-senior").total
    with pytest.raises(s.FormErrors, match="请填写更正原因"):
        as_user(sc.marketing, s.correct_period, period, "  ")
    new = as_user(sc.marketing, s.correct_period, period, "存款日均数据源更正")
    assert (new.revision, new.status, new.supersedes_id, new.label) == (2, "open", period.id, "2024年度（更正第1版）")
    old = db.session.get(ScorecardPeriod, period.id)
    assert old.status == "locked" and old.superseded
    copied = db.session.execute(select(func.count()).select_from(ScorecardActual).where(
        ScorecardActual.period_id == new.id)).scalar_one()
    assert copied == len(RM_FIGURES)
    assert db.session.execute(select(ScorecardPool.amount).where(ScorecardPool.period_id == new.id)).scalar_one() \
        == D("30000")  # the pay pool entered for the period is carried over too
    enter(sc, new, sc.rm_senior, {"deposits": "35"})
    as_user(sc.marketing, s.compute_period, new)
    assert result_of(new, sc.rm_senior, "003a-rm-senior").total == D("116.00")
    assert result_of(period, sc.rm_senior, "003a-rm-senior").total == old_result  # the locked one unchanged
    assert db.session.execute(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "scorecards.corrected")).scalar_one() == 1


def test_an_edited_scheme_changes_only_future_computations(sc):
    period = year_period(sc)
    enter(sc, period, sc.rm_senior, RM_FIGURES)
    as_user(sc.marketing, s.compute_period, period)
    first = result_of(period, sc.rm_senior, "003a-rm-senior")
    scheme = first.scheme
    definition = dict(scheme.definition)
    definition["items"] = [dict(i, target="25") if i["code"] == "deposits" else i for i in definition["items"]]
    new = as_user(sc.branch_admin1, s.save_scheme, scheme.id, definition, "存款目标下调")
    assert (new.branch_id, new.revision, new.current) == (sc.b1.id, 2, True)  # 甲分行's own copy, 第2版
    assert db.session.get(ScorecardScheme, scheme.id).definition["items"][0]["target"] == "30"
    assert first.total == D("112.00")  # stored results keep the version that computed them
    as_user(sc.marketing, s.compute_period, period)
    again = result_of(period, sc.rm_senior, "003a-rm-senior")
    assert again.scheme_id == new.id and D(again.items[0]["points"]) == D("56")  # 33 vs 25: +16 → 56
    # 乙分行 still computes with the 全行 default.
    assert [x.id for x in s.current_schemes(sc.b2.id) if x.code == "003a-rm-senior"] == [scheme.id]


def test_t61_a_200_point_template_summing_to_190_is_refused(sc):
    scheme = next(x for x in s.current_schemes(sc.b1.id) if x.code == "002-200")
    definition = dict(scheme.definition)
    definition["items"] = [dict(i, max="70") if i["code"] == "results" else i for i in definition["items"]]
    with pytest.raises(s.ServiceError, match="合计190分，应为200分"):
        as_user(sc.branch_admin1, s.save_scheme, scheme.id, definition)


def test_results_are_scoped_staff_see_their_own_outlet_heads_their_outlet(sc):
    period = year_period(sc)
    enter(sc, period, sc.rm_senior, RM_FIGURES)
    enter(sc, period, sc.rm_junior, {**RM_FIGURES, "deposits": "1050000"})
    as_user(sc.marketing, s.compute_period, period)

    def seen(user):
        from flask import current_app
        from flask_login import login_user

        with current_app.test_request_context():
            login_user(user)
            return sorted(r.subject_id for r in db.session.execute(s.results_query(user, period)).scalars())

    assert seen(sc.rm_senior) == [sc.rm_senior.id]
    assert sc.rm_junior.id not in seen(sc.head_a) and sc.rm_senior.id in seen(sc.head_a)
    assert {sc.rm_senior.id, sc.rm_junior.id} <= set(seen(sc.marketing))
    assert seen(sc.head_b) == []
    assert s.visible_period(period.id, sc.head_b) is None


def test_process_scheme_takes_visits_contacts_claims_and_log_rate_from_the_crm(sc):
    """R-94 / R-39: the 包户包效 process indicators come from the CRM's own records, and cannot be typed."""
    from datetime import datetime

    from crm.models import Activity, Customer, CustomerClaim, DailyLog
    from crm.timeutil import local_to_utc

    customer = Customer(outlet_id=sc.a.id, kind="personal", name="走访对象", deposit_balance=D("0"),
                        maintainer_id=sc.rm_senior.id)
    db.session.add(customer)
    db.session.flush()
    at = local_to_utc(datetime(2024, 11, 5, 10, 0))
    db.session.add_all([Activity(customer_id=customer.id, user_id=sc.rm_senior.id, kind=kind, occurred_at=at,
                                 summary="走访") for kind in ("visit", "visit", "meeting", "call")])
    db.session.add(Activity(customer_id=customer.id, user_id=sc.rm_senior.id, kind="visit", summary="上月",
                            occurred_at=local_to_utc(datetime(2024, 10, 31, 23, 0))))  # not November
    db.session.add_all([CustomerClaim(customer_id=customer.id, user_id=sc.rm_senior.id, post="corporate_rm",
                                      kind="claim", state="won", created_at=at)])
    # 2511 logs (T-13): compliant on 2024-11-04 and 11-05 (contacts 22, effective 5, one problem), not on 11-06.
    for day, contacts_ in ((date(2024, 11, 4), 22), (date(2024, 11, 5), 22), (date(2024, 11, 6), 18)):
        db.session.add(DailyLog(user_id=sc.rm_senior.id, outlet_id=sc.a.id, day=day, model="2511",
                                contacts=contacts_, effective=5, policies=0, problems="客户嫌收益低",
                                log_text="当日接触客户"))
    db.session.commit()
    period = as_user(sc.marketing, s.open_period, "month", date(2024, 11, 15))
    with pytest.raises(s.ServiceError, match="由系统自动取数，不能手工录入"):
        as_user(sc.marketing, s.set_actual, period, subject(period, sc.rm_senior), "p_visits", "20")
    as_user(sc.marketing, s.compute_period, period)
    r = result_of(period, sc.rm_senior, "002-process")
    items = {i["code"]: i for i in r.items}
    assert D(items["p_visits"]["actual"]) == 3 and D(items["p_contacts"]["actual"]) == 4
    assert D(items["p_claims"]["actual"]) == 1
    assert items["p_visits"]["explanation"].startswith("走访客户完成3次，目标20次")
    # November 2024 has 21 working days (no holiday): 2 compliant → 9.52%.
    assert D(items["p_logs"]["actual"]) == D("9.52")
    sources = dict(db.session.execute(select(ScorecardActual.code, ScorecardActual.source).where(
        ScorecardActual.subject_id == sc.rm_senior.id)).all())
    assert sources["p_visits"] == "crm" and sources["p_logs"] == "crm"
