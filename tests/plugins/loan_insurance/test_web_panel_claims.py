"""银保贷 pages of helper liw: the panel (R-49, R-60, R-69), the R-61 documents with uploads, default events and
measures (R-66, R-67, T-27), claims (R-68), recoveries (R-70, T-26), the three attachments of R-71 as PDFs, the
Excel export and the dashboard widget — scope, permissions, 422s with nothing saved, CSRF, one audit row each."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from datetime import date, timedelta
from decimal import Decimal

import pytest
from PIL import Image
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select, update

from crm import pdf
from crm.extensions import db
from crm.models import AuditLog, Customer
from crm.timeutil import today_local
from plugins.loan_insurance import services as s
from plugins.loan_insurance import uploads
from plugins.loan_insurance.models import (
    LoanAgreement,
    LoanClaim,
    LoanDefaultEvent,
    LoanDocument,
    LoanInsurer,
    LoanMeasure,
    LoanRecovery,
    LoanSuspension,
)
from tests.conftest import CANARY_B, table_snapshot
from tests.plugins.loan_insurance.conftest import as_user
from tests.plugins.loan_insurance.test_services import create, defaulted, fresh, paid_claim, to_disbursed

P = "/p/loan-insurance"
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def login(client, user) -> None:
    assert client.login(user.login).status_code == 302


def li_tables() -> dict[str, list]:
    """The plugin's rows (logins change session tables, denied attempts add audit rows)."""
    return {k: v for k, v in table_snapshot().items() if k.startswith("loan_insurance_")}


def audits(action: str) -> int:
    return db.session.execute(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == f"loan_insurance.{action}")).scalar_one()


def text_of(resp) -> str:
    return resp.get_data(as_text=True)


