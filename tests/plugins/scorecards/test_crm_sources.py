"""Figures from the CRM's plugins (issue 7): 银保贷 cases disbursed and campaign guests who came, when those plugins
are on for the 分行; an item of a scheme marked with such a source is filled at computation, never typed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

import plugins.loan_insurance.models  # noqa: F401 - their tables belong to this test's schema
import plugins.salon_events.models  # noqa: F401
from crm.extensions import db
from plugins.scorecards import services as s
from tests.plugins.scorecards.conftest import as_user
from tests.plugins.scorecards.test_services import result_of


@pytest.fixture
def app(make_app):
    app = make_app(CRM_PLUGINS="tests.plugin_example,plugins.scorecards,plugins.loan_insurance,plugins.salon_events")
    with app.app_context():
        yield app


def test_loan_insurance_and_campaign_outcomes_are_crm_sources_when_those_plugins_are_on(sc, enable_plugin):
    """Issue 7: figures come from the CRM where it has them — 银保贷 cases disbursed and guests who came to a campaign
    round, when those plugins are on for the 分行 (none when off)."""
    from datetime import datetime

    from crm.timeutil import local_to_utc

    period = as_user(sc.marketing, s.open_period, "month", date(2024, 11, 15))
    ids = [sc.rm_senior.id, sc.rm_middle.id]
    assert s.li_cases(sc.marketing, period, ids) == {} and s.campaign_attendees(sc.marketing, period, ids) == {}
    enable_plugin(sc.b1, "loan_insurance")
    enable_plugin(sc.b1, "salon_events")
    from crm.models import Customer
    from plugins.loan_insurance.models import LoanCase, LoanTransition

    customer = Customer(outlet_id=sc.a.id, kind="corporate", name="甲贸易", deposit_balance=D("0"))
    db.session.add(customer)
    db.session.flush()
    at = local_to_utc(datetime(2024, 11, 20, 9, 0))
    for n, amount in enumerate(("1800000", "950000")):
        case = LoanCase(customer_id=customer.id, outlet_id=sc.a.id, branch_id=sc.b1.id, rm_id=sc.rm_senior.id,
                        status="disbursed", application_date=date(2024, 10, 1), amount=D(amount),
                        product="working_capital", borrower_type="enterprise")
        db.session.add(case)
        db.session.flush()
        db.session.add(LoanTransition(case_id=case.id, from_status="disbursement_check", to_status="disbursed",
                                      at=at if n == 0 else local_to_utc(datetime(2024, 12, 2, 9, 0))))
    db.session.commit()
    assert s.li_cases(sc.marketing, period, ids) == {sc.rm_senior.id: D(1)}  # the December one is not November's
    assert s.li_amount(sc.marketing, period, ids) == {sc.rm_senior.id: D("180.00")}
    # The scheme editor offers them as an item's source; an item so marked is filled at computation, not typed.
    scheme = next(x for x in s.current_schemes(sc.b1.id) if x.code == "002-process")
    definition = dict(scheme.definition)
    definition["items"] = [dict(i, source="crm.li_cases") if i["code"] == "p_claims" else i
                           for i in definition["items"]]
    as_user(sc.branch_admin1, s.save_scheme, scheme.id, definition)
    as_user(sc.marketing, s.compute_period, period)
    r = result_of(period, sc.rm_senior, "002-process")
    claims_item = next(i for i in r.items if i["code"] == "p_claims")
    assert D(claims_item["actual"]) == 1
    fields = s.period_inputs(period)
    assert fields["p_claims"].crm and fields["p_claims"].source == "li_cases", fields["p_claims"]


def test_the_scheme_editor_sets_an_items_data_source(client, sc):
    scheme = next(x for x in s.current_schemes(sc.b1.id) if x.code == "002-process")
    n = [i["code"] for i in scheme.definition["items"]].index("p_claims")
    assert client.login("BA0001").status_code == 302
    form = client.get(f"/p/scorecards/schemes/{scheme.id}?edit=1").get_data(as_text=True)
    assert f'name="i{n}_source"' in form and "系统：银保贷放款笔数（银保贷启用时）" in form
    resp = client.post(f"/p/scorecards/schemes/{scheme.id}", {f"i{n}_source": "crm.nothing"})
    assert resp.status_code == 422 and "新认领或分配客户：请选择数据来源" in resp.get_data(as_text=True)
    resp = client.post(f"/p/scorecards/schemes/{scheme.id}", {f"i{n}_source": "crm.campaign_attendees"})
    assert resp.status_code == 302
    current = next(x for x in s.current_schemes(sc.b1.id) if x.code == "002-process")
    assert next(i for i in current.definition["items"] if i["code"] == "p_claims")["source"] == \
        "crm.campaign_attendees"
    page = client.get(f"/p/scorecards/schemes/{current.id}").get_data(as_text=True)
    assert "数据来源：系统：邀约客户到场人数（营销活动启用时）" in page
    # Back to typed figures.
    resp = client.post(f"/p/scorecards/schemes/{current.id}", {f"i{n}_source": ""})
    latest = next(x for x in s.current_schemes(sc.b1.id) if x.code == "002-process")
    assert "source" not in next(i for i in latest.definition["items"] if i["code"] == "p_claims")
