"""实习证明 printed in the background (R-30 step 4, T-10): a print of more than certificates.BACKGROUND_CERTIFICATES
(30) certificates becomes a job (crm/jobs.py, kind "certificates") whose page polls and then offers ONE PDF; up to
30 the PDF comes straight back. Issuing, the print record and the audit row happen exactly once per print; only
the user who started a job sees it and its file; a failure says so in Chinese and leaves no file."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm import pdf
from crm.extensions import db
from crm.models import AuditLog
from plugins.salon_events import certificates as certs
from plugins.salon_events import views_cert
from plugins.salon_events.models import SalonCertificate, SalonCertPrint
from tests.conftest import make_user

from .test_cert import START, campaign, login, pages_text, print_url, register, round_, signature

pytestmark = pytest.mark.skipif(pdf.shutil.which("pdftotext") is None, reason="poppler-utils not installed")

JOB_URL = re.compile(r"^/p/salon-events/certificates/jobs/([A-Za-z0-9_-]{20,40})$")
store = views_cert.store


@pytest.fixture
def kids(se):
    camp = campaign(se.b1, [se.a, se.a2])
    r1 = round_(camp, se.a)
    r2 = round_(camp, se.a2, START + timedelta(days=1))
    signature(camp, se.s1, se.president1, START - timedelta(days=1))
    return camp, r1, r2


@pytest.fixture
def small_threshold(app, monkeypatch):
    """Above 2 certificates a print is a job (the real threshold, 30, is tested once at its boundary)."""
    monkeypatch.setitem(app.config, "SALON_EVENTS_CERT_BACKGROUND", 2)


def start_job(client, camp, **data) -> tuple[str, str]:
    resp = client.post(print_url(camp), data)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
    url = resp.headers["Location"]
    match = JOB_URL.match(url)
    assert match, url
    return url, match.group(1)


def printed_audits() -> list[AuditLog]:
    return list(db.session.execute(select(AuditLog).where(
        AuditLog.action == "salon_events.certificates_printed").order_by(AuditLog.id)).scalars())


def job_files() -> list[str]:
    return sorted(p.name for p in store.folder().iterdir())


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_threshold_is_30_certificates():
    assert certs.BACKGROUND_CERTIFICATES == 30


def test_31_certificates_run_as_a_job_whose_pdf_has_31_pages_with_the_right_names(client, se, kids, monkeypatch):
    """One above the threshold: the POST answers with the job's page, which polls; the finished PDF has one page
    per child, in round order, and the print is recorded once (numbers, print record, audit row)."""
    camp, r1, r2 = kids
    names = [f"一场孩子{i:02d}" for i in range(16)] + [f"二场孩子{i:02d}" for i in range(15)]
    for n in names[:16]:
        register(r1, n)
    for n in names[16:]:
        register(r2, n)
    qr_urls: list[str] = []
    make_qr = certs.qr_data_uri
    monkeypatch.setattr(certs, "qr_data_uri", lambda u: qr_urls.append(u) or make_qr(u))
    login(client, se.marketing1)
    url, job_id = start_job(client, camp)
    page = client.get(url).get_data(as_text=True)
    assert page.count("宝贝银行家实习体验日") >= 1
    if 'hx-trigger="every 1s"' in page:  # still running: the page polls its progress fragment
        assert f'hx-get="{url}/progress"' in page and "约 31 张" in page
    store.wait(job_id, 180)

    job = store.load(job_id)
    assert job["state"] == "done" and job["count"] == 31 and job["pages"] == 31, job
    fragment = client.get(url + "/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "every 1s" not in fragment and "<html" not in fragment
    assert "实习证明已生成" in fragment and "共 31 张证书、31 页" in fragment
    assert f'href="{url}/certificates.pdf"' in fragment

    resp = client.get(url + "/certificates.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert pdf.cjk_font_embedded(resp.data)
    texts = pages_text(resp.data)
    assert len(texts) == 31
    for text, name in zip(texts, names, strict=True):
        assert f"{name}小朋友" in text.replace(" ", "")
    issued = db.session.execute(select(SalonCertificate).order_by(SalonCertificate.number)).scalars().all()
    assert [c.number for c in issued] == [f"KB2026-{i:05d}" for i in range(1, 32)]
    assert [c.child_name for c in issued] == names and all(c.print_count == 1 for c in issued)
    assert [(p.count, p.reprint, p.printed_by_id) for p in db.session.execute(select(SalonCertPrint)).scalars()] \
        == [(31, False, se.marketing1.id)]
    [row] = printed_audits()
    assert row.actor_id == se.marketing1.id and row.detail["count"] == 31 and row.detail["pages"] == 31
    # The QR codes point to this server's verification page, although the job ran without a request.
    assert qr_urls == [f"http://localhost/p/salon-events/verify/{c.token}" for c in issued]
    assert job_files() == sorted([f"{job_id}.json", f"{job_id}.pdf"])  # no temporary file left behind
    # Downloading the same file again is not another print.
    assert client.get(url + "/certificates.pdf").status_code == 200
    assert len(printed_audits()) == 1 and count(SalonCertPrint) == 1


def test_30_certificates_come_straight_back(client, se, kids):
    """At the threshold the PDF is the POST's answer, as before: no job."""
    camp, r1, _ = kids
    for i in range(30):
        register(r1, f"孩子{i:02d}")
    login(client, se.marketing1)
    resp = client.post(print_url(camp), {"session": r1.id})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert len(pages_text(resp.data)) == 30
    assert [f for f in job_files() if f.endswith(".json")] == []
    assert len(printed_audits()) == 1


