"""实习证明 (R-30 step 4, T-10, A-10): issuing only for attending children, one multi-page PDF per batch with the
right name on each page and an embedded CJK font, the signature rules, hostile names, reprints, verification,
scope and the plugin switch."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm import pdf
from crm.extensions import db
from crm.models import AuditLog
from crm.timeutil import local_to_utc
from plugins.salon_events import certificates as certs
from plugins.salon_events import uploads
from plugins.salon_events.models import (
    SalonCampaign,
    SalonCampaignOutlet,
    SalonCertificate,
    SalonCertPrint,
    SalonRegistration,
    SalonSession,
    SalonSignature,
)
from tests.conftest import make_user

from .conftest import cust

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")

START = datetime(2026, 5, 16, 9, 0)  # a Saturday morning round, local time (Asia/Shanghai)


# ---------------------------------------------------------------- builders

def campaign(branch, outlets, *, code="KB", name="宝贝银行家实习体验日", kind="kids") -> SalonCampaign:
    c = SalonCampaign(branch_id=branch.id, code=code, kind=kind, name=name, status="open", year=2026)
    db.session.add(c)
    db.session.flush()
    for o in outlets:
        db.session.add(SalonCampaignOutlet(campaign_id=c.id, outlet_id=o.id))
    db.session.commit()
    return c


def round_(camp, outlet, start=START, hours=3) -> SalonSession:
    s = SalonSession(campaign_id=camp.id, outlet_id=outlet.id, starts_at=start, ends_at=start + timedelta(hours=hours),
                     capacity=10, status="closed")
    db.session.add(s)
    db.session.commit()
    return s


def register(session, child_name, *, attended=True, status="registered") -> SalonRegistration:
    parent = cust(session.outlet, name=f"{child_name}家长")
    r = SalonRegistration(campaign_id=session.campaign_id, session_id=session.id, outlet_id=session.outlet_id,
                          customer_id=parent.id, child_name=child_name, child_age=8, status=status,
                          attended=attended, dedupe_key=f"{parent.id}:{child_name}")
    db.session.add(r)
    db.session.commit()
    return r


def signature(camp, sub_branch, signer, recorded_local: datetime, *, seal=True) -> SalonSignature:
    """A signature recorded at `recorded_local` (local wall-clock time; stored in UTC like the app does)."""
    image = uploads.save_image(io.BytesIO(certs.sample_signature_png(signer.name)), kind="signature")
    stamp = uploads.save_image(io.BytesIO(certs.sample_seal_png()), kind="seal") if seal else None
    s = SalonSignature(campaign_id=camp.id, sub_branch_id=sub_branch.id, signer_id=signer.id, image=image.stored_name,
                       seal=stamp.stored_name if stamp else None, recorded_at=local_to_utc(recorded_local))
    db.session.add(s)
    db.session.commit()
    return s


def pages_text(data: bytes) -> list[str]:
    """pdftotext, page by page."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
        fh.write(data)
        fh.flush()
        info = subprocess.run(["pdfinfo", fh.name], capture_output=True, text=True, check=True).stdout
        n = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
        return [subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), "-layout", fh.name, "-"],
                               capture_output=True, text=True, check=True).stdout for i in range(1, n + 1)]


def print_url(camp) -> str:
    return f"/p/salon-events/certificates/campaign/{camp.id}/print"


@pytest.fixture
def kids(se):
    """甲分行's kids campaign at outlets A and A2 (支行 S1), a round at each; the 支行行长 signed the day before."""
    camp = campaign(se.b1, [se.a, se.a2])
    r1 = round_(camp, se.a)
    r2 = round_(camp, se.a2, START + timedelta(days=1))
    signature(camp, se.s1, se.president1, START - timedelta(days=1))
    return camp, r1, r2


def login(client, user):
    assert client.login(user.login).status_code == 302


# ---------------------------------------------------------------- the batch PDF

