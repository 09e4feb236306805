"""Fixtures: an app with the loan_insurance plugin, the credit posts of 甲分行, a panel insurer with an agreement, a
corporate customer of outlet A and a case factory whose default facts pass every rule (the T-20 figures)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

import plugins.loan_insurance.models  # noqa: F401 - the plugin's tables belong to the test schema
from crm.extensions import db
from crm.models import Customer, User
from plugins.loan_insurance.models import LoanAgreement, LoanInsurer
from tests.conftest import make_user

PLUGINS = "tests.plugin_example,plugins.loan_insurance"


@pytest.fixture
def app(make_app):
    app = make_app(CRM_PLUGINS=PLUGINS)
    with app.app_context():
        yield app


class LI:
    """The org fixture plus the people of a 银保贷 case: corporate RM (maker), reviewer, approver, checker."""

    def __init__(self, org: Any):
        self.org = org
        self.corp_rm = make_user("CA0001", "corporate_rm", outlet=org.a, name="甲对公客户经理")
        self.reviewer = org.president1  # 支行行长 of S1: review (and approve) permission
        self.approver = make_user("BH0001", "branch_head", branch=org.b1, name="甲分行负责人")
        self.checker = make_user("PM0001", "product_manager", branch=org.s1, name="甲产品经理")
        self.approver2 = make_user("PR0002", "sub_branch_president", branch=org.s1, name="支行行长二")
        self.insurer = LoanInsurer(branch_id=org.b1.id, name="平安财险")
        db.session.add(self.insurer)
        db.session.flush()
        self.agreement = LoanAgreement(insurer_id=self.insurer.id, agreement_no="YBD-2024-01",
                                       valid_from=date(2024, 1, 1), valid_to=date(2026, 12, 31),
                                       premium_rate=Decimal("0.015"), mortgage_rate=Decimal("0.60"),
                                       waiting_days=30, collection_fee=Decimal("200.00"),
                                       insurer_recovery_share=Decimal("0.5"))
        db.session.add(self.agreement)
        self.customer = Customer(outlet_id=org.a.id, kind="corporate", name="甲贸易有限公司",
                                 deposit_balance=Decimal("0"), maintainer_id=self.corp_rm.id,
                                 registered_on=date(2020, 1, 15), legal_rep="张三")
        self.customer_b = Customer(outlet_id=org.b.id, kind="corporate", name="乙公司CANARYB",
                                   deposit_balance=Decimal("0"))
        db.session.add_all([self.customer, self.customer_b])
        db.session.commit()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.org, name)


@pytest.fixture
def li(org, enable_plugin):
    enable_plugin(org.b1, "loan_insurance")
    enable_plugin(org.b2, "loan_insurance")
    enable_plugin(None, "loan_insurance")  # the system administrator (no 分行) follows the global row
    return LI(org)


def case_data(li: LI, **over: Any) -> dict[str, Any]:
    """A case every rule passes: T-20's figures (appraised 2,000,000 at 60% → pure 1,200,000; credit 1,800,000 →
    insured 600,000), applying 2024-03-04, a one-year term inside the policy period."""
    data: dict[str, Any] = {
        "customer_id": li.customer.id, "borrower_type": "enterprise", "product": "working_capital",
        "amount": "1800000", "application_date": "2024-03-04", "term_start": "2024-03-15", "term_end": "2025-03-15",
        "registered_on": "2020-01-15", "main_shareholder_industry_years": "5", "industry_kind": "trade_service",
        "legal_rep_name": "张三", "has_account_at_outlet": True, "registered_with_aic": True,
        "clear_business_no_bad_record": True, "controller_no_bad_habits": True, "use_of_funds": "采购原材料",
        "agreement_id": li.agreement.id, "policy_no": "PA-001", "insured_amount": "600000",
        "policy_start": "2024-03-15", "policy_end": "2025-03-15", "policy_issued_on": "2024-03-11",
        "bank_sole_beneficiary": True,
        "collaterals": [{"kind": "building", "address": "城关镇人民路1号", "county_urban_area": True,
                         "design_use": "commercial", "build_year": "2010", "last_transfer_on": "2018-05-01",
                         "appraised_value": "2000000", "appraisal_report_no": "PG-2024-001",
                         "bank_sole_mortgagee": True}],
        "guarantors": [{"kind": "person", "role": "legal_rep", "name": "张三", "married": True,
                        "spouse_name": "李四"}],
        "shareholders": [{"name": "张三", "share_pct": "100", "has_spouse": True}],
    }
    data.update(over)
    return data


def as_user(user: Any, fn, *args, **kw):
    """Call a service as `user` inside a request context (audit rows read the request)."""
    from flask import current_app
    from flask_login import login_user

    with current_app.test_request_context():
        u = db.session.get(User, user.id)
        login_user(u)
        return fn(u, *args, **kw)