def test_threshold_boundary_with_a_configured_threshold(client, se, kids, small_threshold):
    camp, r1, r2 = kids
    register(r1, "王小明")
    register(r1, "李想")
    register(r2, "赵一一")
    login(client, se.marketing1)
    resp = client.post(print_url(camp), {"session": r1.id})  # 2 = the threshold: straight back
    assert resp.mimetype == "application/pdf" and len(pages_text(resp.data)) == 2
    url, job_id = start_job(client, camp)  # 3 (2 issued already, 1 new): a job
    store.wait(job_id, 120)
    job = store.load(job_id)
    assert job["state"] == "done" and job["count"] == 3 and job["reprint"] is True
    texts = pages_text(client.get(url + "/certificates.pdf").data)
    assert ["王小明" in texts[0], "李想" in texts[1], "赵一一" in texts[2]] == [True, True, True]


def test_htmx_post_gets_an_hx_redirect_to_the_job(client, se, kids, small_threshold):
    camp, r1, _ = kids
    for n in ("甲", "乙", "丙"):
        register(r1, f"孩子{n}")
    login(client, se.marketing1)
    resp = client.post(print_url(camp), headers={"HX-Request": "true"})
    assert resp.status_code == 204 and JOB_URL.match(resp.headers["HX-Redirect"])
    store.wait(JOB_URL.match(resp.headers["HX-Redirect"]).group(1), 120)


def test_another_user_gets_404_for_the_job_and_its_file(app, client, new_client, se, kids, small_threshold):
    camp, r1, _ = kids
    for n in ("王小明", "李想", "欧阳娜娜"):
        register(r1, n)
    login(client, se.marketing1)
    url, job_id = start_job(client, camp)
    store.wait(job_id, 120)
    assert client.get(url + "/certificates.pdf").status_code == 200
    colleague = make_user("MK0003", "marketing", branch=se.b1, name="营销三")  # same 分行, same scope: still not
    for user in (colleague, se.admin):
        other = new_client()
        login(other, user)
        for path in (url, url + "/progress", url + "/certificates.pdf"):
            resp = other.get(path)
            assert resp.status_code == 404 and b"%PDF" not in resp.data, (user.login, path)
            assert "王小明" not in resp.get_data(as_text=True)
    assert client.get("/p/salon-events/certificates/jobs/not-a-job-id-at-all-xxxxx").status_code == 404
    assert client.get("/p/salon-events/certificates/jobs/../../etc/passwd").status_code == 404


