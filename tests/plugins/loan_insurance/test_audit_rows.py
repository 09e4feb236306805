"""Audit rows of the 银保贷 documents (issue 8, promise 6): every download of a stored R-61 document through its case
writes exactly ONE row naming the document, its case and its checklist line; a download refused (another 分行's
case, a line ticked on paper with no file) writes none."""

from __future__ import annotations

import io

from sqlalchemy import select

from crm.extensions import db
from plugins.loan_insurance.models import LoanDocument
from tests.audit_rows import only_row, rows_of
from tests.plugins.loan_insurance.test_services import create

P = "/p/loan-insurance"
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def login(client, user) -> None:
    assert client.login(user.login).status_code == 302


def doc_of(case_id: int, code: str) -> LoanDocument:
    db.session.expire_all()
    return db.session.execute(select(LoanDocument).where(LoanDocument.case_id == case_id,
                                                         LoanDocument.code == code)).scalar_one()


def test_each_document_download_writes_one_row_naming_the_document_and_its_case(client, li):
    case = create(li)
    case_id = case.id
    login(client, li.corp_rm)
    resp = client.post(f"{P}/cases/{case_id}/documents/upload",
                       {"code": "01", "file": (io.BytesIO(PDF_BYTES), "营业执照.pdf")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302
    assert client.post(f"{P}/cases/{case_id}/documents/mark", {"code": "05", "received": "1"}).status_code == 302
    licence, paper = doc_of(case_id, "01"), doc_of(case_id, "05")
    assert rows_of("loan_insurance.document_downloaded") == []  # uploading and ticking are not downloads
    client.logout()

    # another 分行's outlet head: 404, not a byte of the file, nothing recorded
    login(client, li.head_b)
    resp = client.get(f"{P}/documents/{licence.id}")
    assert resp.status_code == 404 and b"%PDF" not in resp.data
    client.logout()
    assert rows_of("loan_insurance.document_downloaded") == []

    # the 支行行长 who reviews the case opens the licence: the file, and one row
    login(client, li.reviewer)
    got = client.get(f"{P}/documents/{licence.id}")
    assert got.status_code == 200 and got.data == PDF_BYTES and "attachment" in got.headers["Content-Disposition"]
    got.close()
    only_row("loan_insurance.document_downloaded", li.reviewer, ("loan_insurance_document", licence.id),
             case_id=case_id, code="01")
    # a line received on paper has no file to download: 404 and no row
    assert client.get(f"{P}/documents/{paper.id}").status_code == 404
    assert len(rows_of("loan_insurance.document_downloaded")) == 1
    client.logout()

    # every download is recorded: the RM's own download is a second row, by the RM
    login(client, li.corp_rm)
    again = client.get(f"{P}/documents/{licence.id}")
    assert again.status_code == 200
    again.close()
    first, second = rows_of("loan_insurance.document_downloaded")
    assert (first.actor_id, second.actor_id) == (li.reviewer.id, li.corp_rm.id)
    assert (second.target_type, second.target_id, second.detail) == (
        "loan_insurance_document", str(licence.id), {"case_id": case_id, "code": "01"})
