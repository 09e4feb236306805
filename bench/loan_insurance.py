"""银保贷: eligibility evaluation of one case (goal: median < 5 ms) and the pipeline page with 10,000 cases (goal:
< 100 ms server time on SQLite), against the core customer list of the same user measured in the same run."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages  # noqa: E402 - bench/pages.py: build_app (schema + demo org), log_in, timing helpers
from pages import FreshClient, as_user, median_ms  # noqa: E402

from crm.extensions import db  # noqa: E402
from crm.models import Customer, Outlet, User  # noqa: E402

ELIGIBILITY_GOAL_MS = 5.0
PIPELINE_GOAL_MS = 100.0
STATES = ("accepted", "investigating", "reviewing", "approving", "disbursement_check", "disbursed", "post_loan",
          "defaulted", "claiming", "recovering", "settled", "rejected", "prohibited")


def case_data(customer_id: int, agreement_id: int) -> dict:
    """A case with T-20's figures: every rule is evaluated (collateral, guarantors, shareholders, policy, terms)."""
    return {
        "customer_id": customer_id, "borrower_type": "enterprise", "product": "working_capital",
        "amount": "1800000", "application_date": "2026-11-20", "term_start": "2026-12-05", "term_end": "2027-12-05",
        "registered_on": "2020-01-15", "main_shareholder_industry_years": "5", "industry_kind": "trade_service",
        "legal_rep_name": "张建华", "has_account_at_outlet": True, "registered_with_aic": True,
        "clear_business_no_bad_record": True, "controller_no_bad_habits": True, "use_of_funds": "采购原材料",
        "agreement_id": agreement_id, "policy_no": "PA-2026-001", "insured_amount": "600000",
        "policy_start": "2026-12-05", "policy_end": "2027-12-05", "policy_issued_on": "2026-12-01",
        "bank_sole_beneficiary": True,
        "collaterals": [{"kind": "building", "address": "金水区花园路88号", "county_urban_area": True,
                         "design_use": "commercial", "build_year": "2010", "last_transfer_on": "2018-05-01",
                         "appraised_value": "2000000", "appraisal_report_no": "PG-2026-001",
                         "bank_sole_mortgagee": True}],
        "guarantors": [{"kind": "person", "role": "legal_rep", "name": "张建华", "married": True,
                        "spouse_name": "李秀英"}],
        "shareholders": [{"name": "张建华", "share_pct": "55", "has_spouse": True},
                         {"name": "王立新", "share_pct": "35", "has_spouse": True},
                         {"name": "赵敏", "share_pct": "10", "has_spouse": False}],
    }





def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--evaluations", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm-bench-li-") as tmp:
        app = pages.build_app(None, Path(tmp))
        with app.app_context():
            run(app, args)
            db.session.remove()
            db.engine.dispose()


