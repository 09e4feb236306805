"""Issue 6 in a browser: one 银保贷 case from 受理 to 放款 by four people through the pages (T-20 figures), then a
default, a claim and the printed 《索赔申请书》 (R-61, R-63, R-64, R-66, R-68, R-71)."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog
from crm.timeutil import today_local
from plugins.loan_insurance import rules
from plugins.loan_insurance.models import LoanCase
from plugins.loan_insurance.services import _add_workdays

pytestmark = pytest.mark.browser

BASE = "/p/loan-insurance"


def tiny_pdf(path: Path) -> Path:
    """A one-page PDF with a correct cross-reference table (the upload checks the header and the end marker)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def status(page, expected: str, label: str) -> None:
    """The case page's state badge after a step: the code and the Chinese label a user reads."""
    badge = page.wait_for_selector(f"[data-li-status='{expected}']")
    assert badge.inner_text().strip() == label


def submit(page, selector: str) -> None:
    """Click a submit button and wait for the page it leads to (every form here posts and redirects). The page is
    let settle first (its lazy boxes loaded): on a busy machine a late layout shift kept the button "not stable"."""
    page.wait_for_load_state("networkidle")
    with page.expect_navigation():  # waits for the "load" event of the page the redirect leads to
        page.click(selector, timeout=20_000)


def step(page, to: str) -> None:
    submit(page, f"[data-li-step='{to}'] button")