def test_a_failed_render_says_so_in_chinese_and_leaves_no_file_and_no_print(client, se, kids, small_threshold,
                                                                          monkeypatch):
    camp, r1, _ = kids
    for n in ("王小明", "李想", "欧阳娜娜"):
        register(r1, n)

    def broken(pages, text, images, out, progress):
        out.write(b"%PDF-1.7 half a file")
        raise RuntimeError("font cache exploded")

    monkeypatch.setattr(certs, "_render", broken)
    login(client, se.marketing1)
    url, job_id = start_job(client, camp)
    store.wait(job_id, 120)
    job = store.load(job_id)
    assert job["state"] == "failed"
    body = client.get(url).get_data(as_text=True)
    assert "生成实习证明时出错，未能完成，证书没有记为已打印" in body and "every 1s" not in body
    assert client.get(url + "/certificates.pdf").status_code == 404
    assert job_files() == [f"{job_id}.json"]  # neither the PDF nor the half-written temporary file
    # Nothing half-written: no numbers issued, no print record, no audit row of a print.
    assert count(SalonCertificate) == 0 and count(SalonCertPrint) == 0 and printed_audits() == []

    monkeypatch.undo()
    monkeypatch.setitem(client.app.config, "SALON_EVENTS_CERT_BACKGROUND", 2)
    again = JOB_URL.match(client.post(print_url(camp)).headers["Location"]).group(1)
    assert again != job_id
    store.wait(again, 120)
    assert store.load(again)["state"] == "done" and count(SalonCertificate) == 3


def test_signature_problems_are_refused_before_any_job_starts(client, se, small_threshold):
    """T-10 is checked in the request: the refusal shows on the certificates page as before, no job is made."""
    camp = campaign(se.b1, [se.a])
    r1 = round_(camp, se.a)
    signature(camp, se.s1, se.president1, START + timedelta(minutes=1))  # signed after the start
    for n in ("王小明", "李想", "欧阳娜娜"):
        register(r1, n)
    login(client, se.marketing1)
    resp = client.post(print_url(camp), follow_redirects=True)
    assert resp.mimetype == "text/html" and "晚于场次开始时间" in resp.get_data(as_text=True)
    assert [f for f in job_files() if f.endswith(".json")] == []
    assert count(SalonCertificate) == 0


def test_a_second_click_lands_on_the_running_job_and_prints_once(client, se, kids, small_threshold):
    camp, r1, _ = kids
    for n in ("王小明", "李想", "欧阳娜娜"):
        register(r1, n)
    login(client, se.marketing1)
    slots = views_cert._slots()
    assert slots.acquire(timeout=5)  # another print is rendering: ours is queued
    try:
        url, job_id = start_job(client, camp)
        assert "排队中" in client.get(url).get_data(as_text=True)
        assert start_job(client, camp) == (url, job_id)
        page = client.get(f"/p/salon-events/certificates/campaign/{camp.id}").get_data(as_text=True)
        assert f'href="{url}"' in page  # the certificates page points to the running job
    finally:
        slots.release()
    store.wait(job_id, 120)
    assert store.load(job_id)["state"] == "done"
    assert count(SalonCertPrint) == 1 and len(printed_audits()) == 1


def test_an_interrupted_job_says_so(client, se, kids, small_threshold):
    camp, r1, _ = kids
    for n in ("王小明", "李想", "欧阳娜娜"):
        register(r1, n)
    login(client, se.marketing1)
    slots = views_cert._slots()
    assert slots.acquire(timeout=5)
    try:
        url, job_id = start_job(client, camp)
        job = store.load(job_id)
        job["heartbeat"] = time.time() - views_cert.STALE_SECONDS - 5
        store.path(job_id).write_text(__import__("json").dumps(job), encoding="utf-8")
        body = client.get(url).get_data(as_text=True)
        assert "实习证明生成已中断" in body and "every 1s" not in body
        assert client.get(url + "/certificates.pdf").status_code == 404
    finally:
        slots.release()
    store.wait(job_id, 120)
