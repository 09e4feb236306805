"""Demo data for 银保贷: a panel insurer and agreement per 分行, and cases at every stage, made through the services."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from crm.access import scoped
from crm.demo import as_user
from crm.extensions import db
from crm.models import Branch, Customer, Outlet, User
from crm.timeutil import today_local
from plugins.loan_insurance import services
from plugins.loan_insurance.models import LoanAgreement, LoanCase

INSURERS = ("中国人民财产保险", "中国平安财产保险")
# The stage each demo case is taken to, in order: a busy pipeline, with a claim falling due this week.
STAGES = ("accepted", "investigating", "reviewing", "approving", "disbursement_check", "disbursed", "post_loan",
          "claim_due", "recovering", "settled")



def _one(post: str, **where: Any) -> User | None:
    stmt = select(User).where(User.post == post, User.active.is_(True)).order_by(User.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(User, key) == value)
    return db.session.execute(stmt.limit(1)).scalar_one_or_none()


def _case_data(rng: random.Random, customer: Customer, agreement: LoanAgreement, applied: date) -> dict[str, Any]:
    """Facts that pass every rule: a commercial building appraised well above the credit (T-20's shape)."""
    appraised = rng.choice((1_600_000, 2_000_000, 2_500_000, 3_200_000, 4_000_000))
    amount = appraised * rng.choice((7, 8, 9)) // 10 // 10_000 * 10_000  # 70–90% of the value
    pure = int(appraised * agreement.mortgage_rate)
    insured = max(amount - pure, 0)
    start = applied + timedelta(days=10)
    end = start.replace(year=start.year + 1) if not (start.month == 2 and start.day == 29) else start + timedelta(365)
    surname = customer.legal_rep or "王建国"
    spouse = rng.choice("李王张刘陈杨赵黄周吴") + rng.choice(("秀英", "丽娟", "静", "敏", "芳", "桂兰", "海燕", "红梅"))
    return {
        "customer_id": customer.id, "borrower_type": "enterprise", "product": "working_capital",
        "amount": str(amount), "application_date": applied.isoformat(), "term_start": start.isoformat(),
        "term_end": end.isoformat(), "registered_on": (customer.registered_on or date(2015, 6, 1)).isoformat(),
        "main_shareholder_industry_years": str(rng.randint(4, 15)), "industry_kind": "trade_service",
        "legal_rep_name": surname, "has_account_at_outlet": True, "registered_with_aic": True,
        "clear_business_no_bad_record": True, "controller_no_bad_habits": True,
        "use_of_funds": rng.choice(("采购原材料", "支付货款", "补充日常经营周转资金")),
        "agreement_id": agreement.id, "policy_no": f"YBD{applied:%Y%m%d}{customer.id:06d}",
        "insured_amount": str(insured), "policy_start": start.isoformat(), "policy_end": end.isoformat(),
        "policy_issued_on": (start - timedelta(days=3)).isoformat(), "bank_sole_beneficiary": True,
        "collaterals": [{"kind": "building", "address": f"{rng.choice(('人民路', '建设路', '中原路'))}{rng.randint(1, 300)}号",
                         "county_urban_area": True, "design_use": "commercial",
                         "build_year": str(rng.randint(2008, 2020)), "last_transfer_on": "2019-05-01",
                         "appraised_value": str(appraised), "appraisal_report_no": f"PG{customer.id:06d}",
                         "bank_sole_mortgagee": True}],
        "guarantors": [{"kind": "person", "role": "legal_rep", "name": surname, "married": True,
                        "spouse_name": spouse}],
        "shareholders": [{"name": surname, "share_pct": "100", "has_spouse": True}],
    }


def seed_demo(seed: int) -> int:
    """One insurer with a current agreement per 分行 and ten cases in the first 分行, one per stage; returns the
    number of cases made (0 when cases exist already)."""
    if db.session.execute(select(LoanCase.id).limit(1)).first() is not None:
        return 0
    rng = random.Random(seed)  # nosec B311  # reproducible demo data, not a secret
    today = today_local()
    admin = _one("admin")
    roots = db.session.execute(select(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.code)).scalars().all()
    agreements: dict[int, LoanAgreement] = {}
    for i, root in enumerate(roots):
        manager = _one("branch_admin", branch_id=root.id) or admin
        insurer = as_user(manager, services.save_insurer, {"name": INSURERS[i % len(INSURERS)]})
        agreements[root.id] = as_user(manager, services.save_agreement, insurer.id, {
            "agreement_no": f"YBD-{root.code}-{today.year - 1}", "valid_from": date(today.year - 1, 1, 1).isoformat(),
            "valid_to": date(today.year + 1, 12, 31).isoformat(), "premium_rate": "0.015", "mortgage_rate": "0.6",
            "waiting_days": "30", "collection_fee": "200", "insurer_recovery_share": "0.5"})
    if not roots:
        return 0
    root = roots[0]
    made = 0
    outlets = db.session.execute(select(Outlet).where(Outlet.root_branch_id == root.id).order_by(Outlet.id)
                                 ).scalars().all()
    for n, stage in enumerate(STAGES):
        outlet = outlets[n % len(outlets)]
        rm = _one("corporate_rm", outlet_id=outlet.id) or _one("outlet_head", outlet_id=outlet.id)
        reviewer = _one("sub_branch_president", branch_id=outlet.branch_id)
        approver = _one("branch_head", branch_id=root.id)
        checker = _one("product_manager", branch_id=outlet.branch_id)
        if None in (rm, reviewer, approver, checker):
            continue
        # The customer is read as the preparer would: through the preparer's scope (design §3.3).
        customer = db.session.execute(
            scoped(Customer, rm).where(Customer.outlet_id == outlet.id, Customer.kind == "corporate")
            .order_by(Customer.id).offset(n // len(outlets)).limit(1)).scalar_one_or_none()
        if customer is None:
            continue
        late = stage in ("claim_due", "recovering", "settled")
        applied = today - timedelta(days=(400 if stage == "settled" else 200 if late else 40 - 3 * n))
        case = as_user(rm, services.create_case, _case_data(rng, customer, agreements[root.id], applied))
        made += 1
        _advance(case.id, stage, rm, reviewer, approver, checker, applied, today)
    return made


def _advance(case_id: int, stage: str, rm: User, reviewer: User, approver: User, checker: User, applied: date,
             today: date) -> None:
    order = STAGES.index(stage)
    if order < 1:
        return
    as_user(rm, services.transition, case_id, "investigating")
    if order < 2:  # investigating: half of the documents are in
        for doc in services.missing_documents(db.session.get(LoanCase, case_id))[::2]:
            as_user(rm, services.mark_document, case_id, doc.code)
        return
    for doc in services.missing_documents(db.session.get(LoanCase, case_id)):
        as_user(rm, services.mark_document, case_id, doc.code)
    as_user(rm, services.transition, case_id, "reviewing")
    if order < 3:
        return
    as_user(reviewer, services.answer_review, case_id, {i: (True, None) for i in range(1, 11)})
    as_user(reviewer, services.transition, case_id, "approving")
    if order < 4:
        return
    as_user(approver, services.transition, case_id, "disbursement_check", on=applied + timedelta(days=7))
    if order < 5:
        return
    as_user(checker, services.record_disbursement_checks, case_id, {i: (True, None) for i in range(1, 8)})
    as_user(checker, services.transition, case_id, "disbursed", on=applied + timedelta(days=10))
    if order < 6:
        return
    as_user(rm, services.transition, case_id, "post_loan", on=applied + timedelta(days=11))
    if order < 7:
        return
    if stage == "settled":
        as_user(rm, services.transition, case_id, "settled", "按期归还全部本息", on=applied + timedelta(days=376))
        return
    # A default whose 30-day waiting period ended yesterday: the claim falls due within three working days.
    defaulted_on = today - timedelta(days=31) if stage == "claim_due" else applied + timedelta(days=60)
    as_user(rm, services.record_default_event, case_id, 2, defaulted_on, "逾期未还本息")
    as_user(rm, services.record_measure, case_id, "accelerate", defaulted_on + timedelta(days=2), "书面通知提前还款")
    as_user(rm, services.open_claim, case_id)
    if stage == "claim_due":
        return
    claim = services.case_claim(db.session.get(LoanCase, case_id))
    submitted = services._add_workdays(claim.waiting_period_end, 1)
    as_user(rm, services.submit_claim, case_id, submitted)
    as_user(rm, services.claim_docs_complete, case_id, submitted + timedelta(days=1))
    case = db.session.get(LoanCase, case_id)
    as_user(rm, services.record_claim_payment, case_id, submitted + timedelta(days=5), str(case.insured_amount))
    as_user(rm, services.record_recovery, case_id, submitted + timedelta(days=40), str(case.insured_amount // 3),
        "12000")