def run(app, args) -> None:
    from crm.demo_customers import seed_customers
    from plugins.loan_insurance import rules, services
    from plugins.loan_insurance.models import LoanAgreement, LoanCase, LoanInsurer

    if not db.session.execute(select(Customer.id).limit(1)).first():
        seed_customers(3_000, seed=6, echo=lambda s: None)  # as `crm serve --demo`: ≈15% of them corporate
    registry = app.extensions["crm"]
    registry.set_enabled("loan_insurance", None, True, None)
    db.session.commit()
    rm = db.session.execute(select(User).where(User.post == "corporate_rm").order_by(User.id)).scalars().first()
    outlet = db.session.get(Outlet, rm.outlet_id)
    branch_id = outlet.root_branch_id
    head = db.session.execute(select(User).where(User.post == "branch_head", User.branch_id == branch_id)
                              ).scalars().first()
    insurer = LoanInsurer(branch_id=branch_id, name="平安财产保险")
    db.session.add(insurer)
    db.session.flush()
    agreement = LoanAgreement(insurer_id=insurer.id, agreement_no="YBD-2026-01", valid_from=date(2026, 1, 1),
                              valid_to=date(2027, 12, 31), premium_rate=Decimal("0.015"),
                              mortgage_rate=Decimal("0.60"), waiting_days=30, collection_fee=Decimal("200.00"),
                              insurer_recovery_share=Decimal("0.5"))
    db.session.add(agreement)
    db.session.commit()
    customer = db.session.execute(select(Customer).where(Customer.kind == "corporate",
                                                         Customer.outlet_id == outlet.id)).scalars().first()
    case = as_user(app, rm.id, services.create_case, case_data(customer.id, agreement.id))

    # Eligibility: the case as a page loads it (collateral, guarantors, shareholders, agreement), then evaluate().
    loaded = as_user(app, head.id, lambda user, cid: services.visible_case(cid, user), case.id)
    results = rules.evaluate(loaded, date(2026, 11, 20))
    samples = []
    for _ in range(args.evaluations):
        started = time.perf_counter()
        rules.evaluate(loaded, date(2026, 11, 20))
        samples.append(time.perf_counter() - started)
    eval_median, eval_p95 = median_ms(samples)

    # 10,000 cases over the 分行's corporate customers, in every state, by one bulk INSERT of the case's columns.
    template = {c.name: getattr(case, c.key) for c in LoanCase.__table__.columns if c.name != "id"}
    corporate = db.session.execute(select(Customer.id, Customer.outlet_id).join(Outlet, Outlet.id == Customer.outlet_id)
                                   .where(Customer.kind == "corporate", Outlet.root_branch_id == branch_id)).all()
    rng = random.Random(6)
    rows = []
    for i in range(args.cases - 1):
        cid, oid = corporate[i % len(corporate)]
        rows.append({**template, "customer_id": cid, "outlet_id": oid, "status": rng.choice(STATES),
                     "amount": Decimal(rng.randrange(50, 500) * 10_000),
                     "created_at": template["created_at"] - timedelta(minutes=i)})
    db.session.execute(insert(LoanCase.__table__), rows)
    db.session.commit()
    total = db.session.execute(select(func.count()).select_from(LoanCase)).scalar_one()

    db.session.commit()
    app.test_client_class = FreshClient
    client = app.test_client()
    with app.app_context():
        admin = db.session.execute(select(User).where(User.login == head.login)).scalar_one()
        from crm.auth.services import set_password

        set_password(admin, pages.PASSWORD, must_change=False)
        db.session.commit()
    pages.log_in(client, head.login)
    for url in ("/p/loan-insurance/", "/customers"):
        assert client.get(url).status_code == 200, url

    def timed(url: str) -> float:
        started = time.perf_counter()
        resp = client.get(url)
        elapsed = time.perf_counter() - started
        assert resp.status_code == 200, (url, resp.status_code)
        return elapsed

    cases = {"pipeline (all states)": "/p/loan-insurance/", "pipeline, one state": "/p/loan-insurance/?status=claiming",
             "pipeline, name search": "/p/loan-insurance/?q=%E6%9C%89%E9%99%90",
             "core customer list (reference)": "/customers"}
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.rounds):  # interleaved, so a busy moment hits every page alike
        for key, url in cases.items():
            times[key].append(timed(url))
    ref = statistics.median(times["core customer list (reference)"])

    print(f"银保贷 bench (SQLite, {total:,} cases in 分行 {branch_id}; user: 分行负责人 {head.name})")
    print(f"eligibility evaluation of one loaded case ({len(results)} rules): median {eval_median:.3f} ms, "
          f"p95 {eval_p95:.3f} ms over {args.evaluations:,} runs (goal < {ELIGIBILITY_GOAL_MS} ms: "
          f"{eval_median / ELIGIBILITY_GOAL_MS:.2f}× the goal)")
    print(f"pages through the test client, {args.rounds} rounds interleaved (median / p95):")
    for key, samples_ in times.items():
        med, p95 = median_ms(samples_)
        goal = f"; goal < {PIPELINE_GOAL_MS:.0f} ms" if key.startswith("pipeline") else ""
        print(f"  {key:<32} {med:7.1f} ms / {p95:7.1f} ms  {med / (ref * 1000):5.2f}× the customer list{goal}")


if __name__ == "__main__":
    main()
