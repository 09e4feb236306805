"""Browser journey: printing a large ledger (R-09) starts a job, its page polls with htmx, then offers the PDF."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.customers.search import keys
from crm.extensions import db
from crm.models import Customer
from tests.browser.support import Watched
from tests.browser.test_journeys import live  # noqa: F401 - the live server with the org

pytestmark = pytest.mark.browser


def test_a_large_ledger_prints_in_the_background_with_progress(live, browser, app, monkeypatch):  # noqa: F811
    base, org = live
    monkeypatch.setitem(app.config, "CRM_LEDGER_BACKGROUND_CUSTOMERS", 0)
    for i in range(30):
        name = f"台账客户{i:02d}"
        db.session.add(Customer(outlet_id=org.a.id, kind="personal", status="stock", name=name,
                                deposit_balance=Decimal(1000 * i), maintainer_id=org.rm_a.id, **keys(name, None, None)))
    db.session.commit()

    head = Watched(browser, base)
    head.login("HA0001")
    head.page.goto(base + "/customers/ledger")
    head.page.locator("form:has(select[name=outlet]) button[type=submit]").click()
    head.page.wait_for_url("**/customers/ledger/jobs/*")
    # The page polls every second and swaps in the result when the job is done; no reload by hand.
    head.page.wait_for_selector("#ledger-status[data-state=done]", timeout=120_000)
    assert "台账已生成" in head.page.locator("#ledger-status").inner_text()
    assert "30 位客户" in head.page.locator("#ledger-status").inner_text()
    with head.page.expect_download() as download:
        head.page.click("#ledger-download")
    assert download.value.suggested_filename.endswith(".pdf") and "台账" in download.value.suggested_filename
    with open(download.value.path(), "rb") as fh:
        assert fh.read(5) == b"%PDF-"
    head.close()