def sheet(data: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def upload(client, case_id: int, code: str, data: bytes, name: str):
    return client.post(f"{P}/cases/{case_id}/documents/upload",
                       {"code": code, "file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


# ---------------------------------------------------------------- panel

def test_panel_lists_the_branch_insurers_agreements_in_percent_and_marks_the_valid_one(client, li):
    today = today_local()
    db.session.add(LoanAgreement(insurer_id=li.insurer.id, agreement_no="YBD-NOW", valid_from=today - timedelta(days=1),
                                 valid_to=today, premium_rate=Decimal("0.012"), mortgage_rate=Decimal("0.6"),
                                 waiting_days=45, collection_fee=Decimal("1234.5"),
                                 insurer_recovery_share=Decimal("0.55")))
    db.session.add(LoanInsurer(branch_id=li.b2.id, name=f"乙保险{CANARY_B}"))
    db.session.commit()
    login(client, li.branch_admin1)
    html = text_of(client.get(f"{P}/panel"))
    assert "平安财险" in html and "YBD-NOW" in html and CANARY_B not in html
    rows = re.findall(r'<tr class="table-success">(.*?)</tr>', html, re.S)
    row = next(r for r in rows if "YBD-NOW" in r)
    assert "当前有效" in row
    assert ">1.2%<" in row and ">60%<" in row and ">55%<" in row and "45天" in row and "1,234.50 元" in row


def test_add_insurer_and_agreement_with_percent_rates_one_audit_row_each(client, li):
    login(client, li.branch_admin1)
    resp = client.post(f"{P}/panel/insurers", {"name": "人保财险"})
    assert resp.status_code == 302
    insurer = db.session.execute(select(LoanInsurer).where(LoanInsurer.name == "人保财险")).scalar_one()
    assert insurer.branch_id == li.b1.id and audits("insurer_saved") == 1
    resp = client.post(f"{P}/panel/insurers/{insurer.id}/agreements", {
        "agreement_no": "RB-1", "valid_from": "2025-01-01", "valid_to": "2025-12-31", "premium_rate": "1.2%",
        "mortgage_rate": "60", "waiting_days": "30", "collection_fee": "200", "insurer_recovery_share": "50"})
    assert resp.status_code == 302
    a = db.session.execute(select(LoanAgreement).where(LoanAgreement.agreement_no == "RB-1")).scalar_one()
    assert (a.premium_rate, a.mortgage_rate, a.insurer_recovery_share) == (Decimal("0.012"), Decimal("0.6"),
                                                                           Decimal("0.5"))
    assert audits("agreement_saved") == 1
    page = text_of(client.get(f"{P}/panel"))
    assert "RB-1" in page and "2025-01-01 ~ 2025-12-31" in page


AGREEMENT_FORM = {"agreement_no": "YBD-2024-01", "valid_from": "2024-01-01", "valid_to": "2026-12-31",
                  "premium_rate": "1.5", "mortgage_rate": "60", "waiting_days": "30", "collection_fee": "200",
                  "insurer_recovery_share": "50"}


def test_an_unused_agreement_can_be_corrected_in_full_with_one_audit_row_naming_the_changes(client, li):
    login(client, li.branch_admin1)
    url = f"{P}/panel/insurers/{li.insurer.id}/agreements/{li.agreement.id}"
    page = text_of(client.get(f"{P}/panel"))
    assert "修改协议 YBD-2024-01" in page and 'value="1.5"' in page  # the form comes filled in, rates in percent
    resp = client.post(url, dict(AGREEMENT_FORM, premium_rate="1.2", waiting_days="45", valid_from="2024-02-01"))
    assert resp.status_code == 302
    a = db.session.get(LoanAgreement, li.agreement.id)
    db.session.refresh(a)
    assert (a.premium_rate, a.waiting_days, a.valid_from) == (Decimal("0.012"), 45, date(2024, 2, 1))
    row = db.session.execute(select(AuditLog).where(AuditLog.action == "loan_insurance.agreement_updated")
                             ).scalar_one()
    assert row.detail["changed"]["premium_rate"] == ["0.015", "0.012"]
    assert row.detail["changed"]["valid_from"] == ["2024-01-01", "2024-02-01"]
    assert set(row.detail["changed"]) == {"premium_rate", "waiting_days", "valid_from"}
    assert db.session.execute(select(func.count()).select_from(LoanAgreement)).scalar_one() == 1  # no copy made


def test_an_agreement_a_case_uses_keeps_its_terms_only_number_and_end_date_change(client, li):
    case = create(li)  # applied 2024-03-04, credit from 2024-03-15, priced at 1.5%
    premium = case.premium
    login(client, li.branch_admin1)
    url = f"{P}/panel/insurers/{li.insurer.id}/agreements/{li.agreement.id}"
    assert "1笔案件使用" in text_of(client.get(f"{P}/panel"))
    before = table_snapshot()
    resp = client.post(url, dict(AGREEMENT_FORM, premium_rate="1.2"))
    assert resp.status_code == 422
    assert "已有1笔案件按本协议办理，条款不能修改；条款变更请新增一份协议" in text_of(resp)
    # The end date cannot move before a day a case relies on (its credit start 2024-03-15) …
    resp = client.post(url, dict(AGREEMENT_FORM, valid_to="2024-03-14"))
    assert resp.status_code == 422 and "已有案件在2024-03-15按本协议办理，到期日不能早于该日" in text_of(resp)
    assert table_snapshot() == before
    # … but that very day is fine, and so is a corrected number.
    resp = client.post(url, dict(AGREEMENT_FORM, valid_to="2024-03-15", agreement_no="YBD-2024-01A"))
    assert resp.status_code == 302
    a = db.session.get(LoanAgreement, li.agreement.id)
    db.session.refresh(a)
    assert (a.agreement_no, a.valid_to, a.premium_rate) == ("YBD-2024-01A", date(2024, 3, 15), Decimal("0.015"))
    assert fresh(case.id).premium == premium


def test_editing_an_agreement_needs_the_panel_permission_and_the_insurer_in_scope(client, li):
    other = LoanInsurer(branch_id=li.b2.id, name="乙分行财险")
    db.session.add(other)
    db.session.flush()
    theirs = LoanAgreement(insurer_id=other.id, agreement_no="B-1", valid_from=date(2024, 1, 1),
                           valid_to=date(2024, 12, 31), premium_rate=Decimal("0.01"), mortgage_rate=Decimal("0.5"),
                           waiting_days=30, insurer_recovery_share=Decimal("0.5"))
    db.session.add(theirs)
    db.session.commit()
    login(client, li.corp_rm)
    before = {k: v for k, v in table_snapshot().items() if k.startswith("loan_insurance_")}
    url = f"{P}/panel/insurers/{li.insurer.id}/agreements/{li.agreement.id}"
    assert client.post(url, dict(AGREEMENT_FORM, premium_rate="1")).status_code == 403
    client.logout()
    login(client, li.branch_admin1)
    resp = client.post(f"{P}/panel/insurers/{other.id}/agreements/{theirs.id}", dict(AGREEMENT_FORM, agreement_no="X"))
    assert resp.status_code == 404 and "B-1" not in text_of(resp)  # out of scope: 404, as for a customer (issue 8)
    # An agreement id of another insurer under our insurer's URL is refused too.
    resp = client.post(f"{P}/panel/insurers/{li.insurer.id}/agreements/{theirs.id}", AGREEMENT_FORM)
    assert resp.status_code == 404
    assert {k: v for k, v in table_snapshot().items() if k.startswith("loan_insurance_")} == before


def test_panel_errors_are_422_in_chinese_and_save_nothing(client, li):
    login(client, li.branch_admin1)
    before = table_snapshot()
    resp = client.post(f"{P}/panel/insurers", {"name": "  "})
    assert resp.status_code == 422 and "请填写保险公司名称" in text_of(resp)
    form = {"agreement_no": "X-1", "valid_from": "2025-02-01", "valid_to": "2025-01-31", "premium_rate": "150",
            "mortgage_rate": "60", "waiting_days": "30", "insurer_recovery_share": "50"}
    resp = client.post(f"{P}/panel/insurers/{li.insurer.id}/agreements", form)
    assert resp.status_code == 422 and "保险费率须在0至100（%）之间" in text_of(resp)
    resp = client.post(f"{P}/panel/insurers/{li.insurer.id}/agreements", dict(form, premium_rate="1.5"))
    assert resp.status_code == 422 and "协议到期日不能早于生效日" in text_of(resp)
    assert 'value="X-1"' in text_of(resp)  # what was typed comes back
    # The boundaries: 0% and 100% are accepted by the percent check (the service then decides).
    resp = client.post(f"{P}/panel/insurers/{li.insurer.id}/agreements", dict(form, premium_rate="100.01",
                                                                               valid_to="2025-12-31"))
    assert resp.status_code == 422
    resp = client.post(f"{P}/panel/insurers/{li.insurer.id}/agreements", dict(form, premium_rate="1.23456",
                                                                               valid_to="2025-12-31"))
    assert resp.status_code == 422 and "保险费率最多保留4位小数" in text_of(resp)
    assert table_snapshot() == before


def test_panel_permissions_and_csrf(client, li):
    login(client, li.corp_rm)  # may look (view), may not manage
    assert client.get(f"{P}/panel").status_code == 200
    assert client.post(f"{P}/panel/insurers", {"name": "某财险"}).status_code == 403
    client.logout()
    login(client, li.teller_a)  # no loan_insurance permission at all
    assert client.get(f"{P}/panel").status_code in (403, 404)
    client.logout()
    login(client, li.branch_admin1)
    before = table_snapshot()
    assert client.post(f"{P}/panel/insurers", {"name": "某财险"}, csrf=False).status_code == 400
    assert table_snapshot() == before


def test_suspend_and_lift_r69(client, li):
    login(client, li.branch_admin1)
    before = table_snapshot()
    resp = client.post(f"{P}/panel/suspensions", {"insurer_id": li.insurer.id, "starts_on": "2024-06-01",
                                                  "reason": ""})
    assert resp.status_code == 422 and "请填写暂停原因" in text_of(resp)
    assert table_snapshot() == before
    today = today_local()
    resp = client.post(f"{P}/panel/suspensions", {"insurer_id": li.insurer.id, "starts_on": today.isoformat(),
                                                  "reason": "案件#1 逾期赔付"}, follow_redirects=True)
    assert "已暂停该保险公司的新增客户审批" in text_of(resp)
    assert "本分行新增客户审批暂停中" in text_of(resp) and "案件#1 逾期赔付" in text_of(resp)
    row = db.session.execute(select(LoanSuspension)).scalar_one()
    assert (row.branch_id, row.starts_on, row.ends_on) == (li.b1.id, today, None)
    assert audits("insurer_suspended") == 1
    resp = client.post(f"{P}/panel/suspensions/{row.id}/lift", {"ends_on": (today - timedelta(days=1)).isoformat()})
    assert resp.status_code == 422 and "结束日期不能早于开始日期" in text_of(resp)
    resp = client.post(f"{P}/panel/suspensions/{row.id}/lift", {"ends_on": today.isoformat()}, follow_redirects=True)
    assert f"已解除暂停（{(today + timedelta(days=1)).isoformat()}起恢复审批）" in text_of(resp)
    db.session.expire_all()
    assert db.session.get(LoanSuspension, row.id).ends_on == today and audits("suspension_lifted") == 1
    client.logout()
    login(client, li.branch_admin2)  # another 分行's administrator cannot lift it
    assert client.post(f"{P}/panel/suspensions/{row.id}/lift", {"ends_on": today.isoformat()}).status_code == 404


# ---------------------------------------------------------------- documents

def test_documents_page_shows_the_adapted_checklist_and_what_is_missing(client, li):
    case = create(li)
    login(client, li.corp_rm)
    html = text_of(client.get(f"{P}/cases/{case.id}/documents"))
    missing = len(s.missing_documents(case))
    assert missing > 10
    assert f"尚缺{missing}项必备材料：收齐前案件不能提交审查（第十九条）。" in html
    assert "法定代表人张三身份证及个人履历" in html and "担保人张三结婚证复印件" in html
    assert html.count('class="table-danger"') == missing


def test_upload_a_pdf_marks_received_stores_a_random_name_and_downloads_audited(client, li):
    case = create(li)
    login(client, li.corp_rm)
    resp = upload(client, case.id, "01", PDF_BYTES, "../../营业执照.pdf")
    assert resp.status_code == 302
    doc = db.session.execute(select(LoanDocument).where(LoanDocument.case_id == case.id,
                                                        LoanDocument.code == "01")).scalar_one()
    assert doc.received and doc.file_name == "营业执照.pdf"
    assert re.fullmatch(r"[0-9a-f]{32}\.pdf", doc.stored_name)
    assert uploads.path_of(doc.stored_name).read_bytes() == PDF_BYTES
    assert audits("document") == 1
    page = text_of(client.get(f"{P}/cases/{case.id}/documents"))
    assert f"尚缺{len(s.missing_documents(fresh(case.id)))}项" in page and "营业执照.pdf" in page
    got = client.get(f"{P}/documents/{doc.id}")
    assert got.status_code == 200 and got.data == PDF_BYTES and got.mimetype == "application/pdf"
    assert "attachment" in got.headers["Content-Disposition"]
    got.close()
    assert audits("document_downloaded") == 1
    # A PNG replaces the file of the line; the old file is removed.
    old = doc.stored_name
    assert upload(client, case.id, "01", png_bytes(), "scan.png").status_code == 302
    db.session.expire_all()
    doc = db.session.get(LoanDocument, doc.id)
    assert doc.stored_name.endswith(".png") and uploads.path_of(old) is None


def test_disguised_or_oversized_files_are_refused_and_nothing_is_saved(client, li, monkeypatch):
    case = create(li)
    login(client, li.corp_rm)
    before = table_snapshot()
    files_before = set(uploads.upload_dir().iterdir())
    exe = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200
    resp = upload(client, case.id, "01", exe, "营业执照.pdf")
    assert resp.status_code == 422
    assert "只能上传 PDF、JPG 或 PNG 文件（按文件内容检查，改扩展名无效）。" in text_of(resp)
    assert uploads.MAX_BYTES == 10 * 1024 * 1024
    monkeypatch.setattr(uploads, "MAX_BYTES", 4 * 1024)  # the test client spools big bodies to unclosed files
    big = b"%PDF-1.4\n" + b"0" * (4 * 1024 - 9 - 6) + b"%%EOF\n"
    assert len(big) == 4 * 1024  # exactly the limit is accepted …
    resp = upload(client, case.id, "02", big + b"\n", "big.pdf")  # … one byte more is not
    assert resp.status_code == 422 and "文件过大：不能超过 4 KB。" in text_of(resp)
    resp = upload(client, case.id, "02", b"%PDF-1.4 truncated", "cut.pdf")
    assert resp.status_code == 422 and "PDF 文件不完整或已损坏。" in text_of(resp)
    assert table_snapshot() == before and set(uploads.upload_dir().iterdir()) == files_before
    assert upload(client, case.id, "02", big, "big.pdf").status_code == 302


def test_mark_received_and_unmark(client, li):
    case = create(li)
    login(client, li.corp_rm)
    resp = client.post(f"{P}/cases/{case.id}/documents/mark", {"code": "05", "received": "1"}, follow_redirects=True)
    assert "已标记为已收到" in text_of(resp)
    assert audits("document") == 1
    client.post(f"{P}/cases/{case.id}/documents/mark", {"code": "05", "received": "0"})
    db.session.expire_all()
    doc = db.session.execute(select(LoanDocument).where(LoanDocument.case_id == case.id,
                                                        LoanDocument.code == "05")).scalar_one()
    assert doc.received is False and audits("document") == 2
    resp = client.post(f"{P}/cases/{case.id}/documents/mark", {"code": "99", "received": "1"})
    assert resp.status_code == 422 and "材料清单中没有此项" in text_of(resp)


def test_documents_scope_and_permissions(client, li):
    case = create(li)
    as_user(li.corp_rm, s.mark_document, case.id, "01")
    doc_id = db.session.execute(select(LoanDocument.id).where(LoanDocument.case_id == case.id,
                                                              LoanDocument.code == "01")).scalar_one()
    login(client, li.corp_rm)
    upload(client, case.id, "01", PDF_BYTES, "a.pdf")
    client.logout()
    login(client, li.head_b)  # another 分行's outlet head: nothing of the case, not even that it exists
    before = li_tables()
    for url in (f"{P}/cases/{case.id}/documents", f"{P}/documents/{doc_id}"):
        resp = client.get(url)
        assert resp.status_code == 404 and "甲贸易" not in text_of(resp) and b"%PDF" not in resp.data
    assert upload(client, case.id, "02", PDF_BYTES, "b.pdf").status_code == 404
    client.logout()
    login(client, li.reviewer)  # 支行行长: may look, may not prepare
    assert client.get(f"{P}/cases/{case.id}/documents").status_code == 200
    assert upload(client, case.id, "02", PDF_BYTES, "b.pdf").status_code == 403
    assert li_tables() == before


def test_documents_cannot_change_after_review(client, li):
    case = to_disbursed(li)
    login(client, li.corp_rm)
    resp = upload(client, case.id, "14", PDF_BYTES, "x.pdf")
    assert resp.status_code == 422 and "案件处于“放款”状态，不能修改材料" in text_of(resp)
    assert "材料不能再修改" in text_of(client.get(f"{P}/cases/{case.id}/documents"))


# ---------------------------------------------------------------- default events, measures, claims

def test_t27_default_event_offers_the_five_measures_and_bad_input_saves_nothing(client, li):
    case = to_disbursed(li)
    login(client, li.corp_rm)
    before = table_snapshot()
    resp = client.post(f"{P}/cases/{case.id}/claim/events", {"event": "8", "occurred_on": "2024-04-15"})
    assert resp.status_code == 422 and "请选择第二十四条所列违约事件" in text_of(resp)
    resp = client.post(f"{P}/cases/{case.id}/claim/events", {"event": "1", "occurred_on": "2024-13-01"})
    assert resp.status_code == 422 and "发生日期不是有效日期（如 2024-07-15）" in text_of(resp)
    assert table_snapshot() == before
    resp = client.post(f"{P}/cases/{case.id}/claim/events", {"event": "1", "occurred_on": "2024-04-15",
                                                             "note": "资金挪用于购房"}, follow_redirects=True)
    html = text_of(resp)
    assert "已登记违约事件。可采取的措施：调整或取消贷款额度、停止发放贷款、拒绝新的提款要求、终止贷款合同、要求立即偿还所有未还借款" in html
    assert "（1）借款人擅自改变贷款用途" in html and "资金挪用于购房" in html
    assert fresh(case.id).status == "defaulted" and audits("default_event") == 1
    resp = client.post(f"{P}/cases/{case.id}/claim/measures", {"measure": "fly", "taken_on": "2024-04-16"})
    assert resp.status_code == 422 and "请选择第二十五条所列措施" in text_of(resp)
    resp = client.post(f"{P}/cases/{case.id}/claim/measures", {"measure": "terminate", "taken_on": "2024-04-16"},
                       follow_redirects=True)
    assert "已登记措施：终止贷款合同" in text_of(resp)
    assert db.session.execute(select(LoanMeasure.measure)).scalars().all() == ["terminate"]
    assert audits("measure") == 1


def test_claim_deadlines_late_flags_and_the_calendar_warning(client, li):
    case = defaulted(li)  # default event (2) on 2024-04-15, 30 days' waiting period
    login(client, li.corp_rm)
    resp = client.post(f"{P}/cases/{case.id}/claim/open", {}, follow_redirects=True)
    assert "已发起索赔：须于2024-05-20前递交《索赔申请书》" in text_of(resp)
    html = text_of(resp)
    assert "2024-05-15" in html and 'class="text-danger fw-bold" data-liw-deadline>2024-05-20' in html
    assert "已逾期未递交" in html  # today is long after 2024-05-20 and nothing was submitted
    assert "2024年的节假日安排尚未录入工作日历" in html  # no calendar rows in the test database
    before = table_snapshot()
    resp = client.post(f"{P}/cases/{case.id}/claim/submit", {"submitted_on": "2024-05-14"})
    assert resp.status_code == 422 and "赔款等待期2024-05-15结束后方可递交索赔申请" in text_of(resp)
    assert table_snapshot() == before
    resp = client.post(f"{P}/cases/{case.id}/claim/submit", {"submitted_on": "2024-05-21"}, follow_redirects=True)
    assert "已登记递交索赔申请（逾期：应于2024-05-20前递交）" in text_of(resp) and "逾期递交" in text_of(resp)
    resp = client.post(f"{P}/cases/{case.id}/claim/docs-complete", {"on": "2024-05-21"}, follow_redirects=True)
    html = text_of(resp)
    assert "已登记资料齐全：保险公司须于2024-05-28前赔付" in html and "保险公司逾期未赔付" in html
    assert "暂停该保险公司在本分行的新增客户审批" not in html  # the RM may not suspend
    assert audits("claim_opened") == audits("claim_submitted") == audits("claim_docs_complete") == 1
    client.logout()
    login(client, li.approver)
    resp = client.post(f"{P}/cases/{case.id}/claim/suspend", {}, follow_redirects=True)
    assert "已暂停该保险公司在本分行的新增客户审批" in text_of(resp)
    stop = db.session.execute(select(LoanSuspension)).scalar_one()
    assert stop.reason == f"案件#{case.id}：资料齐全后应于2024-05-28前赔付，保险公司未按时赔付"
    client.logout()
    login(client, li.corp_rm)
    assert client.post(f"{P}/cases/{case.id}/claim/suspend", {}).status_code == 403
    resp = client.post(f"{P}/cases/{case.id}/claim/payment", {"paid_on": "2024-05-29", "amount": "abc"})
    assert resp.status_code == 422 and "赔付金额" in text_of(resp)
    resp = client.post(f"{P}/cases/{case.id}/claim/payment", {"paid_on": "2024-05-29", "amount": "60万"},
                       follow_redirects=True)
    assert "已登记保险公司赔付，案件转入追偿" in text_of(resp) and "600,000.00 元" in text_of(resp)
    assert fresh(case.id).status == "recovering" and audits("claim_paid") == 1


def test_t26_recoveries_show_the_split_and_the_cap(client, li):
    case = paid_claim(li, amount="100000")
    login(client, li.corp_rm)
    before = table_snapshot()
    resp = client.post(f"{P}/cases/{case.id}/claim/recoveries", {"recovered_on": "2024-08-01", "amount": "30000",
                                                                 "costs": "30000.01"})
    assert resp.status_code == 422 and "追偿费用不能大于追偿所得" in text_of(resp)
    assert table_snapshot() == before
    resp = client.post(f"{P}/cases/{case.id}/claim/recoveries", {"recovered_on": "2024-08-01", "amount": "250000",
                                                                 "costs": "30000"}, follow_redirects=True)
    html = text_of(resp)
    assert "已登记追偿：净额220,000.00，保险公司100,000.00，本行120,000.00" in html  # 110,000 capped at 100,000
    assert "已按上限截足" in html and "尚可受偿 0.00 元" in html
    r = db.session.execute(select(LoanRecovery)).scalar_one()
    assert (r.insurer_share, r.bank_share, r.capped) == (Decimal("100000.00"), Decimal("120000.00"), True)
    assert audits("recovery") == 1


def test_claim_pages_of_another_branch_answer_404_and_change_nothing(client, li):
    case = defaulted(li)
    login(client, li.head_b)
    before = li_tables()
    resp = client.get(f"{P}/cases/{case.id}/claim")
    assert resp.status_code == 404 and "甲贸易" not in text_of(resp)
    for path, form in (("events", {"event": "2", "occurred_on": "2024-05-01"}), ("open", {}),
                       ("recoveries", {"recovered_on": "2024-08-01", "amount": "1"})):
        assert client.post(f"{P}/cases/{case.id}/claim/{path}", form).status_code == 404
    for form in ("claim", "overdue", "assignment"):
        assert client.get(f"{P}/cases/{case.id}/forms/{form}.pdf").status_code == 404
    assert li_tables() == before
    denied = db.session.execute(select(AuditLog.action).where(AuditLog.result == "denied")).scalars().all()
    assert denied and set(denied) == {"access.denied"}
    assert db.session.execute(select(func.count()).select_from(LoanDefaultEvent)).scalar_one() == 1


def test_claim_csrf_is_required(client, li):
    case = to_disbursed(li)
    login(client, li.corp_rm)
    before = table_snapshot()
    resp = client.post(f"{P}/cases/{case.id}/claim/events", {"event": "2", "occurred_on": "2024-04-15"}, csrf=False)
    assert resp.status_code == 400 and table_snapshot() == before


# ---------------------------------------------------------------- the three attachments

def pdf_text(data: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
        fh.write(data)
        fh.flush()
        out = subprocess.run(["pdftotext", fh.name, "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+", "", out)


needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


@needs_poppler
def test_the_three_forms_print_the_case_values_in_a_cjk_font_and_escape_names(client, li):
    db.session.execute(update(Customer).where(Customer.id == li.customer.id)
                       .values(name="<script>alert(1)</script>甲贸易"))
    db.session.commit()
    case = paid_claim(li)  # default (2) 2024-04-15 "逾期未还本息"; paid 600,000 on 2024-05-20
    login(client, li.corp_rm)
    resp = client.get(f"{P}/cases/{case.id}/forms/claim.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = pdf_text(resp.data)
    for value in ("索赔申请书", "平安财险", "PA-001", "YBD-2024-01", "<script>alert(1)</script>甲贸易", "张三",
                  "1,800,000.00元", "600,000.00元", "2024-04-15", "未按合同约定支付到期贷款本息等应付款项",
                  "2024-05-15", "甲网点", "经办行（盖章）"):
        assert value in text, value
    assert pdf.cjk_font_embedded(resp.data)
    text = pdf_text(client.get(f"{P}/cases/{case.id}/forms/overdue.pdf").data)
    assert "未按期还款记录清单" in text and "2024-04-15" in text and "逾期未还本息" in text
    days = (today_local() - date(2024, 4, 15)).days
    assert f"{days}天" in text
    text = pdf_text(client.get(f"{P}/cases/{case.id}/forms/assignment.pdf").data)
    assert "权益转让证明书" in text and "2024-05-20" in text and "600,000.00元" in text
    assert "担保人张三" in text and "受让方（保险公司）平安财险" in text
    printed = db.session.execute(select(AuditLog.detail).where(AuditLog.action == "loan_insurance.form_printed")
                                 ).scalars().all()
    assert [d["form"] for d in printed] == ["claim", "overdue", "assignment"]


def test_forms_that_do_not_apply_yet_are_refused_without_an_audit_row(client, li):
    case = to_disbursed(li)
    login(client, li.corp_rm)
    resp = client.get(f"{P}/cases/{case.id}/forms/assignment.pdf", follow_redirects=True)
    assert "保险公司赔付后方可出具《权益转让证明书》" in text_of(resp)
    resp = client.get(f"{P}/cases/{case.id}/forms/claim.pdf", follow_redirects=True)
    assert "尚未发起索赔，不能打印《索赔申请书》" in text_of(resp)
    assert audits("form_printed") == 0
    client.logout()
    login(client, li.branch_admin1)  # view only, no post_loan
    assert client.get(f"{P}/cases/{case.id}/forms/claim.pdf").status_code == 403


# ---------------------------------------------------------------- export and widget

def test_export_of_cases_in_scope_masked_per_post_formula_safe_and_audited(client, li):
    db.session.execute(update(Customer).where(Customer.id == li.customer.id).values(cert_no="91330100MA27XK5X1Q"))
    db.session.commit()
    create(li, legal_rep_name="=1+1")
    login(client, li.head_a)  # may reveal: the full code
    resp = client.get(f"{P}/export.xlsx")
    assert resp.status_code == 200
    rows = sheet(resp.data)
    assert rows[1][:4] == ["案件编号", "借款人", "统一社会信用代码", "法定代表人"]
    assert rows[2][1:4] == ["甲贸易有限公司", "91330100MA27XK5X1Q", "=1+1"] and rows[2][7] == 1800000
    assert len(rows) == 3
    client.logout()
    login(client, li.reviewer)  # 支行行长: sees the case, may not reveal
    rows = sheet(client.get(f"{P}/export.xlsx").data)
    assert rows[2][2] == "913***********5X1Q"
    client.logout()
    login(client, li.head_b)
    rows = sheet(client.get(f"{P}/export.xlsx").data)
    assert len(rows) == 2  # note and header only
    details = db.session.execute(select(AuditLog.detail).where(AuditLog.action == "loan_insurance.exported")
                                 .order_by(AuditLog.id)).scalars().all()
    assert [(d["rows"], d["masked"]) for d in details] == [(1, False), (1, True), (0, False)]


def test_widget_lists_claims_due_this_week_and_overdue_items(client, li):
    today = today_local()
    due = defaulted(li)
    as_user(li.corp_rm, s.open_claim, due.id)
    late = defaulted(li)
    as_user(li.corp_rm, s.open_claim, late.id)
    sunday = today + timedelta(days=6 - today.weekday())
    paying = defaulted(li)
    as_user(li.corp_rm, s.open_claim, paying.id)
    db.session.execute(update(LoanClaim).where(LoanClaim.case_id == due.id).values(deadline=sunday))
    db.session.execute(update(LoanClaim).where(LoanClaim.case_id == late.id).values(deadline=today - timedelta(days=1)))
    db.session.execute(update(LoanClaim).where(LoanClaim.case_id == paying.id).values(
        submitted_on=date(2024, 5, 16), docs_complete_on=date(2024, 5, 17), insurer_deadline=today))
    db.session.commit()
    login(client, li.head_a)
    html = text_of(client.get(f"{P}/widget"))
    assert f"本周须递交索赔申请： {sunday.isoformat()}" in html
    assert f"索赔申请逾期，应于 {(today - timedelta(days=1)).isoformat()}" in html
    assert f"本周保险公司应赔付： {today.isoformat()}" in html  # the deadline day itself is not late yet
    assert "保险公司逾期未赔付" not in html
    assert html.count("甲贸易有限公司") == 3
    db.session.execute(update(LoanClaim).where(LoanClaim.case_id == paying.id).values(
        insurer_deadline=today - timedelta(days=1)))
    db.session.commit()
    assert f"保险公司逾期未赔付，应于 {(today - timedelta(days=1)).isoformat()}" in text_of(client.get(f"{P}/widget"))
    db.session.execute(update(LoanClaim).where(LoanClaim.case_id == due.id).values(deadline=sunday + timedelta(days=1)))
    db.session.commit()
    assert "本周须递交索赔申请" not in text_of(client.get(f"{P}/widget"))  # next Monday is next week
    client.logout()
    login(client, li.head_b)
    assert "本周没有到期的索赔，也没有逾期事项。" in text_of(client.get(f"{P}/widget"))


def test_case_more_summary_for_the_case_page(app, li):
    from flask import render_template
    from flask_login import login_user

    from crm.models import User

    case = create(li)
    total = len([d for d in s.case_documents(case) if d.required])
    as_user(li.corp_rm, s.mark_document, case.id, "01")
    with app.test_request_context():
        login_user(db.session.get(User, li.corp_rm.id))
        html = render_template("loan_insurance/_case_more.html", case=fresh(case.id), perm={})
    assert f"必备材料 1/{total}" in html and f"缺{total - 1}项" in html
    assert f"{P}/cases/{case.id}/documents" in html


def test_the_case_page_shows_the_documents_and_claim_summary(client, li):
    case = defaulted(li)
    as_user(li.corp_rm, s.open_claim, case.id)
    login(client, li.corp_rm)
    html = text_of(client.get(f"{P}/cases/{case.id}"))
    assert "材料、违约与索赔" in html and f"{P}/cases/{case.id}/claim" in html
    assert "索赔申请须于2024-05-20前递交" in html and "递交逾期" in html


def test_hq_insurers_only_by_the_system_administrator_who_names_the_branch_of_a_suspension(client, li):
    login(client, li.branch_admin1)
    resp = client.post(f"{P}/panel/insurers", {"name": "总行财险", "hq": "1"})
    assert resp.status_code == 422 and "只有系统管理员可以维护总行入围保险公司" in text_of(resp)
    client.logout()
    login(client, li.admin)
    assert client.post(f"{P}/panel/insurers", {"name": "总行财险", "hq": "1"}).status_code == 302
    hq = db.session.execute(select(LoanInsurer).where(LoanInsurer.name == "总行财险")).scalar_one()
    assert hq.branch_id is None
    resp = client.post(f"{P}/panel/suspensions", {"insurer_id": hq.id, "starts_on": "2024-06-01", "reason": "逾期赔付"})
    assert resp.status_code == 422 and "请选择经办分行" in text_of(resp)
    client.post(f"{P}/panel/suspensions", {"insurer_id": hq.id, "starts_on": "2024-06-01", "reason": "逾期赔付",
                                           "branch_id": li.b2.id})
    assert db.session.execute(select(LoanSuspension.branch_id)).scalar_one() == li.b2.id
    client.logout()
    login(client, li.branch_admin1)  # sees the HQ insurer, not 乙分行's suspension, and cannot edit it
    html = text_of(client.get(f"{P}/panel"))
    assert "总行财险" in html and "总行入围" in html and "逾期赔付" not in html
    assert f"/panel/insurers/{hq.id}/agreements" not in html