def test_campaign_pdf_has_one_page_per_attending_child_with_the_right_name_and_a_cjk_font(client, se, kids):
    """T-10: a certificate for each attending child, none for the others; N attendees → exactly N pages."""
    camp, r1, r2 = kids
    names_1 = ["王小明", "欧阳娜娜", "李想"]
    for n in names_1:
        register(r1, n)
    absent = register(r1, "缺席的孩子", attended=False)
    waiting = register(r1, "候补的孩子", status="waitlisted", attended=True)  # not a registered seat
    register(r2, "赵一一")
    register(r2, "钱二二")
    login(client, se.marketing1)
    resp = client.post(print_url(camp))
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert "attachment" in resp.headers["Content-Disposition"]
    texts = pages_text(resp.data)
    assert len(texts) == 5
    expected = names_1 + ["赵一一", "钱二二"]
    for text, name in zip(texts, expected, strict=True):
        assert f"{name}小朋友" in text.replace(" ", "")
        assert "实习证明" in text.replace(" ", "")
        assert "支行行长一" in text
    assert not any("缺席的孩子" in t or "候补的孩子" in t for t in texts)
    assert pdf.cjk_font_embedded(resp.data)
    issued = db.session.execute(select(SalonCertificate).order_by(SalonCertificate.number)).scalars().all()
    assert [c.child_name for c in issued] == expected
    assert {c.registration_id for c in issued}.isdisjoint({absent.id, waiting.id})
    assert [c.number for c in issued] == [f"KB2026-{i:05d}" for i in range(1, 6)]
    assert len({c.token for c in issued}) == 5 and all(len(c.token) >= 32 for c in issued)
    assert all(c.print_count == 1 for c in issued)
    assert issued[0].issued_on == START.date() and issued[3].issued_on == (START + timedelta(days=1)).date()
    assert issued[0].signer_name == "支行行长一"


def test_round_print_is_that_round_only_and_one_childs_certificate_alone(client, se, kids):
    camp, r1, r2 = kids
    register(r1, "王小明")
    register(r1, "李想")
    register(r2, "赵一一")
    login(client, se.marketing1)
    resp = client.post(print_url(camp), {"session": r1.id})
    texts = pages_text(resp.data)
    assert len(texts) == 2 and "赵一一" not in "".join(texts)
    # The other round's child got no certificate yet (issued when that round is printed).
    assert db.session.scalar(select(func.count()).select_from(SalonCertificate)) == 2
    one = db.session.execute(select(SalonCertificate).where(SalonCertificate.child_name == "李想")).scalar_one()
    resp = client.post(f"/p/salon-events/certificates/{one.id}/print")
    texts = pages_text(resp.data)
    assert len(texts) == 1 and "李想" in texts[0] and "王小明" not in texts[0]
    assert one.number in texts[0]


def test_a_non_attending_child_never_gets_a_certificate(client, se, kids):
    camp, r1, _ = kids
    register(r1, "没来的孩子", attended=False)
    login(client, se.marketing1)
    resp = client.post(print_url(camp), {"session": r1.id}, follow_redirects=True)
    assert resp.mimetype == "text/html"
    assert "只有已签到（实际参加）的孩子才有证书" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SalonCertificate)) == 0
    assert db.session.scalar(select(func.count()).select_from(SalonCertPrint)) == 0


def test_un_checking_a_child_after_printing_drops_the_certificate_from_prints_and_verification(client, se, kids):
    camp, r1, _ = kids
    reg = register(r1, "王小明")
    register(r1, "李想")
    login(client, se.marketing1)
    client.post(print_url(camp), {"session": r1.id})
    cert = db.session.execute(select(SalonCertificate).where(SalonCertificate.registration_id == reg.id)).scalar_one()
    reg.attended = False
    db.session.commit()
    texts = pages_text(client.post(print_url(camp), {"session": r1.id}).data)
    assert len(texts) == 1 and "王小明" not in texts[0]
    body = client.get(f"/p/salon-events/verify/{cert.token}").get_data(as_text=True)
    assert "证书无效" in body


# ---------------------------------------------------------------- T-10: signed before the round starts

