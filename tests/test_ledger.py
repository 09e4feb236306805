"""包户包效客户台账 (R-09): one PDF with cover, contents, weekly report, base information and follow-up records;
CJK font embedded, PII masked for everyone, scope enforced (404, no bytes, no job), every print audited; large
ledgers as a background job with progress, downloadable only by the user who started it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import event, select

from crm import pdf
from crm.customers import ledger, ledger_views
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


PRINT = "/customers/ledger/print"


def print_ledger(c, **fields):
    """Click 打印台账: a POST with the page's CSRF token."""
    return c.post(PRINT, {k: str(v) for k, v in fields.items()})


def printed_rows():
    return db.session.execute(select(AuditLog).where(AuditLog.action == "customer.ledger_printed")
                              .order_by(AuditLog.id)).scalars().all()


def job_files(app) -> list[str]:
    folder = Path(app.instance_path) / "ledgers"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_outlet_ledger_pdf(app, org, book):
    resp = print_ledger(login(app, org.head_a), outlet=org.a.id)
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
    [row] = printed_rows()
    assert (row.target_type, row.target_id, row.actor_id) == ("outlet", str(org.a.id), org.head_a.id)
    assert row.detail["customers"] == 3 and row.detail["pages"] >= 5
    footers = re.findall(r"第\s*(\d+)\s*页\s*/\s*共\s*(\d+)\s*页", text)
    assert footers and footers[0] == ("2", str(row.detail["pages"])), footers  # the cover has no footer
    assert job_files(app) == []  # a small ledger comes straight back: no job, no file left on the server


def test_other_outlet_is_404_without_pdf(app, org, book):
    c = login(app, org.head_a)
    for fields in ({"outlet": org.b.id}, {"user": org.rm_b.id}, {"outlet": 999999}, {"user": "abc"}):
        resp = print_ledger(c, **fields)
        assert resp.status_code == 404, fields
        assert resp.mimetype != "application/pdf" and b"%PDF" not in resp.data
    assert printed_rows() == []
    denied = db.session.execute(select(AuditLog.target_type, AuditLog.target_id).where(
        AuditLog.action == "access.denied")).all()
    assert ("outlet", str(org.b.id)) in denied and ("user_account", str(org.rm_b.id)) in denied


def test_rm_gets_only_own_ledger(app, org, book):
    c = login(app, org.rm_a)
    resp = print_ledger(c)
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    assert pdf.cjk_font_embedded(resp.data)
    text = pdf_text(resp.data)
    assert "张三" in text and "甲客户经理" in text and "138****5678" in text
    for other in ("李四", "王五", CANARY_B, PHONE):
        assert other not in text, other
    assert f"filename*=UTF-8''{quote('甲客户经理_包户包效客户台账_')}" in resp.headers["Content-Disposition"]
    # Asking for one's own id explicitly is the same ledger; others' ledgers need users.view.
    assert print_ledger(c, user=org.rm_a.id).status_code == 200
    for fields in ({"outlet": org.a.id}, {"user": org.head_a.id}):
        resp = print_ledger(c, **fields)
        assert resp.status_code == 404 and b"%PDF" not in resp.data, fields
    rows = printed_rows()
    assert [(r.target_type, r.target_id, r.detail["customers"]) for r in rows] == [("user", str(org.rm_a.id), 1)] * 2


def test_head_prints_a_staff_members_ledger(app, org, book):
    resp = print_ledger(login(app, org.head_a), user=org.rm_a.id)
    assert resp.status_code == 200
    text = pdf_text(resp.data)
    assert "张三" in text and "李四" not in text


def test_branch_post_prints_outlets_of_its_subtree(app, org, book):
    c = login(app, org.president1)
    resp = print_ledger(c, outlet=org.a.id)
    assert resp.status_code == 200 and "张三" in pdf_text(resp.data)
    assert print_ledger(c, outlet=org.b.id).status_code == 404
    own = print_ledger(c)  # maintains nobody: an empty ledger, still one valid document
    assert own.status_code == 200 and "暂无客户" in pdf_text(own.data)


