"""包户包效客户台账 (R-09): one PDF with cover, contents, weekly report, base information and follow-up records;
CJK font embedded, PII masked for everyone, scope enforced (404, no bytes), every print audited."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest
from sqlalchemy import event, select

from crm import pdf
from crm.customers import ledger
from crm.customers.search import keys
from crm.extensions import db
from crm.models import Activity, AuditLog, Customer
from crm.timeutil import utcnow
from tests.conftest import CANARY_B

PHONE = "13812345678"
CERT = "110101199003071234"
NOTE_PHONE = "13987654321"  # a number written into a contact summary: masked in print as well
SECTIONS = ("包户包效客户台账", "目录", "周报表", "客户基础信息表", "客户跟进记录表")


def need(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        pytest.fail(f"{tool} not found: install poppler-utils (Debian: apt-get install poppler-utils)")
    return exe


def pdf_text(data: bytes) -> str:
    exe = need("pdftotext")
    with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
        fh.write(data)
        fh.flush()
        return subprocess.run([exe, "-layout", fh.name, "-"], capture_output=True, text=True, check=True).stdout


def make_customer(outlet, name: str, maintainer=None, *, phone=None, cert=None, deposit="0", tier=None,
                  last_contact=None) -> Customer:
    c = Customer(outlet_id=outlet.id, kind="personal", status="stock", name=name, phone=phone, cert_no=cert,
                 tier=tier, deposit_balance=Decimal(deposit), maintainer_id=maintainer.id if maintainer else None,
                 last_contact_at=last_contact, **keys(name, phone, cert))
    db.session.add(c)
    db.session.commit()
    return c


def contact(customer, user, when: datetime, summary: str, next_follow_up: date | None = None, done=False,
            kind="call") -> Activity:
    a = Activity(customer_id=customer.id, user_id=user.id, kind=kind, occurred_at=when, summary=summary,
                 next_follow_up=next_follow_up, follow_up_done=done)
    db.session.add(a)
    db.session.commit()
    return a


@pytest.fixture
def book(org):
    """Outlet A: 张三 (rm_a, full PII), 李四 (head_a), 王五 (nobody); outlet B: a canary customer."""
    now = utcnow()
    today = ledger.today_local()
    zhang = make_customer(org.a, "张三", org.rm_a, phone=PHONE, cert=CERT, deposit="1234567.8", tier="财富",
                          last_contact=now)
    li = make_customer(org.a, "李四", org.head_a, phone="13700001234", deposit="50000", last_contact=now - timedelta(40))
    wang = make_customer(org.a, "王五", None, deposit="10")
    canary = make_customer(org.b, f"乙客户{CANARY_B}", org.rm_b, phone="13600009999")
    contact(zhang, org.rm_a, now - timedelta(days=20), "首次电话，了解家庭情况", done=True)
    contact(zhang, org.rm_a, now, f"上门走访，客户留了新号码{NOTE_PHONE}，关注定期转理财", today + timedelta(days=3),
            kind="visit")
    contact(li, org.head_a, now - timedelta(days=40), "存单到期提醒", today - timedelta(days=5))
    contact(canary, org.rm_b, now, f"乙网点联系{CANARY_B}", today)
    return dict(zhang=zhang, li=li, wang=wang, canary=canary)


def login(app, user):
    from tests.conftest import Client

    c = Client(app)
    assert c.login(user.login).status_code == 302
    return c


def test_outlet_ledger_pdf(app, org, book):
    resp = login(app, org.head_a).get(f"/customers/ledger.pdf?outlet={org.a.id}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.mimetype == "application/pdf"
    data = resp.data
    assert data.startswith(b"%PDF")
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('甲网点_包户包效客户台账_')}" in disposition
    assert quote("台账") in disposition and disposition.isascii()

    fonts = pdf.cjk_font_embedded(data)
    assert fonts, "no CJK font embedded: install fonts-noto-cjk (the PDF would print boxes)"
    assert any(re.search(r"Noto-?(Sans|Serif)-?CJK", f) for f in fonts), fonts

    text = pdf_text(data)
    for title in SECTIONS:
        assert title in text, title
    for name in ("张三", "李四", "王五", "甲网点", "甲分行", "甲一支行"):
        assert name in text, name
    assert "138****5678" in text and "110***********1234" in text
    assert "139****4321" in text  # masked inside the contact summary too
    for secret in (PHONE, CERT, NOTE_PHONE, "13700001234", CANARY_B):
        assert secret not in text, secret
    assert "1,234,567.80" in text  # exact balance with thousands separators
    assert "未分配维护人" in text

    # Audited with the customer and page counts.
    row = db.session.execute(select(AuditLog).where(AuditLog.action == "customer.ledger_printed")).scalar_one()
    assert (row.target_type, row.target_id, row.actor_id) == ("outlet", str(org.a.id), org.head_a.id)
    assert row.detail["customers"] == 3 and row.detail["pages"] >= 5
    footers = re.findall(r"第\s*(\d+)\s*页\s*/\s*共\s*(\d+)\s*页", text)
    assert footers and footers[0] == ("2", str(row.detail["pages"])), footers  # the cover has no footer


def test_other_outlet_is_404_without_pdf(app, org, book):
    c = login(app, org.head_a)
    for path in (f"/customers/ledger.pdf?outlet={org.b.id}", f"/customers/ledger.pdf?user={org.rm_b.id}",
                 "/customers/ledger.pdf?outlet=999999", "/customers/ledger.pdf?user=abc"):
        resp = c.get(path)
        assert resp.status_code == 404, path
        assert resp.mimetype != "application/pdf" and b"%PDF" not in resp.data
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "customer.ledger_printed")).first() is None
    denied = db.session.execute(select(AuditLog.target_type, AuditLog.target_id).where(
        AuditLog.action == "access.denied")).all()
    assert ("outlet", str(org.b.id)) in denied and ("user_account", str(org.rm_b.id)) in denied


def test_rm_gets_only_own_ledger(app, org, book):
    c = login(app, org.rm_a)
    resp = c.get("/customers/ledger.pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    assert pdf.cjk_font_embedded(resp.data)
    text = pdf_text(resp.data)
    assert "张三" in text and "甲客户经理" in text and "138****5678" in text
    for other in ("李四", "王五", CANARY_B, PHONE):
        assert other not in text, other
    assert f"filename*=UTF-8''{quote('甲客户经理_包户包效客户台账_')}" in resp.headers["Content-Disposition"]
    # Asking for one's own id explicitly is the same ledger; others' ledgers need users.view.
    assert c.get(f"/customers/ledger.pdf?user={org.rm_a.id}").status_code == 200
    for path in (f"/customers/ledger.pdf?outlet={org.a.id}", f"/customers/ledger.pdf?user={org.head_a.id}"):
        resp = c.get(path)
        assert resp.status_code == 404 and b"%PDF" not in resp.data, path
    rows = db.session.execute(select(AuditLog.target_type, AuditLog.target_id, AuditLog.detail).where(
        AuditLog.action == "customer.ledger_printed")).all()
    assert [(r[0], r[1], r[2]["customers"]) for r in rows] == [("user", str(org.rm_a.id), 1)] * 2


def test_head_prints_a_staff_members_ledger(app, org, book):
    resp = login(app, org.head_a).get(f"/customers/ledger.pdf?user={org.rm_a.id}")
    assert resp.status_code == 200
    text = pdf_text(resp.data)
    assert "张三" in text and "李四" not in text


def test_branch_post_prints_outlets_of_its_subtree(app, org, book):
    c = login(app, org.president1)
    resp = c.get(f"/customers/ledger.pdf?outlet={org.a.id}")
    assert resp.status_code == 200 and "张三" in pdf_text(resp.data)
    assert c.get(f"/customers/ledger.pdf?outlet={org.b.id}").status_code == 404
    own = c.get("/customers/ledger.pdf")  # maintains nobody: an empty ledger, still one valid document
    assert own.status_code == 200 and "暂无客户" in pdf_text(own.data)


def test_ledger_page(app, org, book):
    body = login(app, org.head_a).get("/customers/ledger").get_data(as_text=True)
    assert "打印台账" in body and "/customers/ledger.pdf" in body
    assert f'value="{org.a.id}"' in body and "甲客户经理" in body and CANARY_B not in body
    body = login(app, org.rm_a).get("/customers/ledger").get_data(as_text=True)
    assert "打印台账" in body and 'name="outlet"' not in body


def test_too_many_customers_asks_to_narrow(app, org, book, monkeypatch):
    monkeypatch.setattr(ledger, "MAX_CUSTOMERS", 2)
    c = login(app, org.head_a)
    resp = c.get(f"/customers/ledger.pdf?outlet={org.a.id}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/customers/ledger")
    assert b"%PDF" not in resp.data
    assert "超过单份台账" in c.get("/customers/ledger").get_data(as_text=True)
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "customer.ledger_printed")).first() is None


def test_weekly_report_and_records(app, org, book):
    data = ledger.gather(org.head_a, outlet=org.a)
    assert data.count == 3 and [g.name for g in data.groups] == ["网点甲负责人", "甲客户经理", "未分配维护人"]
    rows = {r.name: r for r in data.week_rows}
    assert rows["甲客户经理"].total == 1 and rows["甲客户经理"].new_follow_ups == 1
    assert rows["甲客户经理"].due == 1 and rows["甲客户经理"].contacted_30 == 1
    assert rows["网点甲负责人"].overdue == 1 and rows["网点甲负责人"].not_contacted_30 == 1
    assert data.week_total.customers == 3 and data.week_total.not_contacted_30 == 2
    assert [(d.customer, d.overdue) for d in data.due_items] == [("张三", False), ("李四", True)]  # this week first
    assert data.due_omitted == 0
    zhang = next(c for g in data.groups for c in g.customers if c.name == "张三")
    assert [a.kind for a in zhang.contacts] == ["电话联系", "上门走访"]  # oldest first, as written on paper
    assert "139****4321" in zhang.contacts[1].summary and zhang.balance == "1,234,567.80"
    assert zhang.phone == "138****5678" and zhang.cert == "110***********1234"


def test_due_list_is_capped(app, org, book, monkeypatch):
    monkeypatch.setattr(ledger, "MAX_DUE_ITEMS", 1)
    data = ledger.gather(org.head_a, outlet=org.a)
    assert [d.customer for d in data.due_items] == ["张三"] and data.due_omitted == 1


def test_gather_is_set_based(app, org):
    """Activities load in a few queries over chunks of ids, never one query per customer."""
    now = utcnow()
    customers = [make_customer(org.a, f"客户{i:03d}", org.rm_a) for i in range(25)]
    for i, c in enumerate(customers):
        for k in range(7):  # more than RECENT_CONTACTS: only the latest are printed
            contact(c, org.rm_a, now - timedelta(days=k, minutes=i), f"第{k}次联系")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        small = ledger.gather(org.head_a, outlet=org.a)
        statements_one_chunk = len(statements)
        statements.clear()
        ledger.CHUNK, saved = 10, ledger.CHUNK
        try:
            chunked = ledger.gather(org.head_a, outlet=org.a)
        finally:
            ledger.CHUNK = saved
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert statements_one_chunk <= 12, statements_one_chunk
    assert len(statements) <= statements_one_chunk + 2 * 3  # three more chunks: three reads each
    assert small == chunked
    first = small.groups[0].customers[0]
    assert len(first.contacts) == ledger.RECENT_CONTACTS
    assert [a.summary for a in first.contacts] == [f"第{k}次联系" for k in range(4, -1, -1)]


def test_safe_fetcher_refuses_everything_but_static(app):
    for url in ("http://example.com/x.png", "https://example.com/x.css", "file:///etc/passwd",
                "ftp://example.com/x", f"{pdf.static_root().as_uri()}/../pdf.py",
                f"{pdf.static_root().as_uri()}/css/../../pdf.py", "file://evil.example/etc/passwd"):
        with pytest.raises(ValueError):
            pdf.safe_fetcher(url)
    ok = pdf.safe_fetcher(f"{pdf.static_root().as_uri()}/css/app.css")
    try:
        assert ok.read(10)
    finally:
        ok.close()
    assert pdf.safe_fetcher("data:text/plain,hi").read() == b"hi"


def test_refused_resources_never_reach_the_network(app, monkeypatch):
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    reached: list[str] = []
    original = URLFetcher.fetch

    def spy(self, url, headers=None):
        reached.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(URLFetcher, "fetch", spy)
    root = pdf.static_root()
    html = ('<html lang="zh-CN"><body><p>中文</p><img src="http://example.com/x.png">'
            '<img src="file:///etc/passwd"><link rel="stylesheet" href="css/app.css"></body></html>')
    doc = HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=pdf.SafeFetcher(root)).render()
    assert len(doc.pages) == 1 and doc.write_pdf().startswith(b"%PDF")
    assert reached == [(root / "css" / "app.css").as_uri()]


def test_font_check_needs_poppler(monkeypatch):
    need("pdffonts")
    monkeypatch.setattr(pdf.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="poppler-utils"):
        pdf.cjk_font_embedded(b"%PDF-1.7")