@pytest.mark.parametrize(("recorded", "ok"), [
    (START - timedelta(minutes=1), True),   # one minute before the start: signed in advance
    (START, False),                          # at the start: not "before"
    (START + timedelta(minutes=1), False),   # during the round
])
def test_signature_must_be_recorded_before_the_round_starts(client, se, recorded, ok):
    """T-10: the signature timestamp must be BEFORE the session start, else printing that round is refused."""
    camp = campaign(se.b1, [se.a])
    r1 = round_(camp, se.a)
    register(r1, "王小明")
    signature(camp, se.s1, se.president1, recorded)
    login(client, se.marketing1)
    resp = client.post(print_url(camp), {"session": r1.id})
    if ok:
        assert resp.status_code == 200 and resp.mimetype == "application/pdf"
        return
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "晚于场次开始时间" in page and "不能打印该场次的证书" in page
    # Nothing half-written: no certificate issued, no print recorded; the refusal is audited.
    assert db.session.scalar(select(func.count()).select_from(SalonCertificate)) == 0
    assert db.session.scalar(select(func.count()).select_from(SalonCertPrint)) == 0
    assert db.session.execute(select(AuditLog).where(
        AuditLog.action == "salon_events.certificates_refused")).scalar_one().result == "fail"


def test_a_later_signature_does_not_replace_the_one_recorded_before_the_round(client, se):
    """Re-uploading after the round started adds a record; the round still prints with the earlier signature."""
    camp = campaign(se.b1, [se.a])
    r1 = round_(camp, se.a)
    register(r1, "王小明")
    before = signature(camp, se.s1, se.president1, START - timedelta(hours=2))
    signature(camp, se.s1, se.president1, START + timedelta(hours=1))
    assert certs.signature_for(r1, certs.campaign_signatures(camp.id)).id == before.id
    login(client, se.marketing1)
    assert client.post(print_url(camp), {"session": r1.id}).mimetype == "application/pdf"


def test_campaign_print_is_refused_when_any_round_with_children_lacks_a_signature(client, se):
    camp = campaign(se.b1, [se.a])
    r1 = round_(camp, se.a)
    register(r1, "王小明")
    login(client, se.marketing1)
    resp = client.post(print_url(camp), follow_redirects=True)
    assert "尚未登记支行行长签名" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SalonCertificate)) == 0


def _upload(client, camp, sub_branch, signer, *, seal=True):
    data = {"sub_branch": str(sub_branch.id), "signer": str(signer.id),
            "image": (io.BytesIO(certs.sample_signature_png()), "sig.png")}
    if seal:
        data["seal"] = (io.BytesIO(certs.sample_seal_png()), "seal.png")
    return client.post(f"/p/salon-events/certificates/campaign/{camp.id}/signatures", data,
                       content_type="multipart/form-data")


def test_signer_must_be_the_sub_branch_president_of_that_sub_branch(client, se):
    """A-10: the signer is the 支行行长 — marketing, or another 支行's president, is refused; nothing stored."""
    camp = campaign(se.b1, [se.a])
    other = make_user("PR0009", "sub_branch_president", branch=se.s2, name="别的支行行长")
    login(client, se.marketing1)
    for wrong in (se.marketing1, other):
        resp = _upload(client, camp, se.s1, wrong)
        assert resp.status_code == 422
        assert "不是该支行的支行行长" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SalonSignature)) == 0
    assert not any(uploads.upload_dir().iterdir())  # refused before any file was written
    resp = _upload(client, camp, se.s1, se.president1)
    assert resp.status_code == 303
    sig = db.session.execute(select(SalonSignature)).scalar_one()
    assert (sig.signer_id, sig.sub_branch_id, sig.uploaded_by_id) == (se.president1.id, se.s1.id, se.marketing1.id)
    image = client.get(f"/p/salon-events/certificates/signature/{sig.id}/image")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert client.get(f"/p/salon-events/certificates/signature/{sig.id}/seal").status_code == 200


def test_an_upload_that_is_not_an_image_is_refused(client, se):
    camp = campaign(se.b1, [se.a])
    login(client, se.marketing1)
    resp = client.post(f"/p/salon-events/certificates/campaign/{camp.id}/signatures", {
        "sub_branch": str(se.s1.id), "signer": str(se.president1.id),
        "image": (io.BytesIO(b"<svg onload=alert(1)></svg>"), "sig.png")}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "不是有效的图片" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SalonSignature)) == 0


# ---------------------------------------------------------------- hostile names

HOSTILE = ["<script>alert(1)</script>", "{{7*7}}", "<img src=file:///etc/passwd>"]