def test_ledger_page(app, org, book):
    body = login(app, org.head_a).get("/customers/ledger").get_data(as_text=True)
    forms = re.findall(r'<form method="post" action="/customers/ledger/print"[^>]*hx-boost="false">\s*'
                       r'<input type="hidden" name="csrf_token" value="[^"]+">', body)
    assert len(forms) == 4  # the page's print button, my ledger, an outlet's, a staff member's
    assert "打印台账" in body and "ledger.pdf" not in body
    assert f'value="{org.a.id}"' in body and "甲客户经理" in body and CANARY_B not in body
    body = login(app, org.rm_a).get("/customers/ledger").get_data(as_text=True)
    assert "打印台账" in body and 'name="outlet"' not in body and body.count('action="/customers/ledger/print"') == 2


def test_too_many_customers_asks_to_narrow(app, org, book, monkeypatch):
    monkeypatch.setattr(ledger, "MAX_CUSTOMERS", 2)
    c = login(app, org.head_a)
    resp = print_ledger(c, outlet=org.a.id)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/customers/ledger")
    assert b"%PDF" not in resp.data
    assert "超过单份台账" in c.get("/customers/ledger").get_data(as_text=True)
    assert printed_rows() == [] and job_files(app) == []


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


# ---------------------------------------------------------------- large ledgers: the background job

JOB_URL = re.compile(r"^/customers/ledger/jobs/([A-Za-z0-9_-]{20,40})$")


@pytest.fixture
def in_background(app, monkeypatch):
    """Every ledger goes through a job (the book has 3 customers, under the direct-print threshold)."""
    monkeypatch.setitem(app.config, "CRM_LEDGER_BACKGROUND_CUSTOMERS", 0)


@pytest.fixture
def saved_states(monkeypatch):
    """(state, stage, pages) of every save of a ledger job, in order: what the polling page could have shown."""
    seen: list[tuple] = []
    save = ledger_views.store.save

    def spy(job):
        seen.append((job["state"], job.get("stage"), job.get("pages")))
        save(job)

    monkeypatch.setattr(ledger_views.store, "save", spy)
    return seen


def start_job(c, **fields) -> tuple[str, str]:
    resp = print_ledger(c, **fields)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
    url = resp.headers["Location"]
    match = JOB_URL.match(url)
    assert match, url
    return url, match.group(1)