def test_browser_case_from_application_to_disbursement_and_a_printed_claim_form(li, live_url, browser, tmp_path):
    from tests.browser.support import Watched

    today = today_local()
    li.agreement.valid_to = rules.add_years(today, 3)  # the fixture's agreement, valid whatever today is
    db.session.commit()
    start = today + timedelta(days=13)
    end = rules.add_years(start, 1)
    issued = start - timedelta(days=4)

    # 1. The corporate RM: 受理 through the form (T-20: appraised 2,000,000 × 60% → pure 1,200,000; credit
    #    1,800,000 → insured 600,000), every rule passing.
    rm = Watched(browser, live_url)
    page = rm.page
    page.set_default_timeout(10_000)
    rm.login("CA0001")
    page.goto(f"{live_url}{BASE}/cases/new?customer_id={li.customer.id}")
    assert page.input_value("#f-customer_id") == str(li.customer.id)
    assert page.input_value("#f-agreement_id") == str(li.agreement.id)  # the only agreement is preselected
    for name, value in {"amount": "180万", "term_start": start.isoformat(), "term_end": end.isoformat(),
                        "main_shareholder_industry_years": "5", "use_of_funds": "采购原材料",
                        "policy_no": "PA-2026-0001", "insured_amount": "600000", "policy_start": start.isoformat(),
                        "policy_end": end.isoformat(), "policy_issued_on": issued.isoformat(),
                        "collaterals.0.address": "城关镇人民路1号", "collaterals.0.build_year": "2010",
                        "collaterals.0.last_transfer_on": "2018-05-01", "collaterals.0.appraised_value": "2000000",
                        "collaterals.0.appraisal_report_no": "PG-2026-001", "guarantors.0.name": "张三",
                        "guarantors.0.spouse_name": "李四", "shareholders.0.name": "张三",
                        "shareholders.0.share_pct": "100"}.items():
        page.fill(f"[name='{name}']", value)
    page.select_option("#f-industry_kind", "trade_service")
    page.select_option("[name='collaterals.0.design_use']", "commercial")
    page.select_option("[name='guarantors.0.role']", "legal_rep")
    for name in ("has_account_at_outlet", "registered_with_aic", "clear_business_no_bad_record",
                 "controller_no_bad_habits", "use_is_working_capital", "bank_sole_beneficiary",
                 "collaterals.0.clear_title", "collaterals.0.county_urban_area", "collaterals.0.bank_sole_mortgagee",
                 "guarantors.0.married", "guarantors.0.joint_liability", "shareholders.0.has_spouse"):
        page.check(f"[name='{name}']")
    submit(page, "button.btn-primary:has-text('保存')")
    status(page, "accepted", "受理")
    case_id = int(re.search(r"/cases/(\d+)", page.url).group(1))
    case_url = f"{live_url}{BASE}/cases/{case_id}"
    assert "1,800,000.00 元" in page.inner_text("[data-li-amount]")
    assert "1,200,000.00 元" in page.inner_text("[data-li-pure]")
    step(page, "investigating")
    status(page, "investigating", "贷前调查")

    # 2. The R-61 checklist: one real PDF through the file input, the other required lines ticked 已收到.
    page.goto(f"{live_url}{BASE}/cases/{case_id}/documents")
    missing = int(page.get_attribute("[data-liw-missing]", "data-liw-missing"))
    assert missing == 17  # 01–12 with 4 split into legal rep, holder (100%) and spouse; 13 × 3 (married guarantor)
    page.set_input_files("[data-liw-doc='01'] input[type=file]", str(tiny_pdf(tmp_path / "营业执照.pdf")))
    submit(page, "[data-liw-doc='01'] button:has-text('上传')")
    assert page.inner_text("[data-liw-doc='01'] [data-liw-file]") == "营业执照.pdf"
    assert "已收到" in page.inner_text("[data-liw-doc='01']")
    codes = [r.get_attribute("data-liw-doc") for r in page.query_selector_all("tr.table-danger")]
    assert len(codes) == missing - 1 and "01" not in codes
    for code in codes:
        submit(page, f"[data-liw-doc='{code}'] button:has-text('已收到（纸质原件）')")
        page.wait_for_selector(f"[data-liw-doc='{code}']:not(.table-danger) button:has-text('取消已收到')")
    assert page.get_attribute("[data-liw-missing]", "data-liw-missing") == "0"
    assert "必备材料已全部收齐" in page.inner_text("[data-liw-missing]")
    page.goto(case_url)
    step(page, "reviewing")
    status(page, "reviewing", "审查")
    rm.close()

    # 3. The reviewer (支行行长, not the maker): the ten R-63 items, then 审批.
    rv = Watched(browser, live_url)
    rv.login("PR0001")
    page = rv.page
    page.goto(case_url)
    for n in range(1, 11):
        page.click(f"label[for='item{n}-yes']")
    submit(page, "button:has-text('保存审查意见')")
    assert "已填 10 / 10 项" in page.inner_text("#review")
    step(page, "approving")
    status(page, "approving", "审批")
    rv.close()

    # 4. The approver (分行负责人): approve → 放款审核.
    ap = Watched(browser, live_url)
    ap.login("BH0001")
    page = ap.page
    page.goto(case_url)
    step(page, "disbursement_check")
    status(page, "disbursement_check", "放款审核")
    ap.close()

    # 5. The checker (产品经理): the seven R-64 points (5 and 6 recomputed: insured 600,000 ≥ the part over 60%),
    #    then 放款.
    ck = Watched(browser, live_url)
    ck.login("PM0001")
    page = ck.page
    page.goto(case_url)
    for n in range(1, 8):
        page.click(f"label[for='check{n}-yes']")
    submit(page, "button:has-text('保存审核要点')")
    step(page, "disbursed")
    status(page, "disbursed", "放款")
    ck.close()

    # 6. The RM again: default event (1) → 违约; the claim opened with the waiting period ending today (the field
    #    of the form) and the 《索赔申请书》 submitted today, on time (deadline 3 working days later) → 索赔.
    rm = Watched(browser, live_url)
    rm.login("CA0001")
    page = rm.page
    page.goto(f"{live_url}{BASE}/cases/{case_id}/claim")
    page.select_option("#f-ev-event", "1")
    page.fill("#f-ev-note", "应还本息未还")
    submit(page, "button:has-text('登记违约事件')")
    assert "应还本息未还" in page.inner_text("[data-liw-events]")
    page.goto(case_url)
    status(page, "defaulted", "违约")
    page.goto(f"{live_url}{BASE}/cases/{case_id}/claim")
    page.fill("#f-cl-waiting_period_end", today.isoformat())
    submit(page, "button:has-text('发起索赔')")
    assert page.inner_text("[data-liw-deadline]") == _add_workdays(today, 3).isoformat()
    submit(page, "button:has-text('登记递交')")
    claim = page.inner_text("[data-liw-claim]")
    assert f"递交日期\n{today.isoformat()}" in claim and "逾期" not in claim
    page.goto(case_url)
    status(page, "claiming", "索赔")
    page.goto(f"{live_url}{BASE}/cases/{case_id}/claim")
    href = page.get_attribute("[data-liw-print='claim']", "href")
    resp = page.context.request.get(live_url + href)
    assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "claim.pdf"
    pdf.write_bytes(resp.body())
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True,
                          text=True).stdout
    assert "索赔申请书" in text and "甲贸易有限公司" in text and "PA-2026-0001" in text
    rm.close()
    db.session.expire_all()
    assert db.session.get(LoanCase, case_id).status == "claiming"
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "loan_insurance.form_printed")) == 1