def test_hostile_child_names_print_literally_and_fetch_nothing(client, se, kids, monkeypatch):
    camp, r1, _ = kids
    for n in HOSTILE:
        register(r1, n)
    fetched: list[str] = []
    original = pdf.SafeFetcher.fetch

    def spy(self, url, headers=None):
        fetched.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(pdf.SafeFetcher, "fetch", spy)
    login(client, se.marketing1)
    resp = client.post(print_url(camp), {"session": r1.id})
    texts = pages_text(resp.data)
    assert len(texts) == 3
    for text, name in zip(texts, HOSTILE, strict=True):
        assert name.replace(" ", "") in text.replace(" ", "")
    assert "49小朋友" not in "".join(texts).replace(" ", "")
    # Only data: URLs (QR codes, the signature and the seal of this campaign) were fetched: no file, no network.
    assert fetched and all(u.startswith("data:") for u in fetched)
    assert not any("passwd" in u for u in fetched)


def test_hostile_template_text_is_escaped_in_the_preview_and_the_pdf(client, se, kids):
    camp, r1, _ = kids
    register(r1, "王小明")
    login(client, se.marketing1)
    body = "{child}小朋友：\n<img src=file:///etc/passwd><script>alert(1)</script>表现优秀。"
    resp = client.post(f"/p/salon-events/certificates/campaign/{camp.id}/preview",
                       {"title": "<b>实习证明</b>", "body": body, "footer": ""}, headers={"HX-Request": "true"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "&lt;img src=file:///etc/passwd&gt;" in html and "<img src=file" not in html
    assert "&lt;b&gt;实习证明&lt;/b&gt;" in html
    # Template syntax is not evaluated, and a brace that is not one of the four placeholders is refused.
    braces = client.post(f"/p/salon-events/certificates/campaign/{camp.id}/template",
                         {"title": "实习证明", "body": "{child}{{7*7}}", "footer": "", "version": "0"})
    assert braces.status_code == 422 and "{7*7} 不是可用的占位符" in braces.get_data(as_text=True)
    assert client.post(f"/p/salon-events/certificates/campaign/{camp.id}/template",
                       {"title": "实习证明书", "body": body, "footer": "页脚文字", "version": "0"}).status_code == 303
    text = pages_text(client.post(print_url(camp), {"session": r1.id}).data)[0].replace(" ", "")
    assert "<imgsrc=file:///etc/passwd><script>alert(1)</script>表现优秀。" in text
    assert "实习证明书" in text and "页脚文字" in text


# ---------------------------------------------------------------- the template editor

def test_template_editor_preview_and_validation(client, se, kids):
    camp, _, _ = kids
    login(client, se.marketing1)
    page = client.get(f"/p/salon-events/certificates/campaign/{camp.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "证书模板" in html and "支行行长一" in html and 'class="cert"' in html
    url = f"/p/salon-events/certificates/campaign/{camp.id}/preview"
    ok = client.post(url, {"title": "实习证明", "body": "{child}在{outlet}表现很棒", "footer": "f"},
                     headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "王小明" in ok and "甲网点" in ok and 'id="cert-preview"' in ok
    missing = client.post(url, {"title": "实习证明", "body": "表现很棒", "footer": ""}).get_data(as_text=True)
    assert "正文必须包含 {child}" in missing
    unknown = client.post(url, {"title": "实习证明", "body": "{child}{parent}", "footer": ""}).get_data(as_text=True)
    assert "{parent} 不是可用的占位符" in unknown
    resp = client.post(f"/p/salon-events/certificates/campaign/{camp.id}/template",
                       {"title": "", "body": "{child}", "footer": "", "version": "0"})
    assert resp.status_code == 422 and "请填写证书标题" in resp.get_data(as_text=True)


def test_template_save_refuses_a_stale_version(client, se, kids):
    camp, _, _ = kids
    login(client, se.marketing1)
    url = f"/p/salon-events/certificates/campaign/{camp.id}/template"
    assert client.post(url, {"title": "实习证明", "body": "{child}一", "footer": "", "version": "0"}).status_code == 303
    stale = client.post(url, {"title": "实习证明", "body": "{child}二", "footer": "", "version": "0"})
    assert stale.status_code == 409
    assert certs.text_of(camp.id).body == "{child}一"


def test_body_spaces_next_to_chinese_are_dropped_latin_spaces_kept():
    paras = certs.fill_body("{child} 小朋友：\n参加 PK 赛 活动，表现 优秀", {"child": "王小明"})
    assert str(paras[0].html) == '<span class="c-fill">王小明</span>小朋友：' and paras[0].lead
    assert str(paras[1].html) == "参加PK赛活动，表现优秀" and not paras[1].lead


# ---------------------------------------------------------------- reprints

def test_reprints_are_recorded_and_numbers_stay(client, se, kids):
    camp, r1, _ = kids
    register(r1, "王小明")
    register(r1, "李想")
    login(client, se.marketing1)
    client.post(print_url(camp), {"session": r1.id})
    first = {c.id: c.number for c in db.session.execute(select(SalonCertificate)).scalars()}
    client.post(print_url(camp), {"session": r1.id})
    rows = db.session.execute(select(SalonCertificate)).scalars().all()
    assert {c.id: c.number for c in rows} == first and all(c.print_count == 2 for c in rows)
    assert all(c.last_printed_at is not None for c in rows)
    runs = db.session.execute(select(SalonCertPrint).order_by(SalonCertPrint.id)).scalars().all()
    assert [(r.count, r.reprint, r.session_id) for r in runs] == [(2, False, r1.id), (2, True, r1.id)]
    audits = db.session.execute(select(AuditLog).where(
        AuditLog.action == "salon_events.certificates_printed").order_by(AuditLog.id)).scalars().all()
    assert [a.detail["reprint"] for a in audits] == [False, True]
    assert all(a.actor_id == se.marketing1.id and a.detail["count"] == 2 for a in audits)


# ---------------------------------------------------------------- verification (public)

def test_verification_page_is_public_and_shows_only_the_masked_name(client, new_client, se, kids):
    camp, r1, _ = kids
    register(r1, "欧阳娜娜")
    login(client, se.marketing1)
    client.post(print_url(camp), {"session": r1.id})
    cert = db.session.execute(select(SalonCertificate)).scalar_one()
    anonymous = new_client()
    resp = anonymous.get(f"/p/salon-events/verify/{cert.token}")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "真实有效" in body and "欧阳**" in body and "欧阳娜娜" not in body
    assert cert.number in body and "宝贝银行家实习体验日" in body and "甲网点" in body and "2026年5月16日" in body
    assert "欧阳娜娜家长" not in body  # no parent, no other personal data


@pytest.mark.parametrize("token", ["x" * 32, "Zm9yZ2VkLXRva2VuLTEyMzQ1Njc4OTA", "%3Cscript%3Ealert(1)", "short"])
def test_unknown_or_forged_tokens_answer_404_certificate_does_not_exist(new_client, se, token):
    resp = new_client().get(f"/p/salon-events/verify/{token}")
    assert resp.status_code == 404
    assert "证书不存在" in resp.get_data(as_text=True)


def test_verification_404_when_the_plugin_is_off_for_the_certificates_branch(client, new_client, se, kids,
                                                                              enable_plugin):
    camp, r1, _ = kids
    register(r1, "王小明")
    login(client, se.marketing1)
    client.post(print_url(camp), {"session": r1.id})
    token = db.session.execute(select(SalonCertificate.token)).scalar_one()
    enable_plugin(se.b1, "salon_events", False)
    assert new_client().get(f"/p/salon-events/verify/{token}").status_code == 404


def test_verification_is_rate_limited(make_app, tmp_path):
    from tests.conftest import Client

    app = make_app(CRM_PLUGINS="plugins.salon_events", SALON_EVENTS_VERIFY_LIMIT="3 per minute")
    with app.app_context():
        c = Client(app)
        codes = [c.get(f"/p/salon-events/verify/{'a' * 32}").status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]


# ---------------------------------------------------------------- scope and the plugin switch

def test_another_branchs_campaign_and_certificates_answer_404(client, se, kids):
    camp, r1, _ = kids
    register(r1, "王小明")
    login(client, se.marketing1)
    client.post(print_url(camp), {"session": r1.id})
    cert = db.session.execute(select(SalonCertificate)).scalar_one()
    sig = db.session.execute(select(SalonSignature)).scalar_one()
    other = make_user("MK0002", "marketing", branch=se.b2, name="乙营销")
    client.logout()
    login(client, other)
    for url in (f"/p/salon-events/certificates/campaign/{camp.id}",
                f"/p/salon-events/certificates/signature/{sig.id}/image"):
        assert client.get(url).status_code == 404, url
    for url, data in ((print_url(camp), {}), (print_url(camp), {"session": r1.id}),
                      (f"/p/salon-events/certificates/{cert.id}/print", {}),
                      (f"/p/salon-events/certificates/campaign/{camp.id}/preview", {"title": "t", "body": "{child}"}),
                      (f"/p/salon-events/certificates/campaign/{camp.id}/template", {"title": "t", "body": "{child}"})):
        assert client.post(url, data).status_code == 404, url
    assert db.session.execute(select(SalonCertificate)).scalar_one().print_count == 1


def test_a_round_of_another_campaign_cannot_be_printed_through_this_one(client, se, kids):
    camp, r1, _ = kids
    other = campaign(se.b1, [se.a], code="KC")
    r_other = round_(other, se.a)
    register(r_other, "别的活动的孩子")
    login(client, se.marketing1)
    assert client.post(print_url(camp), {"session": r_other.id}).status_code == 404


def test_outlet_staff_cannot_print(client, se, kids):
    camp, r1, _ = kids
    register(r1, "王小明")
    login(client, se.head_a)
    assert client.post(print_url(camp), {"session": r1.id}).status_code in (403, 404)
    assert db.session.scalar(select(func.count()).select_from(SalonCertificate)) == 0


def test_plugin_disabled_for_the_branch_404s_the_certificate_routes(client, se, kids, enable_plugin):
    camp, r1, _ = kids
    register(r1, "王小明")
    enable_plugin(se.b1, "salon_events", False)
    login(client, se.marketing1)
    assert client.get(f"/p/salon-events/certificates/campaign/{camp.id}").status_code == 404
    assert client.post(print_url(camp), {"session": r1.id}).status_code == 404


def test_a_salon_campaign_has_no_certificates(client, se):
    camp = campaign(se.b1, [se.a], kind="salon", name="理财沙龙")
    login(client, se.marketing1)
    assert client.get(f"/p/salon-events/certificates/campaign/{camp.id}").status_code == 404


# ---------------------------------------------------------------- the look

def test_certificate_renders_as_one_landscape_a4_page(app, tmp_path):
    """Rendered to PNG with pdftoppm: A4 landscape (297 × 210 mm)."""
    from datetime import date

    with app.test_request_context():
        images = {"sig1": certs.png_data_url(certs.sample_signature_png()),
                  "seal1": certs.png_data_url(certs.sample_seal_png())}
        page = certs.CertPage("KB2026-00001", "王小明", "甲网点", "甲分行甲一支行", "宝贝银行家实习体验日",
                              date(2026, 5, 16), "支行行长一", "http://localhost/p/salon-events/verify/x", "sig1",
                              "seal1")
        rendered = certs.render_pdf([page], certs.CertText(), images)
    assert rendered.pages == 1
    path = tmp_path / "c.pdf"
    path.write_bytes(rendered.data)
    subprocess.run(["pdftoppm", "-r", "30", "-png", "-singlefile", str(path), str(tmp_path / "c")], check=True)
    from PIL import Image

    with Image.open(tmp_path / "c.png") as im:
        w, h = im.size
    assert abs(w / h - 297 / 210) < 0.01


def test_the_qr_code_on_the_page_opens_the_verification_page(client, new_client, se, kids, tmp_path):
    """Decoded from the printed page (200 dpi) with zbarimg (Debian zbar-tools, installed by bin/test): the QR holds
    the certificate's own verification URL, and that URL, opened without logging in, says genuine."""
    if not shutil.which("zbarimg"):
        pytest.skip("zbarimg (Debian package zbar-tools) is not installed")
    camp, r1, _ = kids
    register(r1, "王小明")
    login(client, se.marketing1)
    path = tmp_path / "c.pdf"
    path.write_bytes(client.post(print_url(camp), {"session": r1.id}).data)
    subprocess.run(["pdftoppm", "-r", "200", "-png", "-singlefile", str(path), str(tmp_path / "c")], check=True)
    found = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(tmp_path / "c.png")],
                           capture_output=True, text=True, check=True).stdout.split()
    assert len(found) == 1, found  # one code per certificate page
    url = found[0]
    token = db.session.execute(select(SalonCertificate.token)).scalar_one()
    assert url == f"http://localhost/p/salon-events/verify/{token}"
    resp = new_client().get(url.removeprefix("http://localhost"))
    assert resp.status_code == 200 and "真实有效" in resp.get_data(as_text=True)
