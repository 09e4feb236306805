"""The 银保贷 demo data (hook crm_seed_demo): cases at every stage, made through the services, obeying the rules."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from crm.demo import seed_demo, seed_plugin_demo
from crm.demo_customers import seed_customers
from crm.extensions import db
from crm.models import AuditLog
from crm.timeutil import today_local
from crm.workdays import add_workdays, ensure_seeded
from plugins.loan_insurance import services as s
from plugins.loan_insurance.demo import STAGES
from plugins.loan_insurance.models import LoanCase, LoanInsurer


def test_demo_makes_one_case_per_stage_that_passes_its_rules_and_a_claim_due_this_week(app):
    seed_demo(11)
    ensure_seeded(echo=lambda _line: None)
    seed_customers(600, 11, lambda _line: None)
    printed: list[str] = []
    seed_plugin_demo(11, printed.append)
    assert any(line.startswith("银保贷：10 笔演示案件") for line in printed)
    cases = db.session.execute(select(LoanCase).order_by(LoanCase.id)).scalars().all()
    statuses = [c.status for c in cases]
    # "claim_due" stops at an opened claim (违约), "recovering" has been paid and recovered from.
    assert statuses == ["accepted", "investigating", "reviewing", "approving", "disbursement_check", "disbursed",
                        "post_loan", "defaulted", "recovering", "settled"]
    assert len(STAGES) == len(cases)
    # Every insurer has a current agreement, one panel per 分行.
    assert db.session.execute(select(func.count()).select_from(LoanInsurer)).scalar_one() == 2
    today = today_local()
    for case in cases:
        failed = [r for r in s.evaluate_case(case, case.application_date) if r.outcome in ("fail", "prohibited")]
        assert failed == [], (case.id, [(r.rule_id, r.reason) for r in failed])
        assert case.premium == (case.insured_amount * case.agreement.premium_rate).quantize(case.premium)
    claim = s.case_claim(cases[7])
    assert claim.waiting_period_end == today - timedelta(days=1)
    assert claim.deadline == add_workdays(today - timedelta(days=1), 3) and claim.deadline >= today
    recovered = s.case_recoveries(cases[8])
    assert recovered and sum(r.insurer_share for r in recovered) <= s.case_claim(cases[8]).paid_amount
    # Made by people, through the services: maker-checker holds and every step is in the audit log.
    case = cases[6]
    assert len({case.prepared_by_id, case.reviewed_by_id, case.approved_by_id, case.checked_by_id}) == 4
    assert db.session.execute(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "loan_insurance.transition")).scalar_one() >= 40