def test_job_lifecycle_queued_running_done_download(app, org, book, in_background, saved_states):
    slots = ledger_views._slots()
    assert slots.acquire(timeout=5)  # another ledger is rendering: ours waits its turn
    c = login(app, org.head_a)
    try:
        url, job_id = start_job(c, outlet=org.a.id)
        page = c.get(url).get_data(as_text=True)
        assert 'hx-trigger="every 1s"' in page and f'hx-get="{url}/progress"' in page
        assert "排队中" in page and "正在生成“甲网点”的包户包效客户台账" in page
        # The four steps, none done yet, none under way while queued; the bar at 0 of 4.
        steps = re.findall(r'data-step="(\w+)" data-done="(\w+)">\s*<i class="bi bi-([\w-]+)', page)
        assert steps == [("loading", "no", "circle"), ("prepare", "no", "circle"), ("layout", "no", "circle"),
                         ("writing", "no", "circle")], steps
        assert '<progress class="progress mb-3" value="0" max="4"' in page
        fragment = c.get(url + "/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "every 1s" in fragment and "<html" not in fragment
        assert c.get(url + "/ledger.pdf").status_code == 404  # nothing to download yet
        # While it runs, the ledger page points to it.
        assert f'href="{url}"' in c.get("/customers/ledger").get_data(as_text=True)
    finally:
        slots.release()
    ledger_views.store.wait(job_id, 120)

    job = ledger_views.store.load(job_id)
    assert job["state"] == "done" and job["customers"] == 3 and job["pages"] >= 5 and job["contacts"] == 3
    # The stages in order, pages counted up during layout, the page count known before the PDF is written.
    stages = [stage for _state, stage, _pages in saved_states]
    assert stages[0] == "queued" and stages[-1] == "done"
    order = [s for i, s in enumerate(stages) if i == 0 or s != stages[i - 1]]
    assert order == ["queued", "loading", "prepare", "layout", "writing", "done"], order
    layout_pages = [p for _state, stage, p in saved_states if stage == "layout"]  # saved at most twice a second
    assert layout_pages[0] == 1 and layout_pages == sorted(layout_pages) and layout_pages[-1] <= job["pages"]
    assert [p for _s, stage, p in saved_states if stage == "writing"] == [job["pages"]]

    fragment = c.get(url + "/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "every 1s" not in fragment and "台账已生成" in fragment
    assert f"共 {job['pages']} 页，3 位客户" in fragment and f'href="{url}/ledger.pdf"' in fragment
    assert printed_rows() == []  # generating is not printing: nothing has left the server yet

    resp = c.get(url + "/ledger.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert f"filename*=UTF-8''{quote('甲网点_包户包效客户台账_')}" in resp.headers["Content-Disposition"]
    data = resp.get_data()
    assert data.startswith(b"%PDF") and pdf.cjk_font_embedded(data)
    text = pdf_text(data)
    for title in SECTIONS:
        assert title in text, title
    assert "张三" in text and "138****5678" in text and PHONE not in text and CANARY_B not in text
    [row] = printed_rows()  # exactly one audit row for the print
    assert (row.actor_id, row.target_type, row.target_id) == (org.head_a.id, "outlet", str(org.a.id))
    assert row.detail == {"customers": 3, "pages": job["pages"]}
    assert sorted(job_files(app)) == sorted([f"{job_id}.json", f"{job_id}.pdf"])  # no temporary file left


def test_another_user_cannot_see_or_download_a_job(app, org, book, in_background):
    head = login(app, org.head_a)
    url, job_id = start_job(head, outlet=org.a.id)
    ledger_views.store.wait(job_id, 120)
    assert head.get(url + "/ledger.pdf").status_code == 200
    for other in (org.rm_a, org.head_a2, org.admin):  # same outlet, same branch, everything in scope: still not
        c = login(app, other)
        for path in (url, url + "/progress", url + "/ledger.pdf"):
            resp = c.get(path)
            assert resp.status_code == 404 and b"%PDF" not in resp.data, (other.login, path)
    assert login(app, org.head_a).get("/customers/ledger/jobs/not-a-job-id-at-all-xxxxx").status_code == 404
    assert [r.actor_id for r in printed_rows()] == [org.head_a.id]


def test_out_of_scope_outlet_or_person_starts_nothing(app, org, book, in_background):
    c = login(app, org.head_a)
    for fields in ({"outlet": org.b.id}, {"user": org.rm_b.id}, {"outlet": org.a2.id}, {"user": org.rm_a2.id},
                   {"outlet": 999999}):
        resp = print_ledger(c, **fields)
        assert resp.status_code == 404 and "Location" not in resp.headers, fields
    rm = login(app, org.rm_a)  # no users.view: only their own ledger
    for fields in ({"outlet": org.a.id}, {"user": org.head_a.id}):
        assert print_ledger(rm, **fields).status_code == 404, fields
    assert [j for j in job_files(app) if j.endswith(".json")] == []
    assert printed_rows() == []


def test_printing_needs_a_post_with_csrf(app, org, book, in_background):
    c = login(app, org.head_a)
    resp = c.post(PRINT, {"outlet": str(org.a.id)}, csrf=False)
    assert resp.status_code == 400 and "安全校验未通过" in resp.get_data(as_text=True)
    assert c.get(f"{PRINT}?outlet={org.a.id}").status_code == 405
    assert c.get(f"/customers/ledger.pdf?outlet={org.a.id}").status_code == 404  # the old GET link is gone
    assert job_files(app) == [] and printed_rows() == []


def test_a_failing_render_marks_the_job_failed_and_leaves_no_file(app, org, book, in_background, monkeypatch):
    from weasyprint import Document

    def broken(self, target=None, **options):
        target.write(b"%PDF-1.7\n% half a ledger")  # some bytes are out before it breaks
        raise MemoryError("out of memory while writing")

    monkeypatch.setattr(Document, "write_pdf", broken)
    c = login(app, org.head_a)
    url, job_id = start_job(c, outlet=org.a.id)
    ledger_views.store.wait(job_id, 120)
    job = ledger_views.store.load(job_id)
    assert job["state"] == "failed" and job["stage"] == "writing"
    body = c.get(url).get_data(as_text=True)
    assert "生成台账时出错，未能完成" in body and "every 1s" not in body and "/ledger.pdf" not in body
    assert job_files(app) == [f"{job_id}.json"]  # neither the PDF nor its temporary file
    assert c.get(url + "/ledger.pdf").status_code == 404 and printed_rows() == []
    # A new attempt is not blocked by the failed one.
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "CRM_LEDGER_BACKGROUND_CUSTOMERS", 0)
    _url, again = start_job(c, outlet=org.a.id)
    assert again != job_id
    ledger_views.store.wait(again, 120)
    assert ledger_views.store.load(again)["state"] == "done"


def test_a_second_click_lands_on_the_running_job(app, org, book, in_background):
    slots = ledger_views._slots()
    assert slots.acquire(timeout=5)
    c = login(app, org.head_a)
    try:
        url, job_id = start_job(c, outlet=org.a.id)
        assert start_job(c, outlet=org.a.id)[1] == job_id  # the same ledger again: the same job
        other = print_ledger(c, user=org.rm_a.id)  # another ledger waits until this one is done
        assert other.status_code == 303 and other.headers["Location"] == url
        assert "还在生成中" in c.get(url).get_data(as_text=True)
        assert len([j for j in job_files(app) if j.endswith(".json")]) == 1
    finally:
        slots.release()
    ledger_views.store.wait(job_id, 120)


def test_the_file_is_deleted_after_the_retention_time(app, org, book, in_background):
    c = login(app, org.head_a)
    url, job_id = start_job(c, outlet=org.a.id)
    ledger_views.store.wait(job_id, 120)
    job = ledger_views.store.load(job_id)
    assert "文件保留到" in c.get(url).get_data(as_text=True)
    # An hour later: the download is refused even before the clean-up has run ...
    job["finished"] -= ledger_views.KEEP_MINUTES * 60 + 1
    ledger_views.store.save(job)
    assert c.get(url + "/ledger.pdf").status_code == 404
    assert "已过期删除" in c.get(url).get_data(as_text=True)
    # ... and the next visit to the ledger pages deletes the files.
    old = time.time() - ledger_views.KEEP_MINUTES * 60 - 5
    for name in job_files(app):
        os.utime(Path(app.instance_path) / "ledgers" / name, (old, old))
    assert c.get("/customers/ledger").status_code == 200
    assert job_files(app) == [] and c.get(url).status_code == 404
    assert printed_rows() == []


def test_an_interrupted_job_says_so(app, org, book, in_background):
    slots = ledger_views._slots()
    assert slots.acquire(timeout=5)
    c = login(app, org.head_a)
    try:
        url, job_id = start_job(c, outlet=org.a.id)
        job = ledger_views.store.load(job_id)
        job["heartbeat"] = time.time() - ledger_views.STALE_SECONDS - 1
        path = ledger_views.store.path(job_id)
        path.write_text(json.dumps(job), encoding="utf-8")  # as a server killed long ago left it
        body = c.get(url).get_data(as_text=True)
        assert "已中断" in body and "every 1s" not in body
    finally:
        slots.release()
    ledger_views.store.wait(job_id, 120)


def test_page_counter_follows_only_its_own_thread(app, org, book):
    """Two renders at once (a job and a direct print): each counts its own pages, not the other's."""
    data = ledger.gather(org.head_a, outlet=org.a)
    counts: dict[str, list[int]] = {"a": [], "b": []}
    results: dict[str, int] = {}

    def run(key: str) -> None:
        with app.app_context():
            out = Path(app.instance_path) / f"{key}.pdf"
            out.parent.mkdir(parents=True, exist_ok=True)
            results[key] = ledger.render_to_file(data, out, lambda stage, p: counts[key].append(p)
                                                 if stage == "layout" else None)

    threads = [threading.Thread(target=run, args=(k,)) for k in counts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for key in counts:
        assert counts[key] == list(range(1, results[key] + 1)), (key, counts[key])


def test_the_download_checks_the_scope_again(app, org, book, in_background):
    """The PDF holds what the user could see when it was made: once the staff member has moved to an outlet out of
    the user's scope, the ledger is no longer handed out."""
    c = login(app, org.head_a)
    url, job_id = start_job(c, user=org.rm_a.id)
    ledger_views.store.wait(job_id, 120)
    assert ledger_views.store.load(job_id)["state"] == "done"
    org.rm_a.outlet_id, org.rm_a.branch_id = org.b.id, org.b.branch_id
    db.session.commit()
    resp = c.get(url + "/ledger.pdf")
    assert resp.status_code == 404 and b"%PDF" not in resp.data
    assert printed_rows() == []


def test_a_render_leaves_garbage_collection_and_logging_as_they_were(app, org, book, monkeypatch):
    """The render pauses automatic garbage collection and listens to WeasyPrint's progress log; both are
    process-wide, so both must be back as they were afterwards, also when the render fails."""
    import gc
    import logging

    from weasyprint import Document

    progress_log = logging.getLogger("weasyprint.progress")
    monkeypatch.setattr(progress_log, "disabled", True)  # as Alembic's fileConfig leaves it: pages still counted
    before = (gc.isenabled(), progress_log.level, progress_log.propagate, progress_log.disabled,
              list(progress_log.handlers))
    counted: list[int] = []
    data = ledger.gather(org.head_a, outlet=org.a)
    paused: list[bool] = []
    original = Document.write_pdf

    def spy(self, *args, **kwargs):
        paused.append(gc.isenabled())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Document, "write_pdf", spy)
    out = Path(app.instance_path) / "ledger.pdf"
    out.parent.mkdir(parents=True, exist_ok=True)
    pages = ledger.render_to_file(data, out, lambda stage, n: counted.append(n) if stage == "layout" else None)
    assert out.read_bytes().startswith(b"%PDF") and counted == list(range(1, pages + 1))
    assert paused == [True]  # collection is back on before the PDF is written
    assert (gc.isenabled(), progress_log.level, progress_log.propagate, progress_log.disabled,
            list(progress_log.handlers)) == before

    def broken_layout(self, *args, **kwargs):
        assert not gc.isenabled()  # paused during the layout
        raise RuntimeError("layout failed")

    monkeypatch.setattr("weasyprint.HTML.render", broken_layout)
    with pytest.raises(RuntimeError):
        ledger.render_bytes(data)
    assert (gc.isenabled(), progress_log.level, progress_log.propagate, progress_log.disabled,
            list(progress_log.handlers)) == before


def test_staff_print_their_own_large_ledger_in_the_background(app, org, book, in_background):
    c = login(app, org.rm_a)  # no users.view: their own ledger only, through the job as well
    url, job_id = start_job(c)
    ledger_views.store.wait(job_id, 120)
    job = ledger_views.store.load(job_id)
    assert (job["state"], job["kind"], job["target_id"], job["customers"]) == ("done", "user", org.rm_a.id, 1)
    text = pdf_text(c.get(url + "/ledger.pdf").data)
    assert "张三" in text and "李四" not in text and "王五" not in text
    assert [(r.target_type, r.target_id) for r in printed_rows()] == [("user", str(org.rm_a.id))]
